//! The dm_concat kernel (`shaders/concat.wgsl`, `doc2vec --dm-concat` on a GPU) against its
//! CPU reference (`concat_batch::reference_step`) on the real shaders (lavapipe in CI), with
//! both kinds of atomic adds and matrices split over bindings.
//!
//! Tolerance when no two positions of a step share a row: 2e-6 + 1e-5·|x| per weight. The
//! kernel and the reference then compute the same sums in the same order except each
//! logit's dot product (64 lanes' partial sums, then a tree), a few ulps of its terms; a
//! lost or doubled add would move a weight by a whole update. When every position shares
//! its rows (the hot-row test), positions run side by side and read rows the others are
//! changing; the result is held to a fraction of the update the reference makes, below
//! what one position's lost update would move it by.

mod common;

use w2v_gpu::backend::gpu::concat::{ConcatOptions, GpuConcat};
use w2v_gpu::backend::gpu::shaders::{Atomics, Reduce};
use w2v_gpu::concat_batch::{reference_step, ConcatShape, ConcatStep};
use w2v_gpu::sampling::Rng;

const SHAPE: ConcatShape = ConcatShape {
    dim: 27,
    window: 2,
    vocab: 300,
};
/// Input rows: 300 words, the null word, 200 documents.
const IN_ROWS: usize = 501;
/// Output rows: 300 words, 299 tree nodes.
const OUT_ROWS: usize = 599;

/// Word rows (with the null word's), document rows, output rows, tree rows.
type Matrices = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);
/// An input and an output matrix.
type Pair = (Vec<f32>, Vec<f32>);

fn matrices(seed: u64) -> Matrices {
    let mut rng = Rng::new(seed);
    let mut m = |n: usize, scale: f32| -> Vec<f32> {
        (0..n).map(|_| (rng.next_f32() - 0.5) * scale).collect()
    };
    // Positive input rows, so that the all-3 tree node below saturates every logit.
    let words: Vec<f32> = m((SHAPE.vocab + 1) * SHAPE.dim, 1.0)
        .iter()
        .map(|x| x.abs())
        .collect();
    let docs: Vec<f32> = m((IN_ROWS - SHAPE.vocab - 1) * SHAPE.dim, 1.0)
        .iter()
        .map(|x| x.abs())
        .collect();
    let out = m(SHAPE.vocab * SHAPE.layer(), 0.5);
    let mut tree = m((OUT_ROWS - SHAPE.vocab) * SHAPE.layer(), 0.5);
    // One node whose logit saturates: scored, not updated.
    tree[..SHAPE.layer()].fill(3.0);
    (words, docs, out, tree)
}

/// How a run builds the kernel: its atomics, a forced binding limit, inference.
#[derive(Clone, Copy)]
struct Run {
    atomics: Atomics,
    max_binding: Option<u64>,
    frozen: bool,
}

impl Run {
    fn with(atomics: Atomics) -> Run {
        Run {
            atomics,
            max_binding: None,
            frozen: false,
        }
    }
}

fn gpu(
    ctx: w2v_gpu::backend::gpu::GpuContext,
    (words, docs, out, tree): &Matrices,
    run: Run,
) -> GpuConcat {
    GpuConcat::new(
        ctx,
        SHAPE,
        (&[words, docs], &[out, tree]),
        (512, 512 * 40),
        ConcatOptions {
            atomics: Some(run.atomics),
            max_binding: run.max_binding,
            frozen: run.frozen,
            ..ConcatOptions::default()
        },
    )
    .expect("GPU dm_concat engine")
}

/// Runs `steps` on the GPU and on the reference; returns (GPU, reference) input and output
/// matrices and the last step's losses.
fn both(
    ctx: w2v_gpu::backend::gpu::GpuContext,
    init: &Matrices,
    steps: &[ConcatStep],
    run: Run,
) -> (Pair, Pair, (f64, f64)) {
    let mut g = gpu(ctx, init, run);
    if run.max_binding.is_some() {
        assert!(
            g.split().parts >= 3,
            "the forced limit must split the matrices"
        );
    }
    let (words, docs, out, tree) = init.clone();
    let mut input: Vec<f32> = [words, docs].concat();
    let mut output: Vec<f32> = [out, tree].concat();
    let mut last = (0.0, 0.0);
    for s in steps {
        g.step(s).unwrap();
        let l = g.take_loss().unwrap().unwrap();
        let r = reference_step(&mut input, &mut output, SHAPE, s, run.frozen);
        assert_eq!(l.terms, r.terms, "loss terms");
        last = (l.sum, r.sum);
    }
    let (mut w, mut d, mut o, mut t) = init.clone();
    g.download(&mut [&mut w, &mut d], &mut [&mut o, &mut t])
        .unwrap();
    (([w, d].concat(), [o, t].concat()), (input, output), last)
}

fn close(name: &str, g: &[f32], c: &[f32]) {
    common::assert_within(name, g, c, |_, c| 2e-6 + 1e-5 * c.abs());
}

/// [`distinct_steps`] of `SHAPE`.
fn distinct_steps() -> Vec<ConcatStep> {
    w2v_gpu::concat_batch::distinct_steps(SHAPE, 3)
}

#[test]
fn distinct_rows_match_the_reference() {
    for atomics in Atomics::ALL {
        let name = format!("concat distinct {atomics:?}");
        let Some(ctx) = common::open_for(&name, atomics, Reduce::Serial) else {
            continue;
        };
        let init = matrices(7);
        let steps = distinct_steps();
        let ((gi, go), (ci, co), (lg, lc)) = both(ctx, &init, &steps, Run::with(atomics));
        let start_out = [init.2.clone(), init.3.clone()].concat();
        assert_ne!(co, start_out, "{name}: the reference trains");
        assert_eq!(
            co[SHAPE.vocab * SHAPE.layer()..(SHAPE.vocab + 1) * SHAPE.layer()],
            start_out[SHAPE.vocab * SHAPE.layer()..(SHAPE.vocab + 1) * SHAPE.layer()],
            "{name}: the saturated node stays"
        );
        close(&format!("{name} input"), &gi, &ci);
        close(&format!("{name} output"), &go, &co);
        assert!(
            (lg - lc).abs() <= 1e-4 * lc.abs(),
            "{name}: loss {lg} vs {lc}"
        );
    }
}

/// Inference (`infer --backend vulkan` on a dm_concat model): only each position's
/// document row learns; the word, output and tree rows stay exactly as they were.
#[test]
fn frozen_trains_the_document_rows_alone() {
    for atomics in Atomics::ALL {
        let name = format!("concat frozen {atomics:?}");
        let Some(ctx) = common::open_for(&name, atomics, Reduce::Serial) else {
            continue;
        };
        let init = matrices(10);
        let run = Run {
            frozen: true,
            ..Run::with(atomics)
        };
        let ((gi, go), (ci, co), _) = both(ctx, &init, &distinct_steps(), run);
        let start_out = [init.2.clone(), init.3.clone()].concat();
        assert_eq!(go, start_out, "{name}: output rows untouched");
        assert_eq!(co, start_out, "{name}: and on the reference");
        let words = (SHAPE.vocab + 1) * SHAPE.dim;
        assert_eq!(gi[..words], init.0[..], "{name}: word rows untouched");
        assert_ne!(ci[words..], init.1[..], "{name}: the documents learn");
        close(&format!("{name} documents"), &gi[words..], &ci[words..]);
    }
}

/// Matrices split over several bindings (a 96 KiB limit): rows on both sides of each
/// boundary.
#[test]
fn split_bindings_match_the_reference() {
    let name = "concat split";
    let Some(ctx) = common::open_for(name, Atomics::Native, Reduce::Serial) else {
        return;
    };
    let init = matrices(8);
    let run = Run {
        max_binding: Some(96 << 10),
        ..Run::with(Atomics::Native)
    };
    let ((gi, go), (ci, co), _) = both(ctx, &init, &distinct_steps(), run);
    close("concat split input", &gi, &ci);
    close("concat split output", &go, &co);
}

/// Every position of a step reads and adds to the same rows (one document, the same
/// context, the same cells): the adds of all 256 positions land (atomics): the result stays
/// closer to the reference than a quarter of what one position's update left out moves it
/// by (stale reads at this rate cost far less).
#[test]
fn hot_rows_lose_no_update() {
    for atomics in Atomics::ALL {
        let name = format!("concat hot rows {atomics:?}");
        let Some(ctx) = common::open_for(&name, atomics, Reduce::Serial) else {
            continue;
        };
        let init = matrices(9);
        let mut s = ConcatStep::default();
        let inputs = [SHAPE.vocab as u32 + 1, 4, 5, 6, 7];
        for _ in 0..256 {
            s.push(
                &inputs,
                [(400, true), (9, true), (10, false), (11, false)],
                0.0002,
            );
        }
        let ((gi, go), (ci, co), _) =
            both(ctx, &init, std::slice::from_ref(&s), Run::with(atomics));
        let start_in = [init.0.clone(), init.1.clone()].concat();
        let start_out = [init.2.clone(), init.3.clone()].concat();
        let dist = |a: &[f32], b: &[f32]| -> f64 {
            a.iter()
                .zip(b)
                .map(|(x, y)| ((x - y) as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        // One position fewer on the reference: the size of a lost update.
        let mut short = s.clone();
        short.inputs.truncate(255 * SHAPE.slots());
        short.offsets.truncate(256);
        short.cells.truncate(255 * 4);
        short.rates.truncate(255);
        let (mut li, mut lo) = (start_in.clone(), start_out.clone());
        reference_step(&mut li, &mut lo, SHAPE, &short, false);
        for (what, g, c, start, lost) in [
            ("input", &gi, &ci, &start_in, &li),
            ("output", &go, &co, &start_out, &lo),
        ] {
            let update = dist(c, start);
            let off = dist(g, c) / update;
            let one = dist(lost, c) / update;
            eprintln!("{name} {what}: GPU off by {off:.2e} of the update, one position {one:.2e}");
            assert!(
                off < one / 4.0,
                "{name} {what}: GPU off the reference by {off} of the update, one position's is {one}"
            );
        }
    }
}
