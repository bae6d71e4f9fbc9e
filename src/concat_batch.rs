//! `doc2vec --dm-concat` on a GPU: the host batcher's description of the positions that
//! train together, and the CPU reference of one step that the kernel (`shaders/concat.wgsl`)
//! is tested against.
//!
//! dm_concat's layer is not a mean: it is the concatenation of the document's row and the
//! rows of the `window` words on each side of a position (gensim's null word where the
//! piece has none), `(1 + 2·window)·dim` floats, scored against output rows (and tree
//! nodes) of that length. Each position is one workgroup, which walks the position's
//! *cells* in order — hierarchical softmax's path nodes, then the centre word and the noise
//! words, as the CPU trainer does — each cell's logit, its gradient added to the layer's
//! and its row updated before the next cell's logit, so a word drawn twice as noise sees
//! its first update. Last, the layer's gradient is added to the document's row and to each
//! context row. Positions run side by side, reading and adding to shared rows with atomic
//! adds (no update is lost; what a position reads may be a little stale, as a Hogwild
//! thread's).
//!
//! The matrices as the kernel sees them: the input matrix is the word rows, the null
//! word's row (`vocab`), then the document rows; the output matrix is the negative-sampling
//! rows, then the tree's node rows (`vocab + node`), each row of the concatenated length.

use crate::error::{Error, Result};
use crate::loss::{sigmoid_bce, MAX_EXP};

/// One step of positions, as the host batcher makes it and uploads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConcatStep {
    /// Per position, `1 + 2·window` input rows: its document's, then its context words' in
    /// order (the null word's row where the piece has none).
    pub inputs: Vec<u32>,
    /// Per position `p`, its cells `cells[offsets[p]..offsets[p + 1]]`; one more entry than
    /// positions.
    pub offsets: Vec<u32>,
    /// `output row << 1 | label`: tree nodes (rows from `vocab` on; label 1 − code), then
    /// the centre word (label 1) and its noise words (label 0; one equal to the centre is
    /// left out, as the CPU trainer skips it).
    pub cells: Vec<u32>,
    /// The learning rate of each position.
    pub rates: Vec<f32>,
}

impl ConcatStep {
    /// Empties the step, keeping its allocations.
    pub fn clear(&mut self) {
        self.inputs.clear();
        self.offsets.clear();
        self.cells.clear();
        self.rates.clear();
    }

    /// Positions in the step.
    pub fn positions(&self) -> usize {
        self.rates.len()
    }

    /// Appends a position: its input rows (document first), its cells and its rate.
    pub fn push(
        &mut self,
        inputs: &[u32],
        cells: impl IntoIterator<Item = (u32, bool)>,
        rate: f32,
    ) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.inputs.extend_from_slice(inputs);
        self.cells
            .extend(cells.into_iter().map(|(r, l)| r << 1 | u32::from(l)));
        self.offsets.push(self.cells.len() as u32);
        self.rates.push(rate);
    }
}

/// The shape of the concatenated layer and where the tree's rows start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatShape {
    pub dim: usize,
    pub window: usize,
    /// Output rows of negative sampling (the vocabulary); tree nodes follow.
    pub vocab: usize,
}

impl ConcatShape {
    /// Rows of `dim` in the layer: the document's and `2·window` context words'.
    pub fn slots(&self) -> usize {
        1 + 2 * self.window
    }

    /// Floats in the layer and in each output row.
    pub fn layer(&self) -> usize {
        self.slots() * self.dim
    }
}

/// Checks that every index of `step` is inside matrices of `in_rows` input rows and
/// `out_rows` output rows (of the layer's length), so that a batcher bug is an error, not
/// a write outside a matrix.
pub fn check_step(
    step: &ConcatStep,
    shape: ConcatShape,
    in_rows: usize,
    out_rows: usize,
) -> Result<()> {
    let n = step.positions();
    let bad = |what: &str| Err(Error::Gpu(format!("internal: a dm_concat step {what}")));
    if step.inputs.len() != n * shape.slots() || (n > 0 && step.offsets.len() != n + 1) {
        return bad("has arrays of mismatched lengths");
    }
    if step.inputs.iter().any(|&r| r as usize >= in_rows) {
        return bad("names an input row outside the matrix");
    }
    if step.offsets.windows(2).any(|w| w[0] > w[1])
        || step
            .offsets
            .last()
            .is_some_and(|&e| e as usize != step.cells.len())
    {
        return bad("has offsets out of order");
    }
    if step.cells.iter().any(|&c| (c >> 1) as usize >= out_rows) {
        return bad("names an output row outside the matrix");
    }
    Ok(())
}

/// Three steps of 40 positions whose rows are all distinct within a step (documents,
/// context words, tree nodes and noise words each used once), so that no order of the
/// positions changes the result, over `shape`'s vocabulary and a tree of `vocab − 1` nodes:
/// the first position's left context is the null word (its gradient added `window` times,
/// as on the CPU); position 7 draws a noise word twice; the tree's first node (output row
/// `vocab`) is a cell of step 0's position 5 alone (a test may saturate it). Documents are
/// input rows `vocab + 1 + p + 40·step`. Rates 0.2, 0.15, 0.1. Needs a vocabulary of at
/// least `40·(2·window + 2)` words. What the kernel's parity tests and `devices --check`
/// hold it to the reference on.
pub fn distinct_steps(shape: ConcatShape, seed: u64) -> Vec<ConcatStep> {
    let vocab = shape.vocab as u32;
    assert!(
        shape.vocab >= 40 * (2 * shape.window + 2),
        "distinct_steps needs more words"
    );
    let mut rng = crate::sampling::Rng::new(seed);
    (0..3u32)
        .map(|k| {
            let mut s = ConcatStep::default();
            // Each step its own shuffle of the rows.
            let mut words: Vec<u32> = (0..vocab).collect();
            let mut nodes: Vec<u32> = (vocab + 1..2 * vocab - 1).collect();
            for v in [&mut words, &mut nodes] {
                for i in (1..v.len()).rev() {
                    v.swap(i, rng.below(i as u32 + 1) as usize);
                }
            }
            let (mut w, mut nd) = (words.into_iter(), nodes.into_iter());
            let mut next = || w.next().expect("enough words");
            for p in 0..40u32 {
                let mut inputs = vec![vocab + 1 + p + 40 * k];
                for slot in 0..2 * shape.window {
                    inputs.push(match p == 0 && slot < shape.window {
                        true => vocab, // the null word
                        false => next(),
                    });
                }
                let mut cells = vec![];
                for _ in 0..3 {
                    cells.push((nd.next().expect("enough nodes"), rng.below(2) == 1));
                }
                if p == 5 && k == 0 {
                    cells.push((vocab, true)); // the tree's first node
                }
                cells.push((next(), true));
                let noise = next();
                cells.push((noise, false));
                if p == 7 {
                    cells.push((noise, false));
                }
                s.push(&inputs, cells, 0.2 - 0.05 * k as f32);
            }
            s
        })
        .collect()
}

/// Loss of a step: the summed cross-entropy and the number of cells scored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConcatLoss {
    pub sum: f64,
    pub terms: u64,
}

/// One step on the CPU, positions one after another (what the kernel computes when no two
/// positions share a row): for each cell the logit f = l1 · row, g = (label − σ(f))·rate
/// (word2vec's clipping, `loss::sigmoid_bce`), the layer's gradient += g · row (the row
/// before this cell's update), the row += g · l1 — not for a tree node with |f| ≥ 6, as
/// the CPU trainer skips it; then each input row += its slice of the layer's gradient.
/// `frozen` (inference): the output rows stay, and only each position's document row (its
/// first input row) takes its slice.
pub fn reference_step(
    input: &mut [f32],
    output: &mut [f32],
    shape: ConcatShape,
    step: &ConcatStep,
    frozen: bool,
) -> ConcatLoss {
    let (dim, slots, len) = (shape.dim, shape.slots(), shape.layer());
    let mut l1 = vec![0.0f32; len];
    let mut work = vec![0.0f32; len];
    let mut loss = ConcatLoss::default();
    for p in 0..step.positions() {
        let rows = &step.inputs[p * slots..(p + 1) * slots];
        for (s, &r) in rows.iter().enumerate() {
            let r = r as usize;
            l1[s * dim..(s + 1) * dim].copy_from_slice(&input[r * dim..(r + 1) * dim]);
        }
        work.fill(0.0);
        let alpha = step.rates[p];
        let (lo, hi) = (step.offsets[p] as usize, step.offsets[p + 1] as usize);
        for &cell in &step.cells[lo..hi] {
            let row = (cell >> 1) as usize;
            let label = (cell & 1) as f32;
            let out = &mut output[row * len..(row + 1) * len];
            let f: f32 = l1.iter().zip(out.iter()).map(|(a, b)| a * b).sum();
            let (g, l) = sigmoid_bce(f, label, alpha);
            loss.sum += l as f64;
            loss.terms += 1;
            if row >= shape.vocab && (f <= -MAX_EXP || f >= MAX_EXP) {
                continue;
            }
            for ((w, o), x) in work.iter_mut().zip(out.iter_mut()).zip(&l1) {
                *w += g * *o;
                if !frozen {
                    *o += g * x;
                }
            }
        }
        let learning = if frozen { 1 } else { slots };
        for (s, &r) in rows.iter().enumerate().take(learning) {
            let r = r as usize;
            input[r * dim..(r + 1) * dim]
                .iter_mut()
                .zip(&work[s * dim..(s + 1) * dim])
                .for_each(|(x, w)| *x += w);
        }
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree node beyond the clipping range scores but is not updated; a noise word
    /// repeated in a position sees its first update.
    #[test]
    fn reference_skips_saturated_nodes_and_sees_repeats() {
        let shape = ConcatShape {
            dim: 2,
            window: 1,
            vocab: 2,
        };
        // Input rows: words 0, 1, null 2, document 3.
        let mut input = vec![1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 2.0, 2.0];
        // Output rows 0, 1 (words), 2 (a tree node), each of 6 floats.
        let mut output = vec![0.1; 18];
        output[12..18].fill(10.0);
        let mut step = ConcatStep::default();
        step.push(&[3, 0, 2], [(2, true), (1, false), (1, false)], 0.5);
        let before = output.clone();
        let loss = reference_step(&mut input, &mut output, shape, &step, false);
        assert_eq!(loss.terms, 3);
        assert_eq!(output[12..18], before[12..18], "saturated node untouched");
        // Row 1 moved twice, the second time from its moved value.
        let l1 = [2.0f32, 2.0, 1.0, 0.0, 0.5, 0.5];
        let mut row = [0.1f32; 6];
        for _ in 0..2 {
            let f: f32 = l1.iter().zip(&row).map(|(a, b)| a * b).sum();
            let (g, _) = sigmoid_bce(f, 0.0, 0.5);
            row.iter_mut().zip(&l1).for_each(|(o, x)| *o += g * x);
        }
        assert_eq!(output[6..12], row);
        assert_ne!(input[6..8], [2.0, 2.0], "the document's row learned");
        assert!(check_step(&step, shape, 4, 3).is_ok());
        assert!(check_step(&step, shape, 3, 3).is_err());
        assert!(check_step(&step, shape, 4, 2).is_err());
    }
}
