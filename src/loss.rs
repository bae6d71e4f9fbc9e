//! Negative-sampling loss: sigmoid binary cross-entropy against one positive and K noise
//! words.
//!
//! For an input vector `v` (the context word in skip-gram, the mean context in CBOW) and an
//! output vector `u` with label `y` (1 for the observed word, 0 for a noise word), the logit
//! is `f = v·u` and the loss
//!
//! ```text
//! L = −y·ln σ(f) − (1−y)·ln(1 − σ(f)) = softplus(−f) if y = 1, softplus(f) if y = 0.
//! ```
//!
//! Its derivative is `∂L/∂f = σ(f) − y`, so `∂L/∂u = (σ(f) − y)·v` and `∂L/∂v = (σ(f) − y)·u`.
//! word2vec.c writes the SGD step with `g = (y − σ(f))·α`: `u += g·v`, and `v` accumulates
//! `g·u` over the K+1 targets before it is updated. Like word2vec.c, `σ(f)` is taken as 1
//! above `f > 6` and 0 below `f < −6` (the gradient is then `(y−1)·α` or `y·α`).

/// word2vec.c's `MAX_EXP`: logits beyond ±6 saturate the sigmoid.
pub const MAX_EXP: f32 = 6.0;

/// The exact clipped gradient coefficient `g = (label − σ(f))·α` and the loss term. The GPU
/// kernels compute exactly this; the parity tests use it as the reference.
#[inline(always)]
pub fn sigmoid_bce(f: f32, label: f32, alpha: f32) -> (f32, f32) {
    let s = if f > MAX_EXP {
        1.0
    } else if f < -MAX_EXP {
        0.0
    } else {
        1.0 / (1.0 + (-f).exp())
    };
    let z = if label > 0.5 { -f } else { f };
    let loss = z.max(0.0) + (-z.abs()).exp().ln_1p();
    ((label - s) * alpha, loss)
}

const TABLE_SIZE: usize = 2048;

/// Tabulated σ and softplus over `[−MAX_EXP, MAX_EXP]`, as word2vec.c's `expTable` (which
/// has 1000 entries); 2048 entries keep the error of σ below 1.5e-3.
pub struct SigmoidTable {
    /// (σ(x), softplus(−x)) at bin centres.
    entries: Box<[[f32; 2]; TABLE_SIZE]>,
}

impl Default for SigmoidTable {
    fn default() -> Self {
        let mut entries = Box::new([[0.0f32; 2]; TABLE_SIZE]);
        for (i, e) in entries.iter_mut().enumerate() {
            let x = ((i as f64 + 0.5) / TABLE_SIZE as f64 * 2.0 - 1.0) * MAX_EXP as f64;
            let s = 1.0 / (1.0 + (-x).exp());
            let sp = (-x).max(0.0) + (-x.abs()).exp().ln_1p();
            *e = [s as f32, sp as f32];
        }
        SigmoidTable { entries }
    }
}

impl SigmoidTable {
    /// `(g, loss)` as [`sigmoid_bce`], with σ and the loss looked up.
    #[inline(always)]
    pub fn bce(&self, f: f32, label: f32, alpha: f32) -> (f32, f32) {
        let positive = label > 0.5;
        if f >= MAX_EXP {
            return ((label - 1.0) * alpha, if positive { 0.0 } else { f });
        }
        if f <= -MAX_EXP {
            return (label * alpha, if positive { -f } else { 0.0 });
        }
        let idx = ((f + MAX_EXP) * (TABLE_SIZE as f32 / (2.0 * MAX_EXP))) as usize;
        let [s, sp_neg] = self.entries[idx.min(TABLE_SIZE - 1)];
        // softplus(f) = softplus(−f) + f
        let loss = if positive { sp_neg } else { sp_neg + f };
        ((label - s) * alpha, loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_difference() {
        for &f in &[-3.0f32, -0.5, 0.0, 0.7, 2.5] {
            for &y in &[0.0f32, 1.0] {
                let (g, _) = sigmoid_bce(f, y, 1.0);
                let h = 1e-3f32;
                let lp = sigmoid_bce(f + h, y, 1.0).1 as f64;
                let lm = sigmoid_bce(f - h, y, 1.0).1 as f64;
                let dl = (lp - lm) / (2.0 * h as f64);
                // g = −∂L/∂f
                assert!(
                    (g as f64 + dl).abs() < 1e-3,
                    "f={f} y={y}: g={g}, dL/df={dl}"
                );
            }
        }
    }

    #[test]
    fn clipping_matches_word2vec() {
        assert_eq!(sigmoid_bce(7.0, 1.0, 0.5).0, 0.0);
        assert_eq!(sigmoid_bce(7.0, 0.0, 0.5).0, -0.5);
        assert_eq!(sigmoid_bce(-7.0, 1.0, 0.5).0, 0.5);
        assert_eq!(sigmoid_bce(-7.0, 0.0, 0.5).0, 0.0);
    }

    #[test]
    fn table_is_close_to_exact() {
        let t = SigmoidTable::default();
        let mut x = -8.0f32;
        while x < 8.0 {
            for &y in &[0.0f32, 1.0] {
                let (ge, le) = sigmoid_bce(x, y, 1.0);
                let (gt, lt) = t.bce(x, y, 1.0);
                assert!((ge - gt).abs() < 1.5e-3, "x={x} y={y}: {ge} vs {gt}");
                assert!(
                    (le - lt).abs() < 5e-3 + le.abs() * 1e-3,
                    "x={x} y={y}: {le} vs {lt}"
                );
            }
            x += 0.0137;
        }
    }
}
