//! The CPU trainers.
//!
//! * [`Worker::train_batch`] on a shared [`Hogwild`] model (threads driven by `crate::train::train_cpu`):
//!   word2vec.c's algorithm (`TrainModelThread`) — per-pair negatives,
//!   updates applied immediately, threads sharing the matrices without locks (Hogwild,
//!   Recht et al. 2011). With one thread it is deterministic for a given `--seed`.
//! * [`CpuReference`]: the exact math of the GPU kernels (negatives shared by a centre
//!   word's window, random numbers from the counter-based hash), applied window by window.
//!   The GPU parity tests compare against it.

use crate::backend::{Backend, DocRows, KernelParams, Rate, StepLoss, SyncRows};
use crate::batch::Batch;
use crate::config::ModelKind;
use crate::corpus::SENTENCE_END;
use crate::error::Result;
use crate::huffman::HuffmanTree;
use crate::linalg::seq_dot;
pub use crate::linalg::{axpy, axpy2, dot};
use crate::loss::{sigmoid_bce, SigmoidTable};
use crate::model::Model;
use crate::sampling::{context_key, mulhi, rand_at, AliasTable, Rng};
use crate::subword::SubwordTable;
use std::marker::PhantomData;

/// Shared mutable access to the two matrices for Hogwild threads.
///
/// # Soundness
///
/// Several threads read and write rows of the same matrices without synchronisation. This
/// is word2vec.c's design and the point of Hogwild: a lost or torn update of an `f32`
/// element is an accepted source of noise in SGD, and frequent words (the rows where it
/// happens) receive so many updates that the effect is not measurable in quality.
///
/// What keeps it from being unsound in practice:
/// * every pointer comes from a `&mut Model` borrowed for the lifetime `'a`, so the
///   allocations outlive all threads (they are joined inside `std::thread::scope`) and
///   nothing else can touch or reallocate the vectors meanwhile;
/// * every row slice is in bounds (`row < rows` is checked in debug builds; ids come from
///   the vocabulary, which has `rows` entries);
/// * within one thread, the slices handed out at the same time never overlap: an input row
///   and an output row are in different allocations, and scratch vectors are thread-local;
/// * `f32` has no invalid bit patterns, so a torn read still yields some `f32`.
///
/// The slices are short-lived and never escape the training functions. Formally, racing
/// non-atomic accesses are a data race under Rust's memory model; like finalfrontier's
/// `hogwild.rs` and every word2vec implementation, we accept this for the 100× speed of
/// plain loads and stores over atomics in the inner loop.
pub struct Hogwild<'a> {
    input: *mut f32,
    output: *mut f32,
    /// The hierarchical-softmax matrix (`hs_rows` rows; 0 without `--hs`).
    hs: *mut f32,
    hs_rows: usize,
    /// The subword bucket rows (`sub_rows`; 0 without `--subwords`), addressed as input
    /// rows `rows..rows + sub_rows`.
    sub: *mut f32,
    sub_rows: usize,
    dim: usize,
    rows: usize,
    /// Distributed runs: every row accessed is marked as changed since its last sync.
    marks: Option<&'a crate::dist::sync::RowMarks>,
    _model: PhantomData<&'a mut Model>,
}

// SAFETY: see the type's documentation: concurrent unsynchronised f32 updates are the
// intended (Hogwild) behaviour; the pointers stay valid while the borrow lasts.
unsafe impl Sync for Hogwild<'_> {}
unsafe impl Send for Hogwild<'_> {}

impl<'a> Hogwild<'a> {
    pub fn new(model: &'a mut Model) -> Hogwild<'a> {
        Hogwild {
            dim: model.dim,
            rows: model.vocab_size(),
            input: model.input.as_mut_ptr(),
            output: model.output.as_mut_ptr(),
            hs_rows: model.hs.len() / model.dim.max(1),
            hs: model.hs.as_mut_ptr(),
            sub_rows: model.subwords.len() / model.dim.max(1),
            sub: model.subwords.as_mut_ptr(),
            marks: None,
            _model: PhantomData,
        }
    }

    /// Marks every row the trainer accesses in `marks` (a distributed run's sync).
    pub fn with_marks(mut self, marks: Option<&'a crate::dist::sync::RowMarks>) -> Self {
        self.marks = marks;
        self
    }

    /// The matrices as the distributed sync reads and updates them while the workers
    /// train, in `Model::matrices` order.
    pub fn shared_matrices(&self) -> [crate::dist::sync::SharedMatrix; 4] {
        let m = |ptr, rows| crate::dist::sync::SharedMatrix {
            ptr,
            rows,
            dim: self.dim,
        };
        [
            m(self.input, self.rows),
            m(self.output, self.rows),
            m(self.hs, self.hs_rows),
            m(self.sub, self.sub_rows),
        ]
    }

    #[inline(always)]
    fn mark(&self, matrix: usize, row: usize) {
        if let Some(m) = self.marks {
            m.0[matrix].mark(row);
        }
    }

    /// A copy of both matrices.
    ///
    /// # Safety
    /// No thread may write the matrices during the copy (the trainer parks them first).
    pub unsafe fn snapshot(&self) -> Model {
        let n = self.rows * self.dim;
        Model {
            dim: self.dim,
            input: std::slice::from_raw_parts(self.input, n).to_vec(),
            output: std::slice::from_raw_parts(self.output, n).to_vec(),
            hs: std::slice::from_raw_parts(self.hs, self.hs_rows * self.dim).to_vec(),
            subwords: std::slice::from_raw_parts(self.sub, self.sub_rows * self.dim).to_vec(),
        }
    }

    /// # Safety
    /// See the type's documentation; the caller must not hold another slice of the same
    /// input row in this thread.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn input_row(&self, row: u32) -> &mut [f32] {
        debug_assert!((row as usize) < self.rows);
        self.mark(0, row as usize);
        std::slice::from_raw_parts_mut(self.input.add(row as usize * self.dim), self.dim)
    }

    /// Asks the CPU to start loading a row into the cache (no effect on results).
    #[inline(always)]
    fn prefetch(&self, input: bool, row: u32) {
        debug_assert!((row as usize) < self.rows);
        let base = if input { self.input } else { self.output };
        // `wrapping_add`: only an address is formed; prefetching never faults.
        prefetch(base.wrapping_add(row as usize * self.dim), self.dim);
    }

    /// # Safety
    /// As [`Hogwild::input_row`], for the output matrix.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn output_row(&self, row: u32) -> &mut [f32] {
        debug_assert!((row as usize) < self.rows);
        self.mark(1, row as usize);
        std::slice::from_raw_parts_mut(self.output.add(row as usize * self.dim), self.dim)
    }
}

impl Hogwild<'_> {
    /// Input row `row` of a subword model: a word row below the vocabulary size, a bucket
    /// row above it.
    ///
    /// # Safety
    /// As [`Hogwild::input_row`].
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn any_input_row(&self, row: u32) -> &mut [f32] {
        let r = row as usize;
        if r < self.rows {
            self.input_row(row)
        } else {
            debug_assert!(r - self.rows < self.sub_rows);
            self.mark(3, r - self.rows);
            std::slice::from_raw_parts_mut(self.sub.add((r - self.rows) * self.dim), self.dim)
        }
    }

    /// # Safety
    /// As [`Hogwild::input_row`], for the hierarchical-softmax matrix.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn hs_row(&self, node: u32) -> &mut [f32] {
        debug_assert!((node as usize) < self.hs_rows);
        self.mark(2, node as usize);
        std::slice::from_raw_parts_mut(self.hs.add(node as usize * self.dim), self.dim)
    }
}

/// Asks the CPU to start loading `len` floats at `p` into the cache. A hint only: it reads
/// nothing architecturally, never faults, and changes no result.
#[inline(always)]
pub fn prefetch(p: *const f32, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = p as *const i8;
        let mut off = 0;
        while off < len * 4 {
            // SAFETY: a prefetch instruction has no architectural effect, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

/// word2vec.c's inner loop over the outputs of one example: `x` (a context input row in
/// skip-gram, the context mean in CBOW) is trained against the output row of `word` with
/// label 1 and of each noise word in `negs` that is not `word` with label 0. Each output
/// row is updated at once; the input-side gradient is added to `neu1e`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn train_outputs<const FMA: bool>(
    m: &Hogwild<'_>,
    sig: &SigmoidTable,
    x: &[f32],
    word: u32,
    negs: &[u32],
    neu1e: &mut [f32],
    alpha: f32,
    st: &mut WorkStats,
) {
    let noise = negs.iter().filter(|&&t| t != word).map(|&t| (t, 0.0));
    for (target, label) in std::iter::once((word, 1.0)).chain(noise) {
        // SAFETY: `target` is a vocabulary id; output rows are in another allocation than
        // `x` (an input row or thread-local scratch); see `Hogwild`.
        let l2 = unsafe { m.output_row(target) };
        let f = dot::<FMA>(x, l2);
        let (g, loss) = sig.bce(f, label, alpha);
        st.loss += loss as f64;
        st.terms += 1;
        axpy2::<FMA>(neu1e, l2, g, x);
    }
}

/// word2vec.c's hierarchical softmax for one example: `x` is trained along `word`'s path
/// in the Huffman tree, at each inner node against label `1 − code` (word2vec.c's
/// `g = (1 − code − σ(f))·α`); a node whose logit is at or beyond ±`MAX_EXP` is skipped,
/// as in word2vec.c. The node rows are updated at once; the input-side gradient is added
/// to `neu1e`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn train_hs<const FMA: bool>(
    m: &Hogwild<'_>,
    sig: &SigmoidTable,
    x: &[f32],
    (points, codes): (&[u32], &[u8]),
    neu1e: &mut [f32],
    alpha: f32,
    st: &mut WorkStats,
) {
    for (&node, &code) in points.iter().zip(codes) {
        // SAFETY: `node` is an inner node (< V − 1 rows); the hs matrix is another
        // allocation than `x`; see `Hogwild`.
        let l2 = unsafe { m.hs_row(node) };
        let f = dot::<FMA>(x, l2);
        let (g, loss) = sig.bce(f, 1.0 - code as f32, alpha);
        st.loss += loss as f64;
        st.terms += 1;
        if f <= -crate::loss::MAX_EXP || f >= crate::loss::MAX_EXP {
            continue;
        }
        axpy2::<FMA>(neu1e, l2, g, x);
    }
}

/// One example in word2vec.c's order: `neu1e` cleared, then `x` trained along `target`'s
/// Huffman path (`--hs`), then against `target` and the noise words `negs` (negative
/// sampling; `None` with `--negative 0`), `neu1e` left holding the input-side gradient.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn train_example<const FMA: bool>(
    m: &Hogwild<'_>,
    sig: &SigmoidTable,
    tree: Option<&HuffmanTree>,
    x: &[f32],
    target: u32,
    negs: Option<&[u32]>,
    neu1e: &mut [f32],
    alpha: f32,
    st: &mut WorkStats,
) {
    neu1e.fill(0.0);
    if let Some(tree) = tree {
        train_hs::<FMA>(m, sig, x, tree.path(target), neu1e, alpha, st);
    }
    if let Some(negs) = negs {
        train_outputs::<FMA>(m, sig, x, target, negs, neu1e, alpha, st);
    }
}

/// word2vec.c's window around position `i` of a sentence of `n` words: the effective
/// window `window - b` with `b` drawn uniform in `0..window`, cut at the sentence's ends.
#[inline(always)]
pub fn draw_window(rng: &mut Rng, window: usize, i: usize, n: usize) -> (usize, usize) {
    let b = rng.below(window as u32) as usize;
    let w = window - b;
    (i.saturating_sub(w), (i + w).min(n - 1))
}

/// How [`Worker::train_document`] trains a document's vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocMode {
    /// Distributed bag of words (PV-DBOW), with word2vec's skip-gram on the same text when
    /// `words` is set.
    Dbow { words: bool },
    /// Distributed memory (PV-DM): the document's row joins each CBOW context.
    Dm,
}

/// Per-thread state of the Hogwild trainer.
pub struct Worker<'t> {
    pub rng: Rng,
    pub alias: &'t AliasTable,
    pub sig: &'t SigmoidTable,
    pub model: ModelKind,
    pub window: usize,
    pub negative: usize,
    /// Skip-gram only: draw the K noise words once per centre word and reuse them for all
    /// its context words (as the GPU kernels do), instead of once per pair (word2vec.c).
    pub shared_negatives: bool,
    /// Hierarchical softmax (`--hs`): the Huffman tree whose paths are trained, before the
    /// noise words as in word2vec.c.
    pub tree: Option<&'t HuffmanTree>,
    /// Subword units (`--subwords`): each word's input rows (its own and its n-grams').
    pub subwords: Option<&'t SubwordTable>,
    negs: Vec<u32>,
    bag: Vec<u32>,
    neu1: Vec<f32>,
    neu1e: Vec<f32>,
}

/// Loss and work done by a batch.
#[derive(Debug, Default, Clone, Copy)]
pub struct WorkStats {
    pub loss: f64,
    pub terms: u64,
    /// Skip-gram (context, centre) pairs or CBOW centre predictions.
    pub pairs: u64,
}

impl<'t> Worker<'t> {
    pub fn new(
        seed: u64,
        alias: &'t AliasTable,
        sig: &'t SigmoidTable,
        params: &KernelParams,
    ) -> Worker<'t> {
        Worker {
            rng: Rng::new(seed),
            alias,
            sig,
            model: params.model,
            window: params.window,
            negative: params.negative,
            shared_negatives: false,
            tree: None,
            subwords: None,
            bag: Vec::new(),
            negs: Vec::with_capacity(2 * params.window * params.negative),
            neu1: vec![0.0; params.dim],
            neu1e: vec![0.0; params.dim],
        }
    }

    /// Trains on one batch with word2vec.c's update order, each sentence at the rate of its
    /// first position (`rate.at(offset, tokens)`: one rate for the batch with
    /// [`Rate::constant`]). Picks the AVX2+FMA build of the inner loop when the CPU has it.
    pub fn train_batch(&mut self, m: &Hogwild<'_>, batch: &Batch, rate: Rate) -> WorkStats {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { self.train_batch_avx2(m, batch, rate) };
            }
        }
        self.train_batch_impl::<false>(m, batch, rate)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn train_batch_avx2(&mut self, m: &Hogwild<'_>, batch: &Batch, rate: Rate) -> WorkStats {
        self.train_batch_impl::<true>(m, batch, rate)
    }

    #[inline(always)]
    fn train_batch_impl<const FMA: bool>(
        &mut self,
        m: &Hogwild<'_>,
        batch: &Batch,
        rate: Rate,
    ) -> WorkStats {
        let mut st = WorkStats::default();
        for (at, sen) in batch.chunks_at() {
            let alpha = rate.at(at, batch.tokens.len());
            if let Some(table) = self.subwords {
                self.subword_sentence::<FMA>(m, table, sen, alpha, &mut st);
                continue;
            }
            match self.model {
                ModelKind::SkipGram => self.skipgram_sentence::<FMA>(m, sen, alpha, &mut st),
                ModelKind::Cbow => self.cbow_sentence::<FMA>(m, sen, alpha, &mut st),
            }
        }
        st
    }

    /// [`draw_window`] from the worker's stream.
    #[inline(always)]
    fn draw_window(&mut self, i: usize, n: usize) -> (usize, usize) {
        draw_window(&mut self.rng, self.window, i, n)
    }

    /// Replaces `negs` with `n` noise words drawn in order from the worker's stream.
    #[inline(always)]
    fn draw_noise(&mut self, n: usize) {
        self.negs.clear();
        for _ in 0..n {
            self.negs.push(self.alias.draw(&mut self.rng));
        }
    }

    /// word2vec.c's skip-gram: for each context word `c` of centre `w`, the input row of
    /// `c` is trained against the output rows of `w` (label 1) and K noise words (label 0).
    #[inline(always)]
    fn skipgram_sentence<const FMA: bool>(
        &mut self,
        m: &Hogwild<'_>,
        sen: &[u32],
        alpha: f32,
        st: &mut WorkStats,
    ) {
        let n = sen.len();
        let k = self.negative;
        for (i, &word) in sen.iter().enumerate() {
            let (lo, hi) = self.draw_window(i, n);
            // The noise words of every pair of this window, drawn up front (K per pair, or
            // K for the whole window with shared negatives) so that the rows of the next
            // pair can be prefetched while the current one is computed: the noise rows are
            // random rows of a matrix far larger than the cache, and waiting for them is
            // most of the time of a pair at dim 100.
            let per_pair = !self.shared_negatives;
            let draws = if per_pair { (hi - lo) * k } else { k };
            self.draw_noise(draws);
            m.prefetch(false, word);
            let mut pair = 0;
            for c in lo..=hi {
                if c == i {
                    continue;
                }
                let last = sen[c];
                let negs = if per_pair {
                    &self.negs[pair * k..(pair + 1) * k]
                } else {
                    &self.negs[..k]
                };
                // Prefetch the next pair's rows (its context row and noise rows).
                let next = if c + 1 == i { c + 2 } else { c + 1 };
                if next <= hi {
                    m.prefetch(true, sen[next]);
                    if per_pair {
                        for &t in &self.negs[(pair + 1) * k..(pair + 2) * k] {
                            m.prefetch(false, t);
                        }
                    }
                }
                // SAFETY: `last` and targets are vocabulary ids; the input row and output
                // rows live in different matrices (see `Hogwild`).
                let l1 = unsafe { m.input_row(last) };
                let negs = (k > 0).then_some(negs);
                train_example::<FMA>(
                    m,
                    self.sig,
                    self.tree,
                    l1,
                    word,
                    negs,
                    &mut self.neu1e,
                    alpha,
                    st,
                );
                axpy::<FMA>(l1, 1.0, &self.neu1e);
                st.pairs += 1;
                pair += 1;
            }
        }
    }

    /// fastText's skip-gram and CBOW with subwords (`FastText::skipgram`, `::cbow`): the
    /// hidden vector is the mean of a bag of input rows — skip-gram: the centre word's own
    /// row and n-gram rows, trained against each context word in turn; CBOW: the rows of
    /// every context word, trained against the centre word — and every row of the bag
    /// then receives the whole input-side gradient (fastText does not divide it).
    #[inline(always)]
    fn subword_sentence<const FMA: bool>(
        &mut self,
        m: &Hogwild<'_>,
        table: &SubwordTable,
        sen: &[u32],
        alpha: f32,
        st: &mut WorkStats,
    ) {
        let n = sen.len();
        for (i, &word) in sen.iter().enumerate() {
            let (lo, hi) = self.draw_window(i, n);
            if hi == lo {
                continue;
            }
            match self.model {
                ModelKind::SkipGram => {
                    self.bag.clear();
                    self.bag.extend_from_slice(table.rows(word));
                    for c in (lo..=hi).filter(|&c| c != i) {
                        self.bag_step::<FMA>(m, sen[c], alpha, st);
                    }
                }
                ModelKind::Cbow => {
                    self.bag.clear();
                    for c in (lo..=hi).filter(|&c| c != i) {
                        self.bag.extend_from_slice(table.rows(sen[c]));
                    }
                    self.bag_step::<FMA>(m, word, alpha, st);
                }
            }
        }
    }

    /// One fastText update: the mean of the bag's input rows against `target` (and noise
    /// words, and its Huffman path with `--hs`); the gradient added to every bag row.
    #[inline(always)]
    fn bag_step<const FMA: bool>(
        &mut self,
        m: &Hogwild<'_>,
        target: u32,
        alpha: f32,
        st: &mut WorkStats,
    ) {
        self.neu1.fill(0.0);
        for &r in &self.bag {
            // SAFETY: bag rows are word ids or vocabulary + bucket ids; read-only here.
            let row = unsafe { m.any_input_row(r) };
            axpy::<FMA>(&mut self.neu1, 1.0, row);
        }
        let inv = 1.0 / self.bag.len() as f32;
        self.neu1.iter_mut().for_each(|x| *x *= inv);
        self.draw_noise(self.negative);
        let negs = (self.negative > 0).then_some(&self.negs[..]);
        train_example::<FMA>(
            m,
            self.sig,
            self.tree,
            &self.neu1,
            target,
            negs,
            &mut self.neu1e,
            alpha,
            st,
        );
        for &r in &self.bag {
            // SAFETY: as above; `neu1e` is thread-local scratch. A row twice in the bag
            // is updated twice, as in fastText.
            let row = unsafe { m.any_input_row(r) };
            axpy::<FMA>(row, 1.0, &self.neu1e);
        }
        st.pairs += 1;
    }

    /// Paragraph vectors (gensim's `Doc2Vec`) on one piece `sen` of a document (kept word
    /// ids) whose vector is input row `doc_row` (the vocabulary size plus the document's
    /// index: a row of the model's `subwords` matrix, addressed as subword buckets are).
    /// Picks the AVX2+FMA build of the inner loop when the CPU has it.
    pub fn train_document(
        &mut self,
        m: &Hogwild<'_>,
        doc_row: u32,
        sen: &[u32],
        alpha: f32,
        mode: DocMode,
    ) -> WorkStats {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { self.train_document_avx2(m, doc_row, sen, alpha, mode) };
            }
        }
        self.train_document_impl::<false>(m, doc_row, sen, alpha, mode)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn train_document_avx2(
        &mut self,
        m: &Hogwild<'_>,
        doc_row: u32,
        sen: &[u32],
        alpha: f32,
        mode: DocMode,
    ) -> WorkStats {
        self.train_document_impl::<true>(m, doc_row, sen, alpha, mode)
    }

    /// PV-DBOW (gensim's `train_document_dbow`): the document's vector alone is trained
    /// against each of its words and K noise words, as a skip-gram pair whose input row is
    /// the document's; with `words`, word2vec's skip-gram on the same words as well
    /// (`dbow_words=1`). PV-DM (`train_document_dm`, `dm_mean=1`): the mean of the context
    /// rows and the document's row is trained against each word, as CBOW with the
    /// document's row in every bag (so a one-word document still trains), the whole
    /// gradient added to every row of the bag.
    #[inline(always)]
    fn train_document_impl<const FMA: bool>(
        &mut self,
        m: &Hogwild<'_>,
        doc_row: u32,
        sen: &[u32],
        alpha: f32,
        mode: DocMode,
    ) -> WorkStats {
        let mut st = WorkStats::default();
        let n = sen.len();
        match mode {
            DocMode::Dbow { words } => {
                if words {
                    self.skipgram_sentence::<FMA>(m, sen, alpha, &mut st);
                }
                for &word in sen {
                    self.bag.clear();
                    self.bag.push(doc_row);
                    self.bag_step::<FMA>(m, word, alpha, &mut st);
                }
            }
            DocMode::Dm => {
                for (i, &word) in sen.iter().enumerate() {
                    let (lo, hi) = self.draw_window(i, n);
                    self.bag.clear();
                    self.bag
                        .extend((lo..=hi).filter(|&c| c != i).map(|c| sen[c]));
                    self.bag.push(doc_row);
                    self.bag_step::<FMA>(m, word, alpha, &mut st);
                }
            }
        }
        st
    }

    /// word2vec.c's CBOW (with `cbow_mean = 1`): the mean of the context input rows is
    /// trained against the centre word and K noise words; every context row then receives
    /// the same update.
    #[inline(always)]
    fn cbow_sentence<const FMA: bool>(
        &mut self,
        m: &Hogwild<'_>,
        sen: &[u32],
        alpha: f32,
        st: &mut WorkStats,
    ) {
        let n = sen.len();
        for (i, &word) in sen.iter().enumerate() {
            let (lo, hi) = self.draw_window(i, n);
            if hi == lo {
                // No context (a one-word sentence): nothing to train, no noise drawn.
                continue;
            }
            // Noise words first, so that their rows load while the context is gathered.
            self.draw_noise(self.negative);
            for &t in &self.negs {
                m.prefetch(false, t);
            }
            m.prefetch(false, word);
            self.neu1.fill(0.0);
            let mut cw = 0u32;
            for (c, &ctx) in sen.iter().enumerate().take(hi + 1).skip(lo) {
                if c != i {
                    // SAFETY: read-only use of an input row; see `Hogwild`.
                    let row = unsafe { m.input_row(ctx) };
                    axpy::<FMA>(&mut self.neu1, 1.0, row);
                    cw += 1;
                }
            }
            let inv = 1.0 / cw as f32;
            self.neu1.iter_mut().for_each(|x| *x *= inv);
            let negs = (self.negative > 0).then_some(&self.negs[..]);
            train_example::<FMA>(
                m,
                self.sig,
                self.tree,
                &self.neu1,
                word,
                negs,
                &mut self.neu1e,
                alpha,
                st,
            );
            for (c, &ctx) in sen.iter().enumerate().take(hi + 1).skip(lo) {
                if c != i {
                    // SAFETY: as above; `neu1e` is thread-local scratch.
                    let row = unsafe { m.input_row(ctx) };
                    axpy::<FMA>(row, 1.0, &self.neu1e);
                }
            }
            st.pairs += 1;
        }
    }
}

/// The GPU kernels' math on the CPU: each centre position's window is one small update,
/// with K noise words shared by the whole window (HogBatch, Ji et al. 2016) and every random
/// number drawn as `rand_at(key, position, lane)`. Windows are applied one after another,
/// so on a batch where no row repeats across windows the result equals the GPU's up to
/// float rounding.
pub struct CpuReference {
    pub model: Model,
    params: KernelParams,
    alias: AliasTable,
    loss: StepLoss,
    snapshot: bool,
    /// The stride of the order windows run in (`crate::backend::run_order`; 1: in order).
    order_stride: usize,
    /// The tile kernel's tiles of this many positions, and the stride of their order
    /// (`crate::backend::tile_order`), for the negative-sampling windows (None: windows).
    tiles: Option<(usize, usize)>,
    /// Units whose windows read the rows as the first of them began, their updates applied
    /// when the last ends (None: each window's updates applied at once).
    read_group: Option<usize>,
    noise_group: usize,
    subwords: Option<SubwordTable>,
    tree: Option<HuffmanTree>,
    doc: Option<crate::backend::DocTraining>,
}

impl CpuReference {
    pub fn new(model: Model, params: KernelParams, alias: AliasTable) -> CpuReference {
        CpuReference {
            model,
            params,
            alias,
            loss: StepLoss::default(),
            snapshot: false,
            order_stride: 1,
            tiles: None,
            read_group: None,
            noise_group: 1,
            subwords: None,
            tree: None,
            doc: None,
        }
    }

    /// The kernel parameters it computes with (their `precision` is the GPU's storage; the
    /// reference keeps f32).
    pub fn params(&self) -> KernelParams {
        self.params
    }

    /// The hierarchical-softmax kernel's math (`shaders/hs.wgsl`; with
    /// [`CpuReference::with_subwords`] `shaders/hs_subword.wgsl`) along `tree`'s paths into
    /// `model.hs`, each step after the negative-sampling windows (none with `--negative 0`).
    pub fn with_hs(mut self, tree: HuffmanTree) -> CpuReference {
        self.tree = Some(tree);
        self
    }

    /// The subword kernel's math (`shaders/subword.wgsl`): `table` gives every word's input
    /// rows (its own, then `vocab + bucket` for its n-grams; the model's `subwords` holds
    /// the bucket rows).
    pub fn with_subwords(mut self, table: SubwordTable) -> CpuReference {
        self.subwords = Some(table);
        self
    }

    /// The paragraph-vector kernels' math ([`GpuBackend::with_documents`]): `model.subwords`
    /// holds the document rows and every batch carries each position's document row
    /// ([`Batch::docs`]). Per step: with `doc.words` the subword kernels' skip-gram over the
    /// words' own rows (negative sampling, then along the tree with
    /// [`CpuReference::with_hs`]), then the documents' bags (CBOW-shaped) with negative
    /// sampling, then along the tree.
    ///
    /// [`GpuBackend::with_documents`]: crate::backend::gpu::GpuBackend::with_documents
    pub fn with_documents(mut self, doc: crate::backend::DocTraining) -> CpuReference {
        self.subwords = Some(SubwordTable::words_only(self.model.vocab_size()));
        self.doc = Some(doc);
        self
    }

    /// Every window of a step reads the rows as they were when the step began (all windows
    /// "in parallel", updates summed): the other extreme from applying them in order. A GPU
    /// step with conflicting rows lies between the two.
    pub fn with_snapshot_reads(mut self) -> CpuReference {
        self.snapshot = true;
        self
    }

    /// The tile kernel's order (`shaders/tile.wgsl`): the negative-sampling windows run
    /// tile by tile, tiles of `tile` consecutive positions in [`crate::backend::tile_order`]'s
    /// order with `stride` ([`crate::config::Order::tile_stride`]), each tile's windows in
    /// order. Word-only negative sampling.
    pub fn with_tile_order(mut self, tile: usize, stride: usize) -> CpuReference {
        self.tiles = Some((tile.max(1), stride.max(1)));
        self
    }

    /// The tile kernel's reads: the windows of each tile of `tile` consecutive positions
    /// read the rows as they were when the tile began; the tile's updates are applied when
    /// it ends, in window order. Tiles one after another (on a GPU they run in parallel),
    /// in [`Self::with_tile_order`]'s order (in order without it). Word-only negative
    /// sampling.
    pub fn with_tile_reads(mut self, tile: usize) -> CpuReference {
        let stride = self.tiles.map_or(1, |(_, s)| s);
        self.tiles = Some((tile.max(1), stride));
        self.read_group.get_or_insert(1);
        self
    }

    /// A model of a GPU running `n` workgroups at once (each reads the rows without the
    /// updates of those it runs beside): the windows run in groups of `n` windows (or with
    /// [`Self::with_tile_reads`] tiles) consecutive in the run order, each reading the rows
    /// as its group began, the group's updates applied when it ends. Word-only negative
    /// sampling.
    pub fn with_in_flight(mut self, n: usize) -> CpuReference {
        self.read_group = Some(n.max(1));
        self
    }

    /// The GPU's window order (`--gpu-order`, [`crate::config::Order::stride`]): a step's
    /// windows run in [`crate::backend::run_order`]'s order with this stride, as the window,
    /// subword and hierarchical-softmax kernels run them (1: in order); the tile kernel's
    /// windows as [`Self::with_tile_order`] says.
    pub fn with_order(mut self, stride: usize) -> CpuReference {
        self.order_stride = stride.max(1);
        self
    }

    /// The noise words are drawn once per `group` consecutive positions of a batch, at the
    /// group's first position, and shared by all of its windows: the tile kernel's
    /// `--gpu-tile-noise` with tiles of `group` positions.
    pub fn with_shared_noise(mut self, group: usize) -> CpuReference {
        self.noise_group = group.max(1);
        self
    }
}

/// Adds `delta` to row `id` of the input (`output == false`) or output matrix.
fn add_row(model: &mut Model, output: bool, id: u32, delta: &[f32]) {
    let dim = delta.len();
    let m = if output {
        &mut model.output
    } else {
        &mut model.input
    };
    for (x, d) in m[id as usize * dim..(id as usize + 1) * dim]
        .iter_mut()
        .zip(delta)
    {
        *x += d;
    }
}

/// The effective window of centre position `pos` in a step with RNG key `key`: word2vec's
/// shrink (uniform in `1..=window`), drawn as the kernels draw it (lane 0).
pub fn effective_window(key: u32, pos: usize, window: usize) -> usize {
    let w = window as u32;
    (w - mulhi(rand_at(key, pos as u32, 0), w)) as usize
}

/// The context positions `lo..=hi` (the centre among them) of centre position `pos`: its
/// effective window cut at sentence ends, as the kernels' `window_span`.
pub fn window_span(tokens: &[u32], pos: usize, key: u32, window: usize) -> (usize, usize) {
    let eff = effective_window(key, pos, window);
    let mut lo = pos;
    while lo > 0 && pos - (lo - 1) <= eff && tokens[lo - 1] != SENTENCE_END {
        lo -= 1;
    }
    let mut hi = pos;
    while hi + 1 < tokens.len() && hi + 1 - pos <= eff && tokens[hi + 1] != SENTENCE_END {
        hi += 1;
    }
    (lo, hi)
}

/// The context words of centre position `pos` (positions `lo..=hi` of [`window_span`]
/// except the centre).
pub fn context_words(tokens: &[u32], pos: usize, key: u32, window: usize) -> Vec<u32> {
    let (lo, hi) = window_span(tokens, pos, key, window);
    (lo..=hi).filter(|&c| c != pos).map(|c| tokens[c]).collect()
}

/// The centre positions of a step that have context words, with those words (separators
/// and windows cut to nothing at sentence ends left out), in the order of stride `stride`
/// ([`crate::backend::run_order`]).
fn context_windows(
    tokens: &[u32],
    key: u32,
    window: usize,
    stride: usize,
) -> impl Iterator<Item = (usize, Vec<u32>)> + '_ {
    crate::backend::run_order(tokens.len(), stride)
        .filter(move |&pos| tokens[pos] != SENTENCE_END)
        .map(move |pos| (pos, context_words(tokens, pos, key, window)))
        .filter(|(_, ctx)| !ctx.is_empty())
}

/// The mean of bag rows `bag` (word rows, then bucket rows) of `model`, summed in order.
fn bag_mean(model: &Model, bag: &[u32]) -> Vec<f32> {
    let mut h = vec![0.0f32; model.dim];
    for &r in bag {
        h.iter_mut()
            .zip(model.bag_row(r))
            .for_each(|(a, x)| *a += x);
    }
    let inv = 1.0 / bag.len() as f32;
    h.iter_mut().for_each(|x| *x *= inv);
    h
}

/// The ids a centre position works on: its context words (positions `lo..=hi` except the
/// centre, inside the chunk) and its output words (centre first, then K noise words).
pub fn window_at(
    tokens: &[u32],
    pos: usize,
    key: u32,
    params: &KernelParams,
    alias: &AliasTable,
) -> (Vec<u32>, Vec<u32>) {
    window_with_noise_at(tokens, pos, pos, key, params, alias)
}

/// [`window_at`] with the noise words of position `noise_pos` (the tile kernel's
/// `--gpu-tile-noise`: its tile's first position).
pub fn window_with_noise_at(
    tokens: &[u32],
    pos: usize,
    noise_pos: usize,
    key: u32,
    params: &KernelParams,
    alias: &AliasTable,
) -> (Vec<u32>, Vec<u32>) {
    let ctx = context_words(tokens, pos, key, params.window);
    let mut out = vec![tokens[pos]];
    for j in 0..params.negative as u32 {
        let r1 = rand_at(key, noise_pos as u32, 1 + 2 * j);
        let r2 = rand_at(key, noise_pos as u32, 2 + 2 * j);
        out.push(alias.sample(r1, r2));
    }
    (ctx, out)
}

/// The outputs of centre position `pos` in the subword kernel: skip-gram: for each context
/// word `i`, the context word then K noise words drawn with [`context_key`]`(key, i)`;
/// CBOW: the centre word then K noise words (as [`window_at`]). Returns the context words
/// and the outputs.
pub fn subword_window_at(
    tokens: &[u32],
    pos: usize,
    key: u32,
    params: &KernelParams,
    alias: &AliasTable,
) -> (Vec<u32>, Vec<u32>) {
    let (ctx, out) = window_at(tokens, pos, key, params, alias);
    if params.model == ModelKind::Cbow {
        return (ctx, out);
    }
    let mut cells = Vec::with_capacity(ctx.len() * (params.negative + 1));
    for (i, &c) in ctx.iter().enumerate() {
        let k = context_key(key, i as u32);
        cells.push(c);
        for j in 0..params.negative as u32 {
            let r1 = rand_at(k, pos as u32, 1 + 2 * j);
            let r2 = rand_at(k, pos as u32, 2 + 2 * j);
            cells.push(alias.sample(r1, r2));
        }
    }
    (ctx, cells)
}

/// The input rows of position `pos`'s bag in the subword kernels (bag.wgsl), or `None` when
/// the position trains nothing (a word-only bag without context words): skip-gram's is the
/// centre word's rows, CBOW's the context words' rows; PV-DBOW's the document's row alone,
/// PV-DM's the context words' rows, then the document's row (`docs[pos]`).
fn bag_of(
    table: &SubwordTable,
    centre: u32,
    ctx: &[u32],
    shape: ModelKind,
    doc: DocRows,
    docs: &[u32],
    pos: usize,
) -> Option<Vec<u32>> {
    let words =
        |ws: &[u32]| -> Vec<u32> { ws.iter().flat_map(|&w| table.rows(w)).copied().collect() };
    match doc {
        DocRows::None if ctx.is_empty() => None,
        DocRows::None => Some(match shape {
            ModelKind::SkipGram => table.rows(centre).to_vec(),
            ModelKind::Cbow => words(ctx),
        }),
        DocRows::Dbow => Some(vec![docs[pos]]),
        DocRows::Dm => {
            let mut bag = words(ctx);
            bag.push(docs[pos]);
            Some(bag)
        }
    }
}

impl CpuReference {
    /// One step of the subword kernel, windows applied one after another (or all reading
    /// the step's starting rows, [`CpuReference::with_snapshot_reads`]); sums in the
    /// kernel's order.
    fn subword_step(
        &mut self,
        table: &SubwordTable,
        batch: &Batch,
        (rate, key): (Rate, u32),
        shape: ModelKind,
        doc: DocRows,
    ) {
        let dim = self.params.dim;
        let toks = &batch.tokens;
        let frozen = self.snapshot.then(|| self.model.clone());
        let nout = self.params.negative + 1;
        let params = KernelParams {
            model: shape,
            ..self.params
        };
        for pos in crate::backend::run_order(toks.len(), self.order_stride) {
            if toks[pos] == SENTENCE_END {
                continue;
            }
            let (ctx, cells) = subword_window_at(toks, pos, key, &params, &self.alias);
            let Some(bag) = bag_of(table, toks[pos], &ctx, shape, doc, &batch.docs, pos) else {
                continue;
            };
            let alpha = rate.at(pos, toks.len());
            let src = frozen.as_ref().unwrap_or(&self.model);
            let h = bag_mean(src, &bag);
            let o_rows: Vec<&[f32]> = cells
                .iter()
                .map(|&o| &src.output[o as usize * dim..(o as usize + 1) * dim])
                .collect();
            let g: Vec<f32> = (0..cells.len())
                .map(|c| {
                    let j = c % nout;
                    if j > 0 && cells[c] == cells[c - j] {
                        return 0.0;
                    }
                    let (g, l) = sigmoid_bce(
                        seq_dot(&h, o_rows[c]),
                        if j == 0 { 1.0 } else { 0.0 },
                        alpha,
                    );
                    self.loss.add(l as f64);
                    g
                })
                .collect();
            let dh: Vec<f32> = (0..dim)
                .map(|d| {
                    (0..cells.len())
                        .filter(|&c| g[c] != 0.0)
                        .fold(0.0, |s, c| s + g[c] * o_rows[c][d])
                })
                .collect();
            for (c, &o) in cells.iter().enumerate() {
                if g[c] != 0.0 && !self.frozen() {
                    let row = &mut self.model.output[o as usize * dim..(o as usize + 1) * dim];
                    for (x, hd) in row.iter_mut().zip(&h) {
                        *x += g[c] * hd;
                    }
                }
            }
            for &r in self.learning(&bag) {
                for (x, d) in self.model.bag_row_mut(r).iter_mut().zip(&dh) {
                    *x += d;
                }
            }
        }
    }

    /// Inference ([`DocTraining::infer`]): only the document rows learn.
    fn frozen(&self) -> bool {
        self.doc.is_some_and(|d| d.infer)
    }

    /// The rows of `bag` that learn: all of them, or when [`CpuReference::frozen`] the
    /// document's (the bag's last row).
    fn learning<'b>(&self, bag: &'b [u32]) -> &'b [u32] {
        match self.frozen() {
            true => &bag[bag.len() - 1..],
            false => bag,
        }
    }
}

impl CpuReference {
    /// One step of the hierarchical-softmax kernel: per window (in order, or all reading
    /// the step's starting rows), the context rows (CBOW: their mean) along the centre
    /// word's path one context after another, as word2vec.c: each context's logits read
    /// the node rows as the window's earlier contexts left them, its gradient is taken
    /// before its own update; a logit at or beyond ±`MAX_EXP` gives no update (its loss
    /// counted). The context rows are read once and updated when the window ends.
    fn hs_step(&mut self, tree: &HuffmanTree, batch: &Batch, rate: Rate, key: u32) {
        let dim = self.params.dim;
        let toks = &batch.tokens;
        let frozen = self.snapshot.then(|| self.model.clone());
        for (pos, ctx) in context_windows(toks, key, self.params.window, self.order_stride) {
            let alpha = rate.at(pos, toks.len());
            let src = frozen.as_ref().unwrap_or(&self.model);
            let row = |m: &[f32], i: u32| m[i as usize * dim..(i as usize + 1) * dim].to_vec();
            // The rows trained: each context word's (skip-gram) or their mean (CBOW).
            let xs: Vec<Vec<f32>> = match self.params.model {
                ModelKind::SkipGram => ctx.iter().map(|&c| row(&src.input, c)).collect(),
                ModelKind::Cbow => {
                    let inv = 1.0 / ctx.len() as f32;
                    vec![(0..dim)
                        .map(|d| {
                            ctx.iter()
                                .map(|&c| src.input[c as usize * dim + d])
                                .sum::<f32>()
                                * inv
                        })
                        .collect()]
                }
            };
            let (points, codes) = tree.path(toks[pos]);
            let mut nodes: Vec<Vec<f32>> = points.iter().map(|&n| row(&src.hs, n)).collect();
            let mut node_delta = vec![vec![0.0f32; dim]; points.len()];
            let mut deltas = vec![vec![0.0f32; dim]; xs.len()];
            for (x, delta) in xs.iter().zip(&mut deltas) {
                let g: Vec<f32> = nodes
                    .iter()
                    .zip(codes)
                    .map(|(node, &code)| {
                        let f = seq_dot(x, node);
                        let (g, l) = sigmoid_bce(f, 1.0 - code as f32, alpha);
                        self.loss.add(l as f64);
                        if f > -crate::loss::MAX_EXP && f < crate::loss::MAX_EXP {
                            g
                        } else {
                            0.0
                        }
                    })
                    .collect();
                for d in 0..dim {
                    for (j, node) in nodes.iter_mut().enumerate() {
                        delta[d] += g[j] * node[d];
                        node[d] += g[j] * x[d];
                        node_delta[j][d] += g[j] * x[d];
                    }
                }
            }
            for (&n, delta) in points.iter().zip(&node_delta) {
                let r = &mut self.model.hs[n as usize * dim..(n as usize + 1) * dim];
                r.iter_mut().zip(delta).for_each(|(v, d)| *v += d);
            }
            for (i, &c) in ctx.iter().enumerate() {
                let delta = match self.params.model {
                    ModelKind::SkipGram => &deltas[i],
                    ModelKind::Cbow => &deltas[0],
                };
                add_row(&mut self.model, false, c, delta);
            }
        }
    }
}

impl CpuReference {
    /// One step of the subword hierarchical-softmax kernel (`shaders/hs_subword.wgsl`): per
    /// window (in order, or all reading the step's starting rows), h = the mean of the bag
    /// trained along each context word's path one after another (skip-gram; CBOW: the centre
    /// word's path). Each target's logits read the node rows as the window's earlier targets
    /// left them, its gradient e is taken from them before its own update, and h moves by e
    /// before the next target; every bag row receives the window's summed e at its end. A
    /// logit at or beyond ±`MAX_EXP` gives no update (its loss counted).
    fn hs_subword_step(
        &mut self,
        tree: &HuffmanTree,
        table: &SubwordTable,
        batch: &Batch,
        (rate, key): (Rate, u32),
        shape: ModelKind,
        doc: DocRows,
    ) {
        let dim = self.params.dim;
        let toks = &batch.tokens;
        let frozen = self.snapshot.then(|| self.model.clone());
        for pos in crate::backend::run_order(toks.len(), self.order_stride) {
            if toks[pos] == SENTENCE_END {
                continue;
            }
            let ctx = context_words(toks, pos, key, self.params.window);
            let Some(bag) = bag_of(table, toks[pos], &ctx, shape, doc, &batch.docs, pos) else {
                continue;
            };
            let alpha = rate.at(pos, toks.len());
            let targets = match shape {
                ModelKind::SkipGram => ctx.clone(),
                ModelKind::Cbow => vec![toks[pos]],
            };
            let src = frozen.as_ref().unwrap_or(&self.model);
            let mut h = bag_mean(src, &bag);
            // The node rows this window has read, as it has left them, and its changes.
            let mut nodes: std::collections::HashMap<u32, (Vec<f32>, Vec<f32>)> =
                std::collections::HashMap::new();
            let mut dh = vec![0.0f32; dim];
            for &t in &targets {
                let (points, codes) = tree.path(t);
                let mut e = vec![0.0f32; dim];
                for (&n, &code) in points.iter().zip(codes) {
                    let (node, delta) = nodes.entry(n).or_insert_with(|| {
                        let at = n as usize * dim;
                        (src.hs[at..at + dim].to_vec(), vec![0.0; dim])
                    });
                    let f = seq_dot(&h, node);
                    let (g, l) = sigmoid_bce(f, 1.0 - code as f32, alpha);
                    self.loss.add(l as f64);
                    if f <= -crate::loss::MAX_EXP || f >= crate::loss::MAX_EXP {
                        continue;
                    }
                    let learn = !self.frozen();
                    for d in 0..dim {
                        e[d] += g * node[d];
                        if learn {
                            node[d] += g * h[d];
                            delta[d] += g * h[d];
                        }
                    }
                }
                for d in 0..dim {
                    h[d] += e[d];
                    dh[d] += e[d];
                }
            }
            for (n, (_, delta)) in nodes {
                let r = &mut self.model.hs[n as usize * dim..(n as usize + 1) * dim];
                r.iter_mut().zip(&delta).for_each(|(v, d)| *v += d);
            }
            for &r in self.learning(&bag) {
                let row = self.model.bag_row_mut(r);
                row.iter_mut().zip(&dh).for_each(|(x, d)| *x += d);
            }
        }
    }
}

/// The reference runs in tests only, never in a distributed run.
impl SyncRows for CpuReference {}

impl Backend for CpuReference {
    fn step(&mut self, batch: &Batch, rate: Rate, key: u32) -> Result<()> {
        if let Some(table) = self.subwords.take() {
            let doc = self.doc.map_or(DocRows::None, |d| d.rows);
            let shape = match doc {
                DocRows::None => self.params.model,
                _ => ModelKind::Cbow,
            };
            if self.doc.is_some_and(|d| d.words) {
                let sg = ModelKind::SkipGram;
                if self.params.negative > 0 {
                    self.subword_step(&table, batch, (rate, key), sg, DocRows::None);
                }
                if let Some(tree) = self.tree.take() {
                    self.hs_subword_step(&tree, &table, batch, (rate, key), sg, DocRows::None);
                    self.tree = Some(tree);
                }
            }
            if self.params.negative > 0 {
                self.subword_step(&table, batch, (rate, key), shape, doc);
            }
            if let Some(tree) = self.tree.take() {
                self.hs_subword_step(&tree, &table, batch, (rate, key), shape, doc);
                self.tree = Some(tree);
            }
            self.subwords = Some(table);
            return Ok(());
        }
        if self.params.negative > 0 {
            self.ns_step(batch, rate, key);
        }
        if let Some(tree) = self.tree.take() {
            self.hs_step(&tree, batch, rate, key);
            self.tree = Some(tree);
        }
        Ok(())
    }

    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        Ok(Some(std::mem::take(&mut self.loss)))
    }

    fn download(&mut self) -> Result<Model> {
        Ok(self.model.clone())
    }

    fn describe(&self) -> String {
        "cpu-reference".to_string()
    }
}

impl CpuReference {
    /// One step of the negative-sampling kernels: windows in order (or reading the step's
    /// starting rows, or a tile's), K noise words shared per window.
    fn ns_step(&mut self, batch: &Batch, rate: Rate, key: u32) {
        let dim = self.params.dim;
        let toks = &batch.tokens;
        let frozen = self.snapshot.then(|| self.model.clone());
        // Row updates of the current group of tiles or windows, applied when it ends
        // (with_tile_reads, with_in_flight).
        let mut pending: Vec<(bool, u32, Vec<f32>)> = Vec::new();
        let group = self.read_group;
        let (unit, stride) = self.tiles.unwrap_or((1, self.order_stride));
        let order = crate::backend::tile_order(toks.len(), unit, stride);
        let mut rank = usize::MAX;
        for item in order.map(Some).chain(std::iter::once(None)) {
            if let Some(g) = group {
                let starts = item.is_none_or(|(k, _)| k != rank && k % g == 0);
                if starts {
                    for (output, id, delta) in pending.drain(..) {
                        add_row(&mut self.model, output, id, &delta);
                    }
                }
            }
            let Some((k, pos)) = item else { break };
            rank = k;
            if toks[pos] == SENTENCE_END {
                continue;
            }
            let mut update = |model: &mut Model, output: bool, id: u32, delta: Vec<f32>| {
                if group.is_some() {
                    pending.push((output, id, delta));
                } else {
                    add_row(model, output, id, &delta);
                }
            };
            let noise_pos = pos - pos % self.noise_group;
            let (ctx, out) =
                window_with_noise_at(toks, pos, noise_pos, key, &self.params, &self.alias);
            if ctx.is_empty() {
                continue;
            }
            let alpha = rate.at(pos, toks.len());
            let centre = out[0];
            let rows = |m: &Vec<f32>, ids: &[u32]| -> Vec<Vec<f32>> {
                ids.iter()
                    .map(|&i| m[i as usize * dim..(i as usize + 1) * dim].to_vec())
                    .collect()
            };
            let src = frozen.as_ref().unwrap_or(&self.model);
            let c_rows = rows(&src.input, &ctx);
            let o_rows = rows(&src.output, &out);
            let label = |j: usize| if j == 0 { 1.0 } else { 0.0 };
            let live = |j: usize| j == 0 || out[j] != centre;
            match self.params.model {
                ModelKind::SkipGram => {
                    let mut g = vec![vec![0.0f32; out.len()]; ctx.len()];
                    for (i, c) in c_rows.iter().enumerate() {
                        for (j, o) in o_rows.iter().enumerate() {
                            if !live(j) {
                                continue;
                            }
                            let f = seq_dot(c, o);
                            let (gij, l) = sigmoid_bce(f, label(j), alpha);
                            g[i][j] = gij;
                            self.loss.add(l as f64);
                        }
                    }
                    for (i, &id) in ctx.iter().enumerate() {
                        let delta = (0..dim)
                            .map(|d| (0..out.len()).map(|j| g[i][j] * o_rows[j][d]).sum::<f32>())
                            .collect();
                        update(&mut self.model, false, id, delta);
                    }
                    for (j, &id) in out.iter().enumerate() {
                        let delta = (0..dim)
                            .map(|d| (0..ctx.len()).map(|i| g[i][j] * c_rows[i][d]).sum::<f32>())
                            .collect();
                        update(&mut self.model, true, id, delta);
                    }
                }
                ModelKind::Cbow => {
                    let inv = 1.0 / ctx.len() as f32;
                    let h: Vec<f32> = (0..dim)
                        .map(|d| c_rows.iter().map(|r| r[d]).sum::<f32>() * inv)
                        .collect();
                    let mut g = vec![0.0f32; out.len()];
                    for (j, o) in o_rows.iter().enumerate() {
                        if live(j) {
                            let (gj, l) = sigmoid_bce(seq_dot(&h, o), label(j), alpha);
                            g[j] = gj;
                            self.loss.add(l as f64);
                        }
                    }
                    let dh: Vec<f32> = (0..dim)
                        .map(|d| (0..out.len()).map(|j| g[j] * o_rows[j][d]).sum::<f32>())
                        .collect();
                    for &id in &ctx {
                        update(&mut self.model, false, id, dh.clone());
                    }
                    for (j, &id) in out.iter().enumerate() {
                        update(
                            &mut self.model,
                            true,
                            id,
                            h.iter().map(|hd| g[j] * hd).collect(),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::MAX_EXP;

    #[test]
    fn dot_and_axpy_match_naive() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot::<false>(&a, &b) - naive).abs() < 1e-5);
        assert!((dot::<true>(&a, &b) - naive).abs() < 1e-5);
        let mut y = b.clone();
        axpy::<false>(&mut y, 0.5, &a);
        for i in 0..37 {
            assert!((y[i] - (b[i] + 0.5 * a[i])).abs() < 1e-6);
        }
    }

    /// word2vec.c's `TrainModelThread` (hierarchical softmax when `tree` is given, then
    /// negative sampling when `p.negative > 0`), transcribed loop for loop with plain
    /// scalar arithmetic and the same random stream: the window shrink, then the K noise
    /// draws of each pair (skip-gram) or centre (CBOW) in order. The trainer draws a
    /// window's noise words ahead of use and prefetches rows, which must not change what it
    /// computes.
    fn word2vec_c(
        model: &mut Model,
        batch: &Batch,
        p: &KernelParams,
        alias: &AliasTable,
        tree: Option<&HuffmanTree>,
    ) {
        let (dim, sig) = (p.dim, SigmoidTable::default());
        let mut rng = Rng::new(11);
        let alpha = 0.05;
        let row = |r: u32| (r as usize * dim)..(r as usize * dim + dim);
        for sen in batch.chunks() {
            for (i, &word) in sen.iter().enumerate() {
                let b = rng.below(p.window as u32) as usize;
                let lo = i.saturating_sub(p.window - b);
                let hi = (i + p.window - b).min(sen.len() - 1);
                let ctx: Vec<u32> = (lo..=hi).filter(|&c| c != i).map(|c| sen[c]).collect();
                // The outputs of one example: returns the input-side gradient of `x`.
                let outputs = |model: &mut Model, rng: &mut Rng, x: &[f32]| {
                    let mut neu1e = vec![0.0f32; dim];
                    if let Some(tree) = tree {
                        let (point, code) = tree.path(word);
                        for d in 0..code.len() {
                            let l2 = &mut model.hs[row(point[d])];
                            let f: f32 = x.iter().zip(l2.iter()).map(|(a, b)| a * b).sum();
                            if f <= -MAX_EXP || f >= MAX_EXP {
                                continue;
                            }
                            let g = sig.bce(f, 1.0 - code[d] as f32, alpha).0;
                            for k in 0..dim {
                                neu1e[k] += g * l2[k];
                                l2[k] += g * x[k];
                            }
                        }
                    }
                    let outputs = if p.negative > 0 { p.negative + 1 } else { 0 };
                    for d in 0..outputs {
                        let (target, label) = if d == 0 {
                            (word, 1.0)
                        } else {
                            let r = rng.next_u64();
                            let t = alias.sample(r as u32, (r >> 32) as u32);
                            if t == word {
                                continue;
                            }
                            (t, 0.0)
                        };
                        let l2 = &mut model.output[row(target)];
                        let f: f32 = x.iter().zip(l2.iter()).map(|(a, b)| a * b).sum();
                        let g = sig.bce(f, label, alpha).0;
                        for k in 0..dim {
                            neu1e[k] += g * l2[k];
                            l2[k] += g * x[k];
                        }
                    }
                    neu1e
                };
                if p.model == ModelKind::SkipGram {
                    for &last in &ctx {
                        let l1 = model.input[row(last)].to_vec();
                        let neu1e = outputs(model, &mut rng, &l1);
                        let l1 = &mut model.input[row(last)];
                        l1.iter_mut().zip(&neu1e).for_each(|(x, e)| *x += e);
                    }
                } else if !ctx.is_empty() {
                    let mut neu1 = vec![0.0f32; dim];
                    for &c in &ctx {
                        let r = &model.input[row(c)];
                        neu1.iter_mut().zip(r).for_each(|(h, x)| *h += x);
                    }
                    neu1.iter_mut().for_each(|h| *h /= ctx.len() as f32);
                    let neu1e = outputs(model, &mut rng, &neu1);
                    for &c in &ctx {
                        let r = &mut model.input[row(c)];
                        r.iter_mut().zip(&neu1e).for_each(|(x, e)| *x += e);
                    }
                }
            }
        }
    }

    /// Zipf-like counts (`1000 / rank`) of `vocab` words and word2vec's noise table over them.
    fn zipf_noise(vocab: u32) -> (Vec<u64>, AliasTable) {
        let counts: Vec<u64> = (1..=vocab as u64).map(|r| 1000 / r).collect();
        let alias = AliasTable::unigram(&counts, 0.75);
        (counts, alias)
    }

    /// A batch trained at a falling rate equals its sentences trained one after another,
    /// each at the rate of its first position (the Hogwild trainer's batches of many
    /// parts' sentences), bit for bit.
    #[test]
    fn batch_rate_falls_sentence_by_sentence() {
        let vocab = 50u32;
        let sentences: Vec<Vec<u32>> = (0..4u32)
            .map(|s| (0..9 + 3 * s).map(|i| (i * 7 + s * 3) % vocab).collect())
            .collect();
        let whole: Vec<u32> = sentences
            .iter()
            .flat_map(|s| s.iter().copied().chain([SENTENCE_END]))
            .collect();
        let batch = |tokens: Vec<u32>| Batch {
            tokens,
            ..Batch::default()
        };
        let (_, alias) = zipf_noise(vocab);
        let sig = SigmoidTable::default();
        let rate = Rate {
            start: 0.05,
            end: 0.01,
        };
        for model in [ModelKind::SkipGram, ModelKind::Cbow] {
            let p = KernelParams {
                precision: crate::config::Precision::F32,
                model,
                dim: 8,
                window: 3,
                negative: 4,
            };
            let start = Model::new(vocab as usize, p.dim, 3);
            let mut a = start.clone();
            let mut w = Worker::new(0, &alias, &sig, &p);
            w.train_batch(&Hogwild::new(&mut a), &batch(whole.clone()), rate);
            let mut b = start.clone();
            let mut w = Worker::new(0, &alias, &sig, &p);
            let mut offset = 0;
            for s in &sentences {
                let alpha = Rate::constant(rate.at(offset, whole.len()));
                let one = batch(s.iter().copied().chain([SENTENCE_END]).collect());
                w.train_batch(&Hogwild::new(&mut b), &one, alpha);
                offset += s.len() + 1;
            }
            assert_eq!(a.input, b.input, "{model:?}");
            assert_eq!(a.output, b.output, "{model:?}");
            // And the rate did fall: one rate for the whole batch trains otherwise.
            let mut c = start.clone();
            let mut w = Worker::new(0, &alias, &sig, &p);
            w.train_batch(
                &Hogwild::new(&mut c),
                &batch(whole.clone()),
                Rate::constant(0.05),
            );
            assert_ne!(a.input, c.input, "{model:?}");
        }
    }

    #[test]
    fn trainer_computes_word2vec_c() {
        // Zipf-like ids so that rows repeat within windows, sentences of 1 to 40 words
        // (a one-word sentence has no context and must draw nothing).
        let vocab = 60u32;
        let mut rng = Rng::new(5);
        let mut tokens = Vec::new();
        for len in [1usize, 40, 7, 1, 23, 2, 31] {
            for _ in 0..len {
                let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
                tokens.push(((vocab as f32).powf(u) as u32 - 1).min(vocab - 1));
            }
            tokens.push(SENTENCE_END);
        }
        let batch = Batch {
            tokens,
            ..Batch::default()
        };
        let (counts, alias) = zipf_noise(vocab);
        let sig = SigmoidTable::default();
        let tree = HuffmanTree::new(&counts);
        let cases = [
            (ModelKind::SkipGram, 5, false),
            (ModelKind::Cbow, 5, false),
            (ModelKind::SkipGram, 0, true),
            (ModelKind::Cbow, 0, true),
            (ModelKind::SkipGram, 3, true),
            (ModelKind::Cbow, 3, true),
        ];
        for (model_kind, negative, hs) in cases {
            let p = KernelParams {
                precision: crate::config::Precision::F32,
                model: model_kind,
                dim: 19,
                window: 4,
                negative,
            };
            let mut start = Model::new(vocab as usize, p.dim, 3);
            if hs {
                start = start.with_hs();
            }
            // Non-zero output and inner-node rows, so that every matrix moves from the
            // first pair on.
            let mut r = Rng::new(9);
            start
                .output
                .iter_mut()
                .chain(start.hs.iter_mut())
                .for_each(|x| *x = (r.next_u32() as f32 / u32::MAX as f32 - 0.5) * 0.4);
            let tree = hs.then_some(&tree);
            let mut expected = start.clone();
            word2vec_c(&mut expected, &batch, &p, &alias, tree);
            for fma in [false, true] {
                if fma && !(cfg!(target_arch = "x86_64") && has_avx2_fma()) {
                    continue;
                }
                let mut got = start.clone();
                let mut w = Worker::new(0, &alias, &sig, &p);
                w.rng = Rng::new(11);
                w.tree = tree;
                let hog = Hogwild::new(&mut got);
                if fma {
                    w.train_batch(&hog, &batch, Rate::constant(0.05));
                } else {
                    w.train_batch_impl::<false>(&hog, &batch, Rate::constant(0.05));
                }
                // Same operations; only the summation order of the dot products (16
                // accumulators vs one) and FMA rounding differ: a few f32 ulps per update.
                for (name, a, b) in [
                    ("input", &got.input, &expected.input),
                    ("output", &got.output, &expected.output),
                    ("hs", &got.hs, &expected.hs),
                ] {
                    let worst = a
                        .iter()
                        .zip(b.iter())
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0f32, f32::max);
                    assert!(
                        worst < 2e-5,
                        "{model_kind:?} negative {negative} hs {hs} fma={fma} {name}: max |Δ| {worst}"
                    );
                }
                assert_ne!(got.input, start.input);
                assert_eq!(got.hs != start.hs, hs);
                assert_eq!(got.output != start.output, negative > 0);
            }
        }
    }

    fn has_avx2_fma() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    #[test]
    fn window_respects_sentence_ends_and_shrink() {
        let toks = vec![5, 6, 7, SENTENCE_END, 8, 9];
        let alias = AliasTable::unigram(&[1; 10], 0.75);
        let p = KernelParams {
            precision: crate::config::Precision::F32,
            model: ModelKind::SkipGram,
            dim: 4,
            window: 5,
            negative: 3,
        };
        for key in 0..50 {
            let (ctx, out) = window_at(&toks, 1, key, &p, &alias);
            assert!(ctx.iter().all(|&c| c == 5 || c == 7), "{ctx:?}");
            assert_eq!(out.len(), 4);
            assert_eq!(out[0], 6);
            let (ctx, _) = window_at(&toks, 4, key, &p, &alias);
            assert_eq!(ctx, vec![9]);
        }
        let p1 = KernelParams { window: 1, ..p };
        let (ctx, _) = window_at(&[1, 2, 3, 4, 5], 2, 7, &p1, &alias);
        assert_eq!(ctx, vec![2, 4]);
    }

    /// The tile kernel's reference: tiles of one position are the windows applied in order,
    /// one tile as long as the batch is every window reading the step's starting rows, and a
    /// tile in between is neither (bit for bit: the updates are applied in the same order).
    #[test]
    fn tile_reads_span_sequential_to_snapshot() {
        for model in [ModelKind::SkipGram, ModelKind::Cbow] {
            let p = KernelParams {
                precision: crate::config::Precision::F32,
                model,
                dim: 8,
                window: 3,
                negative: 3,
            };
            let vocab = 40;
            let alias = AliasTable::unigram(&vec![1; vocab], 0.75);
            let mut rng = crate::sampling::Rng::new(3);
            let mut tokens: Vec<u32> = (0..200).map(|_| rng.below(vocab as u32)).collect();
            tokens[77] = SENTENCE_END;
            let batch = Batch {
                tokens,
                words: 199,
                step: 0,
                docs: Vec::new(),
            };
            let mut init = Model::new(vocab, p.dim, 1);
            init.output
                .iter_mut()
                .for_each(|x| *x = rng.next_f32() - 0.5);
            let run = |r: CpuReference| {
                let mut r = r;
                r.step(
                    &batch,
                    Rate {
                        start: 0.1,
                        end: 0.05,
                    },
                    9,
                )
                .unwrap();
                r.model
            };
            let fresh = || CpuReference::new(init.clone(), p, alias.clone());
            let seq = run(fresh());
            let snap = run(fresh().with_snapshot_reads());
            assert_eq!(
                run(fresh().with_tile_reads(1)).input,
                seq.input,
                "{model:?}"
            );
            assert_eq!(
                run(fresh().with_tile_reads(1)).output,
                seq.output,
                "{model:?}"
            );
            let whole = run(fresh().with_tile_reads(batch.tokens.len()));
            assert_eq!(whole.input, snap.input, "{model:?}");
            assert_eq!(whole.output, snap.output, "{model:?}");
            let mid = run(fresh().with_tile_reads(8));
            assert!(
                mid.input != seq.input && mid.input != snap.input,
                "{model:?}"
            );
        }
    }

    /// Noise words shared per group of positions (`--gpu-tile-noise`'s reference): groups of
    /// one are the per-window draws, bit for bit; in longer groups every window draws the
    /// noise words of its group's first position.
    #[test]
    fn shared_noise_is_drawn_at_the_groups_first_position() {
        let p = KernelParams {
            precision: crate::config::Precision::F32,
            model: ModelKind::SkipGram,
            dim: 8,
            window: 3,
            negative: 4,
        };
        let vocab = 50;
        let alias = AliasTable::unigram(&vec![1; vocab], 0.75);
        let mut rng = crate::sampling::Rng::new(5);
        let tokens: Vec<u32> = (0..100).map(|_| rng.below(vocab as u32)).collect();
        for pos in [8, 13, 15] {
            let (ctx, out) = window_with_noise_at(&tokens, pos, 8, 4, &p, &alias);
            let (own_ctx, own_out) = window_at(&tokens, pos, 4, &p, &alias);
            let (_, first) = window_at(&tokens, 8, 4, &p, &alias);
            assert_eq!((ctx, out[0]), (own_ctx, own_out[0]), "{pos}");
            assert_eq!(out[1..], first[1..], "{pos}");
        }
        let batch = Batch {
            tokens,
            words: 100,
            step: 0,
            docs: Vec::new(),
        };
        let init = Model::new(vocab, p.dim, 2);
        let run = |r: CpuReference| {
            let mut r = r;
            r.step(&batch, Rate::constant(0.05), 4).unwrap();
            r.model
        };
        let fresh = || CpuReference::new(init.clone(), p, alias.clone());
        let own = run(fresh());
        let ones = run(fresh().with_shared_noise(1));
        assert_eq!((&ones.input, &ones.output), (&own.input, &own.output));
        let eights = run(fresh().with_shared_noise(8));
        assert_ne!(eights.output, own.output);
    }
}
