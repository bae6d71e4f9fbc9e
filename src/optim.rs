//! Optimizers. `sgd` is word2vec's: every window's gradient is applied at once with a
//! linearly decaying learning rate (see [`crate::sampling::learning_rate`]). The adaptive
//! ones — Adagrad, Adam, RMSprop — train on minibatches (see [`crate::minibatch`]) and are
//! *sparse* (lazy): their state exists for every row of both matrices, but a step reads and
//! writes the state of only the rows its minibatch uses.
//!
//! `--deterministic` trains `sgd` on minibatches too (a fixed summation order is what makes
//! it reproducible). There a row's step is its summed gradient scaled by
//! `min(1, SGD_SUM_LIMIT / n)`, `n` the row's occurrences in the minibatch: word2vec's
//! sequential updates of a frequent row shrink as its logits saturate, but a plain sum of
//! `n` same-direction gradients taken from one snapshot overshoots by up to `n×` — measured
//! on `data/text8-4m.gz` (2 epochs, 512 centre words per step) the unscaled sum diverges
//! (loss per term above 1000), the mean (`SGD_SUM_LIMIT` 1) learns far too slowly (WS-353
//! 0.02), 4: 0.15, 16: 0.14, 64: 0.17, and 32 trains stably (5 epochs: analogy 2.0%,
//! WS-353 0.272 against Hogwild's 2.3% and 0.297).
//!
//! # The updates
//!
//! For one row `w` (a word's input or output vector) and the gradient `g` of the step's
//! summed loss with respect to that row — the sum over every occurrence of the row in the
//! minibatch, see [`crate::minibatch`] — with learning rate `η`, all element-wise:
//!
//! ```text
//! Adagrad:  G ← G + g²                       w ← w − η·g / (√G + ε)
//! RMSprop:  S ← ρ·S + (1−ρ)·g²               w ← w − η·g / (√S + ε)          (ρ = --beta2)
//! Adam:     t ← t + 1                        (t: this row's own update count)
//!           m ← β₁·m + (1−β₁)·g              v ← β₂·v + (1−β₂)·g²
//!           w ← w − η · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
//! ```
//!
//! (Adam is computed in Kingma & Ba's equivalent "efficient" form, with the corrections
//! folded into the rate and ε scaled by √(1−β₂ᵗ): one division and one square root per
//! element.)
//!
//! # Lazy versus dense, and Adam's per-row step count
//!
//! A dense optimizer treats an unused row as having gradient 0 and still updates it: Adam
//! decays its `m` and `v` and keeps moving the row along its old momentum, RMSprop decays
//! `S`. That costs `rows × dim` reads and writes of the weights and every state matrix per
//! step, however small the minibatch. The lazy update skips rows with no gradient entirely:
//! for Adagrad this is exactly the dense result (a zero gradient changes neither `G` nor
//! `w`); for RMSprop and Adam the state of a row "sleeps" between the steps that use it
//! (the decay of the skipped steps is not applied), which is what sparse embedding
//! optimizers (TensorFlow's LazyAdam, PyTorch's SparseAdam) do.
//!
//! Adam's bias correction divides `m` and `v` by `1−βᵗ` because both start at 0: after
//! `t` updates, `m = (1−β₁)·Σₖ β₁^(t−k)·gₖ`, whose weights sum to `1−β₁ᵗ`, so
//! `m / (1−β₁ᵗ)` is a weighted mean of the gradients seen. With lazy updates a row's `m`
//! has seen only the row's own updates, so `t` must count those, not the global step: a
//! rare word on its 3rd update after a million steps has `m` built from 3 gradients, and the
//! global count would give `1−β₁^1000000 ≈ 1` — dividing by 1 where `1−β₁³ = 0.271` is
//! right, so its first steps would be ~4× too small (and `v`'s 1000× too small). Here every
//! row keeps its own `t` (a `u32` per row and matrix), incremented when the row is
//! updated; the dense mode uses the global step count, as dense Adam does.

use crate::error::{Error, Result};

/// Minibatch SGD: most gradients' worth a row moves by in one step (see the module docs).
pub const SGD_SUM_LIMIT: f32 = 32.0;

/// Which optimizer trains the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// word2vec's per-window SGD with linear learning-rate decay.
    Sgd,
    Adagrad,
    Adam,
    Rmsprop,
}

impl OptimizerKind {
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adagrad => "adagrad",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Rmsprop => "rmsprop",
        }
    }

    pub fn parse(s: &str) -> Option<OptimizerKind> {
        Some(match s {
            "sgd" => OptimizerKind::Sgd,
            "adagrad" => OptimizerKind::Adagrad,
            "adam" => OptimizerKind::Adam,
            "rmsprop" => OptimizerKind::Rmsprop,
            _ => return None,
        })
    }

    /// State vectors (of `dim` floats) per row: Adagrad's `G`, Adam's `m` and `v`,
    /// RMSprop's `S`.
    pub fn state_vectors(self) -> usize {
        match self {
            OptimizerKind::Sgd => 0,
            OptimizerKind::Adagrad | OptimizerKind::Rmsprop => 1,
            OptimizerKind::Adam => 2,
        }
    }

    /// Whether rows keep an update counter (Adam's bias correction).
    pub fn counts_steps(self) -> bool {
        self == OptimizerKind::Adam
    }

    /// Default learning rate: word2vec's for SGD (set by the model), the common default of
    /// each adaptive method otherwise (Adam 0.002 as in the d2l SGNS recipe).
    /// The default rate of each adaptive optimizer, chosen by a sweep on the shipped-data
    /// setup (text8-prefix12m, 3 epochs, minibatches of 512; BENCHMARKS.md "Rate sweep"):
    /// the rate with the best analogy accuracy.
    pub fn default_lr(self) -> Option<f32> {
        match self {
            OptimizerKind::Sgd => None,
            OptimizerKind::Adagrad => Some(0.2),
            OptimizerKind::Adam => Some(0.01),
            OptimizerKind::Rmsprop => Some(0.005),
        }
    }

    /// Default second decay rate: Adam's β₂ = 0.999, RMSprop's ρ = 0.99 (PyTorch's).
    pub fn default_beta2(self) -> f32 {
        match self {
            OptimizerKind::Rmsprop => 0.99,
            _ => 0.999,
        }
    }
}

/// The hyper-parameters of an adaptive optimizer, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimParams {
    pub kind: OptimizerKind,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Update every row every step (for measuring what laziness saves; CPU and GPU).
    pub dense: bool,
}

impl OptimParams {
    /// `kind`, lazy, with the command line's defaults: β₁ 0.9, `kind`'s β₂, ε 1e-8.
    pub fn defaults(kind: OptimizerKind) -> OptimParams {
        OptimParams {
            kind,
            beta1: 0.9,
            beta2: kind.default_beta2(),
            eps: 1e-8,
            dense: false,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.beta1) {
            return Err(Error::usage(
                "--beta1",
                format!("{} must be in [0, 1) (typical 0.9)", self.beta1),
            ));
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return Err(Error::usage(
                "--beta2",
                format!(
                    "{} must be in [0, 1) (typical 0.999; 0.99 for rmsprop)",
                    self.beta2
                ),
            ));
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(Error::usage(
                "--eps",
                format!("{} must be > 0 (typical 1e-8)", self.eps),
            ));
        }
        Ok(())
    }
}

/// Optimizer state of both matrices: `state_vectors` vectors of `dim` floats per row, laid
/// out row by row (`[s0 | s1]` for Adam's `m | v`), and Adam's per-row update counts.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimState {
    pub kind: OptimizerKind,
    pub dim: usize,
    pub input: Vec<f32>,
    pub output: Vec<f32>,
    pub input_steps: Vec<u32>,
    pub output_steps: Vec<u32>,
    /// Steps taken (the dense mode's Adam count; informative otherwise).
    pub step: u64,
}

impl OptimState {
    pub fn new(kind: OptimizerKind, rows: usize, dim: usize) -> OptimState {
        Self::with_rows(kind, rows, rows, dim)
    }

    /// Fresh state for `in_rows` input rows (the vocabulary's, and the subword buckets'
    /// with `--subwords`) and `out_rows` output rows.
    pub fn with_rows(
        kind: OptimizerKind,
        in_rows: usize,
        out_rows: usize,
        dim: usize,
    ) -> OptimState {
        let per_row = dim * kind.state_vectors();
        let steps = |rows| if kind.counts_steps() { rows } else { 0 };
        OptimState {
            kind,
            dim,
            input: vec![0.0; in_rows * per_row],
            output: vec![0.0; out_rows * per_row],
            input_steps: vec![0; steps(in_rows)],
            output_steps: vec![0; steps(out_rows)],
            step: 0,
        }
    }

    /// Floats of state per row.
    pub fn row_len(&self) -> usize {
        self.dim * self.kind.state_vectors()
    }

    /// Bytes of state for a `rows × dim` model (both matrices).
    pub fn bytes_for(kind: OptimizerKind, rows: usize, dim: usize) -> u64 {
        Self::bytes_for_rows(kind, rows, rows, dim)
    }

    /// Bytes of state for `in_rows` input and `out_rows` output rows of `dim`.
    pub fn bytes_for_rows(kind: OptimizerKind, in_rows: usize, out_rows: usize, dim: usize) -> u64 {
        let per_row = dim * kind.state_vectors() * 4 + if kind.counts_steps() { 4 } else { 0 };
        (in_rows + out_rows) as u64 * per_row as u64
    }
}

/// Applies one update to a row: `w` the weights, `state` the row's state
/// ([`OptimState::row_len`] floats), `t` the update count *after* this update (Adam),
/// `g` the summed gradient. Accumulates in f32, element by element, in the order the GPU
/// kernel uses. Always inlined, so it is vectorised with the caller's target features.
#[inline(always)]
pub fn update_row(p: &OptimParams, lr: f32, w: &mut [f32], state: &mut [f32], t: u32, g: &[f32]) {
    let dim = w.len();
    match p.kind {
        OptimizerKind::Sgd => {
            for (x, gd) in w.iter_mut().zip(g) {
                *x -= lr * gd;
            }
        }
        OptimizerKind::Adagrad => {
            for d in 0..dim {
                let s = state[d] + g[d] * g[d];
                state[d] = s;
                w[d] -= lr * g[d] / (s.sqrt() + p.eps);
            }
        }
        OptimizerKind::Rmsprop => {
            for d in 0..dim {
                let s = p.beta2 * state[d] + (1.0 - p.beta2) * g[d] * g[d];
                state[d] = s;
                w[d] -= lr * g[d] / (s.sqrt() + p.eps);
            }
        }
        OptimizerKind::Adam => {
            // Kingma & Ba's efficient form of the same step: the bias corrections folded
            // into the rate, lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε·√(1−β₂ᵗ)).
            let (c1, c2) = adam_corrections(p, t);
            let s2 = c2.sqrt();
            let rate = lr * s2 / c1;
            let eps = p.eps * s2;
            let (m, v) = state.split_at_mut(dim);
            for d in 0..dim {
                let md = p.beta1 * m[d] + (1.0 - p.beta1) * g[d];
                let vd = p.beta2 * v[d] + (1.0 - p.beta2) * g[d] * g[d];
                m[d] = md;
                v[d] = vd;
                w[d] -= rate * md / (vd.sqrt() + eps);
            }
        }
    }
}

/// Adam's bias corrections `1−β₁ᵗ` and `1−β₂ᵗ` for update count `t ≥ 1`, computed as
/// `1 − exp2(t·log2 β)` (the same expression in the kernel).
#[inline]
pub fn adam_corrections(p: &OptimParams, t: u32) -> (f32, f32) {
    let t = t.max(1) as f32;
    let c = |b: f32| {
        if b == 0.0 {
            1.0
        } else {
            1.0 - (t * b.log2()).exp2()
        }
    };
    (c(p.beta1), c(p.beta2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kind: OptimizerKind) -> OptimParams {
        OptimParams::defaults(kind)
    }

    #[test]
    fn adam_first_step_moves_by_lr_in_sign_direction() {
        // After one update m̂ = g and v̂ = g², so the step is lr·sign(g) (up to ε).
        let p = params(OptimizerKind::Adam);
        let mut w = vec![1.0f32, -2.0, 0.5];
        let mut s = vec![0.0f32; 6];
        update_row(&p, 0.01, &mut w, &mut s, 1, &[0.3, -4.0, 1e-3]);
        let want = [0.99, -1.99, 0.49];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn adam_matches_reference_formula_over_several_steps() {
        let p = params(OptimizerKind::Adam);
        let grads = [0.5f32, -0.1, 0.2, 0.0, 0.7];
        let (mut w, mut s) = (vec![0.0f32], vec![0.0f32; 2]);
        let (mut m, mut v, mut x) = (0.0f64, 0.0f64, 0.0f64);
        for (k, &g) in grads.iter().enumerate() {
            let t = k as i32 + 1;
            update_row(&p, 0.1, &mut w, &mut s, t as u32, &[g]);
            let g = g as f64;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            let mh = m / (1.0 - 0.9f64.powi(t));
            let vh = v / (1.0 - 0.999f64.powi(t));
            x -= 0.1 * mh / (vh.sqrt() + 1e-8);
        }
        assert!((w[0] as f64 - x).abs() < 1e-5, "{} vs {x}", w[0]);
    }

    #[test]
    fn adagrad_and_rmsprop_follow_their_formulas() {
        let p = params(OptimizerKind::Adagrad);
        let (mut w, mut s) = (vec![1.0f32], vec![0.0f32]);
        update_row(&p, 0.5, &mut w, &mut s, 1, &[2.0]);
        update_row(&p, 0.5, &mut w, &mut s, 2, &[1.0]);
        // G = 4 then 5: w = 1 − 0.5·2/2 − 0.5·1/√5.
        assert!((w[0] - (1.0 - 0.5 - 0.5 / 5f32.sqrt())).abs() < 1e-6);
        assert_eq!(s[0], 5.0);

        let p = params(OptimizerKind::Rmsprop);
        let (mut w, mut s) = (vec![0.0f32], vec![0.0f32]);
        update_row(&p, 0.1, &mut w, &mut s, 1, &[3.0]);
        // S = 0.01·9 = 0.09, step 0.1·3/0.3 = 1.
        assert!((s[0] - 0.09).abs() < 1e-7);
        assert!((w[0] + 1.0).abs() < 1e-5);
    }

    #[test]
    fn bias_correction_uses_the_count() {
        let p = params(OptimizerKind::Adam);
        let (c1, c2) = adam_corrections(&p, 3);
        assert!((c1 - (1.0 - 0.9f32.powi(3))).abs() < 1e-6);
        assert!((c2 - (1.0 - 0.999f32.powi(3))).abs() < 1e-6);
    }

    #[test]
    fn state_sizes() {
        assert_eq!(
            OptimState::bytes_for(OptimizerKind::Adam, 10, 4),
            2 * 10 * (32 + 4)
        );
        assert_eq!(OptimState::new(OptimizerKind::Adagrad, 3, 2).input.len(), 6);
        assert!(OptimState::new(OptimizerKind::Rmsprop, 3, 2)
            .input_steps
            .is_empty());
    }
}
