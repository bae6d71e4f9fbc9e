//! The GPU classifier's steps (fastText's `supervised` on a GPU, `classifier::train` with
//! `-backend vulkan|metal|dx12|gl`): the host batcher's description of the lines that train
//! together, the grouping of their updates by row, and the CPU reference of one step that
//! the kernels (`shaders/classify.wgsl`) are tested against.
//!
//! A step is a set of lines. Every line's hidden vector h (the mean of its input rows) is
//! computed from the input matrix as it was before the step, as that many Hogwild threads
//! would read it. The output layer then runs block after block of lines
//! ([`ClassifyStep::label_block`]; 1 is fastText's order, line after line): a logit per
//! *cell* of each line of the block (an output row with a 0/1 label: every label for
//! softmax and one-vs-all, the target and its noise labels for `ns`, the target's tree
//! nodes and codes for `hs`) from the output matrix as the previous block left it, each
//! cell's coefficient g, the line's dh = Σ g · output row / rows, then g · h added to each
//! cell's row. A classifier's output rows are the hottest there are — every line of a
//! softmax step adds to every label's row — and lines that all score one stale copy of them
//! diverge in large steps, hence blocks. Last, every input row gets the dh of each line it
//! is in, the adds grouped by row on the host ([`Grouping`]): each group of at most
//! [`GROUP`] occurrences is summed by one workgroup and added once.

use crate::error::{Error, Result};

/// Contributions summed by one workgroup of the apply kernel before its one add per weight.
pub const GROUP: usize = 32;

/// How a step's cells turn logits into gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellLoss {
    /// fastText's softmax over the line's cells (all the labels; label 1 on the target).
    Softmax,
    /// A binary logistic loss per cell (ns, hs, one-vs-all).
    Sigmoid,
}

/// One step of lines, as the host batcher makes it and uploads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassifyStep {
    /// Per line: its input rows `rows[l[0]..l[1]]` and its cells `cells[l[2]..l[3]]`.
    pub lines: Vec<[u32; 4]>,
    pub rows: Vec<u32>,
    /// `output row << 1 | label`.
    pub cells: Vec<u32>,
    /// The learning rate of every line of the step.
    pub lr: f32,
    /// Lines whose output-layer updates are computed together, from the output matrix as
    /// the previous such block left it (1: fastText's order, line after line).
    pub label_block: u32,
}

impl ClassifyStep {
    /// Empties the step, keeping its allocations.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.rows.clear();
        self.cells.clear();
    }

    /// Appends a line: its input rows and its cells (`(output row, label)`).
    pub fn push(&mut self, rows: &[u32], cells: impl IntoIterator<Item = (u32, bool)>) {
        let (r0, c0) = (self.rows.len() as u32, self.cells.len() as u32);
        self.rows.extend_from_slice(rows);
        self.cells
            .extend(cells.into_iter().map(|(row, y)| row << 1 | y as u32));
        self.lines
            .push([r0, self.rows.len() as u32, c0, self.cells.len() as u32]);
    }

    /// The blocks of lines the output layer is updated by, in order.
    pub fn blocks(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let b = self.label_block.max(1) as usize;
        (0..self.lines.len())
            .step_by(b)
            .map(move |lo| lo..(lo + b).min(self.lines.len()))
    }
}

/// `n` steps of `lines` lines of 3–40 input rows out of `in_rows`, Zipf-distributed (row 0
/// in most lines, several times), with softmax's cells (every one of `labels`, one of them
/// the target) or logistic cells (a target and four noise labels, duplicates allowed, as
/// negative sampling draws them), `block` lines per label block, rates 0.3, 0.25, …: what
/// the kernels' parity tests and `devices --check` train.
pub fn zipf_steps(
    n: usize,
    lines: usize,
    (in_rows, labels): (usize, u32),
    loss: CellLoss,
    block: u32,
    seed: u64,
) -> Vec<ClassifyStep> {
    let mut rng = crate::sampling::Rng::new(seed);
    (0..n)
        .map(|k| {
            let mut s = ClassifyStep {
                lr: 0.3 - 0.05 * k as f32,
                label_block: block,
                ..Default::default()
            };
            for _ in 0..lines {
                let len = 3 + rng.below(38) as usize;
                let rows: Vec<u32> = (0..len).map(|_| rng.zipf_below(in_rows as u32)).collect();
                let t = rng.below(labels);
                match loss {
                    CellLoss::Softmax => s.push(&rows, (0..labels).map(|l| (l, l == t))),
                    CellLoss::Sigmoid => {
                        let mut cells = vec![(t, true)];
                        cells.extend((0..4).map(|_| (rng.below(labels), false)));
                        s.push(&rows, cells)
                    }
                }
            }
            s
        })
        .collect()
}

/// A step's input-row adds grouped by row: each group is a row and up to [`GROUP`] of the
/// lines it is in (one entry per occurrence), in line order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grouping {
    /// `[row, first entry, end, scale (f32 bits)]`.
    pub groups: Vec<[u32; 4]>,
    /// The most lines' worth of update a row takes in one step: the sum of a row in m > cap
    /// lines of the step is scaled by cap / m (0: no cap).
    pub cap: u32,
    /// The line of each entry.
    pub entries: Vec<u32>,
    /// Scratch reused between steps: per row the step it was last seen in and its slot.
    seen: Vec<(u32, u32)>,
    stamp: u32,
    counts: Vec<u32>,
    firsts: Vec<u32>,
    order: Vec<u32>,
    /// Per slot: distinct lines, and the last line counted.
    lines: Vec<(u32, u32)>,
}

impl Grouping {
    /// Groups `step`'s input-row adds for a matrix of `in_rows` rows (every row id of the
    /// step must be below it): a counting sort by row, rows in order of first appearance,
    /// each row's entries in line order, cut into groups of at most [`GROUP`].
    pub fn build(&mut self, step: &ClassifyStep, in_rows: usize) {
        self.groups.clear();
        self.entries.clear();
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 || self.seen.len() < in_rows {
            self.seen.clear();
            self.seen.resize(in_rows, (0, 0));
            self.stamp = 1;
        }
        let items = || {
            step.lines.iter().enumerate().flat_map(|(l, s)| {
                step.rows[s[0] as usize..s[1] as usize]
                    .iter()
                    .map(move |&r| (r, l as u32))
            })
        };
        self.counts.clear();
        self.order.clear();
        self.lines.clear();
        for (r, l) in items() {
            let s = &mut self.seen[r as usize];
            if s.0 != self.stamp {
                *s = (self.stamp, self.counts.len() as u32);
                self.counts.push(0);
                self.order.push(r);
                self.lines.push((0, u32::MAX));
            }
            let slot = s.1 as usize;
            self.counts[slot] += 1;
            if self.lines[slot].1 != l {
                self.lines[slot] = (self.lines[slot].0 + 1, l);
            }
        }
        self.firsts.clear();
        let mut at = 0u32;
        for &n in &self.counts {
            self.firsts.push(at);
            at += n;
        }
        self.entries.resize(at as usize, 0);
        for (slot, &r) in self.order.iter().enumerate() {
            let (lo, n) = (self.firsts[slot], self.counts[slot]);
            let m = self.lines[slot].0;
            let scale = if self.cap > 0 && m > self.cap {
                self.cap as f32 / m as f32
            } else {
                1.0
            };
            let mut g = lo;
            while g < lo + n {
                let end = (g + GROUP as u32).min(lo + n);
                self.groups.push([r, g, end, scale.to_bits()]);
                g = end;
            }
        }
        // Fill: `firsts` becomes each slot's next free entry.
        for (r, l) in items() {
            let slot = self.seen[r as usize].1 as usize;
            self.entries[self.firsts[slot] as usize] = l;
            self.firsts[slot] += 1;
        }
    }
}

/// The CPU reference of one GPU step, in the kernels' arithmetic order where it is fixed.
/// Every line's h from the input matrix as it was (its rows summed in order, times
/// 1/rows); then the output layer block by block ([`ClassifyStep::blocks`]): the block's
/// logits (sequential dot products) from the output matrix as the previous block left
/// it, each line's g ([`cell_gradients`]), each line's dh = Σ g · output row (summed over
/// its cells in order, times 1/rows) from that same matrix, then every cell's g · h added
/// to its row, dimension by dimension, lines and cells in order; finally each input
/// row gets its lines' dh, each group's sum (in entry order) times the group's scale
/// ([`Grouping::cap`]) added in group order.
/// Returns the step's summed loss.
pub fn reference_step(
    input: &mut [f32],
    output: &mut [f32],
    dim: usize,
    step: &ClassifyStep,
    loss: CellLoss,
    grouping: &Grouping,
) -> f64 {
    let hs: Vec<Vec<f32>> = step
        .lines
        .iter()
        .map(|&[r0, r1, _, _]| {
            let rows = &step.rows[r0 as usize..r1 as usize];
            let inv = 1.0 / rows.len() as f32;
            (0..dim)
                .map(|d| {
                    let mut s = 0.0f32;
                    for &r in rows {
                        s += input[r as usize * dim + d];
                    }
                    s * inv
                })
                .collect()
        })
        .collect();
    let mut dhs = vec![vec![0.0f32; dim]; step.lines.len()];
    let mut total = 0.0f64;
    for block in step.blocks() {
        let mut gs: Vec<Vec<f32>> = Vec::new();
        for l in block.clone() {
            let [_, _, c0, c1] = step.lines[l];
            let cells = &step.cells[c0 as usize..c1 as usize];
            let f: Vec<f32> = cells
                .iter()
                .map(|&c| {
                    let o = (c >> 1) as usize * dim;
                    crate::linalg::seq_dot(&output[o..o + dim], &hs[l])
                })
                .collect();
            let (g, line_loss) = cell_gradients(&f, cells, step.lr, loss);
            total += line_loss as f64;
            gs.push(g);
        }
        for d in 0..dim {
            for (l, g) in block.clone().zip(&gs) {
                let [r0, r1, c0, c1] = step.lines[l];
                let mut s = 0.0f32;
                for (&c, &gc) in step.cells[c0 as usize..c1 as usize].iter().zip(g) {
                    if gc != 0.0 {
                        s += gc * output[(c >> 1) as usize * dim + d];
                    }
                }
                dhs[l][d] = s * (1.0 / (r1 - r0) as f32);
            }
            for (l, g) in block.clone().zip(&gs) {
                let [_, _, c0, c1] = step.lines[l];
                for (&c, &gc) in step.cells[c0 as usize..c1 as usize].iter().zip(g) {
                    if gc != 0.0 {
                        output[(c >> 1) as usize * dim + d] += gc * hs[l][d];
                    }
                }
            }
        }
    }
    for &[row, lo, hi, scale] in &grouping.groups {
        let entries = &grouping.entries[lo as usize..hi as usize];
        for d in 0..dim {
            let mut s = 0.0f32;
            for &l in entries {
                s += dhs[l as usize][d];
            }
            input[row as usize * dim + d] += s * f32::from_bits(scale);
        }
    }
    total
}

/// The cells' coefficients g and the line's loss from its logits `f`: softmax (the
/// maximum subtracted, exponentials summed in cell order; loss −log p of the label-1
/// cell) or a logistic loss per cell (loss −log σ(±f), computed stably); g = lr (label − p).
pub fn cell_gradients(f: &[f32], cells: &[u32], lr: f32, loss: CellLoss) -> (Vec<f32>, f32) {
    match loss {
        CellLoss::Softmax => {
            let max = f.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let mut sum = 0.0f32;
            for &x in f {
                sum += (x - max).exp();
            }
            let mut l = 0.0f32;
            let g = f
                .iter()
                .zip(cells)
                .map(|(&x, &c)| {
                    let p = (x - max).exp() / sum;
                    if c & 1 == 1 {
                        l += -(p.max(1e-30)).ln();
                    }
                    lr * ((c & 1) as f32 - p)
                })
                .collect();
            (g, l)
        }
        CellLoss::Sigmoid => {
            let mut l = 0.0f32;
            let g = f
                .iter()
                .zip(cells)
                .map(|(&x, &c)| {
                    let (gc, lc) = logistic(x, c & 1 == 1, lr);
                    l += lc;
                    gc
                })
                .collect();
            (g, l)
        }
    }
}

/// (g, loss) of one logistic cell: g = lr (label − σ(f)), loss = softplus(∓f).
pub fn logistic(f: f32, label: bool, lr: f32) -> (f32, f32) {
    let s = 1.0 / (1.0 + (-f).exp());
    let z = if label { -f } else { f };
    let loss = z.max(0.0) + (1.0 + (-z.abs()).exp()).ln();
    (lr * (label as u8 as f32 - s), loss)
}

/// Checks that a step's ids fit matrices of `in_rows` and `out_rows` rows and the kernels'
/// 31-bit rows; the batcher makes them from the model's dictionary, so a failure is a bug,
/// reported rather than sent to the device.
pub fn check_step(step: &ClassifyStep, in_rows: usize, out_rows: usize) -> Result<()> {
    let bad_in = step.rows.iter().any(|&r| r as usize >= in_rows);
    let bad_out = step.cells.iter().any(|&c| (c >> 1) as usize >= out_rows);
    let empty = step.lines.iter().any(|l| l[0] == l[1] || l[2] == l[3]);
    if bad_in || bad_out || empty || out_rows > u32::MAX as usize / 2 {
        return Err(Error::Gpu(
            "internal: a classifier step names a row outside the model, or a line without rows or cells".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(label_block: u32) -> ClassifyStep {
        let mut s = ClassifyStep {
            lr: 0.5,
            label_block,
            ..Default::default()
        };
        s.push(&[0, 1, 1], [(0, true), (1, false)]);
        s.push(&[1, 2], [(1, true), (0, false)]);
        s
    }

    /// Every occurrence of an input row lands in one group of its row, in line order, and
    /// rows with more than GROUP occurrences are cut into several groups.
    #[test]
    fn grouping_covers_every_add_once() {
        let s = step(1);
        let mut g = Grouping::default();
        g.build(&s, 3);
        assert_eq!(g.groups.len(), 3);
        let row1 = g.groups.iter().find(|x| x[0] == 1).unwrap();
        assert_eq!(&g.entries[row1[1] as usize..row1[2] as usize], [0, 0, 1]);
        let mut hot = ClassifyStep::default();
        for _ in 0..3 * GROUP + 1 {
            hot.push(&[2], [(0, true)]);
        }
        g.build(&hot, 3);
        let sizes: Vec<u32> = g.groups.iter().map(|x| x[2] - x[1]).collect();
        assert_eq!(sizes, [32, 32, 32, 1]);
        assert_eq!(g.entries.len(), 3 * GROUP + 1);
        assert!(g.groups.iter().all(|x| f32::from_bits(x[3]) == 1.0));
        // With a cap of 4 lines, the row in 97 lines is scaled by 4/97; row 1 of the first
        // step, in 2 lines (3 occurrences), is not.
        g.cap = 4;
        g.build(&hot, 3);
        assert!(g.groups.iter().all(|x| f32::from_bits(x[3]) == 4.0 / 97.0));
        g.build(&s, 3);
        assert!(g.groups.iter().all(|x| f32::from_bits(x[3]) == 1.0));
    }

    /// With blocks of one line the output layer is updated line after line (the second
    /// line scores the output rows the first one changed); with one block of both, both
    /// score the rows as they were.
    #[test]
    fn blocks_order_the_output_updates() {
        let dim = 2;
        let input0 = vec![0.1, 0.2, -0.3, 0.4, 0.5, -0.6];
        let output0 = vec![0.7, -0.1, 0.2, 0.3];
        let h = |rows: &[usize]| -> Vec<f32> {
            (0..dim)
                .map(|d| {
                    let s: f32 = rows.iter().map(|&r| input0[r * dim + d]).sum();
                    s / rows.len() as f32
                })
                .collect()
        };
        let (h0, h1) = (h(&[0, 1, 1]), h(&[1, 2]));
        for block in [1, 2] {
            let s = step(block);
            let (mut input, mut output) = (input0.clone(), output0.clone());
            let mut g = Grouping::default();
            g.build(&s, 3);
            let loss = reference_step(&mut input, &mut output, dim, &s, CellLoss::Sigmoid, &g);
            assert!(loss > 0.0 && loss.is_finite());
            // Line 0's cells: row 0 (label 1) and row 1 (label 0), from the snapshot.
            let dot = |o: &[f32], r: usize, h: &[f32]| o[r * dim] * h[0] + o[r * dim + 1] * h[1];
            let g00 = logistic(dot(&output0, 0, &h0), true, 0.5).0;
            let g01 = logistic(dot(&output0, 1, &h0), false, 0.5).0;
            let mut after0 = output0.clone();
            for d in 0..dim {
                after0[d] += g00 * h0[d];
                after0[dim + d] += g01 * h0[d];
            }
            let seen = if block == 1 { &after0 } else { &output0 };
            let g11 = logistic(dot(seen, 1, &h1), true, 0.5).0;
            let g10 = logistic(dot(seen, 0, &h1), false, 0.5).0;
            for d in 0..dim {
                let want0 = after0[d] + g10 * h1[d];
                let want1 = after0[dim + d] + g11 * h1[d];
                assert!(
                    (output[d] - want0).abs() < 1e-6,
                    "block {block}: {} {want0}",
                    output[d]
                );
                assert!((output[dim + d] - want1).abs() < 1e-6);
            }
        }
        // Softmax: the label-1 cell's g is lr (1 − p), the others −lr p; they sum to 0.
        let (gs, l) = cell_gradients(&[1.0, 2.0, 0.5], &[1, 2, 4], 0.1, CellLoss::Softmax);
        assert!((gs.iter().sum::<f32>()).abs() < 1e-7);
        assert!(gs[0] > 0.0 && gs[1] < 0.0 && l > 0.0);
    }
}
