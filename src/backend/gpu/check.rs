//! Does a GPU compute the CPU reference's math, and does it add every update? (`w2v-gpu
//! devices --check`: every kernel, way of adding and dot-product sum an adapter has.)
//!
//! **Math** ([`Probe::Math`]): the negative-sampling kernels train two steps of a batch in
//! which no two windows share a row, so no order of the windows changes anything, and every
//! element must lie within 2e-6 + 1e-5·|x| of the reference's (the tolerance of the parity
//! tests: the GPU's `exp` and fused multiply-adds differ by a few ulp); then every
//! per-position kernel but the chunk kernel (window, tile, hierarchical softmax, subwords,
//! paragraph vectors) trains one step of a Zipf batch whose windows share rows (CBOW's whole
//! contexts, the tree's nodes, buckets, documents) with one workgroup in flight
//! (`--gpu-in-flight 1`), against the reference in the GPU's run order; the minibatch
//! engine's optimizer kernels train four minibatches, weights and optimizer state within
//! 3e-5 + 1e-4·|x| of the CPU engine's. Reported in tolerances: at most 1.
//!
//! **Adds** ([`Probe::Output`], [`Probe::Input`]): word frequencies are Zipfian, so a few
//! rows receive most of the adds, many at the same moment; a kernel (or a driver's atomics)
//! that loses some of them trains worse without failing. The check trains two steps of a
//! Zipf batch over a 40-word vocabulary — every row hot — and compares the result with the
//! CPU reference ([`CpuReference`]). It is exact up to float rounding, not within a Hogwild
//! tolerance: at a learning rate of 1e-9 with one side of the model at zero, every logit
//! stays below 1e-7, so σ is 0.5 in f32 and each gradient is ±α/2 whatever the kernel read;
//! the other side's changes are below its rounding. The rows on the zero side then end as
//! the sum of the same terms in every order the GPU may run them, and a lost add moves a
//! row by one whole term. Two runs cover both sides: output rows (and tree nodes) at zero,
//! then input rows (subword buckets, document rows) at zero.
//!
//! The gap is reported in updates: the row's distance from the reference over the size of
//! one add (α/2 times the root-mean-square norm of the rows it adds, over √(rows averaged)
//! where a bag's mean is added). Summing ~10⁴ terms in another order moves a row by a few
//! hundredths of one (measured on lavapipe: at most 0.055 over every case and parity
//! variant); an add lost by `--gpu-updates racy` moved it by 0.34–144 there. [`BOUND`] sits
//! between.
//!
//! Covered: the window, chunk and tile kernels, hierarchical softmax, subwords, paragraph
//! vectors (PV-DBOW, PV-DM) and the minibatch optimizers (math only: they add nothing
//! atomically, a workgroup per row). Not covered: half-precision storage (1e-9 is below a
//! half's range), the chunk kernel's math with shared rows (its ring keeps a copy of a row
//! that is twice in it, by design unlike the reference), and the classifier's and
//! `--dm-concat`'s kernels (other engines).

use super::shaders::{Atomics, Kernel, Reduce};
use super::sparse::GpuSparse;
use super::{GpuBackend, GpuContext};
use crate::backend::cpu::{window_at, CpuReference};
use crate::backend::cpu_sparse::CpuSparse;
use crate::backend::SparseBackend;
use crate::backend::{Backend, DocRows, DocTraining, KernelParams, Rate};
use crate::batch::Batch;
use crate::config::{FeatureVariant, ModelKind, Precision, TrainConfig, Updates};
use crate::corpus::SENTENCE_END;
use crate::error::Result;
use crate::huffman::HuffmanTree;
use crate::minibatch::MinibatchBuilder;
use crate::model::Model;
use crate::optim::{OptimParams, OptimState, OptimizerKind};
use crate::sampling::AliasTable;
use crate::subword::{SubwordParams, SubwordTable};

/// A row further than this many updates from the reference fails the check.
pub const BOUND: f64 = 0.25;

/// The learning rate of the check's steps (see the module notes).
const RATE: f32 = 1e-9;
const DIM: usize = 16;
const WINDOW: usize = 5;
const NEGATIVE: usize = 5;

/// Which kernel a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Negative sampling with the window, chunk or tile kernel (`--gpu-kernel`).
    Negative(Kernel),
    /// Hierarchical softmax alone (`--hs --negative 0`).
    Hs,
    /// Subword units with negative sampling (`--subwords`).
    Subwords,
    /// Paragraph vectors (`doc2vec --model dbow|dm`) with negative sampling: documents of
    /// 500 positions, so each document's row is hot.
    Documents(DocRows),
    /// The minibatch engine's sparse optimizer kernels (`--optimizer`; sgd is the
    /// `--deterministic` engine's): math only — they add nothing atomically.
    Minibatch(OptimizerKind),
}

/// What a case checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Lost adds to the output rows and tree nodes (they start at zero).
    Output,
    /// Lost adds to the input rows, subword buckets and document rows (they start at zero).
    Input,
    /// The same math as the CPU reference: for the negative-sampling kernels two steps, at
    /// rates 0.5 and 0.25, of a batch in which no two windows share a row, so that no order
    /// of the windows changes anything, every element within 2e-6 + 1e-5·|x| of the
    /// reference's (the GPU's `exp` and fused multiply-adds differ by a few ulp), then (all
    /// but the chunk kernel; the only part for the kernels with a tree, buckets or
    /// documents) a Zipf batch one workgroup at a time; for the minibatch kernels four
    /// minibatches, weights and state within 3e-5 + 1e-4·|x|.
    Math,
}

/// One run of the check.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub layer: Layer,
    pub model: ModelKind,
    pub atomics: Atomics,
    pub reduce: Reduce,
    pub probe: Probe,
    /// `Updates::Atomic` for what training runs; `Racy` shows what a lost add looks like.
    pub updates: Updates,
}

/// A case's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The engine's name for what ran (`GpuBackend::kernel_name`).
    pub kernel: String,
    /// What `off` and the change are counted in: `updates` (adds: one add's size) or
    /// `tolerances` (math: each element's, see [`Probe::Math`]).
    pub unit: &'static str,
    /// The most `off` may be: [`BOUND`] updates, or 1 tolerance.
    pub bound: f64,
    /// The checked matrices: name, the worst row's (element's) distance from the
    /// reference, and the largest change the reference made (how much the check moved).
    pub matrices: Vec<(&'static str, f64, f64)>,
}

impl Outcome {
    /// The worst distance from the reference over the checked matrices.
    pub fn off(&self) -> f64 {
        self.matrices.iter().map(|m| m.1).fold(0.0, f64::max)
    }

    /// Whether every row is within `bound` of the reference.
    pub fn pass(&self) -> bool {
        self.off() <= self.bound
    }
}

/// Every case an adapter with `features` runs in training: each kernel with each way of
/// adding it has (the native float atomic add where present, the compare-and-swap loop
/// always) and each dot-product reduction (subgroup sums where present), skip-gram and
/// CBOW (paragraph vectors: PV-DBOW and PV-DM), both sides.
pub fn cases(features: wgpu::Features) -> Vec<Case> {
    let mut modes = Vec::new();
    for atomics in [Atomics::Native, Atomics::CompareAndSwap] {
        for reduce in [Reduce::Serial, Reduce::Subgroup] {
            let need = atomics.required_features() | reduce.required_features();
            if features.contains(need) {
                modes.push((atomics, reduce));
            }
        }
    }
    let layers = [
        Layer::Negative(Kernel::Window),
        Layer::Negative(Kernel::Chunk),
        Layer::Negative(Kernel::Tile),
        Layer::Hs,
        Layer::Subwords,
        Layer::Documents(DocRows::Dbow),
        Layer::Documents(DocRows::Dm),
        Layer::Minibatch(OptimizerKind::Adagrad),
        Layer::Minibatch(OptimizerKind::Adam),
        Layer::Minibatch(OptimizerKind::Rmsprop),
        Layer::Minibatch(OptimizerKind::Sgd),
    ];
    let mut out = Vec::new();
    for layer in layers {
        let models: &[ModelKind] = match layer {
            // The document kernels' model is the DocRows.
            Layer::Documents(_) => &[ModelKind::Cbow],
            _ => &[ModelKind::SkipGram, ModelKind::Cbow],
        };
        let probes: &[Probe] = match layer {
            Layer::Minibatch(_) => &[Probe::Math],
            _ => &[Probe::Math, Probe::Output, Probe::Input],
        };
        // The minibatch kernels have no atomics and no subgroup sums: one way each.
        let modes = match layer {
            Layer::Minibatch(_) => &modes[..1],
            _ => &modes[..],
        };
        for &(atomics, reduce) in modes {
            for &model in models {
                for &probe in probes {
                    out.push(Case {
                        layer,
                        model,
                        atomics,
                        reduce,
                        probe,
                        updates: Updates::Atomic,
                    });
                }
            }
        }
    }
    out
}

/// Three-letter words over four letters: they share n-grams, so some buckets are hot.
/// (Past 64 words, the letters of `k / 64` follow.)
fn words(n: usize) -> Vec<String> {
    const L: [char; 4] = ['a', 'e', 's', 't'];
    (0..n)
        .map(|k| {
            let mut w: String = [L[k % 4], L[(k / 4) % 4], L[(k / 16) % 4]].iter().collect();
            let mut rest = k / 64;
            while rest > 0 {
                w.push(L[rest % 4]);
                rest /= 4;
            }
            w
        })
        .collect()
}

/// The larger of `a` and `b`, and infinity where `b` is NaN (`f64::max` would drop it: a
/// NaN on the GPU must fail the check).
fn worse(a: f64, b: f64) -> f64 {
    if b.is_nan() {
        f64::INFINITY
    } else {
        a.max(b)
    }
}

/// Root-mean-square norm of `m`'s rows of `DIM`.
fn rms_norm(m: &[f32]) -> f64 {
    let rows = (m.len() / DIM).max(1) as f64;
    (m.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / rows).sqrt()
}

/// The worst row of `gpu` against `reference` and the largest row change of `reference`
/// from `init`, both over `unit`.
fn compare(init: &[f32], gpu: &[f32], reference: &[f32], unit: f64) -> (f64, f64) {
    let norm = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| ((x - y) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut worst = (0.0f64, 0.0f64);
    for ((i, g), r) in init
        .chunks(DIM)
        .zip(gpu.chunks(DIM))
        .zip(reference.chunks(DIM))
    {
        worst.0 = worse(worst.0, norm(g, r) / unit);
        worst.1 = worst.1.max(norm(r, i) / unit);
    }
    worst
}

/// Runs `case` on `ctx` as training launches it by default: two steps of a 4,000-position
/// Zipf batch on the GPU and on the CPU reference.
pub fn run(ctx: GpuContext, case: Case) -> Result<Outcome> {
    run_with(ctx, case, &TrainConfig::default())
}

/// [`run`] with the launch `base` gives (`--gpu-workgroup`, `--gpu-chunk`,
/// `--gpu-tile-noise`, `--gpu-order`, `--gpu-in-flight`, streams); the case sets the rest.
pub fn run_with(ctx: GpuContext, case: Case, base: &TrainConfig) -> Result<Outcome> {
    if case.probe == Probe::Math {
        return math(ctx, case, base);
    }
    if let Layer::Minibatch(_) = case.layer {
        return Err(crate::error::Error::Gpu(
            "the minibatch kernels add nothing atomically: only their math is checked".into(),
        ));
    }
    let Prepared {
        mut gpu,
        mut cpu,
        init,
        batches,
    } = prepare(ctx, case, base, Shape::ADDS)?;
    let rate = Rate {
        start: RATE,
        end: RATE,
    };
    for (s, batch) in batches.iter().enumerate() {
        gpu.step(batch, rate, 77 + s as u32)?;
        cpu.step(batch, rate, 77 + s as u32)?;
    }
    let (g, c) = (gpu.download()?, cpu.download()?);
    // One add's size: α/2 times the rows it adds; a bag's mean (CBOW's context, a word's
    // n-grams) is over √(rows averaged) of one row.
    let bag = match (case.model, case.layer) {
        (_, Layer::Documents(DocRows::Dm)) => (2 * WINDOW + 1) as f64,
        (_, Layer::Documents(_)) => 1.0,
        (ModelKind::Cbow, Layer::Subwords) => (2 * WINDOW * 6) as f64,
        (ModelKind::Cbow, _) => 2.0 * WINDOW as f64,
        (_, Layer::Subwords) => 6.0,
        _ => 1.0,
    };
    let one = |rows: &[f32], mean: bool| {
        let n = if mean { bag.sqrt() } else { 1.0 };
        0.5 * RATE as f64 * rms_norm(rows) / n
    };
    let mut matrices = Vec::new();
    match case.probe {
        Probe::Output => {
            // The rows bags are made of: words, subword buckets, documents (PV-DBOW's bag
            // is its document's row alone).
            let bag_rows = match case.layer {
                Layer::Documents(DocRows::Dbow) => init.subwords.clone(),
                _ => [&init.input[..], &init.subwords[..]].concat(),
            };
            let unit = one(&bag_rows, true);
            let (off, size) = compare(&init.output, &g.output, &c.output, unit);
            if negative(case.layer) > 0 {
                matrices.push(("output", off, size));
            }
            if case.layer == Layer::Hs {
                let (off, size) = compare(&init.hs, &g.hs, &c.hs, unit);
                matrices.push(("tree nodes", off, size));
            }
        }
        // (Probe::Math returned above.)
        Probe::Input | Probe::Math => {
            let from = match case.layer {
                Layer::Hs => &init.hs,
                _ => &init.output,
            };
            let unit = one(from, false);
            // PV-DBOW trains no word rows.
            if case.layer != Layer::Documents(DocRows::Dbow) {
                let (off, size) = compare(&init.input, &g.input, &c.input, unit);
                matrices.push(("input", off, size));
            }
            let rows = match case.layer {
                Layer::Subwords => Some("subword buckets"),
                Layer::Documents(_) => Some("documents"),
                _ => None,
            };
            if let Some(rows) = rows {
                let (off, size) = compare(&init.subwords, &g.subwords, &c.subwords, unit);
                matrices.push((rows, off, size));
            }
        }
    }
    Ok(Outcome {
        kernel: gpu.kernel_name(),
        unit: "updates",
        bound: BOUND,
        matrices,
    })
}

/// A model of `words` rows of `dim`: word2vec's input rows (±0.5/`dim`) times `input`,
/// output rows uniform in ±`output`.
fn drawn_model(words: usize, dim: usize, input: f32, output: f32) -> Model {
    let mut m = Model::new(words, dim, 5);
    m.input.iter_mut().for_each(|x| *x *= input);
    let scale = 2.0 * output * dim as f32;
    m.output = Model::new(words, dim, 6)
        .input
        .iter()
        .map(|x| x * scale)
        .collect();
    m
}

/// The training config of `case` on `base`'s launch: its kernel, atomics, sums and updates.
fn config(case: Case, base: &TrainConfig) -> TrainConfig {
    TrainConfig {
        gpu_batch: 4096,
        gpu_atomics: Some(case.atomics),
        gpu_reduce: Some(case.reduce),
        gpu_kernel: match case.layer {
            Layer::Negative(k) => Some(k),
            _ => None,
        },
        gpu_updates: case.updates,
        ..base.clone()
    }
}

/// Noise words per window of `layer`'s cases: none where hierarchical softmax runs alone.
fn negative(layer: Layer) -> usize {
    match layer {
        Layer::Hs => 0,
        _ => NEGATIVE,
    }
}

/// The sizes of a case's run.
#[derive(Clone, Copy)]
struct Shape {
    vocab: usize,
    positions: usize,
    steps: u64,
    /// Positions per document ([`Layer::Documents`]).
    doc_len: usize,
    /// One workgroup in flight, the reference in the GPU's run order.
    in_order: bool,
}

impl Shape {
    /// The adds probes: every row hot.
    const ADDS: Shape = Shape {
        vocab: 40,
        positions: 4000,
        steps: 2,
        doc_len: 500,
        in_order: false,
    };
    /// The math probe's windows in order: rows shared, not all hot.
    const IN_ORDER: Shape = Shape {
        vocab: 2_000,
        positions: 400,
        steps: 1,
        doc_len: 50,
        in_order: true,
    };
}

/// A case's engines and data, before its steps.
struct Prepared {
    gpu: GpuBackend,
    cpu: CpuReference,
    init: Model,
    batches: Vec<Batch>,
}

/// The GPU engine and the CPU reference of `case` over Zipf batches of `shape`: for the
/// adds probes with the checked side at zero, for the math probe both sides drawn.
fn prepare(ctx: GpuContext, case: Case, base: &TrainConfig, shape: Shape) -> Result<Prepared> {
    let vocab = shape.vocab;
    let negative = negative(case.layer);
    let params = KernelParams {
        precision: Precision::F32,
        model: case.model,
        dim: DIM,
        window: WINDOW,
        negative,
    };
    let counts: Vec<u64> = (1..=vocab as u64).map(|r| 1_000_000 / r).collect();
    let alias = AliasTable::unigram(&counts, 0.75);
    let sp = SubwordParams {
        minn: 3,
        maxn: 4,
        bucket: 1000,
    };
    let mut batches: Vec<Batch> = (0..shape.steps)
        .map(|s| Batch::zipf(vocab, shape.positions, 3 + s))
        .collect();
    let mut docs = 0;
    if let Layer::Documents(_) = case.layer {
        for b in &mut batches {
            b.docs = (0..b.tokens.len())
                .map(|p| (vocab + p / shape.doc_len) as u32)
                .collect();
            docs = docs.max(b.tokens.len().div_ceil(shape.doc_len));
        }
    }
    let mut init = match case.probe {
        // Logits of order one, so σ and the gradients are not trivial.
        Probe::Math => drawn_model(vocab, DIM, 10.0, 0.1),
        _ => Model::new(vocab, DIM, 5),
    };
    match case.layer {
        Layer::Hs => init = init.with_hs(),
        Layer::Subwords => init = init.with_subwords(sp.bucket, 6),
        // Document rows follow the word rows as subword buckets do.
        Layer::Documents(_) => init = init.with_subwords(docs, 6),
        Layer::Negative(_) | Layer::Minibatch(_) => {}
    }
    match case.probe {
        // Model::new draws the input rows and leaves the output rows at zero; for the
        // input side the same draws go to the output side.
        Probe::Input => {
            std::mem::swap(&mut init.input, &mut init.output);
            if case.layer == Layer::Hs {
                let rows = init.hs.len() / DIM;
                init.hs = Model::new(rows, DIM, 7).input;
            }
            init.subwords.iter_mut().for_each(|x| *x = 0.0);
        }
        Probe::Math if case.layer == Layer::Hs => {
            init.hs = drawn_model(init.hs.len() / DIM, DIM, 1.0, 0.1).output;
        }
        _ => {}
    }
    let mut cfg = TrainConfig {
        hs: case.layer == Layer::Hs,
        negative,
        ..config(case, base)
    };
    if shape.in_order {
        cfg.gpu_in_flight = Some(1);
        // One stream keeps the step's capacity near --gpu-batch (split dispatches take
        // 256 bytes of dispatch bases each).
        cfg.streams = Some(1);
    }
    let reference = CpuReference::new(init.clone(), params, alias.clone());
    // Noise words shared by a tile's windows are other noise words: the reference draws
    // them so.
    let reference = match cfg.gpu_tile_noise {
        true => reference.with_shared_noise(cfg.gpu_chunk as usize),
        false => reference,
    };
    let table = SubwordTable::new(&words(vocab), &sp);
    let tree = HuffmanTree::new(&counts);
    let (gpu, cpu) = match case.layer {
        // (Minibatch cases are refused before.)
        Layer::Negative(_) | Layer::Minibatch(_) => (
            GpuBackend::new(ctx, &init, params, &alias, &cfg)?,
            reference,
        ),
        Layer::Hs => (
            GpuBackend::with_hs(ctx, &init, params, &alias, &cfg, &tree)?,
            reference.with_hs(tree.clone()),
        ),
        Layer::Subwords => (
            GpuBackend::with_subwords(ctx, &init, params, &alias, &cfg, &table)?,
            reference.with_subwords(table.clone()),
        ),
        Layer::Documents(rows) => {
            let doc = DocTraining::train(rows, false);
            (
                GpuBackend::with_documents(ctx, &init, params, &alias, &cfg, doc, None)?,
                reference.with_documents(doc),
            )
        }
    };
    // The adds probes' sums do not depend on the order; the math probe's do.
    let cpu = match shape.in_order {
        true => {
            let (per_group, order_stride, tile_stride) = gpu.run_order();
            let cpu = cpu.with_order(order_stride);
            match case.layer == Layer::Negative(Kernel::Tile) {
                true => cpu
                    .with_tile_order(per_group, tile_stride)
                    .with_tile_reads(per_group),
                false => cpu,
            }
        }
        false => cpu,
    };
    Ok(Prepared {
        gpu,
        cpu,
        init,
        batches,
    })
}

/// Pairs of words, each pair a sentence, and the first key whose two steps (`key`,
/// `key + 1`) give no two windows a common row: each context row and each output row
/// (centre or noise word) belongs to one window.
pub fn conflict_free(
    params: &KernelParams,
    alias: &AliasTable,
    vocab: usize,
) -> Option<(Batch, u32)> {
    let mut tokens = Vec::new();
    for p in 0..24u32 {
        tokens.extend_from_slice(&[2 * p + 1, 2 * p + 2, SENTENCE_END]);
    }
    let batch = Batch {
        tokens,
        words: 48,
        step: 0,
        docs: Vec::new(),
    };
    let distinct = |key: u32| {
        let mut seen_in = std::collections::HashSet::new();
        let mut seen_out = std::collections::HashSet::new();
        (0..batch.tokens.len())
            .filter(|&pos| batch.tokens[pos] != SENTENCE_END)
            .all(|pos| {
                let (ctx, out) = window_at(&batch.tokens, pos, key, params, alias);
                ctx.into_iter().all(|c| seen_in.insert(c))
                    && out
                        .into_iter()
                        .all(|o| (o as usize) < vocab && seen_out.insert(o))
            })
    };
    let key = (1..10_000u32).find(|&k| distinct(k) && distinct(k + 1))?;
    Some((batch, key))
}

/// [`Probe::Math`]: two steps of a conflict-free batch over 60,000 words at dim 27 (no
/// multiple of the four partial sums a lane keeps), rates 0.5 and 0.25, every element of
/// both matrices against the reference's.
fn math(ctx: GpuContext, case: Case, base: &TrainConfig) -> Result<Outcome> {
    match case.layer {
        Layer::Minibatch(kind) => return minibatch_math(ctx, case.model, kind),
        Layer::Negative(_) => {}
        _ => {
            // No batch of the per-position kernels with a tree, buckets or documents is
            // free of shared rows: their windows in order only.
            let (kernel, matrices) = in_order(ctx, case, base)?;
            return Ok(Outcome {
                kernel,
                unit: "tolerances",
                bound: 1.0,
                matrices,
            });
        }
    }
    const WORDS: usize = 60_000;
    let params = KernelParams {
        precision: Precision::F32,
        model: case.model,
        dim: 27,
        window: 3,
        negative: 4,
    };
    let alias = AliasTable::new(&vec![1.0; WORDS]);
    // Input rows ±0.5/D·10 and output rows ±0.1: logits of order one, so σ and the
    // gradients are not trivial.
    let init = drawn_model(WORDS, params.dim, 10.0, 0.1);
    let (batch, key) = conflict_free(&params, &alias, WORDS)
        .ok_or_else(|| crate::error::Error::Gpu("no conflict-free key found".into()))?;
    let cfg = TrainConfig {
        // Noise words shared per tile would make the windows of a tile share rows.
        gpu_tile_noise: false,
        ..config(case, base)
    };
    let mut gpu = GpuBackend::new(ctx.clone(), &init, params, &alias, &cfg)?;
    let mut cpu = CpuReference::new(init.clone(), params, alias.clone());
    for (k, alpha) in [(key, 0.5), (key + 1, 0.25)] {
        gpu.step(&batch, Rate::constant(alpha), k)?;
        cpu.step(&batch, Rate::constant(alpha), k)?;
    }
    let (g, c) = (gpu.download()?, cpu.download()?);
    let (input, moved_in) = measure_elements(&init.input, &g.input, &c.input, F32_TOLERANCE);
    let (output, moved_out) = measure_elements(&init.output, &g.output, &c.output, F32_TOLERANCE);
    let mut matrices = vec![("input", input, moved_in), ("output", output, moved_out)];
    if cfg.gpu_kernel != Some(Kernel::Chunk) {
        matrices.extend(in_order(ctx, case, base)?.1);
    }
    Ok(Outcome {
        kernel: gpu.kernel_name(),
        unit: "tolerances",
        bound: 1.0,
        matrices,
    })
}

/// The math probe's windows that share rows (CBOW's whole contexts: the conflict-free pairs
/// have one context word each), one workgroup in flight (`--gpu-in-flight 1`), so the GPU
/// applies them one after another in its run order and must compute the reference that
/// applies them so: one step of a 400-position Zipf batch over 2,000 words, every element
/// of every matrix within 2e-6 + 1e-5·|x|. (Not for the chunk kernel, which keeps a copy of
/// a row that is twice in its ring, by design unlike the reference.)
#[allow(clippy::type_complexity)]
fn in_order(
    ctx: GpuContext,
    case: Case,
    base: &TrainConfig,
) -> Result<(String, Vec<(&'static str, f64, f64)>)> {
    let Prepared {
        mut gpu,
        mut cpu,
        init,
        batches,
    } = prepare(ctx, case, base, Shape::IN_ORDER)?;
    let rate = Rate {
        start: 0.03,
        end: 0.02,
    };
    for batch in &batches {
        gpu.step(batch, rate, 77)?;
        cpu.step(batch, rate, 77)?;
    }
    let (g, c) = (gpu.download()?, cpu.download()?);
    let rows = match case.layer {
        Layer::Documents(_) => "documents, windows in order",
        _ => "subword buckets, windows in order",
    };
    let mut out = Vec::new();
    for (name, i, g, c) in [
        ("input, windows in order", &init.input, &g.input, &c.input),
        (
            "output, windows in order",
            &init.output,
            &g.output,
            &c.output,
        ),
        ("tree nodes, windows in order", &init.hs, &g.hs, &c.hs),
        (rows, &init.subwords, &g.subwords, &c.subwords),
    ] {
        // (A matrix the case does not train is left out: PV-DBOW's word rows, the output
        // rows without noise words.)
        if !i.is_empty() && c != i {
            let (off, moved) = measure_elements(i, g, c, F32_TOLERANCE);
            out.push((name, off, moved));
        }
    }
    Ok((gpu.kernel_name(), out))
}

/// The negative-sampling kernels' tolerance for element `x`, as in the parity tests.
const F32_TOLERANCE: fn(f32) -> f64 = |x| 2e-6 + 1e-5 * x.abs() as f64;

/// The worst element of `g` against `c` and the largest change of `c` from `init`, both
/// in `tolerance`s of `c`'s elements.
fn measure_elements(
    init: &[f32],
    g: &[f32],
    c: &[f32],
    tolerance: impl Fn(f32) -> f64,
) -> (f64, f64) {
    let mut worst = (0.0f64, 0.0f64);
    for (k, (&g, &c)) in g.iter().zip(c).enumerate() {
        let i = init.get(k).copied().unwrap_or(0.0);
        worst.0 = worse(worst.0, (g - c).abs() as f64 / tolerance(c));
        worst.1 = worst.1.max((c - i).abs() as f64 / tolerance(c));
    }
    worst
}

/// [`Probe::Math`] of the minibatch engine: four minibatches of 96 Zipf positions over 400
/// words (the rarest quarter never occurs), learning rate 0.01, then every weight and
/// optimizer-state element against the CPU engine's ([`CpuSparse`]) within 3e-5 + 1e-4·|x|
/// (`tests/parity_sparse.rs` says why), untouched rows included.
fn minibatch_math(ctx: GpuContext, model: ModelKind, kind: OptimizerKind) -> Result<Outcome> {
    const WORDS: usize = 400;
    let params = KernelParams {
        precision: Precision::F32,
        model,
        dim: 24,
        window: 3,
        negative: 4,
    };
    let opt = OptimParams::defaults(kind);
    // Input rows ±0.5/D·20 and output rows ±0.25: logits of order one.
    let start = drawn_model(WORDS, params.dim, 20.0, 0.25);
    let state = OptimState::with_rows(kind, WORDS, WORDS, params.dim);
    let batches = MinibatchBuilder::new(model, params.window, params.negative, WORDS)
        .zipf_minibatches(WORDS * 3 / 4, 4, 96, 11);
    let mut cpu = CpuSparse::new(start.clone(), state.clone(), opt);
    let mut gpu = GpuSparse::new(ctx, &start, &state, params, opt, 96 + 40, 1, None)?;
    for mb in &batches {
        cpu.step(mb, 0.01)?;
        gpu.step(mb, 0.01)?;
    }
    let ((gm, gs), (cm, cs)) = (gpu.download()?, cpu.download()?);
    let tolerance = |x: f32| 3e-5 + 1e-4 * x.abs() as f64;
    let measure = |init: &[f32], g: &[f32], c: &[f32]| measure_elements(init, g, c, tolerance);
    let (input, moved_in) = measure(&start.input, &gm.input, &cm.input);
    let (output, moved_out) = measure(&start.output, &gm.output, &cm.output);
    let mut matrices = vec![("input", input, moved_in), ("output", output, moved_out)];
    if kind != OptimizerKind::Sgd {
        let (si, moved_si) = measure(&state.input, &gs.input, &cs.input);
        let (so, moved_so) = measure(&state.output, &gs.output, &cs.output);
        matrices.push(("input state", si, moved_si));
        matrices.push(("output state", so, moved_so));
    }
    // Adam's per-row update counts must match exactly: a mismatch counts as far off.
    if gs.input_steps != cs.input_steps || gs.output_steps != cs.output_steps {
        matrices.push(("update counts", f64::INFINITY, 0.0));
    }
    Ok(Outcome {
        kernel: format!("minibatch engine, {}", kind.name()),
        unit: "tolerances",
        bound: 1.0,
        matrices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NaN anywhere on the GPU fails its check (`f64::max` alone would skip it).
    #[test]
    fn a_nan_row_fails_the_check() {
        let init = vec![0.0f32; 2 * DIM];
        let reference = vec![1.0f32; 2 * DIM];
        let mut gpu = reference.clone();
        assert_eq!(compare(&init, &gpu, &reference, 1.0).0, 0.0);
        gpu[DIM + 3] = f32::NAN;
        let (off, _) = compare(&init, &gpu, &reference, 1.0);
        let o = Outcome {
            kernel: String::new(),
            unit: "updates",
            bound: BOUND,
            matrices: vec![("output", off, 1.0)],
        };
        assert!(!o.pass(), "{off}");
    }
}
