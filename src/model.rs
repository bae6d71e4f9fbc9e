//! The two embedding matrices and their initialisation.

use crate::sampling::Rng;

/// Input ("centre", `syn0`) and output ("context", `syn1neg`) vectors, row-major `V × D`,
/// and with hierarchical softmax (`--hs`) the inner-node vectors of the Huffman tree
/// (`syn1`, `(V − 1) × D`, empty otherwise).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub dim: usize,
    pub input: Vec<f32>,
    pub output: Vec<f32>,
    pub hs: Vec<f32>,
    /// With subword units (`--subwords`) the n-gram bucket rows of the input side
    /// (`bucket × D`, fastText's rows after the words; empty otherwise).
    pub subwords: Vec<f32>,
}

impl Model {
    /// word2vec.c's initialisation: input uniform in `[-0.5/D, 0.5/D)`, output zero.
    pub fn new(vocab_size: usize, dim: usize, seed: u64) -> Model {
        let mut rng = Rng::new(seed ^ 0x5eed_0000_0000_0001);
        let scale = 1.0 / dim as f32;
        let input = (0..vocab_size * dim)
            .map(|_| (rng.next_f32() - 0.5) * scale)
            .collect();
        Model {
            dim,
            input,
            output: vec![0.0; vocab_size * dim],
            hs: Vec::new(),
            subwords: Vec::new(),
        }
    }

    /// finalfrontier's initialisation: both matrices uniform in `[-1/D, 1/D]` (`--init
    /// uniform`). With a non-zero output matrix the input vectors receive gradient from the
    /// first step; measured +1.6 analogy points at one epoch (BENCHMARKS.md).
    pub fn new_uniform(vocab_size: usize, dim: usize, seed: u64) -> Model {
        let mut rng = Rng::new(seed ^ 0x5eed_0000_0000_0002);
        let scale = 2.0 / dim as f32;
        let mut draw = || (rng.next_f32() - 0.5) * scale;
        let input = (0..vocab_size * dim).map(|_| draw()).collect();
        let output = (0..vocab_size * dim).map(|_| draw()).collect();
        Model {
            dim,
            input,
            output,
            hs: Vec::new(),
            subwords: Vec::new(),
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.input.len() / self.dim.max(1)
    }

    pub fn input_row(&self, i: usize) -> &[f32] {
        &self.input[i * self.dim..(i + 1) * self.dim]
    }

    /// Input row `r` of a subword model: a word row below the vocabulary size, bucket row
    /// `r − V` from there on.
    pub fn bag_row(&self, r: u32) -> &[f32] {
        let (r, vocab, dim) = (r as usize, self.vocab_size(), self.dim);
        if r < vocab {
            &self.input[r * dim..(r + 1) * dim]
        } else {
            &self.subwords[(r - vocab) * dim..(r - vocab + 1) * dim]
        }
    }

    /// [`Model::bag_row`], writable.
    pub fn bag_row_mut(&mut self, r: u32) -> &mut [f32] {
        let (r, vocab, dim) = (r as usize, self.vocab_size(), self.dim);
        if r < vocab {
            &mut self.input[r * dim..(r + 1) * dim]
        } else {
            &mut self.subwords[(r - vocab) * dim..(r - vocab + 1) * dim]
        }
    }

    /// Adds the hierarchical-softmax matrix (word2vec.c's `syn1`: one zero row per inner
    /// node of the Huffman tree, `V − 1`) unless it is there.
    pub fn with_hs(mut self) -> Model {
        let rows = self.vocab_size().saturating_sub(1);
        if self.hs.len() != rows * self.dim {
            self.hs = vec![0.0; rows * self.dim];
        }
        self
    }

    /// Adds `bucket` subword rows, uniform in `[-1/D, 1/D]` as fastText initialises its
    /// input matrix, unless they are there.
    pub fn with_subwords(mut self, bucket: usize, seed: u64) -> Model {
        if self.subwords.len() != bucket * self.dim {
            let mut rng = Rng::new(seed ^ 0x5eed_0000_0000_0003);
            let scale = 2.0 / self.dim as f32;
            self.subwords = (0..bucket * self.dim)
                .map(|_| (rng.next_f32() - 0.5) * scale)
                .collect();
        }
        self
    }

    /// The subword buckets moved after the word rows of the input matrix, which then holds
    /// every row the subword table names (`vocab + bucket`), as the minibatch engines index
    /// it.
    pub fn merged_subwords(mut self) -> Model {
        self.input.append(&mut self.subwords);
        self
    }

    /// Undoes [`Model::merged_subwords`] for a vocabulary of `vocab` words.
    pub fn split_subwords(mut self, vocab: usize) -> Model {
        self.subwords = self.input.split_off(vocab * self.dim);
        self
    }

    /// The matrices: input (word rows), output, hierarchical-softmax nodes, subword buckets
    /// (the last two empty unless trained).
    pub fn matrices(&self) -> [&[f32]; 4] {
        [&self.input, &self.output, &self.hs, &self.subwords]
    }

    /// Whether every weight of every matrix is a finite number.
    pub fn is_finite(&self) -> bool {
        self.matrices()
            .iter()
            .all(|m| m.iter().all(|x| x.is_finite()))
    }

    /// [`Model::matrices`], writable.
    pub fn matrices_mut(&mut self) -> [&mut [f32]; 4] {
        [
            &mut self.input,
            &mut self.output,
            &mut self.hs,
            &mut self.subwords,
        ]
    }

    /// Bytes of the matrices.
    pub fn bytes(&self) -> u64 {
        (self.input.len() + self.output.len() + self.hs.len() + self.subwords.len()) as u64 * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_word2vec_range_and_deterministic() {
        let m = Model::new(50, 20, 9);
        assert!(m.input.iter().all(|&x| x.abs() <= 0.5 / 20.0));
        assert!(m.output.iter().all(|&x| x == 0.0));
        assert_eq!(m, Model::new(50, 20, 9));
        assert_ne!(m.input, Model::new(50, 20, 10).input);
        let mean: f32 = m.input.iter().sum::<f32>() / m.input.len() as f32;
        assert!(mean.abs() < 0.003);
    }

    #[test]
    fn uniform_init_covers_both_matrices() {
        let m = Model::new_uniform(50, 20, 9);
        for x in m.input.iter().chain(&m.output) {
            assert!(x.abs() <= 1.0 / 20.0);
        }
        let spread = |v: &[f32]| v.iter().fold(0.0f32, |a, x| a.max(x.abs()));
        assert!(spread(&m.output) > 0.04 && spread(&m.input) > 0.04);
        assert_eq!(m, Model::new_uniform(50, 20, 9));
    }
}
