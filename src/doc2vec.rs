//! Paragraph vectors (Le & Mikolov 2014) as gensim's `Doc2Vec` trains them: a vector per
//! document, learned together with word vectors, and vectors inferred for new text.
//!
//! One line of the input is one document (gensim's `TaggedLineDocument`), tagged by its line
//! number from 0, or by its first token with `tagged` (word2vec.c's `-sentence-vectors`
//! convention, e.g. `_*17 the text ...`). Words are split on white space; words outside the
//! vocabulary are dropped, as gensim drops them.
//!
//! * PV-DBOW (`--model dbow`, gensim's `dm=0`): the document's vector predicts each of its
//!   words, optionally with word2vec's skip-gram on the same text (`--dbow-words`,
//!   `dbow_words=1`).
//! * PV-DM (`--model dm`, gensim's default `dm=1`, `dm_mean=1`): the mean of the document's
//!   vector and the context words' vectors predicts each word.
//!
//! Predictions are trained by negative sampling (`--negative`, gensim's `negative`), by
//! hierarchical softmax over word2vec.c's Huffman tree of the words (`--hs`, `hs=1`), or
//! both, the tree first as in word2vec.c and gensim.
//!
//! The CPU's Hogwild workers train it ([`crate::backend::cpu::Worker::train_document`]):
//! document vectors are extra input rows, as subword buckets are. On a GPU backend
//! (`backend`) the subword kernels train them the same way
//! ([`crate::backend::gpu::GpuBackend::with_documents`]), every position of a batch carrying
//! its document's row (PV-DBOW, PV-DM); `dm_concat`, whose layer is a concatenation, not a
//! bag, has a kernel of its own ([`crate::backend::gpu::concat::GpuConcat`]). Inference
//! ([`Doc2Vec::infer`]) keeps every trained matrix fixed and trains a fresh vector for the
//! text, its rate falling from `alpha` to `min_alpha` epoch by epoch, as gensim's
//! `infer_vector`.

use crate::backend::cpu::{draw_window, DocMode, Hogwild, WorkStats, Worker};
use crate::backend::gpu::{GpuBackend, GpuContext};
use crate::backend::{
    Backend, DocRows, DocTraining, KernelParams, Matrix, Rate, StepLoss, SyncRows,
};
use crate::batch::Batch;
use crate::bytes::Cursor;
use crate::config::{BackendKind, ModelKind, Precision, TrainConfig};
use crate::corpus::SENTENCE_END;
use crate::dist::sync::SharedMatrix;
use crate::error::{readable, Error, Result};
use crate::files::AtomicFile;
use crate::huffman::HuffmanTree;
use crate::linalg::{axpy, axpy2, dot};
use crate::loss::{SigmoidTable, MAX_EXP};
use crate::model::Model;
use crate::progress::Reporter;
use crate::sampling::{linear_rate, splitmix64, step_key, AliasTable, Rng, Subsampler};
use crate::vocab::Vocab;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// The longest piece of a document trained as one unit (windows do not cross pieces; every
/// piece trains the same document vector). Long documents are split so that threads share
/// them; gensim instead drops every word after the 10,000th.
pub const PIECE_WORDS: usize = 10_000;

/// How document vectors are trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Dbow,
    Dm,
    /// PV-DM over the concatenation of the document's vector and the vectors of the
    /// `window` words on each side (gensim's `dm_concat=1`, Le & Mikolov's original PV-DM).
    DmConcat,
}

impl DocKind {
    /// The subword kernels' bag (dm_concat is not one: it trains on its own kernel, and
    /// this is never asked of it).
    fn rows(self) -> DocRows {
        match self {
            DocKind::Dbow => DocRows::Dbow,
            DocKind::Dm | DocKind::DmConcat => DocRows::Dm,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DocKind::Dbow => "dbow",
            DocKind::Dm => "dm",
            DocKind::DmConcat => "dm_concat",
        }
    }
}

/// Settings of a run; the defaults are gensim 4.4's `Doc2Vec` defaults.
#[derive(Debug, Clone)]
pub struct DocConfig {
    pub input: PathBuf,
    pub kind: DocKind,
    /// PV-DBOW only: train word vectors by skip-gram on the same text.
    pub dbow_words: bool,
    /// The first token of each line is its tag (otherwise the line number).
    pub tagged: bool,
    pub dim: usize,
    pub window: usize,
    /// Noise words per prediction; 0 with `hs` for hierarchical softmax alone.
    pub negative: usize,
    /// Hierarchical softmax over word2vec.c's Huffman tree of the words (gensim's `hs=1`).
    pub hs: bool,
    pub epochs: usize,
    pub alpha: f32,
    pub min_alpha: f32,
    pub min_count: u64,
    pub sample: f64,
    pub threads: usize,
    pub seed: u64,
    /// Where it trains: the CPU's Hogwild threads, or a GPU backend (PV-DBOW and PV-DM
    /// with mean layers; `auto` keeps the CPU, the GPU kernels being measured on lavapipe
    /// only).
    pub backend: BackendKind,
    /// Which adapter of a GPU backend.
    pub adapter: Option<usize>,
    /// How a GPU backend runs.
    pub gpu: DocGpu,
}

/// The GPU engine's settings for paragraph vectors (`train`'s flags of the same names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DocGpu {
    /// Positions per step (`--gpu-batch`): more than [`PIECE_WORDS`], so that a piece fits.
    pub batch: usize,
    /// `--gpu-atomics` (`None`: the adapter's best).
    pub atomics: Option<crate::backend::gpu::shaders::Atomics>,
    /// `--gpu-reduce` (`None`: the adapter's best).
    pub reduce: Option<crate::config::Reduce>,
    /// `--gpu-workgroup`.
    pub workgroup: u32,
    /// `--gpu-order`: the order of a step's positions on the bag and word kernels.
    pub order: crate::config::Order,
    /// `--gpu-in-flight`: workgroups per dispatch (None: a step in one dispatch).
    pub in_flight: Option<u32>,
}

impl Default for DocGpu {
    fn default() -> Self {
        DocGpu {
            batch: 1 << 16,
            atomics: None,
            reduce: None,
            workgroup: crate::config::DEFAULT_GPU_WORKGROUP,
            order: crate::config::Order::Strided,
            in_flight: None,
        }
    }
}

impl Default for DocConfig {
    fn default() -> Self {
        DocConfig {
            input: PathBuf::new(),
            kind: DocKind::Dm,
            dbow_words: false,
            tagged: false,
            dim: 100,
            window: 5,
            negative: 5,
            hs: false,
            epochs: 10,
            alpha: 0.025,
            min_alpha: 0.0001,
            min_count: 5,
            sample: 1e-3,
            threads: crate::config::all_threads(),
            seed: 1,
            backend: BackendKind::Cpu,
            adapter: None,
            gpu: DocGpu::default(),
        }
    }
}

impl DocConfig {
    /// Whether a GPU backend was named (`auto` trains on the CPU).
    pub fn on_gpu(&self) -> bool {
        !matches!(self.backend, BackendKind::Cpu | BackendKind::Auto)
    }

    /// Refuses settings that cannot train, naming the flag.
    pub fn validate(&self) -> Result<()> {
        if self.dbow_words && self.kind != DocKind::Dbow {
            return Err(Error::usage("--dbow-words", "only applies to --model dbow"));
        }
        if self.negative == 0 && !self.hs {
            return Err(Error::usage(
                "--negative",
                "0 trains nothing without --hs; give 1 or more, or add --hs",
            ));
        }
        let positive = [
            ("--dim", self.dim),
            ("--window", self.window),
            ("--epochs", self.epochs),
            ("--threads", self.threads),
        ];
        for (flag, v) in positive {
            if v == 0 {
                return Err(Error::usage(flag, "must be at least 1"));
            }
        }
        if self.dim > 10_000 {
            return Err(Error::usage("--dim", "at most 10000"));
        }
        if self.gpu.batch <= PIECE_WORDS {
            let why = format!(
                "must be more than {PIECE_WORDS} (a document is trained in pieces of up to {PIECE_WORDS} words, and a step holds whole pieces)"
            );
            return Err(Error::usage("--gpu-batch", why));
        }
        if !matches!(self.gpu.workgroup, 32 | 64 | 128 | 256) {
            let why = format!("{} is not one of 32, 64, 128, 256", self.gpu.workgroup);
            return Err(Error::usage("--gpu-workgroup", why));
        }
        if self.on_gpu() && self.kind == DocKind::DmConcat && self.gpu.reduce.is_some() {
            let why = "the dm_concat kernel sums each logit over its workgroup; --gpu-reduce does not apply to it";
            return Err(Error::usage("--gpu-reduce", why));
        }
        if self.on_gpu() && self.kind == DocKind::DmConcat {
            let order = self.gpu.order != DocGpu::default().order;
            for (flag, on) in [
                ("--gpu-order", order),
                ("--gpu-in-flight", self.gpu.in_flight.is_some()),
            ] {
                if on {
                    let why = "applies to the bag and word kernels; the dm_concat kernel runs its positions in order in one dispatch";
                    return Err(Error::usage(flag, why));
                }
            }
        }
        crate::config::check_gpu_in_flight(self.gpu.in_flight)?;
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::usage("--alpha", "must be a positive number"));
        }
        if !(self.min_alpha.is_finite() && self.min_alpha >= 0.0 && self.min_alpha <= self.alpha) {
            return Err(Error::usage("--min-alpha", "must be between 0 and --alpha"));
        }
        if !(self.sample.is_finite() && self.sample >= 0.0) {
            return Err(Error::usage(
                "--sample",
                "must be 0 (off) or a positive number",
            ));
        }
        Ok(())
    }
}

/// A trained model: the vocabulary, its word and output matrices, the document vectors
/// (the model's `subwords` rows, one per tag) and what inference needs of the settings.
#[derive(Debug, Clone)]
pub struct Doc2Vec {
    pub kind: DocKind,
    pub dbow_words: bool,
    pub window: usize,
    pub negative: usize,
    /// Hierarchical softmax: `model.hs` holds the Huffman tree's inner-node rows.
    pub hs: bool,
    pub epochs: usize,
    pub alpha: f32,
    pub min_alpha: f32,
    pub sample: f64,
    pub vocab: Vocab,
    pub tags: Vec<String>,
    pub model: Model,
}

/// What a training run did.
#[derive(Debug, Clone)]
pub struct DocReport {
    pub documents: usize,
    pub vocab: usize,
    /// Vocabulary words in the corpus (before subsampling), per epoch.
    pub words: u64,
    pub seconds: f64,
    /// Vocabulary words per second of training (all epochs).
    pub words_per_second: f64,
    /// Mean loss per term: over the whole run on the CPU; on a GPU over the steps whose
    /// loss was read (every 16th and the last, each read waiting for the device).
    pub final_loss: f64,
    /// Where it trained: `cpu`, or the GPU adapter and kernel.
    pub engine: String,
}

/// Documents as word ids: document `d` is `ids[starts[d]..starts[d + 1]]`.
struct Documents {
    tags: Vec<String>,
    starts: Vec<usize>,
    ids: Vec<u32>,
}

/// A line's tokens (white space as word2vec.c's reader: space, tab, vertical tab, form
/// feed, carriage return).
fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| matches!(b, b' ' | b'\t' | b'\x0B' | b'\x0C' | b'\r'))
        .filter(|t| !t.is_empty())
}

/// The lines of the corpus: every `\n` ends one; a last line without `\n` counts, an empty
/// file has none.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

fn read_documents(cfg: &DocConfig) -> Result<(Vocab, Documents)> {
    let bytes = crate::files::read_all(std::slice::from_ref(&cfg.input))?;
    crate::files::check_text(&cfg.input, &bytes)?;
    let mut counts: crate::vocab::FxMap<&[u8], u64> = Default::default();
    let mut n_docs = 0usize;
    for line in lines(&bytes) {
        let skip = usize::from(cfg.tagged);
        for t in tokens(line).skip(skip) {
            *counts.entry(t).or_insert(0) += 1;
        }
        n_docs += 1;
    }
    if n_docs == 0 {
        return Err(Error::input(
            &cfg.input,
            "holds no documents: give one document per line",
        ));
    }
    let vocab = Vocab::from_counts(
        counts
            .into_iter()
            .map(|(w, c)| (String::from_utf8_lossy(w).into_owned(), c)),
        cfg.min_count,
        None,
    );
    if vocab.is_empty() {
        return Err(Error::usage(
            "--min-count",
            format!(
                "no word of {} occurs {} times or more; lower --min-count",
                cfg.input.display(),
                cfg.min_count
            ),
        ));
    }
    let mut docs = Documents {
        tags: Vec::with_capacity(n_docs),
        starts: vec![0],
        ids: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    for (n, line) in lines(&bytes).enumerate() {
        let mut toks = tokens(line);
        let tag = if cfg.tagged {
            let Some(t) = toks.next() else {
                return Err(Error::input(
                    &cfg.input,
                    format!(
                        "line {} has no tag: with --tagged every line starts with its document's tag",
                        n + 1
                    ),
                ));
            };
            let t = String::from_utf8_lossy(t).into_owned();
            if !seen.insert(t.clone()) {
                return Err(Error::input(
                    &cfg.input,
                    format!(
                        "line {}: the tag {t} names an earlier document too; tags must be distinct",
                        n + 1
                    ),
                ));
            }
            t
        } else {
            n.to_string()
        };
        docs.tags.push(tag);
        // Words that are not UTF-8 are in the vocabulary under their lossy spelling.
        docs.ids
            .extend(toks.filter_map(|t| vocab.id(&String::from_utf8_lossy(t))));
        docs.starts.push(docs.ids.len());
    }
    Ok((vocab, docs))
}

/// Trains document and word vectors on `cfg.input`, with a progress bar where `progress`
/// shows one.
pub fn train(cfg: &DocConfig, progress: &Reporter) -> Result<(Doc2Vec, DocReport)> {
    cfg.validate()?;
    // Open the GPU first: a missing adapter fails before the documents are read.
    let gpu = match cfg.backend {
        BackendKind::Cpu => None,
        BackendKind::Auto => {
            progress.note("doc2vec trains on the CPU with --backend auto (name a GPU backend, e.g. --backend vulkan, to train there)");
            None
        }
        kind => GpuContext::open(kind, cfg.adapter, progress)?,
    };
    let (vocab, docs) = read_documents(cfg)?;
    let dim = cfg.dim;
    let n_docs = docs.tags.len();
    let v = vocab.len();
    if (v + n_docs) as u64 * dim as u64 > u32::MAX as u64 {
        return Err(Error::usage(
            "--dim",
            format!(
                "{v} words and {n_docs} documents at dim {dim} exceed 2^32 values; lower --dim"
            ),
        ));
    }
    // Word and document vectors start as gensim's: uniform in [-1/D, 1/D) (twice
    // word2vec.c's range; measured: +1.3 points of held-out top-1 retrieval for PV-DBOW);
    // the output matrix at zero.
    let mut rng = Rng::new(cfg.seed ^ 0xd0c_0000_0000_0001);
    let mut draw = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| (rng.next_f32() - 0.5) * 2.0 / dim as f32)
            .collect()
    };
    // dm_concat: one more input row, gensim's null word (the context past a piece's ends),
    // and output rows as long as the concatenated layer.
    let concat = cfg.kind == DocKind::DmConcat;
    let layer = layer_len(cfg.kind, dim, cfg.window);
    let mut model = Model {
        dim,
        input: draw((v + usize::from(concat)) * dim),
        output: vec![0.0; v * layer],
        hs: vec![0.0; if cfg.hs { (v - 1) * layer } else { 0 }],
        subwords: draw(n_docs * dim),
    };
    let tree = cfg.hs.then(|| HuffmanTree::new(vocab.counts()));

    // Pieces of at most PIECE_WORDS words, in corpus order.
    let mut pieces: Vec<(u32, usize, usize)> = Vec::new();
    for d in 0..n_docs {
        let (s, e) = (docs.starts[d], docs.starts[d + 1]);
        let mut a = s;
        while a < e {
            let b = (a + PIECE_WORDS).min(e);
            pieces.push((d as u32, a, b));
            a = b;
        }
    }
    let words = docs.ids.len() as u64;
    let total = words * cfg.epochs as u64;
    let alias = AliasTable::unigram(vocab.counts(), 0.75);
    let sig = SigmoidTable::default();
    let sub = Subsampler::new(vocab.counts(), cfg.sample);
    let params = KernelParams {
        model: match cfg.kind {
            DocKind::Dbow => ModelKind::SkipGram,
            DocKind::Dm | DocKind::DmConcat => ModelKind::Cbow,
        },
        dim,
        window: cfg.window,
        negative: cfg.negative,
        precision: Precision::F32,
    };
    let mode = match cfg.kind {
        DocKind::Dbow => DocMode::Dbow {
            words: cfg.dbow_words,
        },
        DocKind::Dm | DocKind::DmConcat => DocMode::Dm,
    };
    let report = |seconds: f64, final_loss: f64, engine: String| DocReport {
        documents: n_docs,
        vocab: v,
        words,
        seconds,
        words_per_second: total as f64 / seconds.max(1e-9),
        final_loss,
        engine,
    };
    if let Some(ctx) = gpu {
        let run = GpuRun {
            cfg,
            docs: &docs,
            pieces: &pieces,
            total,
            alias: &alias,
            sub: &sub,
            tree: tree.as_ref(),
        };
        let (seconds, loss, engine) = if concat {
            run.train_concat(ctx, &mut model, progress)?
        } else {
            run.train(ctx, &mut model, progress)?
        };
        let report = report(seconds, loss.mean().unwrap_or(0.0), engine);
        return Ok((cfg.finish(vocab, docs.tags, model), report));
    }
    let done = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let started = Instant::now();
    let bar = progress.bar(total);
    // Each thread trains its own contiguous share of the pieces (equal in words) every
    // epoch, as word2vec.c's threads read their own part of the file, so that neighbouring
    // documents' rows (which share cache lines) are written by one thread.
    let threads = cfg.threads.min(pieces.len()).max(1);
    let mut bounds = vec![0usize];
    let mut words_so_far = 0u64;
    for (j, &(_, a, b)) in pieces.iter().enumerate() {
        words_so_far += (b - a) as u64;
        let t = bounds.len() as u64;
        if t < threads as u64 && words_so_far * threads as u64 >= t * words.max(1) {
            bounds.push(j + 1);
        }
    }
    bounds.resize(threads + 1, pieces.len());
    let stats: Vec<WorkStats> = {
        // dm_concat trains its own rows (raw pointers, as the Hogwild trainer's); the other
        // kinds train through the Hogwild view of the model, which dm_concat's row lengths
        // do not fit.
        let rows = if concat {
            Rows::Concat(ConcatRows {
                input: SharedMatrix {
                    ptr: model.input.as_mut_ptr(),
                    rows: v + 1,
                    dim,
                },
                docs: SharedMatrix {
                    ptr: model.subwords.as_mut_ptr(),
                    rows: n_docs,
                    dim,
                },
                output: SharedMatrix {
                    ptr: model.output.as_mut_ptr(),
                    rows: v,
                    dim: layer,
                },
                hs: SharedMatrix {
                    ptr: model.hs.as_mut_ptr(),
                    rows: model.hs.len() / layer,
                    dim: layer,
                },
                window: cfg.window,
            })
        } else {
            Rows::Hogwild(Hogwild::new(&mut model))
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (rows, alias, sig, sub, params) = (&rows, &alias, &sig, &sub, &params);
                    let tree = tree.as_ref();
                    let (done, failed, docs, bar) = (&done, &failed, &docs, &bar);
                    let mine = &pieces[bounds[t]..bounds[t + 1]];
                    s.spawn(move || {
                        let seed = splitmix64(cfg.seed.wrapping_add(t as u64 + 1));
                        let mut w = Worker::new(seed, alias, sig, params);
                        w.tree = tree;
                        let mut sen = Vec::with_capacity(PIECE_WORDS);
                        let mut all = WorkStats::default();
                        let all_epochs = (0..cfg.epochs).flat_map(|_| mine.iter());
                        for &(d, a, b) in all_epochs {
                            if failed.load(Ordering::Relaxed) {
                                break;
                            }
                            let now = done.load(Ordering::Relaxed);
                            let alpha = linear_rate(cfg.alpha, cfg.min_alpha, now, total);
                            sen.clear();
                            for &id in &docs.ids[a..b] {
                                if sub.keep(id, w.rng.next_u32()) {
                                    sen.push(id);
                                }
                            }
                            let st = match rows {
                                Rows::Concat(rows) => {
                                    let p = Piece {
                                        doc: d as usize,
                                        sen: &sen,
                                        alpha,
                                    };
                                    // SAFETY: the rows stay allocated for the scope; writes
                                    // are Hogwild's plain f32 stores.
                                    unsafe { rows.train_piece(&mut w, p) }
                                }
                                Rows::Hogwild(hog) => {
                                    w.train_document(hog, (v as u32) + d, &sen, alpha, mode)
                                }
                            };
                            let now = done.fetch_add((b - a) as u64, Ordering::Relaxed);
                            bar.set_position(now + (b - a) as u64);
                            if crate::train::run_state::batch_diverged(st.loss, st.terms) {
                                failed.store(true, Ordering::Relaxed);
                            }
                            all.loss += st.loss;
                            all.terms += st.terms;
                            all.pairs += st.pairs;
                        }
                        all
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a doc2vec worker panicked"))
                .collect()
        })
    };
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let terms: u64 = stats.iter().map(|s| s.terms).sum();
    let loss: f64 = stats.iter().map(|s| s.loss).sum();
    if failed.load(Ordering::Relaxed) || !model.is_finite() {
        return Err(cfg.diverged());
    }
    let final_loss = if terms > 0 { loss / terms as f64 } else { 0.0 };
    let report = report(seconds, final_loss, "cpu".to_string());
    Ok((cfg.finish(vocab, docs.tags, model), report))
}

impl DocConfig {
    /// The error of a run whose loss or vectors stopped being numbers.
    fn diverged(&self) -> Error {
        Error::Diverged(format!(
            "doc2vec training diverged (the loss per term passed {} or a vector stopped being a number) at --alpha {}; nothing was written; use a smaller --alpha (e.g. {})",
            crate::train::run_state::DIVERGED_LOSS,
            readable(self.alpha),
            readable(self.alpha / 4.0)
        ))
    }

    /// Adds a GPU step's loss `l` (if one was read) to `loss`; a diverged one fails.
    fn add_loss(&self, l: Option<StepLoss>, loss: &mut StepLoss) -> Result<()> {
        if let Some(l) = l {
            if crate::train::run_state::batch_diverged(l.sum, l.terms) {
                return Err(self.diverged());
            }
            loss.sum += l.sum;
            loss.terms += l.terms;
        }
        Ok(())
    }

    /// The trained model with this run's settings.
    fn finish(&self, vocab: Vocab, tags: Vec<String>, model: Model) -> Doc2Vec {
        Doc2Vec {
            kind: self.kind,
            dbow_words: self.dbow_words,
            window: self.window,
            negative: self.negative,
            hs: self.hs,
            epochs: self.epochs,
            alpha: self.alpha,
            min_alpha: self.min_alpha,
            sample: self.sample,
            vocab,
            tags,
            model,
        }
    }
}

/// Training on a GPU backend ([`GpuBackend::with_documents`]): the pieces in corpus order,
/// epoch after epoch, subsampled on the host into batches of whole pieces (each piece's
/// kept words, then a separator; every token carries its document's row), the learning
/// rate falling linearly across each batch from `alpha` to `min_alpha` over the run.
struct GpuRun<'a> {
    cfg: &'a DocConfig,
    docs: &'a Documents,
    pieces: &'a [(u32, usize, usize)],
    /// Words of all epochs (the learning rate's schedule).
    total: u64,
    alias: &'a AliasTable,
    sub: &'a Subsampler,
    tree: Option<&'a HuffmanTree>,
}

/// Steps between reads of a GPU step's loss (each read waits for the device).
const LOSS_EVERY: u64 = 16;

impl GpuRun<'_> {
    /// Trains `model` on `ctx`; returns the seconds, the loss of the steps read and the
    /// engine's description.
    fn train(
        &self,
        ctx: GpuContext,
        model: &mut Model,
        progress: &Reporter,
    ) -> Result<(f64, StepLoss, String)> {
        let cfg = self.cfg;
        let v = model.vocab_size() as u32;
        let tcfg = TrainConfig {
            backend: cfg.backend,
            dim: cfg.dim,
            window: cfg.window,
            negative: cfg.negative,
            gpu_batch: cfg.gpu.batch,
            gpu_atomics: cfg.gpu.atomics,
            gpu_reduce: cfg.gpu.reduce,
            gpu_workgroup: Some(cfg.gpu.workgroup),
            gpu_order: cfg.gpu.order,
            gpu_in_flight: cfg.gpu.in_flight,
            ..TrainConfig::default()
        };
        let params = KernelParams {
            model: ModelKind::Cbow,
            dim: cfg.dim,
            window: cfg.window,
            negative: cfg.negative,
            precision: Precision::F32,
        };
        let doc = DocTraining::train(cfg.kind.rows(), cfg.dbow_words);
        let engine =
            GpuBackend::with_documents(ctx, model, params, self.alias, &tcfg, doc, self.tree)?;
        let described = format!("{} ({})", engine.describe(), engine.kernel_name());
        progress.note(&format!("doc2vec on {described}"));
        let mut steps = SgdSteps {
            engine,
            batch: Batch::default(),
            capacity: tcfg.gpu_batch,
            first_doc: v,
            cfg,
            total: self.total,
        };
        let (seconds, loss) = self.run_steps(&mut steps, 0xd0c_0000_0000_0002, model, progress)?;
        Ok((seconds, loss, described))
    }

    /// The pieces of every epoch in corpus order, subsampled with a generator of the run's
    /// seed and `salt`, gathered into `steps` whole pieces at a time and trained, the
    /// progress bar moved and the loss read every [`LOSS_EVERY`] steps and after the last;
    /// then the model downloaded into `model` (a diverged one refused). Returns the seconds
    /// (the download included) and the loss read.
    fn run_steps(
        &self,
        steps: &mut impl PieceSteps,
        salt: u64,
        model: &mut Model,
        progress: &Reporter,
    ) -> Result<(f64, StepLoss)> {
        let cfg = self.cfg;
        let bar = progress.bar(self.total);
        let mut rng = Rng::new(cfg.seed ^ salt);
        let mut next = (0..cfg.epochs).flat_map(|_| self.pieces.iter()).peekable();
        let mut kept = Vec::new();
        let (mut done, mut step) = (0u64, 0u64);
        let mut loss = StepLoss::default();
        let started = Instant::now();
        loop {
            steps.clear();
            let mut words = 0u64;
            while let Some(&&(d, a, b)) = next.peek() {
                if !steps.takes(b - a) {
                    break;
                }
                next.next();
                kept.clear();
                kept.extend(
                    self.docs.ids[a..b]
                        .iter()
                        .copied()
                        .filter(|&id| self.sub.keep(id, rng.next_u32())),
                );
                steps.add(d, &kept, done + words, &mut rng);
                words += (b - a) as u64;
            }
            if words == 0 {
                break;
            }
            steps.run((done, words), step)?;
            step += 1;
            done += words;
            bar.set_position(done);
            if step % LOSS_EVERY == 0 || next.peek().is_none() {
                cfg.add_loss(steps.take_loss()?, &mut loss)?;
            }
        }
        steps.download(model)?;
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        if !model.is_finite() {
            return Err(cfg.diverged());
        }
        Ok((seconds, loss))
    }
}

/// A GPU engine's doc2vec steps as [`GpuRun::run_steps`] fills them: whole pieces of
/// subsampled words, a step at a time.
trait PieceSteps {
    /// Empties the step.
    fn clear(&mut self);
    /// Whether a piece of `words` corpus words joins the step (always an empty one).
    fn takes(&self, words: usize) -> bool;
    /// Adds a piece of document `d`, its kept words `kept`, `done` corpus words into the
    /// run (the rate's position); noise words drawn on the host come from `rng`.
    fn add(&mut self, d: u32, kept: &[u32], done: u64, rng: &mut Rng);
    /// Trains the step: `words` corpus words from `done` on, the run's step number `step`.
    fn run(&mut self, done_words: (u64, u64), step: u64) -> Result<()>;
    /// The loss of the steps since the last read, if there is one.
    fn take_loss(&mut self) -> Result<Option<StepLoss>>;
    /// The trained matrices into `model`.
    fn download(&mut self, model: &mut Model) -> Result<()>;
}

/// The SGD kernels' steps ([`GpuBackend::with_documents`]): each piece's kept words, then a
/// separator, every token carrying its document's row; the rate falling across the step.
struct SgdSteps<'a> {
    engine: GpuBackend,
    batch: Batch,
    /// Tokens per step (`--gpu-batch`).
    capacity: usize,
    /// The input row of document 0 (the vocabulary's size).
    first_doc: u32,
    cfg: &'a DocConfig,
    total: u64,
}

impl PieceSteps for SgdSteps<'_> {
    fn clear(&mut self) {
        self.batch.tokens.clear();
        self.batch.docs.clear();
        self.batch.words = 0;
    }

    fn takes(&self, words: usize) -> bool {
        // The piece's words and its separator fit.
        let t = self.batch.tokens.len();
        t == 0 || t + words < self.capacity
    }

    fn add(&mut self, d: u32, kept: &[u32], _done: u64, _rng: &mut Rng) {
        let b = &mut self.batch;
        b.tokens.extend_from_slice(kept);
        b.tokens.push(SENTENCE_END);
        b.docs.resize(b.tokens.len(), self.first_doc + d);
    }

    fn run(&mut self, (done, words): (u64, u64), step: u64) -> Result<()> {
        let cfg = self.cfg;
        self.batch.words = words;
        let rate = Rate {
            start: linear_rate(cfg.alpha, cfg.min_alpha, done, self.total),
            end: linear_rate(cfg.alpha, cfg.min_alpha, done + words, self.total),
        };
        self.engine
            .step(&self.batch, rate, step_key(cfg.seed, step))
    }

    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        self.engine.take_loss()
    }

    fn download(&mut self, model: &mut Model) -> Result<()> {
        *model = self.engine.download()?;
        Ok(())
    }
}

/// How the GPU's dm_concat steps lay out a position (`concat_batch::ConcatStep`): its
/// layer's rows (the document's, then the window's words, the null word's row past the
/// text's ends) and its cells in the CPU trainer's order (the tree's nodes, label 1 − code;
/// the centre word; noise words drawn from the caller's generator, one equal to the centre
/// left out).
struct ConcatPositions<'a> {
    shape: crate::concat_batch::ConcatShape,
    negative: usize,
    tree: Option<&'a HuffmanTree>,
    alias: &'a AliasTable,
    ids: Vec<u32>,
    inputs: Vec<u32>,
    cells: Vec<(u32, bool)>,
}

impl<'a> ConcatPositions<'a> {
    fn new(
        shape: crate::concat_batch::ConcatShape,
        negative: usize,
        tree: Option<&'a HuffmanTree>,
        alias: &'a AliasTable,
    ) -> Self {
        ConcatPositions {
            shape,
            negative,
            tree,
            alias,
            ids: Vec::new(),
            inputs: Vec::new(),
            cells: Vec::new(),
        }
    }

    /// The most cells a position can have (the longest tree path, the centre word, the
    /// noise words).
    fn cells_per_position(&self) -> usize {
        let v = self.shape.vocab as u32;
        let path = self
            .tree
            .map_or(0, |t| (0..v).map(|w| t.path(w).0.len()).max().unwrap_or(0));
        let ns = if self.negative > 0 {
            1 + self.negative
        } else {
            0
        };
        (path + ns).max(1)
    }

    /// Appends position `k` of the kept words `text`, whose document's row is `doc`.
    fn push(
        &mut self,
        step: &mut crate::concat_batch::ConcatStep,
        (text, k): (&[u32], usize),
        doc: u32,
        rng: &mut Rng,
        rate: f32,
    ) {
        let v = self.shape.vocab as u32;
        let word = text[k];
        concat_window(text, k, self.shape.window, v, &mut self.ids);
        self.inputs.clear();
        self.inputs.push(doc);
        self.inputs.extend_from_slice(&self.ids);
        self.cells.clear();
        if let Some(tree) = self.tree {
            let (points, codes) = tree.path(word);
            // Tree nodes follow the vocabulary's output rows.
            self.cells
                .extend(points.iter().zip(codes).map(|(&n, &c)| (v + n, c == 0)));
        }
        if self.negative > 0 {
            self.cells.push((word, true));
            for _ in 0..self.negative {
                let t = self.alias.draw(rng);
                if t != word {
                    self.cells.push((t, false));
                }
            }
        }
        step.push(&self.inputs, self.cells.iter().copied(), rate);
    }
}

impl GpuRun<'_> {
    /// dm_concat on `ctx` (`backend::gpu::concat`): steps of whole pieces, each position
    /// with its layer's rows (the document's, then the window's words, the null word's row
    /// past the piece's ends), its cells in the CPU trainer's order (tree nodes, the centre
    /// word, noise words drawn on the host, one equal to the centre left out) and the
    /// piece's rate; returns what [`GpuRun::train`] returns.
    fn train_concat(
        &self,
        ctx: GpuContext,
        model: &mut Model,
        progress: &Reporter,
    ) -> Result<(f64, StepLoss, String)> {
        use crate::backend::gpu::concat::{ConcatOptions, GpuConcat};
        use crate::concat_batch::{ConcatShape, ConcatStep};
        let cfg = self.cfg;
        let v = model.output.len() / layer_len(cfg.kind, cfg.dim, cfg.window);
        let shape = ConcatShape {
            dim: cfg.dim,
            window: cfg.window,
            vocab: v,
        };
        let first_doc = v as u32 + 1;
        let layout = ConcatPositions::new(shape, cfg.negative, self.tree, self.alias);
        let positions = cfg.gpu.batch;
        let engine = GpuConcat::new(
            ctx,
            shape,
            (
                &[&model.input, &model.subwords],
                &[&model.output, &model.hs],
            ),
            (positions, positions * layout.cells_per_position()),
            ConcatOptions {
                atomics: cfg.gpu.atomics,
                workgroup: cfg.gpu.workgroup,
                ..ConcatOptions::default()
            },
        )?;
        let (adapter, atomics) = engine.describe();
        let described = format!("{adapter} (doc2vec dm_concat kernel, atomics {atomics})");
        progress.note(&format!("doc2vec on {described}"));
        let mut steps = ConcatSteps {
            engine,
            step: ConcatStep::default(),
            layout,
            capacity: positions,
            first_doc,
            cfg,
            total: self.total,
        };
        let (seconds, loss) = self.run_steps(&mut steps, 0xd0c_0000_0000_0003, model, progress)?;
        Ok((seconds, loss, described))
    }
}

/// The dm_concat kernel's steps ([`crate::backend::gpu::concat::GpuConcat`]): each kept
/// word a position laid out by [`ConcatPositions`], at the rate where its piece starts.
struct ConcatSteps<'a> {
    engine: crate::backend::gpu::concat::GpuConcat,
    step: crate::concat_batch::ConcatStep,
    layout: ConcatPositions<'a>,
    /// Positions per step (`--gpu-batch`).
    capacity: usize,
    /// The input row of document 0.
    first_doc: u32,
    cfg: &'a DocConfig,
    total: u64,
}

impl PieceSteps for ConcatSteps<'_> {
    fn clear(&mut self) {
        self.step.clear();
    }

    fn takes(&self, words: usize) -> bool {
        let p = self.step.positions();
        p == 0 || p + words <= self.capacity
    }

    fn add(&mut self, d: u32, kept: &[u32], done: u64, rng: &mut Rng) {
        let cfg = self.cfg;
        let alpha = linear_rate(cfg.alpha, cfg.min_alpha, done, self.total);
        for i in 0..kept.len() {
            self.layout
                .push(&mut self.step, (kept, i), self.first_doc + d, rng, alpha);
        }
    }

    fn run(&mut self, _done_words: (u64, u64), _step: u64) -> Result<()> {
        self.engine.step(&self.step)
    }

    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        self.engine.take_loss()
    }

    fn download(&mut self, model: &mut Model) -> Result<()> {
        let Model {
            input,
            output,
            hs,
            subwords,
            ..
        } = model;
        self.engine
            .download(&mut [input, subwords], &mut [output, hs])
    }
}

/// The noise words' distribution, the subsampling thresholds, the sigmoid table and (with
/// hierarchical softmax) the Huffman tree that [`Doc2Vec::infer`] reads
/// ([`Doc2Vec::tables`]).
pub struct InferTables {
    alias: AliasTable,
    sub: Subsampler,
    sig: SigmoidTable,
    tree: Option<HuffmanTree>,
}

/// Settings of [`Doc2Vec::infer`]; `None` takes the model's training value.
#[derive(Debug, Clone, Copy, Default)]
pub struct InferSettings {
    pub epochs: Option<usize>,
    pub alpha: Option<f32>,
    pub min_alpha: Option<f32>,
    pub seed: u64,
}

impl InferSettings {
    /// Epochs, first rate and the rate's fall per epoch of `m`'s inference (from `alpha` to
    /// `min_alpha`, epoch by epoch).
    fn schedule(&self, m: &Doc2Vec) -> (usize, f32, f32) {
        let epochs = self.epochs.unwrap_or(m.epochs);
        let alpha = self.alpha.unwrap_or(m.alpha);
        let min_alpha = self.min_alpha.unwrap_or(m.min_alpha);
        (
            epochs,
            alpha,
            (alpha - min_alpha) / (epochs.max(2) - 1) as f32,
        )
    }
}

impl Doc2Vec {
    pub fn dim(&self) -> usize {
        self.model.dim
    }

    /// The vector of document `d` (in tag order).
    pub fn doc_vector(&self, d: usize) -> &[f32] {
        let dim = self.model.dim;
        &self.model.subwords[d * dim..(d + 1) * dim]
    }

    /// A vector for `words` (a new document), trained with every model matrix fixed, as
    /// gensim's `infer_vector`: a start vector drawn from the words (the same text always
    /// gives the same vector for one seed), then `epochs` passes, the rate falling from
    /// `alpha` to `min_alpha` by equal steps per pass. Words outside the vocabulary are
    /// dropped; a text with none keeps its start vector. Picks the AVX2+FMA build of the
    /// loop when the CPU has it (as training does).
    pub fn infer(&self, words: &[&str], s: &InferSettings, t: &InferTables) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { self.infer_avx2(words, s, t) };
            }
        }
        self.infer_impl::<false>(words, s, t)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn infer_avx2(&self, words: &[&str], s: &InferSettings, t: &InferTables) -> Vec<f32> {
        self.infer_impl::<true>(words, s, t)
    }

    #[inline(always)]
    fn infer_impl<const FMA: bool>(
        &self,
        words: &[&str],
        s: &InferSettings,
        t: &InferTables,
    ) -> Vec<f32> {
        let dim = self.model.dim;
        let (epochs, alpha, step) = s.schedule(self);
        let (mut doc, ids, mut rng) = self.infer_start(words, s.seed);
        let mut kept = Vec::with_capacity(ids.len());
        let layer = self.layer();
        let mut work = vec![0.0f32; layer];
        let mut l1 = vec![0.0f32; layer];
        let mut window_ids = Vec::with_capacity(2 * self.window);
        let null = self.vocab.len() as u32;
        let out = |r: u32| &self.model.output[r as usize * layer..(r as usize + 1) * layer];
        let inner = |r: u32| &self.model.hs[r as usize * layer..(r as usize + 1) * layer];
        let input = |r: u32| &self.model.input[r as usize * dim..(r as usize + 1) * dim];
        let mut a = alpha;
        for _ in 0..epochs {
            kept.clear();
            kept.extend(
                ids.iter()
                    .copied()
                    .filter(|&id| t.sub.keep(id, rng.next_u32())),
            );
            let n = kept.len();
            for i in 0..n {
                let target = kept[i];
                let count = match self.kind {
                    DocKind::Dbow => {
                        l1.copy_from_slice(&doc);
                        1
                    }
                    DocKind::Dm => {
                        let (lo, hi) = draw_window(&mut rng, self.window, i, n);
                        l1.copy_from_slice(&doc);
                        for (c, &ctx) in kept.iter().enumerate().take(hi + 1).skip(lo) {
                            if c != i {
                                axpy::<FMA>(&mut l1, 1.0, input(ctx));
                            }
                        }
                        hi - lo + 1
                    }
                    DocKind::DmConcat => {
                        l1[..dim].copy_from_slice(&doc);
                        concat_window(&kept, i, self.window, null, &mut window_ids);
                        for (m, &w) in window_ids.iter().enumerate() {
                            l1[(1 + m) * dim..(2 + m) * dim].copy_from_slice(input(w));
                        }
                        1
                    }
                };
                if count > 1 {
                    let inv = 1.0 / count as f32;
                    l1.iter_mut().for_each(|x| *x *= inv);
                }
                work.fill(0.0);
                // The trainer's order (word2vec.c's): the Huffman path, then the noise
                // words; an inner node whose dot product is past the sigmoid table's
                // range gives no gradient, as in training.
                if let Some(tree) = &t.tree {
                    let (points, codes) = tree.path(target);
                    for (&node, &code) in points.iter().zip(codes) {
                        let f = dot::<FMA>(&l1, inner(node));
                        if f <= -MAX_EXP || f >= MAX_EXP {
                            continue;
                        }
                        let (g, _) = t.sig.bce(f, 1.0 - f32::from(code), a);
                        axpy::<FMA>(&mut work, g, inner(node));
                    }
                }
                let terms = if self.negative > 0 {
                    self.negative + 1
                } else {
                    0
                };
                for k in 0..terms {
                    let (row, label) = if k == 0 {
                        (target, 1.0)
                    } else {
                        let row = t.alias.draw(&mut rng);
                        if row == target {
                            continue;
                        }
                        (row, 0.0)
                    };
                    let f = dot::<FMA>(&l1, out(row));
                    let (g, _) = t.sig.bce(f, label, a);
                    axpy::<FMA>(&mut work, g, out(row));
                }
                axpy::<FMA>(&mut doc, 1.0, &work[..dim]);
            }
            a -= step;
        }
        doc
    }

    /// A text's inference as it starts: the document's first vector, the text's word ids
    /// and the generator, which goes on with its subsampling draws (and, on the CPU, its
    /// windows and noise words).
    fn infer_start(&self, words: &[&str], seed: u64) -> (Vec<f32>, Vec<u32>, Rng) {
        let dim = self.model.dim;
        let mut rng = self.infer_rng(words, seed);
        let doc = (0..dim)
            .map(|_| (rng.next_f32() - 0.5) / dim as f32)
            .collect();
        let ids = words.iter().filter_map(|w| self.vocab.id(w)).collect();
        (doc, ids, rng)
    }

    /// [`Doc2Vec::infer_start`] of each text of `chunk`, as the GPU engines take them: the
    /// documents' first vectors one after another, and each one's word ids and generator.
    fn infer_starts(&self, chunk: &[Vec<&str>], seed: u64) -> (Vec<f32>, Vec<(Vec<u32>, Rng)>) {
        let mut starts = Vec::with_capacity(chunk.len() * self.model.dim);
        let mut docs = Vec::with_capacity(chunk.len());
        for words in chunk {
            let (doc, ids, rng) = self.infer_start(words, seed);
            starts.extend(doc);
            docs.push((ids, rng));
        }
        (starts, docs)
    }

    /// The generator of a text's inference: its first vector, then its subsampling draws
    /// (and, on the CPU, its windows and noise words); the same text and seed give the same.
    fn infer_rng(&self, words: &[&str], seed: u64) -> Rng {
        let mut h = crate::vocab::FxHasher::default();
        for w in words {
            h.write(w.as_bytes());
            h.write_u8(0xff);
        }
        Rng::new(splitmix64(h.finish() ^ seed))
    }

    /// Floats per output (and tree) row: the hidden layer's length.
    pub fn layer(&self) -> usize {
        layer_len(self.kind, self.model.dim, self.window)
    }

    /// The word vectors, one row per vocabulary word (dm_concat's null word left out).
    pub fn word_vectors(&self) -> &[f32] {
        &self.model.input[..self.vocab.len() * self.model.dim]
    }

    /// The tables inference reads, built once for any number of texts.
    pub fn tables(&self) -> InferTables {
        InferTables {
            alias: AliasTable::unigram(self.vocab.counts(), 0.75),
            sub: Subsampler::new(self.vocab.counts(), self.sample),
            sig: SigmoidTable::default(),
            tree: self.hs.then(|| HuffmanTree::new(self.vocab.counts())),
        }
    }

    /// Writes the model (`w2v-gpu infer` reads it back), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut f = AtomicFile::create(path)?;
        self.write(f.writer()).map_err(|e| Error::io(path, e))?;
        f.commit()
    }

    fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        let dim = self.model.dim;
        w.write_all(MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&[
            match self.kind {
                DocKind::Dbow => 0,
                DocKind::Dm => 1,
                DocKind::DmConcat => 2,
            },
            u8::from(self.dbow_words),
            u8::from(self.hs),
        ])?;
        for x in [dim, self.window, self.negative, self.epochs] {
            w.write_all(&(x as u32).to_le_bytes())?;
        }
        w.write_all(&self.alpha.to_le_bytes())?;
        w.write_all(&self.min_alpha.to_le_bytes())?;
        w.write_all(&self.sample.to_le_bytes())?;
        w.write_all(&(self.vocab.len() as u64).to_le_bytes())?;
        w.write_all(&(self.tags.len() as u64).to_le_bytes())?;
        for (word, &count) in self.vocab.words().iter().zip(self.vocab.counts()) {
            w.write_all(&(word.len() as u32).to_le_bytes())?;
            w.write_all(word.as_bytes())?;
            w.write_all(&count.to_le_bytes())?;
        }
        for tag in &self.tags {
            w.write_all(&(tag.len() as u32).to_le_bytes())?;
            w.write_all(tag.as_bytes())?;
        }
        for m in [
            &self.model.input,
            &self.model.output,
            &self.model.hs,
            &self.model.subwords,
        ] {
            w.write_all(bytemuck::cast_slice(m))?;
        }
        Ok(())
    }

    /// Reads a model written by [`Doc2Vec::save`]; a damaged or foreign file is an error
    /// naming it, never a panic or an allocation beyond the file's size.
    pub fn load(path: &Path) -> Result<Doc2Vec> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Doc2Vec::from_bytes(path, &bytes)
    }

    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Doc2Vec> {
        let bad = |what: &str| {
            Error::input(
                path,
                format!("is not a w2v-gpu doc2vec model ({what}); write one with `w2v-gpu doc2vec --save-model`"),
            )
        };
        let mut r = Cursor {
            data: bytes,
            at: 0,
            bad: &bad,
        };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(bad("another kind of file"));
        }
        let version = r.u32()?;
        if !(1..=VERSION).contains(&version) {
            return Err(bad(&format!(
                "format version {version}; this build reads {VERSION}"
            )));
        }
        let kind = match r.array::<1>()?[0] {
            0 => DocKind::Dbow,
            1 => DocKind::Dm,
            2 if version >= 2 => DocKind::DmConcat,
            k => return Err(bad(&format!("unknown model kind {k}"))),
        };
        let dbow_words = r.array::<1>()?[0] != 0;
        // Version 1 (before hierarchical softmax) has no such byte and no tree rows.
        let hs = version >= 2 && r.array::<1>()?[0] != 0;
        let dim = r.u32()? as usize;
        let window = r.u32()? as usize;
        let negative = r.u32()? as usize;
        let epochs = r.u32()? as usize;
        let alpha = f32::from_bits(r.u32()?);
        let min_alpha = f32::from_bits(r.u32()?);
        let sample = f64::from_bits(r.u64()?);
        let n_words = r.u64()?;
        let n_tags = r.u64()?;
        // Bounds that also keep a damaged file from asking inference for years of work.
        let sane = (1..=10_000).contains(&dim)
            && (1..=10_000).contains(&window)
            && negative <= 10_000
            && (negative >= 1 || hs)
            && (1..=100_000).contains(&epochs)
            && alpha.is_finite()
            && alpha >= 0.0
            && min_alpha.is_finite()
            && min_alpha >= 0.0
            && sample.is_finite()
            && sample >= 0.0
            && n_words >= 1;
        if !sane {
            return Err(bad("settings out of range"));
        }
        // Every word takes at least 12 bytes and every tag 4: bounded by the file's size
        // before anything is allocated for them.
        let left = r.left() as u64;
        if n_words > left / 12 || n_tags > left / 4 {
            return Err(bad("more words or documents than the file holds"));
        }
        let mut pairs = Vec::with_capacity(n_words as usize);
        for _ in 0..n_words {
            let len = r.u32()? as usize;
            let w = String::from_utf8_lossy(r.take(len)?).into_owned();
            pairs.push((w, r.u64()?));
        }
        let mut tags = Vec::with_capacity(n_tags as usize);
        for _ in 0..n_tags {
            let len = r.u32()? as usize;
            tags.push(String::from_utf8_lossy(r.take(len)?).into_owned());
        }
        if pairs.iter().any(|&(_, c)| c == 0) {
            return Err(bad("a word with count 0"));
        }
        // Counts are summed (vocabulary totals, subsampling): they must not overflow.
        if pairs
            .iter()
            .try_fold(0u64, |t, &(_, c)| t.checked_add(c))
            .is_none_or(|t| t > 1 << 62)
        {
            return Err(bad("word counts beyond any corpus"));
        }
        let mut seen = std::collections::HashSet::with_capacity(pairs.len());
        if !pairs.iter().all(|(w, _)| seen.insert(w.as_str())) {
            return Err(bad("a word appears twice in its vocabulary"));
        }
        let vocab = Vocab::from_counts(pairs.iter().cloned(), 0, None);
        let in_order = vocab.len() == pairs.len()
            && vocab.words().iter().zip(&pairs).all(|(w, (p, _))| w == p);
        if !in_order {
            return Err(bad("its vocabulary is not in count order"));
        }
        let n = n_words as usize;
        let inner = if hs { n - 1 } else { 0 };
        let concat = kind == DocKind::DmConcat;
        let in_rows = n + usize::from(concat);
        let layer = (1 + 2 * window as u128 * u128::from(concat)) * dim as u128;
        let want = ((in_rows as u128 + n_tags as u128) * dim as u128
            + (n as u128 + inner as u128) * layer)
            * 4;
        if want != r.left() as u128 {
            return Err(bad(&format!(
                "{} bytes of vectors where {} words{} and {} documents at dim {dim} take {want}",
                r.left(),
                n,
                if hs { " (and their tree)" } else { "" },
                n_tags
            )));
        }
        // `want` equals the bytes left, so these sizes fit in memory.
        let layer = layer as usize;
        let input = r.f32s(in_rows * dim)?;
        let output = r.f32s(n * layer)?;
        let hs_rows = r.f32s(inner * layer)?;
        let subwords = r.f32s(n_tags as usize * dim)?;
        if [&input, &output, &hs_rows, &subwords]
            .iter()
            .any(|m| m.iter().any(|x| !x.is_finite()))
        {
            return Err(bad("a vector holds a value that is not a number"));
        }
        Ok(Doc2Vec {
            kind,
            dbow_words,
            window,
            negative,
            hs,
            epochs,
            alpha,
            min_alpha,
            sample,
            vocab,
            tags,
            model: Model {
                dim,
                input,
                output,
                hs: hs_rows,
                subwords,
            },
        })
    }
}

/// Floats per output row of `kind`: `dim`, or dm_concat's `(1 + 2·window)·dim`.
fn layer_len(kind: DocKind, dim: usize, window: usize) -> usize {
    match kind {
        DocKind::DmConcat => (1 + 2 * window) * dim,
        DocKind::Dbow | DocKind::Dm => dim,
    }
}

/// dm_concat's context of position `i`: the ids of the `window` words before it and after
/// it, in order, `null` (the null word's row) where the piece has none (gensim's padding).
fn concat_window(sen: &[u32], i: usize, window: usize, null: u32, ids: &mut Vec<u32>) {
    ids.clear();
    for c in i as isize - window as isize..=(i + window) as isize {
        if c != i as isize {
            ids.push(if c < 0 || c as usize >= sen.len() {
                null
            } else {
                sen[c as usize]
            });
        }
    }
}

/// One output (or tree) row of dm_concat against the layer `l1`: its gradient added to
/// `work`, the row updated (a tree node past the sigmoid table's range is skipped, as the
/// other trainers skip it). A function, not a closure, so that it is compiled with the
/// caller's AVX2+FMA.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn concat_step<const FMA: bool>(
    l1: &[f32],
    work: &mut [f32],
    row: &mut [f32],
    label: f32,
    skip_beyond: bool,
    sig: &SigmoidTable,
    alpha: f32,
    st: &mut WorkStats,
) {
    let f = dot::<FMA>(l1, row);
    let (g, loss) = sig.bce(f, label, alpha);
    st.loss += f64::from(loss);
    st.terms += 1;
    if !(skip_beyond && (f <= -MAX_EXP || f >= MAX_EXP)) {
        axpy2::<FMA>(work, row, g, l1);
    }
}

/// What the training threads update: the Hogwild view of the model, or dm_concat's rows.
enum Rows<'m> {
    Hogwild(Hogwild<'m>),
    Concat(ConcatRows),
}

/// dm_concat's matrices, shared by the training threads as the Hogwild trainer shares its
/// own: word rows (with the null word's last), document rows, output and tree rows of the
/// concatenated layer's length.
struct ConcatRows {
    input: SharedMatrix,
    docs: SharedMatrix,
    output: SharedMatrix,
    hs: SharedMatrix,
    window: usize,
}

// SAFETY: concurrent unsynchronised f32 updates are the intended (Hogwild) behaviour; the
// pointers stay valid while the training scope lasts.
unsafe impl Sync for ConcatRows {}

impl ConcatRows {
    /// gensim's `train_document_dm_concat` on one piece: for each word, the concatenated
    /// layer `l1` (document vector, then the window's word vectors, null-padded) against
    /// the word along its Huffman path and K noise words (word2vec.c's order); `l1`'s
    /// gradient is added back to the document's row and to each context word's row.
    ///
    /// Picks the AVX2+FMA build of the loop when the CPU has it.
    ///
    /// # Safety
    /// The matrices stay allocated; other threads only make plain f32 stores to them.
    unsafe fn train_piece(&self, w: &mut Worker<'_>, p: Piece<'_>) -> WorkStats {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return self.train_piece_avx2(w, p);
            }
        }
        self.train_piece_impl::<false>(w, p)
    }

    /// # Safety
    /// As [`ConcatRows::train_piece`], on a CPU with AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn train_piece_avx2(&self, w: &mut Worker<'_>, p: Piece<'_>) -> WorkStats {
        self.train_piece_impl::<true>(w, p)
    }

    /// # Safety
    /// As [`ConcatRows::train_piece`].
    #[inline(always)]
    unsafe fn train_piece_impl<const FMA: bool>(
        &self,
        w: &mut Worker<'_>,
        Piece { doc, sen, alpha }: Piece<'_>,
    ) -> WorkStats {
        let mut stats = WorkStats::default();
        let st = &mut stats;
        let dim = self.input.dim;
        let layer = self.output.dim;
        let null = (self.input.rows - 1) as u32;
        let mut l1 = vec![0.0f32; layer];
        let mut work = vec![0.0f32; layer];
        let mut ids = Vec::with_capacity(2 * self.window);
        for (i, &word) in sen.iter().enumerate() {
            l1[..dim].copy_from_slice(self.docs.row(doc));
            concat_window(sen, i, self.window, null, &mut ids);
            for (m, &c) in ids.iter().enumerate() {
                l1[(1 + m) * dim..(2 + m) * dim].copy_from_slice(self.input.row(c as usize));
            }
            work.fill(0.0);
            let (l1, sig) = (&l1[..], w.sig);
            if let Some(tree) = w.tree {
                let (points, codes) = tree.path(word);
                for (&node, &code) in points.iter().zip(codes) {
                    let row = self.hs.row(node as usize);
                    let label = 1.0 - f32::from(code);
                    concat_step::<FMA>(l1, &mut work, row, label, true, sig, alpha, st);
                }
            }
            if w.negative > 0 {
                let row = self.output.row(word as usize);
                concat_step::<FMA>(l1, &mut work, row, 1.0, false, sig, alpha, st);
                for _ in 0..w.negative {
                    let t = w.alias.draw(&mut w.rng);
                    if t != word {
                        let row = self.output.row(t as usize);
                        concat_step::<FMA>(l1, &mut work, row, 0.0, false, sig, alpha, st);
                    }
                }
            }
            axpy::<FMA>(self.docs.row(doc), 1.0, &work[..dim]);
            for (m, &c) in ids.iter().enumerate() {
                axpy::<FMA>(
                    self.input.row(c as usize),
                    1.0,
                    &work[(1 + m) * dim..(2 + m) * dim],
                );
            }
            st.pairs += 1;
        }
        stats
    }
}

/// One piece of a document for [`ConcatRows::train_piece`]: the document's index, its kept
/// words, the learning rate.
#[derive(Clone, Copy)]
struct Piece<'a> {
    doc: usize,
    sen: &'a [u32],
    alpha: f32,
}

const MAGIC: &[u8] = b"w2v-gpu doc2vec\n";
/// 2: a hierarchical-softmax byte after `dbow_words`, the tree's rows after the output
/// matrix (version 1 files are read as without).
const VERSION: u32 = 2;

/// Vectors for many texts on `threads` threads, in order; each text's vector depends only
/// on its words and the seed, not on the thread count.
/// Documents per upload of [`infer_on_gpu`]: their rows are written over the previous
/// group's in one engine.
pub const INFER_GROUP: usize = 1 << 16;

/// Vectors for `texts` inferred on a GPU backend: the model's matrices stay fixed on the
/// device (the kernels' `FROZEN` mode) and every document's row learns, all documents of a
/// group of `group` ([`INFER_GROUP`] for `w2v-gpu infer`) side by side, epoch after
/// epoch, the rate falling from `alpha` to `min_alpha` epoch by epoch as
/// [`Doc2Vec::infer`]'s. Each document starts from the vector [`Doc2Vec::infer`] starts it
/// from, and its first epoch keeps the words the CPU's first epoch keeps (the generator
/// continues with the subsampling draws only; on the CPU it also draws windows and noise
/// words, so later epochs differ, as do the kernels' own windows and noise words); a
/// document longer than [`PIECE_WORDS`] kept words is trained in pieces of that many
/// (windows end at a piece's ends). A dm_concat model infers on its own kernel
/// (`infer_concat_on_gpu`).
pub fn infer_on_gpu(
    m: &Doc2Vec,
    texts: &[Vec<&str>],
    s: &InferSettings,
    ctx: GpuContext,
    group: usize,
) -> Result<Vec<Vec<f32>>> {
    if m.kind == DocKind::DmConcat {
        return infer_concat_on_gpu(m, texts, s, ctx, group);
    }
    let dim = m.model.dim;
    let v = m.vocab.len();
    let t = m.tables();
    let (epochs, alpha, step_down) = s.schedule(m);
    let group = texts.len().clamp(1, group.max(1));
    let model = Model {
        dim,
        input: m.model.input.clone(),
        output: m.model.output.clone(),
        hs: m.model.hs.clone(),
        subwords: vec![0.0; group * dim],
    };
    let params = KernelParams {
        model: ModelKind::Cbow,
        dim,
        window: m.window,
        negative: m.negative,
        precision: Precision::F32,
    };
    let tcfg = TrainConfig {
        dim,
        window: m.window,
        negative: m.negative,
        ..TrainConfig::default()
    };
    let doc = DocTraining {
        infer: true,
        ..DocTraining::train(m.kind.rows(), false)
    };
    let mut engine =
        GpuBackend::with_documents(ctx, &model, params, &t.alias, &tcfg, doc, t.tree.as_ref())?;
    let mut out = Vec::with_capacity(texts.len());
    let mut batch = Batch::default();
    let mut step = 0u64;
    for chunk in texts.chunks(group) {
        let (starts, mut docs) = m.infer_starts(chunk, s.seed);
        engine.write_rows(Matrix::Input, v, &starts)?;
        let mut a = alpha;
        for _ in 0..epochs {
            // Trains the batch when it is full (or `last`), and empties it.
            let mut flush = |batch: &mut Batch, last: bool| -> Result<()> {
                let full = batch.tokens.len() + PIECE_WORDS + 1 > tcfg.gpu_batch;
                if (full || last) && !batch.tokens.is_empty() {
                    engine.step(batch, Rate::constant(a), step_key(s.seed, step))?;
                    step += 1;
                    batch.tokens.clear();
                    batch.docs.clear();
                }
                Ok(())
            };
            for (i, (ids, rng)) in docs.iter_mut().enumerate() {
                let row = (v + i) as u32;
                let mut piece = 0;
                for &id in ids.iter() {
                    if !t.sub.keep(id, rng.next_u32()) {
                        continue;
                    }
                    if piece == PIECE_WORDS {
                        batch.tokens.push(SENTENCE_END);
                        batch.docs.resize(batch.tokens.len(), row);
                        flush(&mut batch, false)?;
                        piece = 0;
                    }
                    batch.tokens.push(id);
                    piece += 1;
                }
                batch.tokens.push(SENTENCE_END);
                batch.docs.resize(batch.tokens.len(), row);
                flush(&mut batch, false)?;
            }
            flush(&mut batch, true)?;
            a -= step_down;
        }
        engine.begin_read(Matrix::Input, v, v + chunk.len())?;
        let rows = engine.finish_reads()?.concat();
        out.extend(inferred(&rows, dim, alpha)?);
    }
    Ok(out)
}

/// [`infer_on_gpu`] for a dm_concat model (`backend::gpu::concat`, frozen: only the
/// documents' rows learn). Each document draws from the generator [`Doc2Vec::infer`] draws
/// from, in its order (its first vector; each epoch its subsampling, then each position's
/// noise words), so the GPU's windows and noise words are the CPU's; what differs is that
/// a document's positions of one epoch run side by side, each reading the document's row
/// as the step found it, and the sigmoid is computed, not read from a table.
fn infer_concat_on_gpu(
    m: &Doc2Vec,
    texts: &[Vec<&str>],
    s: &InferSettings,
    ctx: GpuContext,
    group: usize,
) -> Result<Vec<Vec<f32>>> {
    use crate::backend::gpu::concat::{ConcatOptions, GpuConcat};
    use crate::concat_batch::{ConcatShape, ConcatStep};
    let dim = m.model.dim;
    let v = m.vocab.len();
    let t = m.tables();
    let (epochs, alpha, step_down) = s.schedule(m);
    let group = texts.len().clamp(1, group.max(1));
    let shape = ConcatShape {
        dim,
        window: m.window,
        vocab: v,
    };
    let mut layout = ConcatPositions::new(shape, m.negative, t.tree.as_ref(), &t.alias);
    let positions = DocGpu::default().batch;
    let docs0 = vec![0.0f32; group * dim];
    let mut engine = GpuConcat::new(
        ctx,
        shape,
        (&[&m.model.input, &docs0], &[&m.model.output, &m.model.hs]),
        (positions, positions * layout.cells_per_position()),
        ConcatOptions {
            frozen: true,
            ..ConcatOptions::default()
        },
    )?;
    let first_doc = v + 1;
    let mut out = Vec::with_capacity(texts.len());
    let mut step = ConcatStep::default();
    let mut kept = Vec::new();
    for chunk in texts.chunks(group) {
        let (starts, mut docs) = m.infer_starts(chunk, s.seed);
        engine.write_rows(Matrix::Input, first_doc, &starts)?;
        let mut a = alpha;
        for _ in 0..epochs {
            for (i, (word_ids, rng)) in docs.iter_mut().enumerate() {
                kept.clear();
                kept.extend(
                    word_ids
                        .iter()
                        .copied()
                        .filter(|&id| t.sub.keep(id, rng.next_u32())),
                );
                for k in 0..kept.len() {
                    if step.positions() == positions {
                        engine.step(&step)?;
                        step.clear();
                    }
                    layout.push(&mut step, (&kept, k), (first_doc + i) as u32, rng, a);
                }
            }
            // An epoch's positions all train before the next epoch's start.
            engine.step(&step)?;
            step.clear();
            a -= step_down;
        }
        engine.begin_read(Matrix::Input, first_doc, first_doc + chunk.len())?;
        let rows = engine.finish_reads()?.concat();
        out.extend(inferred(&rows, dim, alpha)?);
    }
    Ok(out)
}

/// The vectors of `rows` (rows of `dim`) inferred on a GPU at rate `alpha`, or the error of
/// a run that diverged.
fn inferred(rows: &[f32], dim: usize, alpha: f32) -> Result<Vec<Vec<f32>>> {
    if !rows.iter().all(|x| x.is_finite()) {
        return Err(Error::Diverged(format!(
            "inference diverged (a vector stopped being a number) at --alpha {}; use a smaller --alpha (e.g. {})",
            readable(alpha),
            readable(alpha / 4.0)
        )));
    }
    Ok(rows.chunks(dim).map(|r| r.to_vec()).collect())
}

pub fn infer_many(
    m: &Doc2Vec,
    texts: &[Vec<&str>],
    s: &InferSettings,
    threads: usize,
) -> Vec<Vec<f32>> {
    let tables = m.tables();
    let per = texts.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|sc| {
        let handles: Vec<_> = texts
            .chunks(per)
            .map(|chunk| {
                let tables = &tables;
                sc.spawn(move || {
                    chunk
                        .iter()
                        .map(|t| m.infer(t, s, tables))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an inference thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents about one of two topics with disjoint words (60 each), 40 words apiece.
    fn two_topics(docs: usize, seed: u64) -> String {
        let mut rng = Rng::new(seed);
        let mut text = String::new();
        for d in 0..docs {
            let topic = d % 2;
            let words: Vec<String> = (0..40)
                .map(|_| format!("t{topic}w{}", rng.below(60)))
                .collect();
            text.push_str(&words.join(" "));
            text.push('\n');
        }
        text
    }

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        crate::linalg::seq_dot(a, b) / (crate::linalg::seq_norm(a) * crate::linalg::seq_norm(b))
    }

    fn trained(kind: DocKind, threads: usize) -> Doc2Vec {
        trained_with(kind, threads, 5, false)
    }

    /// With hierarchical softmax or dm_concat, a window of 2 (see the test below).
    fn trained_with(kind: DocKind, threads: usize, negative: usize, hs: bool) -> Doc2Vec {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("docs.txt");
        std::fs::write(&p, two_topics(40, 3)).unwrap();
        let cfg = DocConfig {
            input: p,
            kind,
            dim: 16,
            epochs: 50,
            min_count: 1,
            sample: 0.0,
            threads,
            negative,
            hs,
            window: if hs || kind == DocKind::DmConcat {
                2
            } else {
                5
            },
            ..DocConfig::default()
        };
        train(&cfg, &Reporter::quiet()).unwrap().0
    }

    /// Both models, with negative sampling, hierarchical softmax or both, put documents of
    /// one topic together: every document's mean similarity to its own topic's documents
    /// is above its mean similarity to the other topic's, and a new document's inferred
    /// vector is nearest a document of its topic. Random vectors (no training) fail this.
    /// Hierarchical softmax and dm_concat train with a window of 2: with gensim's 5, PV-DM's
    /// context words predict the topic alone and the document's row learns little (on this
    /// corpus gensim 4.4's `Doc2Vec(dm=1, hs=1, negative=0)` then misplaces up to 3 of 6
    /// new documents and `dm_concat=1` 4 to 7 of the 40 trained ones over three seeds; none
    /// with a window of 2).
    #[test]
    fn documents_of_one_topic_end_up_together_and_new_ones_join_them() {
        let kinds = [DocKind::Dbow, DocKind::Dm, DocKind::DmConcat];
        let losses = [(5, false), (0, true), (2, true)];
        for (kind, (negative, hs)) in kinds.into_iter().flat_map(|k| losses.map(|l| (k, l))) {
            let m = trained_with(kind, 1, negative, hs);
            let kind = format!("{kind:?} negative {negative} hs {hs}");
            let n = m.tags.len();
            let mut missed = Vec::new();
            for d in 0..n {
                let (mut same, mut other) = (0.0, 0.0);
                for e in (0..n).filter(|&e| e != d) {
                    let c = cos(m.doc_vector(d), m.doc_vector(e));
                    if e % 2 == d % 2 {
                        same += c;
                    } else {
                        other += c;
                    }
                }
                if same <= other {
                    missed.push((d, same, other));
                }
            }
            assert!(missed.is_empty(), "{kind}: {missed:?}");
            let tables = m.tables();
            let new = two_topics(6, 99);
            for (i, line) in new.lines().enumerate() {
                let words: Vec<&str> = line.split(' ').collect();
                let v = m.infer(&words, &InferSettings::default(), &tables);
                let best = (0..n)
                    .max_by(|&a, &b| cos(&v, m.doc_vector(a)).total_cmp(&cos(&v, m.doc_vector(b))))
                    .unwrap();
                assert_eq!(best % 2, i % 2, "{kind}: new document {i}");
            }
        }
    }

    /// One thread and a seed give the same model every time; inference gives the same
    /// vectors on any number of threads, and the model survives a save and load whole.
    #[test]
    fn deterministic_on_one_thread_and_round_trips_through_its_file() {
        let text = two_topics(9, 5);
        let texts: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
        let s = InferSettings::default();
        let cases = [
            (DocKind::Dm, 5, false),
            (DocKind::Dm, 0, true),
            (DocKind::DmConcat, 3, true),
        ];
        for (kind, negative, hs) in cases {
            let a = trained_with(kind, 1, negative, hs);
            let b = trained_with(kind, 1, negative, hs);
            assert_eq!(a.model, b.model);
            assert_eq!(a.model.hs.len(), if hs { 119 * a.layer() } else { 0 });
            if kind == DocKind::DmConcat {
                // The null word's row after the 120 words', rows of (1 + 2 · 2) · 16.
                assert_eq!(a.model.input.len(), 121 * 16);
                assert_eq!((a.layer(), a.model.output.len()), (80, 120 * 80));
                assert_eq!(a.word_vectors().len(), 120 * 16);
            }
            let mut bytes = Vec::new();
            a.write(&mut bytes).unwrap();
            let back = Doc2Vec::from_bytes(Path::new("m.d2v"), &bytes).unwrap();
            assert_eq!(back.model, a.model);
            assert_eq!(back.tags, a.tags);
            assert_eq!(back.vocab.words(), a.vocab.words());
            assert_eq!(
                (back.kind, back.window, back.epochs, back.negative, back.hs),
                (a.kind, a.window, a.epochs, a.negative, a.hs)
            );
            assert_eq!(
                infer_many(&a, &texts, &s, 1),
                infer_many(&back, &texts, &s, 4)
            );
            if !hs {
                // A version 1 file (no hierarchical-softmax byte) reads as the same model.
                let flag = MAGIC.len() + 4 + 2;
                assert_eq!(bytes[flag], 0);
                bytes.remove(flag);
                bytes[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&1u32.to_le_bytes());
                let v1 = Doc2Vec::from_bytes(Path::new("m.d2v"), &bytes).unwrap();
                assert_eq!((v1.model, v1.hs), (a.model, false));
            }
        }
        assert!(Doc2Vec::from_bytes(Path::new("m"), b"3 2\na 1 2\n").is_err());
    }

    /// A file whose vocabulary repeats a word with a count near 2^64 (found by the
    /// `doc2vec_model` fuzz target: summing the two counts overflowed) is refused.
    #[test]
    fn a_vocabulary_with_a_repeated_word_is_refused_without_overflow() {
        let mut m = trained(DocKind::Dbow, 1);
        m.model.input.truncate(2 * m.dim());
        m.model.output.truncate(2 * m.dim());
        // A model of the words "a" and "b" with these counts, "b" then renamed "a".
        let mut read_twice = |count_a: u64| {
            m.vocab = Vocab::from_counts([("a".to_string(), count_a), ("b".into(), 1)], 1, None);
            let mut bytes = Vec::new();
            m.write(&mut bytes).unwrap();
            let at = bytes.windows(5).position(|w| w == [1, 0, 0, 0, b'b']);
            bytes[at.unwrap() + 4] = b'a';
            Doc2Vec::from_bytes(Path::new("m.d2v"), &bytes)
                .unwrap_err()
                .to_string()
        };
        let e = read_twice(u64::MAX);
        assert!(e.contains("beyond any corpus"), "{e}");
        let e = read_twice(5);
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn lines_and_tokens_split_as_documents() {
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n").count(), 1);
        assert_eq!(
            lines(b"a b\n\nc").collect::<Vec<_>>(),
            vec![&b"a b"[..], b"", b"c"]
        );
        assert_eq!(
            tokens(b" a\tb\r  c ").collect::<Vec<_>>(),
            vec![&b"a"[..], b"b", b"c"]
        );
    }
}
