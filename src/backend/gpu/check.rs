//! Does a GPU compute the CPU reference's math, and does it add every update? (`w2v-gpu
//! devices --check`: every kernel, way of adding and dot-product sum an adapter has.)
//!
//! **Math** ([`Probe::Math`]): the negative-sampling kernels train two steps of a batch in
//! which no two windows share a row, so no order of the windows changes anything, and every
//! element must lie within 2e-6 + 1e-5·|x| of the reference's (the tolerance of the parity
//! tests: the GPU's `exp` and fused multiply-adds differ by a few ulp); then every
//! per-position kernel (window, chunk, tile, hierarchical softmax, subwords, paragraph
//! vectors) trains one step of a Zipf batch whose windows share rows (CBOW's whole
//! contexts, the tree's nodes, buckets, documents; for the chunk kernel no word twice in its
//! ring) with one workgroup in flight (`--gpu-in-flight 1`), against the reference in the
//! GPU's run order; the minibatch engine's optimizer kernels train four minibatches,
//! weights and optimizer state within 3e-5 + 1e-4·|x| of the CPU engine's. Reported in
//! tolerances: at most 1.
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
//! Covered: the window (also with skip-gram's context rows read from the matrix), chunk and
//! tile kernels, hierarchical softmax, subwords, paragraph vectors (PV-DBOW, PV-DM, and
//! `--dm-concat`'s kernel), the minibatch optimizers (math only: they add nothing
//! atomically, a workgroup per row), half-precision storage (math only, [`Layer::Half`])
//! and the classifier's kernels (math on a Zipf batch whose hot input rows take dozens of
//! atomic adds at once, [`Layer::Classifier`]). Not covered: the chunk
//! kernel's math where a word is twice in its ring (it keeps a copy per ring slot, by design
//! unlike the reference), and the adds of halves (their stochastic rounding makes no sum
//! exact; `tests/parity.rs` bounds its bias).

use super::classify::{ClassifierOptions, GpuClassifier, StepLimits};
use super::concat::{ConcatOptions, GpuConcat};
use super::shaders::{Atomics, Kernel, Reduce};
use super::sparse::GpuSparse;
use super::{GpuBackend, GpuContext};
use crate::backend::cpu::{window_at, CpuReference};
use crate::backend::cpu_sparse::CpuSparse;
use crate::backend::SparseBackend;
use crate::backend::{Backend, DocRows, DocTraining, KernelParams, Rate};
use crate::batch::Batch;
use crate::classify_batch::{self, zipf_steps, CellLoss, Grouping};
use crate::concat_batch::{self, distinct_steps, ConcatShape, ConcatStep};
use crate::config::{ContextRows, FeatureVariant, ModelKind, Precision, TrainConfig, Updates};
use crate::corpus::SENTENCE_END;
use crate::error::Result;
use crate::huffman::HuffmanTree;
use crate::minibatch::MinibatchBuilder;
use crate::model::Model;
use crate::optim::{OptimParams, OptimState, OptimizerKind};
use crate::sampling::{AliasTable, Rng};
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
    /// Skip-gram's window kernel with the context rows read from the matrix at each use
    /// (`--gpu-context-rows device`) instead of copied into workgroup memory.
    DeviceContext,
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
    /// Negative sampling with half-precision storage (`--precision f16`; compare-and-swap
    /// adds, the only ones f16 has): math only, one step of the conflict-free batch, each
    /// element the reference's rounded once to a half (see [`Probe::Math`]). A half cannot
    /// hold the adds probe's 1e-9 updates, and its stochastic rounding makes no sum exact.
    Half(Kernel),
    /// fastText's classifier (`supervised -backend vulkan`, `shaders/classify.wgsl`) with
    /// softmax or logistic cells, the label rows kept in workgroup memory (`true`, where
    /// they fit) or read from device memory (`false`, where there are too many): math only,
    /// three steps of 300 Zipf lines over 400 input rows, every element within 2e-6 +
    /// 1e-5·|x| of `classify_batch::reference_step`'s. Row 0 is in most lines, several
    /// times: the input rows' adds arrive in dozens of groups at once, each added
    /// atomically, so a lost one (a whole line's update) fails it too.
    Classifier(CellLoss, bool),
    /// `doc2vec --dm-concat` (`shaders/concat.wgsl`): its math on positions that share no
    /// row (`concat_batch::distinct_steps`), its adds on a hot batch as the other kernels'.
    Concat,
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
    /// reference's (the GPU's `exp` and fused multiply-adds differ by a few ulp), then (the
    /// only part for the kernels with a tree, buckets or documents) a Zipf batch one
    /// workgroup at a time; for the minibatch kernels four
    /// minibatches, weights and state within 3e-5 + 1e-4·|x|; for the other engines' kernels
    /// and half-precision storage as [`Layer::Half`], [`Layer::Classifier`] and
    /// [`Layer::Concat`] say.
    Math,
}

/// One run of the check.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub layer: Layer,
    /// Skip-gram or CBOW (one of them where the layer has no such choice: see
    /// [`Case::model_name`]).
    pub model: ModelKind,
    pub atomics: Atomics,
    pub reduce: Reduce,
    pub probe: Probe,
    /// `Updates::Atomic` for what training runs; `Racy` shows what a lost add looks like.
    pub updates: Updates,
}

impl Case {
    /// The model the case trains, as `devices --check` names it.
    pub fn model_name(&self) -> &'static str {
        match (self.layer, self.model) {
            (Layer::Documents(DocRows::Dbow), _) => "pv-dbow",
            (Layer::Documents(DocRows::Dm), _) => "pv-dm",
            (Layer::Concat, _) => "pv-dm concat",
            (Layer::Classifier(..), _) => "supervised",
            (_, ModelKind::SkipGram) => "skip-gram",
            (_, ModelKind::Cbow) => "cbow",
        }
    }
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
        Layer::DeviceContext,
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
        Layer::Half(Kernel::Window),
        Layer::Half(Kernel::Chunk),
        Layer::Half(Kernel::Tile),
        Layer::Classifier(CellLoss::Softmax, true),
        Layer::Classifier(CellLoss::Softmax, false),
        Layer::Classifier(CellLoss::Sigmoid, true),
        Layer::Classifier(CellLoss::Sigmoid, false),
        Layer::Concat,
    ];
    let mut out = Vec::new();
    for layer in layers {
        let models: &[ModelKind] = match layer {
            // The document kernels' model is the DocRows; the classifier and dm_concat
            // have one.
            Layer::Documents(_) | Layer::Classifier(..) | Layer::Concat => &[ModelKind::Cbow],
            // CBOW keeps only the context rows' mean, in workgroup memory either way.
            Layer::DeviceContext => &[ModelKind::SkipGram],
            _ => &[ModelKind::SkipGram, ModelKind::Cbow],
        };
        let probes: &[Probe] = match layer {
            Layer::Minibatch(_) | Layer::Half(_) | Layer::Classifier(..) => &[Probe::Math],
            _ => &[Probe::Math, Probe::Output, Probe::Input],
        };
        let modes: Vec<(Atomics, Reduce)> = match layer {
            // The minibatch kernels have no atomics and no subgroup sums: one way each.
            Layer::Minibatch(_) => modes[..1].to_vec(),
            // Halves add with compare-and-swap loops only.
            Layer::Half(_) => modes
                .iter()
                .copied()
                .filter(|m| m.0 == Atomics::CompareAndSwap)
                .collect(),
            // dm_concat sums its logits as a tree: one way per kind of adds.
            Layer::Concat => modes
                .iter()
                .copied()
                .filter(|m| m.1 == Reduce::Serial)
                .collect(),
            _ => modes.clone(),
        };
        for &(atomics, reduce) in &modes {
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
    match case.layer {
        Layer::Minibatch(_) | Layer::Half(_) | Layer::Classifier(..) => {
            return Err(crate::error::Error::Gpu(format!(
                "{:?}: only its math is checked (see check::Layer)",
                case.layer
            )))
        }
        Layer::Concat => return concat_adds(ctx, case),
        _ => {}
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
            Layer::Negative(k) | Layer::Half(k) => Some(k),
            Layer::DeviceContext => Some(Kernel::Window),
            _ => None,
        },
        gpu_context_rows: match case.layer {
            Layer::DeviceContext => Some(ContextRows::Device),
            _ => base.gpu_context_rows,
        },
        precision: match case.layer {
            Layer::Half(_) => Precision::F16,
            _ => Precision::F32,
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
        _ => {}
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
        // (Minibatch, half, classifier and dm_concat cases are refused before.)
        Layer::Negative(_)
        | Layer::DeviceContext
        | Layer::Minibatch(_)
        | Layer::Half(_)
        | Layer::Classifier(..)
        | Layer::Concat => (
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
            match case.layer {
                Layer::Negative(Kernel::Tile) => cpu
                    .with_order(order_stride)
                    .with_tile_order(per_group, tile_stride)
                    .with_tile_reads(per_group),
                // Chunks one after another, each's windows in order.
                Layer::Negative(Kernel::Chunk) => cpu,
                _ => cpu.with_order(order_stride),
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
        Layer::Classifier(loss, local) => return classifier_math(ctx, case, loss, local),
        Layer::Concat => return concat_math(ctx, case),
        Layer::Negative(_) | Layer::DeviceContext | Layer::Half(_) => {}
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
    let cfg = TrainConfig {
        // Noise words shared per tile would make the windows of a tile share rows.
        gpu_tile_noise: false,
        ..config(case, base)
    };
    let half = cfg.precision == Precision::F16;
    let params = KernelParams {
        precision: cfg.precision,
        model: case.model,
        // Halves pair dimensions: an even dim, no multiple of four either.
        dim: if half { 26 } else { 27 },
        window: 3,
        negative: 4,
    };
    let alias = AliasTable::new(&vec![1.0; WORDS]);
    // Input rows ±0.5/D·10 and output rows ±0.1: logits of order one, so σ and the
    // gradients are not trivial. (Halves start from the rows their upload rounds to.)
    let mut init = drawn_model(WORDS, params.dim, 10.0, 0.1);
    if half {
        init.input = super::halfrows::round(&init.input);
        init.output = super::halfrows::round(&init.output);
    }
    let (batch, key) = conflict_free(&params, &alias, WORDS)
        .ok_or_else(|| crate::error::Error::Gpu("no conflict-free key found".into()))?;
    let mut gpu = GpuBackend::new(ctx.clone(), &init, params, &alias, &cfg)?;
    let mut cpu = CpuReference::new(init.clone(), params, alias.clone());
    // Halves: one step, whose every element is the reference's rounded once (a second
    // step would compute from rows rounded differently from the reference's f32 rows).
    let steps: &[(u32, f32)] = match half {
        false => &[(key, 0.5), (key + 1, 0.25)],
        true => &[(key, 0.5)],
    };
    for &(k, alpha) in steps {
        gpu.step(&batch, Rate::constant(alpha), k)?;
        cpu.step(&batch, Rate::constant(alpha), k)?;
    }
    let (g, c) = (gpu.download()?, cpu.download()?);
    let tolerance = |g: f32, c: f32| match half {
        false => F32_TOLERANCE(c),
        // The f32 bound, and two half steps at the element's magnitude: one for the
        // rounding, one for the f32 differences it may tip.
        true => F32_TOLERANCE(c) + 2.0 * super::halfrows::ulp(g.abs().max(c.abs())) as f64,
    };
    let (input, moved_in) = measure_elements(&init.input, &g.input, &c.input, tolerance);
    let (output, moved_out) = measure_elements(&init.output, &g.output, &c.output, tolerance);
    let mut matrices = vec![("input", input, moved_in), ("output", output, moved_out)];
    if !half {
        matrices.extend(in_order(ctx, case, base)?.1);
    }
    Ok(Outcome {
        kernel: match half {
            true => format!("{}, f16 storage", gpu.kernel_name()),
            false => gpu.kernel_name(),
        },
        unit: "tolerances",
        bound: 1.0,
        matrices,
    })
}

/// The math probe's windows that share rows (CBOW's whole contexts: the conflict-free pairs
/// have one context word each), one workgroup in flight (`--gpu-in-flight 1`), so the GPU
/// applies them one after another in its run order and must compute the reference that
/// applies them so: one step of a 400-position Zipf batch over 2,000 words, every element
/// of every matrix within 2e-6 + 1e-5·|x|. For the chunk kernel, which keeps a copy of a row
/// per ring slot (a word twice in its ring differs from the reference by design), the batch
/// has no word twice within 2·window + 1 positions ([`spaced`]): consecutive windows still
/// share their context rows, each read after the windows before it changed it.
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
    let batches = match case.layer {
        Layer::Negative(Kernel::Chunk) => batches
            .into_iter()
            .map(|b| spaced(b, Shape::IN_ORDER.vocab, 2 * WINDOW + 1))
            .collect(),
        _ => batches,
    };
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
            let (off, moved) = measure_elements(i, g, c, |_, c| F32_TOLERANCE(c));
            out.push((name, off, moved));
        }
    }
    Ok((gpu.kernel_name(), out))
}

/// [`Probe::Math`] of the classifier ([`Layer::Classifier`]): three steps of 300 Zipf lines
/// (`classify_batch::zipf_steps`, blocks of 3 lines for softmax, 5 for logistic cells)
/// over 400 input rows of dim 24 and 7 labels, every weight within 2e-6 + 1e-5·|x| of the
/// reference's (`tests/parity_classifier.rs` says why).
fn classifier_math(ctx: GpuContext, case: Case, loss: CellLoss, local: bool) -> Result<Outcome> {
    const IN_ROWS: usize = 400;
    const DIM_C: usize = 24;
    const LINES: usize = 300;
    const LABELS: u32 = 7;
    let mut rng = Rng::new(7);
    let mut matrix = |rows: usize, scale: f32| -> Vec<f32> {
        (0..rows * DIM_C)
            .map(|_| (rng.next_f32() - 0.5) * scale)
            .collect()
    };
    let (input0, output0) = (matrix(IN_ROWS, 1.0), matrix(LABELS as usize, 0.5));
    let block = match loss {
        CellLoss::Softmax => 3,
        CellLoss::Sigmoid => 5,
    };
    let steps = zipf_steps(3, LINES, (IN_ROWS, LABELS), loss, block, 11);
    let limits = StepLimits {
        lines: LINES,
        rows: steps.iter().map(|s| s.rows.len()).max().unwrap_or(0),
        cells: steps.iter().map(|s| s.cells.len()).max().unwrap_or(0),
    };
    let options = ClassifierOptions {
        atomics: Some(case.atomics),
        reduce: Some(case.reduce),
        local_output: Some(local),
        ..ClassifierOptions::default()
    };
    let mut gpu = GpuClassifier::new(ctx, DIM_C, (&input0, &output0), loss, limits, options)?;
    let (mut input, mut output) = (input0.clone(), output0.clone());
    let mut grouping = Grouping::default();
    for s in &steps {
        gpu.step(s)?;
        grouping.build(s, IN_ROWS);
        classify_batch::reference_step(&mut input, &mut output, DIM_C, s, loss, &grouping);
    }
    let (mut gi, mut go) = (vec![0.0; input.len()], vec![0.0; output.len()]);
    gpu.download(&mut gi, &mut go)?;
    let t = |_: f32, c: f32| F32_TOLERANCE(c);
    let (off_in, moved_in) = measure_elements(&input0, &gi, &input, t);
    let (off_out, moved_out) = measure_elements(&output0, &go, &output, t);
    let (_, atomics, sums, place) = gpu.describe();
    Ok(Outcome {
        kernel: format!(
            "classifier, {} cells, labels in {place}, {atomics} atomics, {sums} sums",
            match loss {
                CellLoss::Softmax => "softmax",
                CellLoss::Sigmoid => "logistic",
            }
        ),
        unit: "tolerances",
        bound: 1.0,
        matrices: vec![("input", off_in, moved_in), ("output", off_out, moved_out)],
    })
}

/// A dm_concat model's four matrices ([`concat_model`]'s order).
type ConcatMatrices = [Vec<f32>; 4];

/// Input rows (words, the null word, documents) and output rows (words, tree nodes) of a
/// dm_concat model of `shape` with `docs` documents, drawn uniformly in ±`scale_in` / 2
/// and ±`scale_out` / 2 (0: zero).
fn concat_model(shape: ConcatShape, docs: usize, scale_in: f32, scale_out: f32) -> ConcatMatrices {
    let mut rng = Rng::new(7);
    let mut m = |rows: usize, len: usize, scale: f32| -> Vec<f32> {
        (0..rows * len)
            .map(|_| (rng.next_f32() - 0.5) * scale)
            .collect()
    };
    [
        m(shape.vocab + 1, shape.dim, scale_in),
        m(docs, shape.dim, scale_in),
        m(shape.vocab, shape.layer(), scale_out),
        m(shape.vocab - 1, shape.layer(), scale_out),
    ]
}

/// `steps` on the dm_concat kernel and on its reference, from `init`
/// ([`concat_model`]'s order): the GPU's matrices and the reference's, in that order.
fn concat_both(
    ctx: GpuContext,
    case: Case,
    shape: ConcatShape,
    init: &ConcatMatrices,
    steps: &[ConcatStep],
) -> Result<(String, ConcatMatrices, ConcatMatrices)> {
    let positions = steps.iter().map(|s| s.positions()).max().unwrap_or(0);
    let cells = steps.iter().map(|s| s.cells.len()).max().unwrap_or(0);
    let [words, docs, out, tree] = init;
    let options = ConcatOptions {
        atomics: Some(case.atomics),
        ..ConcatOptions::default()
    };
    let mut gpu = GpuConcat::new(
        ctx,
        shape,
        (&[words, docs], &[out, tree]),
        (positions, cells),
        options,
    )?;
    let mut input = [&words[..], &docs[..]].concat();
    let mut output = [&out[..], &tree[..]].concat();
    for s in steps {
        gpu.step(s)?;
        gpu.take_loss()?;
        concat_batch::reference_step(&mut input, &mut output, shape, s, false);
    }
    let mut g = init.clone();
    let [gw, gd, go, gt] = &mut g;
    gpu.download(&mut [gw, gd], &mut [go, gt])?;
    let (w, d) = input.split_at(words.len());
    let (o, t) = output.split_at(out.len());
    let c = [w.to_vec(), d.to_vec(), o.to_vec(), t.to_vec()];
    let kernel = format!(
        "dm_concat, window {}, {} atomics",
        shape.window,
        gpu.describe().1
    );
    Ok((kernel, g, c))
}

/// The matrices of [`concat_model`]'s order.
const CONCAT_MATRICES: [&str; 4] = ["input", "documents", "output", "tree nodes"];

/// [`Probe::Math`] of dm_concat: [`distinct_steps`] (no two positions share a row) over 300
/// words at dim 27, window 2, every element within 2e-6 + 1e-5·|x| of the reference's.
fn concat_math(ctx: GpuContext, case: Case) -> Result<Outcome> {
    let shape = ConcatShape {
        dim: 27,
        window: 2,
        vocab: 300,
    };
    // Input rows ±0.5, output rows ±0.25: logits of order one.
    let init = concat_model(shape, 120, 1.0, 0.5);
    let steps = distinct_steps(shape, 3);
    let (kernel, g, c) = concat_both(ctx, case, shape, &init, &steps)?;
    let matrices = (0..4)
        .map(|k| {
            let t = |_: f32, c: f32| F32_TOLERANCE(c);
            let (off, moved) = measure_elements(&init[k], &g[k], &c[k], t);
            (CONCAT_MATRICES[k], off, moved)
        })
        .collect();
    Ok(Outcome {
        kernel,
        unit: "tolerances",
        bound: 1.0,
        matrices,
    })
}

/// The adds probes of dm_concat ([`Probe::Output`], [`Probe::Input`]): two steps of 4,000
/// positions over 40 Zipf words and 8 documents (every row hot), each position its
/// document, its window's words (the null word at a step's edges), two tree nodes, the
/// centre word and five noise words, at the adds probes' rate with the checked side at
/// zero, so every gradient is ±α/2 whatever the kernel read (see the module notes).
fn concat_adds(ctx: GpuContext, case: Case) -> Result<Outcome> {
    const DOCS: usize = 8;
    let shape = ConcatShape {
        dim: DIM,
        window: 2,
        vocab: 40,
    };
    let vocab = shape.vocab as u32;
    let (n, w) = (Shape::ADDS.positions, shape.window);
    let mut rng = Rng::new(13);
    let steps: Vec<ConcatStep> = (0..Shape::ADDS.steps)
        .map(|_| {
            let tokens: Vec<u32> = (0..n).map(|_| rng.zipf_below(vocab)).collect();
            let mut s = ConcatStep::default();
            for p in 0..n {
                let mut inputs = vec![vocab + 1 + (p * DOCS / n) as u32];
                for q in (p as isize - w as isize..=(p + w) as isize).filter(|&q| q != p as isize) {
                    inputs.push(match q >= 0 && (q as usize) < n {
                        true => tokens[q as usize],
                        false => vocab, // the null word
                    });
                }
                // A node's label is its row's parity, so that its adds do not cancel.
                let mut cells: Vec<(u32, bool)> = (0..2)
                    .map(|_| vocab + rng.zipf_below(vocab - 1))
                    .map(|node| (node, node % 2 == 0))
                    .collect();
                cells.push((tokens[p], true));
                cells.extend((0..NEGATIVE).map(|_| (rng.zipf_below(vocab), false)));
                s.push(&inputs, cells, RATE);
            }
            s
        })
        .collect();
    // Word2vec's input rows (±0.5/dim) on the unchecked side.
    let scale = 1.0 / DIM as f32;
    let init = match case.probe {
        Probe::Output => concat_model(shape, DOCS, scale, 0.0),
        _ => concat_model(shape, DOCS, 0.0, scale),
    };
    let (kernel, g, c) = concat_both(ctx, case, shape, &init, &steps)?;
    // One add to a row (of DIM: output rows are compared a slot at a time) is α/2 times a
    // row of the other side.
    let (checked, other) = match case.probe {
        Probe::Output => (2..4, [&init[0][..], &init[1][..]].concat()),
        _ => (0..2, [&init[2][..], &init[3][..]].concat()),
    };
    let unit = 0.5 * RATE as f64 * rms_norm(&other);
    let matrices = checked
        .map(|k| {
            let (off, size) = compare(&init[k], &g[k], &c[k], unit);
            (CONCAT_MATRICES[k], off, size)
        })
        .collect();
    Ok(Outcome {
        kernel,
        unit: "updates",
        bound: BOUND,
        matrices,
    })
}

/// `batch` with every word that is also one of the `span − 1` tokens before it replaced by
/// the next word of the vocabulary that is not: no word twice within `span` positions.
fn spaced(mut batch: Batch, vocab: usize, span: usize) -> Batch {
    for p in 0..batch.tokens.len() {
        if batch.tokens[p] == SENTENCE_END {
            continue;
        }
        let before = p.saturating_sub(span - 1)..p;
        let mut t = batch.tokens[p];
        while batch.tokens[before.clone()].contains(&t) {
            t = (t + 1) % vocab as u32;
        }
        batch.tokens[p] = t;
    }
    batch
}

/// The negative-sampling kernels' tolerance for element `x`, as in the parity tests.
const F32_TOLERANCE: fn(f32) -> f64 = |x| 2e-6 + 1e-5 * x.abs() as f64;

/// The worst element of `g` against `c` and the largest change of `c` from `init`, both
/// in `tolerance(g, c)`s of each element.
fn measure_elements(
    init: &[f32],
    g: &[f32],
    c: &[f32],
    tolerance: impl Fn(f32, f32) -> f64,
) -> (f64, f64) {
    let mut worst = (0.0f64, 0.0f64);
    for (k, (&g, &c)) in g.iter().zip(c).enumerate() {
        let i = init.get(k).copied().unwrap_or(0.0);
        let t = tolerance(g, c);
        worst.0 = worse(worst.0, (g - c).abs() as f64 / t);
        worst.1 = worst.1.max((c - i).abs() as f64 / t);
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
    let tolerance = |_: f32, x: f32| 3e-5 + 1e-4 * x.abs() as f64;
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

    /// A spaced batch has no word twice within the span, and keeps its sentence ends.
    #[test]
    fn spaced_batches_repeat_no_word_within_the_span() {
        let b = Batch::zipf(50, 2000, 4);
        let ends = b.tokens.iter().filter(|&&t| t == SENTENCE_END).count();
        let s = spaced(b, 50, 11);
        assert_eq!(
            s.tokens.iter().filter(|&&t| t == SENTENCE_END).count(),
            ends
        );
        for w in s.tokens.windows(11) {
            let words: Vec<u32> = w.iter().copied().filter(|&t| t != SENTENCE_END).collect();
            let distinct: std::collections::HashSet<u32> = words.iter().copied().collect();
            assert_eq!(distinct.len(), words.len(), "{w:?}");
            assert!(words.iter().all(|&t| t < 50));
        }
    }

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
