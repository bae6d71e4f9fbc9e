//! The CPU engine of the minibatch optimizers (lazy Adagrad, Adam, RMSprop, and minibatch
//! SGD for `--deterministic`), and the reference the GPU kernels are tested against.
//!
//! A step has two phases, as on the GPU, and both are deterministic whatever the number of
//! threads:
//! 1. per example (in parallel over fixed ranges of examples): read the rows as they were
//!    when the step began, compute `h` (the input row, or the mean of the context rows),
//!    the logit coefficients `cⱼ = σ(h·uⱼ) − yⱼ` and `∂L/∂h = Σⱼ cⱼ·uⱼ`; each example
//!    writes only its own entries;
//! 2. per slot (unique row of the minibatch; in parallel over fixed ranges of slots): sum
//!    the row's gradient over its occurrences *in example order* (output row:
//!    `Σ cⱼ·h`, input row: `Σ ∂L/∂h / n` for a bag of `n` rows, or `Σ ∂L/∂h` for SGD as
//!    word2vec.c updates, see [`whole_bag`]) and apply one optimizer update
//!    ([`crate::optim::update_row`]). A row used by many examples gets one update with the
//!    summed gradient.
//!
//! Every float is computed by one thread in a fixed order, so results are bit-identical for
//! any `--threads`. Nothing outside the minibatch's rows is read or written, unless the
//! dense mode is asked for (then every row of both matrices is updated, with gradient 0
//! where unused — the cost a dense framework optimizer pays, kept for measuring).

use crate::backend::cpu::{axpy, dot, prefetch};
use crate::backend::{Matrix, SparseBackend, StepLoss, SyncRows};
use crate::batch::split_ranges;
use crate::error::{Error, Result};
use crate::loss::sigmoid_bce;
use crate::minibatch::{Minibatch, SKIP};
use crate::model::Model;
use crate::optim::{update_row, OptimParams, OptimState, OptimizerKind, SGD_SUM_LIMIT};
use std::ops::Range;

pub struct CpuSparse {
    pub model: Model,
    pub state: OptimState,
    opt: OptimParams,
    /// The threads of both phases, started once (`None`: one thread, the caller's).
    pool: Option<rayon::ThreadPool>,
    /// Per example: `h`, `∂L/∂h` (dim each), coefficients (negative + 1), loss.
    h: Vec<f32>,
    dh: Vec<f32>,
    coef: Vec<f32>,
    ex_loss: Vec<(f32, u32)>,
    loss: StepLoss,
    /// Rows copied by [`SyncRows::begin_read`], handed out by `finish_reads`.
    reads: Vec<Vec<f32>>,
}

fn have_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Phase 1 for the examples `range`; the output slices cover exactly those examples.
#[inline(always)]
fn examples_impl<const FMA: bool>(
    model: &Model,
    mb: &Minibatch,
    range: Range<usize>,
    h: &mut [f32],
    dh: &mut [f32],
    coef: &mut [f32],
    ex_loss: &mut [(f32, u32)],
) {
    let dim = model.dim;
    let nout = mb.negative + 1;
    let row = |r: u32| r as usize * dim..(r as usize + 1) * dim;
    let end = range.end;
    for (k, e) in range.enumerate() {
        // Start loading the next example's rows (random rows of large matrices).
        if e + 1 < end {
            for &s in mb.example_inputs(e + 1) {
                prefetch(model.input[row(mb.in_rows[s as usize])].as_ptr(), dim);
            }
            for &s in mb.example_outputs(e + 1) {
                if s != SKIP {
                    prefetch(model.output[row(mb.out_rows[s as usize])].as_ptr(), dim);
                }
            }
        }
        let ins = mb.example_inputs(e);
        let h = &mut h[k * dim..(k + 1) * dim];
        h.copy_from_slice(&model.input[row(mb.in_rows[ins[0] as usize])]);
        for &s in &ins[1..] {
            axpy::<FMA>(h, 1.0, &model.input[row(mb.in_rows[s as usize])]);
        }
        if ins.len() > 1 {
            let inv = 1.0 / ins.len() as f32;
            h.iter_mut().for_each(|x| *x *= inv);
        }
        let dh = &mut dh[k * dim..(k + 1) * dim];
        dh.iter_mut().for_each(|x| *x = 0.0);
        let (mut lsum, mut terms) = (0.0f32, 0u32);
        for (j, &s) in mb.example_outputs(e).iter().enumerate() {
            let c = &mut coef[k * nout + j];
            *c = 0.0;
            if s == SKIP {
                continue;
            }
            let u = &model.output[row(mb.out_rows[s as usize])];
            let label = if j == 0 { 1.0 } else { 0.0 };
            let (g, l) = sigmoid_bce(dot::<FMA>(h, u), label, 1.0);
            lsum += l;
            terms += 1;
            // ∂L/∂f = σ(f) − y = −g.
            *c = -g;
            axpy::<FMA>(dh, -g, u);
        }
        ex_loss[k] = (lsum, terms);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn examples_avx2(
    model: &Model,
    mb: &Minibatch,
    range: Range<usize>,
    h: &mut [f32],
    dh: &mut [f32],
    coef: &mut [f32],
    ex_loss: &mut [(f32, u32)],
) {
    examples_impl::<true>(model, mb, range, h, dh, coef, ex_loss)
}

/// One matrix's rows and state, written by phase 2.
///
/// # Safety of sharing
///
/// Phase 2 hands each thread a disjoint range of slots, and the slots of one matrix are
/// distinct rows (the builder maps every row to one slot), so no two threads ever touch
/// the same row, state or count; nothing reads the matrices during phase 2 except the
/// thread updating that row. The pointers come from `&mut` borrows held for the whole
/// phase (the pool's threads finish inside `rayon::ThreadPool::scope`).
struct Rows {
    w: *mut f32,
    st: *mut f32,
    steps: *mut u32,
    has_steps: bool,
    dim: usize,
    rl: usize,
    rows: usize,
}

// SAFETY: see the type's documentation: threads write disjoint rows.
unsafe impl Sync for Rows {}
unsafe impl Send for Rows {}

impl Rows {
    fn new(w: &mut [f32], st: &mut [f32], steps: &mut [u32], dim: usize, rl: usize) -> Rows {
        Rows {
            rows: w.len() / dim.max(1),
            w: w.as_mut_ptr(),
            st: st.as_mut_ptr(),
            has_steps: !steps.is_empty(),
            steps: steps.as_mut_ptr(),
            dim,
            rl,
        }
    }

    /// Starts loading row `r`'s weights and state into the cache (a hint only).
    #[inline(always)]
    fn prefetch(&self, r: usize) {
        prefetch(self.w.wrapping_add(r * self.dim), self.dim);
        prefetch(self.st.wrapping_add(r * self.rl), self.rl);
    }

    /// Applies `g` to row `r` with count `global_t` (dense) or the row's own count.
    ///
    /// # Safety
    /// No other thread may access row `r` during the call (see the type's documentation).
    #[inline(always)]
    unsafe fn update(
        &self,
        opt: &OptimParams,
        lr: f32,
        r: usize,
        g: &[f32],
        global_t: Option<u32>,
    ) {
        assert!(r < self.rows);
        let w = std::slice::from_raw_parts_mut(self.w.add(r * self.dim), self.dim);
        let st = std::slice::from_raw_parts_mut(self.st.add(r * self.rl), self.rl);
        let t = match (global_t, self.has_steps) {
            (Some(t), _) => t,
            (None, true) => {
                let t = &mut *self.steps.add(r);
                *t = t.saturating_add(1);
                *t
            }
            (None, false) => 0,
        };
        update_row(opt, lr, w, st, t, g);
    }
}

/// Whether every row of an input bag receives an example's whole `∂L/∂h`: for SGD, as
/// word2vec.c and fastText update (measured: `--deterministic` CBOW on enwiki, one epoch,
/// analogy 1.74% with `1/n` shares against 7.8% with whole ones, BENCHMARKS.md); the
/// adaptive methods take the gradient of the mean, which their per-coordinate scaling makes
/// nearly scale-free.
pub fn whole_bag(kind: OptimizerKind) -> bool {
    kind == OptimizerKind::Sgd
}

/// The summed gradient of slot `s` along its occurrence list, into `g`. An input slot
/// receives from each example whose bag holds it `∂L/∂h / n` (the gradient of the mean of
/// the bag's `n` rows), or with `whole_bag` all of `∂L/∂h` (word2vec.c's and fastText's
/// update: every context row of a CBOW window, every row of a subword bag, moves by the
/// whole of it).
#[inline(always)]
fn sum_slot<const FMA: bool>(
    out: bool,
    mb: &Minibatch,
    s: usize,
    ex: (&[f32], &[f32], &[f32]),
    g: &mut [f32],
    whole_bag: bool,
) {
    let dim = g.len();
    let nout = mb.negative + 1;
    let (h, dh, coef) = ex;
    g.iter_mut().for_each(|x| *x = 0.0);
    if out {
        let occ = &mb.out_occ[mb.out_occ_offsets[s] as usize..mb.out_occ_offsets[s + 1] as usize];
        for &o in occ {
            let e = o as usize / nout;
            axpy::<FMA>(g, coef[o as usize], &h[e * dim..(e + 1) * dim]);
        }
    } else {
        let occ = &mb.in_occ[mb.in_occ_offsets[s] as usize..mb.in_occ_offsets[s + 1] as usize];
        for &e in occ {
            let e = e as usize;
            let n = mb.offsets[e + 1] - mb.offsets[e];
            let share = if whole_bag { 1.0 } else { 1.0 / n as f32 };
            axpy::<FMA>(g, share, &dh[e * dim..(e + 1) * dim]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sum_slot_avx2(
    out: bool,
    mb: &Minibatch,
    s: usize,
    ex: (&[f32], &[f32], &[f32]),
    g: &mut [f32],
    whole_bag: bool,
) {
    sum_slot::<true>(out, mb, s, ex, g, whole_bag)
}

/// [`sum_slot`] with the same instruction choice as the threaded path.
fn sum_slot_dispatch(
    out: bool,
    mb: &Minibatch,
    s: usize,
    ex: (&[f32], &[f32], &[f32]),
    g: &mut [f32],
    whole_bag: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if have_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { sum_slot_avx2(out, mb, s, ex, g, whole_bag) };
    }
    sum_slot::<false>(out, mb, s, ex, g, whole_bag)
}

/// Phase 2 for the slots `range` of one matrix: sum each slot's gradient along its
/// occurrence list, then update its row.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn slots_impl<const FMA: bool>(
    out: bool,
    mb: &Minibatch,
    range: Range<usize>,
    ex: (&[f32], &[f32], &[f32]),
    rows: &Rows,
    opt: &OptimParams,
    lr: f32,
    g: &mut [f32],
) {
    let end = range.end;
    for s in range {
        if s + 1 < end {
            // The next slot's weight and state rows: random rows, usually not cached.
            rows.prefetch(if out {
                mb.out_rows[s + 1]
            } else {
                mb.in_rows[s + 1]
            } as usize);
        }
        sum_slot::<FMA>(out, mb, s, ex, g, whole_bag(opt.kind));
        if opt.kind == OptimizerKind::Sgd {
            // Minibatch SGD: at most SGD_SUM_LIMIT gradients' worth per row (see `optim`).
            let n = if out {
                mb.out_occ_offsets[s + 1] - mb.out_occ_offsets[s]
            } else {
                mb.in_occ_offsets[s + 1] - mb.in_occ_offsets[s]
            };
            let inv = (SGD_SUM_LIMIT / n.max(1) as f32).min(1.0);
            g.iter_mut().for_each(|x| *x *= inv);
        }
        let r = if out { mb.out_rows[s] } else { mb.in_rows[s] } as usize;
        // SAFETY: slots are distinct rows and `range`s of threads are disjoint.
        unsafe { rows.update(opt, lr, r, g, None) };
    }
}

#[allow(clippy::too_many_arguments)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn slots_avx2(
    out: bool,
    mb: &Minibatch,
    range: Range<usize>,
    ex: (&[f32], &[f32], &[f32]),
    rows: &Rows,
    opt: &OptimParams,
    lr: f32,
    g: &mut [f32],
) {
    slots_impl::<true>(out, mb, range, ex, rows, opt, lr, g)
}

/// Splits the slots into `parts` contiguous ranges of about equal work (a slot costs its
/// occurrences plus its update), from the occurrence prefix sums `occ` (one more entry than
/// slots). Frequent rows have hundreds of occurrences, so equal slot counts would not
/// balance.
fn balanced_ranges(occ: &[u32], parts: usize) -> Vec<Range<usize>> {
    const UPDATE_COST: u64 = 4;
    let n = occ.len().saturating_sub(1);
    let cost = |s: usize| occ[s] as u64 + UPDATE_COST * s as u64;
    let total = cost(n);
    let mut out = Vec::with_capacity(parts);
    let mut lo = 0;
    for p in 1..=parts {
        let target = total * p as u64 / parts as u64;
        let hi = if p == parts {
            n
        } else {
            (lo..=n).find(|&s| cost(s) >= target).unwrap_or(n)
        };
        if hi > lo {
            out.push(lo..hi);
        }
        lo = hi;
    }
    out
}

impl CpuSparse {
    pub fn new(model: Model, state: OptimState, opt: OptimParams) -> CpuSparse {
        CpuSparse {
            model,
            state,
            opt,
            pool: None,
            h: Vec::new(),
            dh: Vec::new(),
            coef: Vec::new(),
            ex_loss: Vec::new(),
            loss: StepLoss::default(),
            reads: Vec::new(),
        }
    }

    /// Runs both phases on `threads` threads (the result does not depend on it).
    pub fn with_threads(mut self, threads: usize) -> Result<CpuSparse> {
        self.pool = None;
        if threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("w2v-sparse-{i}"))
                .build()
                .map_err(|e| {
                    Error::usage(
                        "--threads",
                        format!("{threads} threads could not be started ({e}); use fewer"),
                    )
                })?;
            self.pool = Some(pool);
        }
        Ok(self)
    }

    /// Threads the phases run on.
    fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }

    /// Phase 1 over all examples.
    fn examples(&mut self, mb: &Minibatch) {
        let dim = self.model.dim;
        let nout = mb.negative + 1;
        let n = mb.examples();
        self.h.resize(n * dim, 0.0);
        self.dh.resize(n * dim, 0.0);
        self.coef.resize(n * nout, 0.0);
        self.ex_loss.resize(n, (0.0, 0));
        let fma = have_fma();
        let model = &self.model;
        let run = |r: Range<usize>,
                   h: &mut [f32],
                   dh: &mut [f32],
                   c: &mut [f32],
                   l: &mut [(f32, u32)]| {
            #[cfg(target_arch = "x86_64")]
            if fma {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { examples_avx2(model, mb, r, h, dh, c, l) };
            }
            let _ = fma;
            examples_impl::<false>(model, mb, r, h, dh, c, l)
        };
        let ranges = split_ranges(n, self.threads().min(n.div_ceil(64)).max(1));
        let pool = self.pool.as_ref().filter(|_| ranges.len() > 1);
        if let Some(pool) = pool {
            pool.scope(|sc| {
                let (mut h, mut dh, mut c, mut l) = (
                    &mut self.h[..],
                    &mut self.dh[..],
                    &mut self.coef[..],
                    &mut self.ex_loss[..],
                );
                for r in ranges {
                    let k = r.len();
                    let (h0, h1) = std::mem::take(&mut h).split_at_mut(k * dim);
                    let (d0, d1) = std::mem::take(&mut dh).split_at_mut(k * dim);
                    let (c0, c1) = std::mem::take(&mut c).split_at_mut(k * nout);
                    let (l0, l1) = std::mem::take(&mut l).split_at_mut(k);
                    (h, dh, c, l) = (h1, d1, c1, l1);
                    let run = &run;
                    sc.spawn(move |_| run(r, h0, d0, c0, l0));
                }
            });
        } else {
            run(
                0..n,
                &mut self.h,
                &mut self.dh,
                &mut self.coef,
                &mut self.ex_loss,
            );
        }
        for &(l, t) in &self.ex_loss[..n] {
            self.loss.sum += l as f64;
            self.loss.terms += t as u64;
        }
    }

    /// Phase 2: one update per slot of both matrices (or every row, in dense mode).
    fn apply(&mut self, mb: &Minibatch, lr: f32) {
        let dim = self.model.dim;
        let rl = self.state.row_len();
        self.state.step += 1;
        let opt = self.opt;
        if opt.dense {
            return self.apply_dense(mb, lr);
        }
        let fma = have_fma();
        let ex = (&self.h[..], &self.dh[..], &self.coef[..]);
        let sides = [
            (
                false,
                mb.in_rows.len(),
                Rows::new(
                    &mut self.model.input,
                    &mut self.state.input,
                    &mut self.state.input_steps,
                    dim,
                    rl,
                ),
            ),
            (
                true,
                mb.out_rows.len(),
                Rows::new(
                    &mut self.model.output,
                    &mut self.state.output,
                    &mut self.state.output_steps,
                    dim,
                    rl,
                ),
            ),
        ];
        let run = |out: bool, r: Range<usize>, rows: &Rows| {
            let mut g = vec![0.0f32; dim];
            #[cfg(target_arch = "x86_64")]
            if fma {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { slots_avx2(out, mb, r, ex, rows, &opt, lr, &mut g) };
            }
            let _ = fma;
            slots_impl::<false>(out, mb, r, ex, rows, &opt, lr, &mut g)
        };
        let work: usize = mb.in_rows.len() + mb.out_rows.len();
        let threads = self.threads().min(work.div_ceil(64)).max(1);
        let Some(pool) = self.pool.as_ref().filter(|_| threads > 1) else {
            for (out, n, rows) in &sides {
                run(*out, 0..*n, rows);
            }
            return;
        };
        pool.scope(|sc| {
            for (out, _, rows) in &sides {
                let occ = if *out {
                    &mb.out_occ_offsets
                } else {
                    &mb.in_occ_offsets
                };
                for r in balanced_ranges(occ, threads) {
                    let run = &run;
                    sc.spawn(move |_| run(*out, r, rows));
                }
            }
        });
    }

    /// Dense mode (single-threaded; a measuring baseline): every row of both matrices is
    /// updated, with the global step count for Adam.
    fn apply_dense(&mut self, mb: &Minibatch, lr: f32) {
        let dim = self.model.dim;
        let rl = self.state.row_len();

        let t = self.state.step.min(u32::MAX as u64) as u32;
        let opt = self.opt;
        let mut g = vec![0.0f32; dim];
        for out in [false, true] {
            let (w, st) = if out {
                (&mut self.model.output, &mut self.state.output)
            } else {
                (&mut self.model.input, &mut self.state.input)
            };
            let rows_of = if out { &mb.out_rows } else { &mb.in_rows };
            let mut slot_of = vec![SKIP; w.len() / dim];
            for (s, &r) in rows_of.iter().enumerate() {
                slot_of[r as usize] = s as u32;
            }
            for (r, &s) in slot_of.iter().enumerate() {
                if s == SKIP {
                    g.iter_mut().for_each(|x| *x = 0.0);
                } else {
                    let ex = (&self.h[..], &self.dh[..], &self.coef[..]);
                    sum_slot_dispatch(out, mb, s as usize, ex, &mut g, whole_bag(opt.kind));
                }
                update_row(
                    &opt,
                    lr,
                    &mut w[r * dim..(r + 1) * dim],
                    &mut st[r * rl..(r + 1) * rl],
                    t,
                    &g,
                );
            }
        }
    }

    /// The summed gradient of every slot (input slots, then output slots), without
    /// updating anything: phase 1 and the sums of phase 2 (for tests).
    pub fn slot_gradients(&mut self, mb: &Minibatch) -> (Vec<f32>, Vec<f32>) {
        self.examples(mb);
        let dim = self.model.dim;
        let ex = (&self.h[..], &self.dh[..], &self.coef[..]);
        let mut gi = vec![0.0f32; mb.in_rows.len() * dim];
        let mut go = vec![0.0f32; mb.out_rows.len() * dim];
        let whole = whole_bag(self.opt.kind);
        for (s, g) in gi.chunks_exact_mut(dim).enumerate() {
            sum_slot_dispatch(false, mb, s, ex, g, whole);
        }
        for (s, g) in go.chunks_exact_mut(dim).enumerate() {
            sum_slot_dispatch(true, mb, s, ex, g, whole);
        }
        (gi, go)
    }
}

impl CpuSparse {
    /// The input or output matrix and its dim (the minibatch engines train no tree: a
    /// hierarchical-softmax run is refused before it gets here).
    fn matrix(&mut self, m: Matrix) -> Result<(&mut [f32], usize)> {
        let d = self.model.dim;
        let m = match m {
            Matrix::Input => &mut self.model.input,
            Matrix::Output => &mut self.model.output,
            Matrix::Tree => return Err(crate::backend::no_tree()),
        };
        Ok((m, d))
    }
}

/// Row access for distributed syncs: the steps run synchronously on the calling thread,
/// so a read copies the rows as they stand now and a write or add lands before the next
/// step.
impl SyncRows for CpuSparse {
    fn write_rows(&mut self, m: Matrix, lo: usize, rows: &[f32]) -> Result<()> {
        let (m, d) = self.matrix(m)?;
        m[lo * d..lo * d + rows.len()].copy_from_slice(rows);
        Ok(())
    }
    fn begin_read(&mut self, m: Matrix, lo: usize, hi: usize) -> Result<()> {
        let (m, d) = self.matrix(m)?;
        let hi = hi.min(m.len() / d.max(1));
        let rows = m[lo * d..hi.max(lo) * d].to_vec();
        self.reads.push(rows);
        Ok(())
    }
    fn finish_reads(&mut self) -> Result<Vec<Vec<f32>>> {
        Ok(std::mem::take(&mut self.reads))
    }
    fn add_rows(&mut self, m: Matrix, lo: usize, rows: &[f32]) -> Result<()> {
        let (m, d) = self.matrix(m)?;
        for (w, a) in m[lo * d..lo * d + rows.len()].iter_mut().zip(rows) {
            *w += a;
        }
        Ok(())
    }
}

impl SparseBackend for CpuSparse {
    fn step(&mut self, mb: &Minibatch, lr: f32) -> Result<()> {
        self.examples(mb);
        self.apply(mb, lr);
        Ok(())
    }

    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        Ok(Some(std::mem::take(&mut self.loss)))
    }

    fn download(&mut self) -> Result<(Model, OptimState)> {
        Ok((self.model.clone(), self.state.clone()))
    }

    fn describe(&self) -> String {
        format!("cpu ({} threads)", self.threads())
    }

    fn backend_name(&self) -> &'static str {
        "cpu"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelKind;
    use crate::minibatch::MinibatchBuilder;
    use crate::optim::OptimizerKind;
    use crate::sampling::{AliasTable, Rng};

    fn setup(kind: OptimizerKind, dense: bool) -> CpuSparse {
        let mut model = Model::new(6, 4, 3);
        model.output.iter_mut().enumerate().for_each(|(i, x)| {
            *x = ((i * 7 % 11) as f32 - 5.0) * 0.05;
        });
        let opt = OptimParams {
            dense,
            ..OptimParams::defaults(kind)
        };
        CpuSparse::new(model, OptimState::new(kind, 6, 4), opt)
    }

    fn batch(model: ModelKind) -> Minibatch {
        let alias = AliasTable::unigram(&[5, 4, 3, 2, 1, 1], 0.75);
        let mut b = MinibatchBuilder::new(model, 2, 2, 6);
        let mut mb = Minibatch::default();
        b.add(&[0, 1, 0, 2, 0, 3], 0..6, &mut Rng::new(3), &alias, &mut mb);
        b.finish(&mut mb);
        mb
    }

    /// A sync's row access: a read returns the rows as they stood when it began although a
    /// step ran before `finish_reads`; `add_rows` adds and `write_rows` replaces exactly
    /// the rows named, of the matrix named.
    #[test]
    fn sync_rows_read_at_their_point_add_and_write_exactly() {
        let mut e = setup(OptimizerKind::Adam, false);
        let before = e.model.clone();
        e.begin_read(Matrix::Input, 1, 3).unwrap();
        e.begin_read(Matrix::Output, 4, 9).unwrap();
        e.step(&batch(ModelKind::SkipGram), 0.1).unwrap();
        assert_ne!(e.model.input, before.input, "the step changed rows");
        let reads = e.finish_reads().unwrap();
        assert_eq!(
            reads,
            vec![before.input[4..12].to_vec(), before.output[16..24].to_vec()]
        );
        assert!(e.finish_reads().unwrap().is_empty());
        let stepped = e.model.clone();
        e.add_rows(Matrix::Output, 2, &[1.0; 8]).unwrap();
        e.write_rows(Matrix::Input, 5, &[7.0; 4]).unwrap();
        assert!(e.begin_read(Matrix::Tree, 0, 1).is_err());
        for (i, (a, b)) in e.model.output.iter().zip(&stepped.output).enumerate() {
            let want = if (8..16).contains(&i) { b + 1.0 } else { *b };
            assert_eq!(*a, want, "output float {i}");
        }
        assert_eq!(e.model.input[20..24], [7.0; 4]);
        assert_eq!(e.model.input[..20], stepped.input[..20]);
    }

    /// An input slot's gradient sums, over the examples whose bag holds it, the whole
    /// `∂L/∂h` for SGD (word2vec.c's CBOW update) and `∂L/∂h / n` for the adaptive methods.
    #[test]
    fn sgd_gives_every_bag_row_the_whole_gradient() {
        let mb = batch(ModelKind::Cbow);
        for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let mut e = setup(kind, false);
            let (grads_in, _) = e.slot_gradients(&mb);
            let mut bags = 0;
            for s in 0..mb.in_rows.len() {
                let mut want = [0.0f32; 4];
                let occ = mb.in_occ_offsets[s] as usize..mb.in_occ_offsets[s + 1] as usize;
                for &ex in &mb.in_occ[occ] {
                    let ex = ex as usize;
                    let n = (mb.offsets[ex + 1] - mb.offsets[ex]) as f32;
                    bags += usize::from(n > 1.0);
                    let share = if kind == OptimizerKind::Sgd {
                        1.0
                    } else {
                        1.0 / n
                    };
                    for (w, d) in want.iter_mut().zip(&e.dh[ex * 4..ex * 4 + 4]) {
                        *w += share * d;
                    }
                }
                for (g, w) in grads_in[s * 4..s * 4 + 4].iter().zip(want) {
                    assert!((g - w).abs() <= 1e-6 * (1.0 + w.abs()), "{kind:?} slot {s}");
                }
            }
            assert!(bags > 0, "the batch has bags of several context words");
        }
    }

    /// The summed slot gradients equal a finite-difference derivative of the step loss.
    #[test]
    fn gradients_match_finite_differences() {
        for model in [ModelKind::SkipGram, ModelKind::Cbow] {
            let mb = batch(model);
            let mut e = setup(OptimizerKind::Adam, false);
            let (grads_in, grads_out) = e.slot_gradients(&mb);
            let loss_of = |m: &Model| {
                let mut c = CpuSparse::new(m.clone(), e.state.clone(), e.opt);
                c.slot_gradients(&mb);
                c.loss.sum
            };
            let base = e.model.clone();
            let h = 1e-2f32;
            type Matrix = fn(&mut Model) -> &mut Vec<f32>;
            let matrices: [(&str, &[u32], &[f32], Matrix); 2] = [
                ("in", &mb.in_rows, &grads_in, |m| &mut m.input),
                ("out", &mb.out_rows, &grads_out, |m| &mut m.output),
            ];
            for (name, rows, grads, matrix) in matrices {
                for (s, &r) in rows.iter().enumerate() {
                    for d in 0..4 {
                        let mut p = base.clone();
                        matrix(&mut p)[r as usize * 4 + d] += h;
                        let mut m = base.clone();
                        matrix(&mut m)[r as usize * 4 + d] -= h;
                        let fd = (loss_of(&p) - loss_of(&m)) / (2.0 * h as f64);
                        let g = grads[s * 4 + d] as f64;
                        assert!(
                            (fd - g).abs() < 2e-3,
                            "{model:?} {name} row {r} d {d}: {fd} vs {g}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn lazy_touches_only_used_rows_and_counts_per_row() {
        let mb = batch(ModelKind::SkipGram);
        let mut e = setup(OptimizerKind::Adam, false);
        let before = e.model.clone();
        e.step(&mb, 0.01).unwrap();
        e.step(&mb, 0.01).unwrap();
        for r in 0..6u32 {
            let used = mb.in_rows.contains(&r);
            let row = r as usize * 4..(r as usize + 1) * 4;
            assert_eq!(e.model.input[row.clone()] != before.input[row], used);
            assert_eq!(e.state.input_steps[r as usize], if used { 2 } else { 0 });
        }
        // Row 5 (rarest) is in no window: untouched state.
        assert!(e.state.output[5 * 8..6 * 8].iter().all(|&x| x == 0.0) || mb.out_rows.contains(&5));
    }

    /// For Adagrad, lazy and dense give the same result (a zero gradient changes nothing);
    /// for Adam they differ on unused rows (momentum keeps moving them).
    #[test]
    fn dense_mode_equals_lazy_for_adagrad_only() {
        let mb = batch(ModelKind::SkipGram);
        let mut lazy = setup(OptimizerKind::Adagrad, false);
        let mut dense = setup(OptimizerKind::Adagrad, true);
        for _ in 0..3 {
            lazy.step(&mb, 0.1).unwrap();
            dense.step(&mb, 0.1).unwrap();
        }
        assert_eq!(lazy.model, dense.model);
        let mut lazy = setup(OptimizerKind::Adam, false);
        let mut dense = setup(OptimizerKind::Adam, true);
        // A second minibatch on other rows: dense Adam keeps moving the first one's rows.
        let alias = AliasTable::unigram(&[5, 4, 3, 2, 1, 1], 0.75);
        let mut b = MinibatchBuilder::new(ModelKind::SkipGram, 2, 2, 6);
        let mut other = Minibatch::default();
        b.add(&[4, 5, 4], 0..3, &mut Rng::new(9), &alias, &mut other);
        b.finish(&mut other);
        lazy.step(&mb, 0.1).unwrap();
        dense.step(&mb, 0.1).unwrap();
        assert_eq!(lazy.model, dense.model);
        lazy.step(&other, 0.1).unwrap();
        dense.step(&other, 0.1).unwrap();
        assert_ne!(lazy.model, dense.model);
    }

    #[test]
    fn balanced_ranges_cover_all_slots_by_work() {
        // Slot 0 has 100 occurrences, the others 1 each.
        let mut occ = vec![0u32, 100];
        for i in 0..20 {
            occ.push(101 + i);
        }
        let r = balanced_ranges(&occ, 2);
        assert_eq!(r.first().unwrap().start, 0);
        assert_eq!(r.last().unwrap().end, 21);
        assert!(r.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(r[0], 0..1, "the heavy slot alone is half the work");
        assert!(balanced_ranges(&[0], 4).is_empty());
    }

    /// Any thread count gives the same bits.
    #[test]
    fn threads_do_not_change_the_result() {
        let alias = AliasTable::unigram(&[9, 7, 5, 4, 3, 3, 2, 2, 1, 1], 0.75);
        let mut b = MinibatchBuilder::new(ModelKind::SkipGram, 3, 3, 10);
        let mut rng = Rng::new(5);
        let toks: Vec<u32> = (0..400).map(|_| rng.below(10)).collect();
        let mut mb = Minibatch::default();
        b.add(&toks, 0..toks.len(), &mut rng, &alias, &mut mb);
        b.finish(&mut mb);
        let run = |threads: usize| {
            let mut model = Model::new(10, 16, 3);
            model
                .output
                .iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = (i % 13) as f32 * 0.01);
            let opt = OptimParams {
                kind: OptimizerKind::Adam,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                dense: false,
            };
            let mut e = CpuSparse::new(model, OptimState::new(OptimizerKind::Adam, 10, 16), opt)
                .with_threads(threads)
                .unwrap();
            for _ in 0..3 {
                e.step(&mb, 0.01).unwrap();
            }
            (e.model, e.state, e.loss)
        };
        let one = run(1);
        for t in [2, 3, 8] {
            assert_eq!(run(t), one, "{t} threads");
        }
    }
}
