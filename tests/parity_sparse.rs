//! The sparse optimizer kernels (`shaders/sparse.wgsl`) against the CPU reference
//! (`CpuSparse`): same model, same optimizer state, same minibatches (built once on the
//! host), compared after several steps — weights, optimizer state and Adam's per-row counts.
//!
//! The minibatches come from a Zipf-distributed corpus, so frequent rows occur in many
//! examples of a step: both engines sum those gradients in example order before the row's
//! single update. What differs is float rounding only: the order of a dot product's terms,
//! the GPU's `exp`/`log`, and fused multiply-adds. Tolerance per element: 3e-5 absolute +
//! 1e-4 relative on weights and state (values O(0.01–1); a single reordered f32 sum of ~100
//! terms is off by ~1e-6 relative, Adam's division by √v̂ can amplify that by ~10×). Update
//! counts must match exactly, and every row outside the minibatches must be bit-identical
//! to its starting value on both.

mod common;

use w2v_gpu::backend::cpu_sparse::CpuSparse;
use w2v_gpu::backend::gpu::sparse::GpuSparse;
use w2v_gpu::backend::{KernelParams, Matrix, SparseBackend, SyncRows};
use w2v_gpu::config::ModelKind;
use w2v_gpu::minibatch::{Minibatch, MinibatchBuilder};
use w2v_gpu::model::Model;
use w2v_gpu::optim::{OptimParams, OptimState, OptimizerKind};
use w2v_gpu::sampling::Rng;
use w2v_gpu::subword::{SubwordParams, SubwordTable};

const VOCAB: usize = 400;

fn random_model(dim: usize, seed: u64) -> Model {
    let mut m = Model::new(VOCAB, dim, seed);
    let mut rng = Rng::new(seed + 1);
    m.output
        .iter_mut()
        .for_each(|x| *x = (rng.next_f32() - 0.5) * 0.5);
    m.input.iter_mut().for_each(|x| *x *= 20.0);
    m
}

/// Minibatches over a Zipf token stream; the rarest quarter of the vocabulary never occurs
/// (and the noise table excludes it), so untouched rows exist.
fn minibatches(p: &KernelParams, n: usize, centres: usize) -> Vec<Minibatch> {
    minibatches_with(
        MinibatchBuilder::new(p.model, p.window, p.negative, VOCAB),
        n,
        centres,
    )
}

/// [`minibatches`] from builder `b` (with or without subwords).
fn minibatches_with(mut b: MinibatchBuilder, n: usize, centres: usize) -> Vec<Minibatch> {
    b.zipf_minibatches(VOCAB * 3 / 4, n, centres, 11)
}

fn assert_close(what: &str, gpu: &[f32], cpu: &[f32], start: &[f32]) {
    assert_close_within(what, gpu, cpu, start, 3e-5)
}

/// [`assert_close`] with absolute tolerance `abs` (plus 1e-4 relative).
fn assert_close_within(what: &str, gpu: &[f32], cpu: &[f32], start: &[f32], abs: f32) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: length");
    let mut worst = (0.0f32, 0usize);
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let err = (g - c).abs();
        assert!(
            err <= abs + 1e-4 * c.abs(),
            "{what}[{i}]: gpu {g} cpu {c} (start {})",
            start.get(i).copied().unwrap_or(0.0)
        );
        if err > worst.0 {
            worst = (err, i);
        }
    }
    eprintln!("{what}: max |gpu − cpu| = {:.3e}", worst.0);
}

/// The kernels' shape (window 3, 4 noise words) and lazy `kind` with its default betas.
fn shapes(kind: OptimizerKind, model: ModelKind, dim: usize) -> (KernelParams, OptimParams) {
    let params = KernelParams {
        precision: w2v_gpu::config::Precision::F32,
        model,
        dim,
        window: 3,
        negative: 4,
    };
    (params, OptimParams::defaults(kind))
}

fn run(kind: OptimizerKind, model: ModelKind, dim: usize, max_binding: Option<u64>) {
    run_with(kind, model, dim, max_binding, None, false)
}

/// [`run`], with `subwords` the engine's fastText bags: the input matrix holds the
/// vocabulary's rows and then the bucket rows (as `SubwordSparse` hands them to either
/// engine), and each example's input is a word's bag of its own row and its n-gram rows;
/// with `dense` both engines in `--dense-optimizer` mode (every row updated every step).
fn run_with(
    kind: OptimizerKind,
    model: ModelKind,
    dim: usize,
    max_binding: Option<u64>,
    subwords: Option<SubwordParams>,
    dense: bool,
) {
    let Some(ctx) = common::gpu_or_skip("sparse parity") else {
        return;
    };
    let again = common::gpu_or_skip("sparse parity").expect("second device");
    let (params, opt) = shapes(kind, model, dim);
    let opt = OptimParams { dense, ..opt };
    let mut start = random_model(dim, 5);
    let mut builder = MinibatchBuilder::new(params.model, params.window, params.negative, VOCAB);
    let mut bag = 1;
    if let Some(p) = subwords {
        // Words of 2 to 9 letters, so bags differ in length and share n-grams.
        let mut rng = Rng::new(17);
        let words: Vec<String> = (0..VOCAB)
            .map(|r| {
                let len = 2 + rng.below(8) as usize;
                let mut w: String = (0..len)
                    .map(|_| (b'a' + rng.below(6) as u8) as char)
                    .collect();
                w.push_str(&r.to_string());
                w
            })
            .collect();
        let table = SubwordTable::new(&words, &p);
        bag = table.max_bag();
        assert!(bag > 5, "bags of several rows");
        start = start.with_subwords(p.bucket, 9).merged_subwords();
        builder = builder.with_subwords(table, p.bucket);
    }
    let in_rows = start.input.len() / dim;
    let state = OptimState::with_rows(kind, in_rows, VOCAB, dim);
    let batches = minibatches_with(builder, 4, 96);
    let mut cpu = CpuSparse::new(start.clone(), state.clone(), opt);
    let mut gpu = GpuSparse::new(ctx, &start, &state, params, opt, 96 + 40, bag, max_binding)
        .expect("GPU sparse backend");
    if max_binding.is_some() {
        assert!(
            gpu.split().parts > 1,
            "the forced limit must split the records"
        );
    }
    let lr = 0.01;
    for mb in &batches {
        cpu.step(mb, lr).unwrap();
        gpu.step(mb, lr).unwrap();
    }
    let (cl, gl) = (cpu.take_loss().unwrap().unwrap(), gpu.take_loss().unwrap());
    let gl = gl.expect("GPU loss");
    // The GPU reports the loss of the last step; compare that step's mean.
    let mut last = CpuSparse::new(start.clone(), state.clone(), opt);
    for mb in &batches[..batches.len() - 1] {
        last.step(mb, lr).unwrap();
    }
    last.take_loss().unwrap();
    last.step(batches.last().unwrap(), lr).unwrap();
    let ll = last.take_loss().unwrap().unwrap();
    assert_eq!(gl.terms, ll.terms, "loss terms");
    assert!(
        (gl.mean().unwrap() - ll.mean().unwrap()).abs() < 1e-4,
        "loss {:?} vs {:?}",
        gl.mean(),
        ll.mean()
    );
    assert!(cl.terms > ll.terms);

    let (gm, gs) = gpu.download().unwrap();
    // No atomics: the same steps give the same bits on the same adapter.
    let mut twin = GpuSparse::new(
        again,
        &start,
        &state,
        params,
        opt,
        96 + 40,
        bag,
        max_binding,
    )
    .unwrap();
    for mb in &batches {
        twin.step(mb, lr).unwrap();
    }
    assert!(
        twin.download().unwrap() == (gm.clone(), gs.clone()),
        "GPU run not repeatable"
    );
    let tag = format!(
        "{kind:?} {model:?} d{dim}{}{}",
        if subwords.is_some() { " subwords" } else { "" },
        if dense { " dense" } else { "" }
    );
    if dense {
        // The rows a step leaves out moved (Adam) or their state decayed (RMSprop): the
        // dense run is not the lazy one, so `decay` is what the comparison below checks.
        let mut lazy = CpuSparse::new(
            start.clone(),
            state.clone(),
            OptimParams {
                dense: false,
                ..opt
            },
        );
        for mb in &batches {
            lazy.step(mb, lr).unwrap();
        }
        let differs = match kind {
            OptimizerKind::Adam => lazy.model != cpu.model,
            _ => lazy.state.input != cpu.state.input,
        };
        assert!(differs, "{tag}: dense must differ from lazy");
    }
    // Adam's first step moves an element by lr·g/(|g| + ε): where a gradient element is
    // near ε (1e-8) — common in the mean of a CBOW window's subword bags, ~100 rows —
    // rounding in g moves the step by up to a few percent of lr. The weights are then held
    // to 1% of one step at this lr (1e-4); the optimizer state, which does not divide, to
    // the plain tolerance (measured: weights 4.3e-5, state 2e-7).
    let abs = if kind == OptimizerKind::Adam && subwords.is_some() {
        lr / 100.0
    } else {
        3e-5
    };
    assert_close_within(
        &format!("{tag} input"),
        &gm.input,
        &cpu.model.input,
        &start.input,
        abs,
    );
    assert_close_within(
        &format!("{tag} output"),
        &gm.output,
        &cpu.model.output,
        &start.output,
        abs,
    );
    assert_close(
        &format!("{tag} input state"),
        &gs.input,
        &cpu.state.input,
        &[],
    );
    assert_close(
        &format!("{tag} output state"),
        &gs.output,
        &cpu.state.output,
        &[],
    );
    assert_eq!(gs.input_steps, cpu.state.input_steps, "{tag}: input counts");
    assert_eq!(
        gs.output_steps, cpu.state.output_steps,
        "{tag}: output counts"
    );
    // Untouched rows: exactly as they started, on both.
    let used_in: std::collections::HashSet<u32> =
        batches.iter().flat_map(|b| b.in_rows.clone()).collect();
    let mut untouched = 0;
    for r in 0..in_rows {
        if !used_in.contains(&(r as u32)) {
            let row = r * dim..(r + 1) * dim;
            assert_eq!(
                gm.input[row.clone()],
                start.input[row.clone()],
                "{tag} row {r}"
            );
            assert_eq!(
                cpu.model.input[row.clone()],
                start.input[row],
                "{tag} row {r}"
            );
            untouched += 1;
        }
    }
    assert!(untouched > 0, "the test needs rows outside the minibatches");
    if subwords.is_some() {
        assert!(
            used_in.iter().any(|&r| r as usize >= VOCAB),
            "{tag}: bucket rows trained"
        );
    }
    // Rows used by several examples of one step exist (the case being tested).
    let b = &batches[0];
    assert!(b.inputs.len() > b.in_rows.len() * 2);
}

#[test]
fn adam_skipgram_matches_cpu() {
    run(OptimizerKind::Adam, ModelKind::SkipGram, 40, None);
}

#[test]
fn adam_cbow_matches_cpu() {
    run(OptimizerKind::Adam, ModelKind::Cbow, 70, None);
}

#[test]
fn adagrad_matches_cpu() {
    run(OptimizerKind::Adagrad, ModelKind::SkipGram, 100, None);
}

#[test]
fn rmsprop_matches_cpu() {
    run(OptimizerKind::Rmsprop, ModelKind::Cbow, 33, None);
}

/// Subword bags (`--subwords` with the minibatch engine): both models, Adam (state and
/// per-row counts over the bucket rows too) and SGD (`--deterministic`, whole-bag
/// gradients), and the bucket rows split over several bindings.
#[test]
fn subword_bags_match_cpu() {
    let p = SubwordParams {
        minn: 2,
        maxn: 4,
        bucket: 300,
    };
    run_with(
        OptimizerKind::Adam,
        ModelKind::SkipGram,
        40,
        None,
        Some(p),
        false,
    );
    run_with(
        OptimizerKind::Adam,
        ModelKind::Cbow,
        33,
        None,
        Some(p),
        false,
    );
    run_with(
        OptimizerKind::Sgd,
        ModelKind::SkipGram,
        24,
        None,
        Some(p),
        false,
    );
    run_with(
        OptimizerKind::Sgd,
        ModelKind::Cbow,
        24,
        None,
        Some(p),
        false,
    );
    // 700 input rows of 2 × 24 floats (Adagrad) over 40 KiB bindings: four parts, the
    // bucket rows in the second to the fourth.
    run_with(
        OptimizerKind::Adagrad,
        ModelKind::SkipGram,
        24,
        Some(40 * 1024),
        Some(p),
        false,
    );
}

/// Records split over several bindings (forced small limit): 400 rows × 3 × 24 floats.
#[test]
fn adam_split_bindings_match_cpu() {
    run(
        OptimizerKind::Adam,
        ModelKind::SkipGram,
        24,
        Some(40 * 1024),
    );
}

/// `--dense-optimizer` on the GPU: `apply` with the run's step count for Adam, then
/// `decay` for every row the step left out, against the CPU's dense mode.
#[test]
fn dense_mode_matches_cpu() {
    run_with(
        OptimizerKind::Adam,
        ModelKind::SkipGram,
        40,
        None,
        None,
        true,
    );
    run_with(
        OptimizerKind::Rmsprop,
        ModelKind::Cbow,
        33,
        None,
        None,
        true,
    );
    // Split records: decay's rows cross the bindings.
    run_with(
        OptimizerKind::Adam,
        ModelKind::Cbow,
        24,
        Some(40 * 1024),
        None,
        true,
    );
}

/// Minibatch SGD (what `--deterministic` trains with for `--optimizer sgd`).
#[test]
fn sgd_matches_cpu() {
    run(OptimizerKind::Sgd, ModelKind::SkipGram, 50, None);
    run(OptimizerKind::Sgd, ModelKind::Cbow, 50, None);
}

/// A distributed sync's row access on the minibatch engine's records, split over several
/// bindings: `begin_read` returns the weights as they stood when it was called although a
/// step ran before `finish_reads`; `add_rows` adds exactly (one f32 addition per element)
/// and `write_rows` writes exactly the weights of the rows named; the optimizer state and
/// every other row stay as the step left them.
#[test]
fn sync_row_access_on_split_records_touches_weights_only() {
    let Some(ctx) = common::gpu_or_skip("sync_row_access_on_split_records_touches_weights_only")
    else {
        return;
    };
    let (dim, kind) = (24, OptimizerKind::Adam);
    let (params, opt) = shapes(kind, ModelKind::SkipGram, dim);
    let start = random_model(dim, 5);
    let state = OptimState::new(kind, VOCAB, dim);
    let mut gpu = GpuSparse::new(
        ctx,
        &start,
        &state,
        params,
        opt,
        96 + 40,
        1,
        Some(40 * 1024),
    )
    .unwrap();
    let rpp = gpu.split().rows_per_part;
    assert!(
        gpu.split().parts > 1,
        "the forced limit must split the records"
    );
    // A range across the first binding boundary.
    let (lo, hi) = (rpp - 5, rpp + 7);
    gpu.begin_read(Matrix::Input, lo, hi).unwrap();
    gpu.begin_read(Matrix::Output, 0, VOCAB).unwrap();
    assert!(
        gpu.begin_read(Matrix::Tree, 0, 1).is_err(),
        "no tree to read"
    );
    gpu.step(&minibatches(&params, 1, 96)[0], 0.01).unwrap();
    let reads = gpu.finish_reads().unwrap();
    assert_eq!(reads[0], start.input[lo * dim..hi * dim].to_vec());
    assert_eq!(reads[1], start.output);
    let (stepped, stepped_state) = gpu.download().unwrap();
    assert_ne!(stepped.output, start.output, "the step must have trained");
    let add: Vec<f32> = (0..(hi - lo) * dim)
        .map(|i| i as f32 * 0.25 - 2.0)
        .collect();
    let put: Vec<f32> = (0..(hi - lo) * dim)
        .map(|i| 1.5 - i as f32 * 0.125)
        .collect();
    gpu.add_rows(Matrix::Output, lo, &add).unwrap();
    gpu.write_rows(Matrix::Input, lo, &put).unwrap();
    let (after, after_state) = gpu.download().unwrap();
    let added: Vec<f32> = stepped.output[lo * dim..hi * dim]
        .iter()
        .zip(&add)
        .map(|(x, c)| x + c)
        .collect();
    assert_eq!(after.output[lo * dim..hi * dim], added[..]);
    assert_eq!(after.input[lo * dim..hi * dim], put[..]);
    for (m, s) in [
        (&after.input, &stepped.input),
        (&after.output, &stepped.output),
    ] {
        assert_eq!(m[..lo * dim], s[..lo * dim]);
        assert_eq!(m[hi * dim..], s[hi * dim..]);
    }
    assert!(after_state == stepped_state, "the optimizer state changed");
}
