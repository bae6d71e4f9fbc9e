//! The two embedding matrices and their initialisation.

use crate::sampling::Rng;

/// Input ("centre", `syn0`) and output ("context", `syn1neg`) vectors, row-major `V × D`.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub dim: usize,
    pub input: Vec<f32>,
    pub output: Vec<f32>,
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
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.input.len() / self.dim.max(1)
    }

    pub fn input_row(&self, i: usize) -> &[f32] {
        &self.input[i * self.dim..(i + 1) * self.dim]
    }

    /// Bytes of the two matrices.
    pub fn bytes(&self) -> u64 {
        (self.input.len() + self.output.len()) as u64 * 4
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
}
