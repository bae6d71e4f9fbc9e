//! The GPU classifier's kernels (`shaders/classify.wgsl`) against their CPU reference
//! (`classify_batch::reference_step`) on the real shaders (lavapipe in CI), for softmax
//! and logistic cells, both atomics, both dot-product reductions, label blocks of one line
//! and of several, matrices split over bindings.
//!
//! Tolerance: 2e-6 + 1e-5·|x| per weight after three steps. The kernels and the reference
//! add in the same order everywhere but two places: a dot product's partial sums (lanes
//! of a segment, then a butterfly) and the order in which the several groups of one input
//! row land (atomic adds). Both move a sum by a few ulps of its terms; 1e-5 relative is
//! ~100 ulps, far below any real difference (a lost or doubled add moves a weight by a
//! whole update, ≥ 1e-3 here).

mod common;

use w2v_gpu::backend::gpu::classify::{ClassifierOptions, GpuClassifier, StepLimits};
use w2v_gpu::backend::gpu::shaders::{Atomics, Reduce};
use w2v_gpu::classify_batch::{reference_step, zipf_steps, CellLoss, Grouping};
use w2v_gpu::sampling::Rng;

const IN_ROWS: usize = 400;

fn matrix(rows: usize, dim: usize, scale: f32, rng: &mut Rng) -> Vec<f32> {
    (0..rows * dim)
        .map(|_| (rng.next_f32() - 0.5) * scale)
        .collect()
}

fn assert_close(name: &str, gpu: &[f32], cpu: &[f32], before: &[f32]) {
    common::assert_within(name, gpu, cpu, |_, c| 2e-6 + 1e-5 * c.abs());
    // The steps changed the matrix: the comparison is not of two untouched copies.
    let moved = cpu.iter().zip(before).filter(|(a, b)| a != b).count();
    assert!(moved > cpu.len() / 4, "{name}: only {moved} weights moved");
}

fn case(
    name: &str,
    loss: CellLoss,
    (dim, lines, block): (usize, usize, u32),
    max_binding: Option<u64>,
    cap: u32,
) {
    let labels = 7u32;
    for atomics in Atomics::ALL {
        for (reduce, local) in [(Reduce::Serial, false), (Reduce::Subgroup, true)] {
            let name = format!("{name} {atomics:?} {reduce:?} output in workgroup memory {local}");
            let Some(ctx) = common::open_for(&name, atomics, reduce) else {
                continue;
            };
            let mut rng = Rng::new(7);
            let input0 = matrix(IN_ROWS, dim, 1.0, &mut rng);
            let output0 = matrix(labels as usize, dim, 0.5, &mut rng);
            let steps = zipf_steps(3, lines, (IN_ROWS, labels), loss, block, 11);
            let limits = StepLimits {
                lines,
                rows: steps.iter().map(|s| s.rows.len()).max().unwrap(),
                cells: steps.iter().map(|s| s.cells.len()).max().unwrap(),
            };
            let options = ClassifierOptions {
                atomics: Some(atomics),
                reduce: Some(reduce),
                max_binding,
                local_output: Some(local),
                rows_flag: None,
            };
            let mut gpu = GpuClassifier::new(ctx, dim, (&input0, &output0), loss, limits, options)
                .expect("GPU classifier");
            gpu.set_row_cap(cap);
            if max_binding.is_some() {
                assert!(
                    gpu.split().parts > 1,
                    "{name}: the input matrix should be split"
                );
            }
            let (mut input, mut output) = (input0.clone(), output0.clone());
            let mut grouping = Grouping::default();
            grouping.cap = cap;
            let mut cpu_loss = 0.0;
            for s in &steps {
                gpu.step(s).expect("GPU step");
                grouping.build(s, IN_ROWS);
                cpu_loss += reference_step(&mut input, &mut output, dim, s, loss, &grouping);
            }
            let (gpu_loss, n) = gpu.loss().expect("loss");
            assert_eq!(n as usize, 3 * lines, "{name}: lines counted");
            assert!(
                (gpu_loss - cpu_loss).abs() <= 1e-4 * cpu_loss.abs() + 1e-3,
                "{name}: loss {gpu_loss} vs {cpu_loss}"
            );
            let (mut gi, mut go) = (vec![0.0; input.len()], vec![0.0; output.len()]);
            gpu.download(&mut gi, &mut go).expect("download");
            assert_close(&format!("{name} input"), &gi, &input, &input0);
            assert_close(&format!("{name} output"), &go, &output, &output0);
        }
    }
}

#[test]
fn softmax_line_by_line_matches_reference() {
    case("softmax block 1", CellLoss::Softmax, (24, 64, 1), None, 0);
}

#[test]
fn logistic_cells_in_blocks_match_reference() {
    // Blocks of 5 lines (the last one short), noise labels repeated within a line.
    case("logistic block 5", CellLoss::Sigmoid, (33, 63, 5), None, 0);
}

#[test]
fn many_lines_and_split_matrices_match_reference() {
    // 300 lines a step: the frequent rows have dozens of groups; 100 input rows per
    // binding, so the input matrix takes four; rows in more than 8 lines are scaled.
    let binding = Some(100 * 16 * 4);
    case("softmax split", CellLoss::Softmax, (16, 300, 3), binding, 8);
}

/// Input rows the bindings cannot hold are refused before anything runs, naming the flag
/// that sets how many there are: `-bucket` for `supervised`, the caller's (`quantize`'s
/// `-cutoff`) when it names one.
#[test]
fn rows_that_do_not_fit_name_their_flag() {
    let mut rng = Rng::new(5);
    let (dim, labels) = (8, 4);
    let input = matrix(IN_ROWS, dim, 0.1, &mut rng);
    let output = matrix(labels, dim, 0.1, &mut rng);
    let limits = StepLimits {
        lines: 4,
        rows: 16,
        cells: 16,
    };
    for (rows_flag, named) in [(None, "-bucket"), (Some("-cutoff"), "-cutoff")] {
        let Some(ctx) = common::gpu_or_skip("rows_that_do_not_fit_name_their_flag") else {
            return;
        };
        // 1 KiB bindings hold 4 × 32 rows of 8 floats, fewer than IN_ROWS.
        let options = ClassifierOptions {
            max_binding: Some(1024),
            rows_flag,
            ..ClassifierOptions::default()
        };
        let e = GpuClassifier::new(
            ctx,
            dim,
            (&input, &output),
            CellLoss::Softmax,
            limits,
            options,
        )
        .err()
        .expect("the rows do not fit")
        .to_string();
        assert!(
            e.contains(named) && e.contains(&format!("lower {named} by {}", IN_ROWS - 128)),
            "{e}"
        );
    }
}
