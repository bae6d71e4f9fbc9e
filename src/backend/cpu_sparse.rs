//! The CPU engine of the sparse adaptive optimizers, and the reference the GPU kernels are
//! tested against.
//!
//! A step has two phases, as on the GPU: (1) every example reads the rows as they were when
//! the step began and adds its gradients into one buffer per *slot* (unique row of the
//! minibatch), so a row used by many examples gets their sum; (2) every slot's row and
//! optimizer state are updated once from the summed gradient ([`crate::optim::update_row`]).
//! Nothing outside the minibatch's rows is read or written, unless the dense mode is asked
//! for (then every row of both matrices is updated, with gradient 0 where unused — the
//! cost a dense framework optimizer pays, kept for measuring what laziness saves).

use crate::backend::cpu::{axpy, dot};
use crate::backend::{SparseBackend, StepLoss};
use crate::error::Result;
use crate::loss::sigmoid_bce;
use crate::minibatch::{Minibatch, SKIP};
use crate::model::Model;
use crate::optim::{update_row, OptimParams, OptimState};

pub struct CpuSparse {
    pub model: Model,
    pub state: OptimState,
    opt: OptimParams,
    grads_in: Vec<f32>,
    grads_out: Vec<f32>,
    h: Vec<f32>,
    dh: Vec<f32>,
    zero: Vec<f32>,
    loss: StepLoss,
}

impl CpuSparse {
    pub fn new(model: Model, state: OptimState, opt: OptimParams) -> CpuSparse {
        let dim = model.dim;
        CpuSparse {
            model,
            state,
            opt,
            grads_in: Vec::new(),
            grads_out: Vec::new(),
            h: vec![0.0; dim],
            dh: vec![0.0; dim],
            zero: vec![0.0; dim],
            loss: StepLoss::default(),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gradients_avx2(&mut self, mb: &Minibatch) {
        self.gradients::<true>(mb)
    }

    /// Phase 1: summed gradients of the step's loss per slot, from the step's starting rows.
    #[inline(always)]
    fn gradients<const FMA: bool>(&mut self, mb: &Minibatch) {
        let dim = self.model.dim;
        self.grads_in.clear();
        self.grads_in.resize(mb.in_rows.len() * dim, 0.0);
        self.grads_out.clear();
        self.grads_out.resize(mb.out_rows.len() * dim, 0.0);
        let (input, output) = (&self.model.input, &self.model.output);
        let row = |r: u32| -> std::ops::Range<usize> { r as usize * dim..(r as usize + 1) * dim };
        for e in 0..mb.examples() {
            let ins = mb.example_inputs(e);
            let h = &mut self.h;
            h.copy_from_slice(&input[row(mb.in_rows[ins[0] as usize])]);
            for &s in &ins[1..] {
                axpy::<FMA>(h, 1.0, &input[row(mb.in_rows[s as usize])]);
            }
            let inv = 1.0 / ins.len() as f32;
            if ins.len() > 1 {
                h.iter_mut().for_each(|x| *x *= inv);
            }
            self.dh.iter_mut().for_each(|x| *x = 0.0);
            for (j, &s) in mb.example_outputs(e).iter().enumerate() {
                if s == SKIP {
                    continue;
                }
                let u = &output[row(mb.out_rows[s as usize])];
                let label = if j == 0 { 1.0 } else { 0.0 };
                let (g, l) = sigmoid_bce(dot::<FMA>(h, u), label, 1.0);
                self.loss.add(l as f64);
                // ∂L/∂f = σ(f) − y = −g.
                let gs = &mut self.grads_out[s as usize * dim..(s as usize + 1) * dim];
                axpy::<FMA>(gs, -g, h);
                axpy::<FMA>(&mut self.dh, -g, u);
            }
            for &s in ins {
                let gs = &mut self.grads_in[s as usize * dim..(s as usize + 1) * dim];
                axpy::<FMA>(gs, inv, &self.dh);
            }
        }
    }

    /// Phase 2: one optimizer update per slot (or per row, in dense mode).
    fn apply(&mut self, mb: &Minibatch, lr: f32) {
        let dim = self.model.dim;
        let rl = self.state.row_len();
        self.state.step += 1;
        let global_t = self.state.step.min(u32::MAX as u64) as u32;
        let opt = self.opt;
        let sides = [
            (
                &mut self.model.input,
                &mut self.state.input,
                &mut self.state.input_steps,
                &mb.in_rows,
                &self.grads_in,
            ),
            (
                &mut self.model.output,
                &mut self.state.output,
                &mut self.state.output_steps,
                &mb.out_rows,
                &self.grads_out,
            ),
        ];
        for (w, st, steps, rows, grads) in sides {
            if opt.dense {
                // Every row, gradient 0 where the minibatch does not use it.
                let vocab = w.len() / dim;
                let mut slot_of = vec![SKIP; 0];
                slot_of.resize(vocab, SKIP);
                for (s, &r) in rows.iter().enumerate() {
                    slot_of[r as usize] = s as u32;
                }
                for r in 0..vocab {
                    let g = match slot_of[r] {
                        SKIP => &self.zero[..],
                        s => &grads[s as usize * dim..(s as usize + 1) * dim],
                    };
                    update_row(
                        &opt,
                        lr,
                        &mut w[r * dim..(r + 1) * dim],
                        &mut st[r * rl..(r + 1) * rl],
                        global_t,
                        g,
                    );
                }
                continue;
            }
            for (s, &r) in rows.iter().enumerate() {
                let r = r as usize;
                let t = match steps.get_mut(r) {
                    Some(t) => {
                        *t = t.saturating_add(1);
                        *t
                    }
                    None => 0,
                };
                update_row(
                    &opt,
                    lr,
                    &mut w[r * dim..(r + 1) * dim],
                    &mut st[r * rl..(r + 1) * rl],
                    t,
                    &grads[s * dim..(s + 1) * dim],
                );
            }
        }
    }
}

impl SparseBackend for CpuSparse {
    fn step(&mut self, mb: &Minibatch, lr: f32) -> Result<()> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for.
                unsafe { self.gradients_avx2(mb) };
                self.apply(mb, lr);
                return Ok(());
            }
        }
        self.gradients::<false>(mb);
        self.apply(mb, lr);
        Ok(())
    }

    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        Ok(Some(std::mem::take(&mut self.loss)))
    }

    fn download(&mut self) -> Result<(Model, OptimState)> {
        Ok((self.model.clone(), self.state.clone()))
    }

    fn describe(&self) -> String {
        "cpu".to_string()
    }

    fn backend_name(&self) -> &'static str {
        "cpu"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelKind;
    use crate::minibatch::MinibatchBuilder;
    use crate::optim::OptimizerKind;
    use crate::sampling::{AliasTable, Rng};

    fn setup(kind: OptimizerKind, dense: bool) -> CpuSparse {
        let mut model = Model::new(6, 4, 3);
        model.output.iter_mut().enumerate().for_each(|(i, x)| {
            *x = ((i * 7 % 11) as f32 - 5.0) * 0.05;
        });
        let opt = OptimParams {
            kind,
            beta1: 0.9,
            beta2: kind.default_beta2(),
            eps: 1e-8,
            dense,
        };
        CpuSparse::new(model, OptimState::new(kind, 6, 4), opt)
    }

    fn batch(model: ModelKind) -> Minibatch {
        let alias = AliasTable::unigram(&[5, 4, 3, 2, 1, 1], 0.75);
        let mut b = MinibatchBuilder::new(model, 2, 2, 6);
        let mut mb = Minibatch::default();
        b.add(&[0, 1, 0, 2, 0, 3], 0..6, &mut Rng::new(3), &alias, &mut mb);
        b.finish(&mb);
        mb
    }

    /// The summed slot gradients equal a finite-difference derivative of the step loss.
    #[test]
    fn gradients_match_finite_differences() {
        for model in [ModelKind::SkipGram, ModelKind::Cbow] {
            let mb = batch(model);
            let mut e = setup(OptimizerKind::Adam, false);
            e.gradients::<false>(&mb);
            let loss_of = |m: &Model| {
                let mut c = CpuSparse::new(m.clone(), e.state.clone(), e.opt);
                c.gradients::<false>(&mb);
                c.loss.sum
            };
            let base = e.model.clone();
            let h = 1e-2f32;
            for (s, &r) in mb.in_rows.iter().enumerate() {
                for d in 0..4 {
                    let mut p = base.clone();
                    p.input[r as usize * 4 + d] += h;
                    let mut m = base.clone();
                    m.input[r as usize * 4 + d] -= h;
                    let fd = (loss_of(&p) - loss_of(&m)) / (2.0 * h as f64);
                    let g = e.grads_in[s * 4 + d] as f64;
                    assert!(
                        (fd - g).abs() < 2e-3,
                        "{model:?} in row {r} d {d}: {fd} vs {g}"
                    );
                }
            }
            for (s, &r) in mb.out_rows.iter().enumerate() {
                for d in 0..4 {
                    let mut p = base.clone();
                    p.output[r as usize * 4 + d] += h;
                    let mut m = base.clone();
                    m.output[r as usize * 4 + d] -= h;
                    let fd = (loss_of(&p) - loss_of(&m)) / (2.0 * h as f64);
                    let g = e.grads_out[s * 4 + d] as f64;
                    assert!(
                        (fd - g).abs() < 2e-3,
                        "{model:?} out row {r} d {d}: {fd} vs {g}"
                    );
                }
            }
        }
    }

    #[test]
    fn lazy_touches_only_used_rows_and_counts_per_row() {
        let mb = batch(ModelKind::SkipGram);
        let mut e = setup(OptimizerKind::Adam, false);
        let before = e.model.clone();
        e.step(&mb, 0.01).unwrap();
        e.step(&mb, 0.01).unwrap();
        for r in 0..6u32 {
            let used = mb.in_rows.contains(&r);
            let row = r as usize * 4..(r as usize + 1) * 4;
            assert_eq!(e.model.input[row.clone()] != before.input[row], used);
            assert_eq!(e.state.input_steps[r as usize], if used { 2 } else { 0 });
        }
        // Row 5 (rarest) is in no window: untouched state.
        assert!(e.state.output[5 * 8..6 * 8].iter().all(|&x| x == 0.0) || mb.out_rows.contains(&5));
    }

    /// For Adagrad, lazy and dense give the same result (a zero gradient changes nothing);
    /// for Adam they differ on unused rows (momentum keeps moving them).
    #[test]
    fn dense_mode_equals_lazy_for_adagrad_only() {
        let mb = batch(ModelKind::SkipGram);
        let mut lazy = setup(OptimizerKind::Adagrad, false);
        let mut dense = setup(OptimizerKind::Adagrad, true);
        for _ in 0..3 {
            lazy.step(&mb, 0.1).unwrap();
            dense.step(&mb, 0.1).unwrap();
        }
        assert_eq!(lazy.model, dense.model);
        let mut lazy = setup(OptimizerKind::Adam, false);
        let mut dense = setup(OptimizerKind::Adam, true);
        // A second minibatch on other rows: dense Adam keeps moving the first one's rows.
        let alias = AliasTable::unigram(&[5, 4, 3, 2, 1, 1], 0.75);
        let mut b = MinibatchBuilder::new(ModelKind::SkipGram, 2, 2, 6);
        let mut other = Minibatch::default();
        b.add(&[4, 5, 4], 0..3, &mut Rng::new(9), &alias, &mut other);
        lazy.step(&mb, 0.1).unwrap();
        dense.step(&mb, 0.1).unwrap();
        assert_eq!(lazy.model, dense.model);
        lazy.step(&other, 0.1).unwrap();
        dense.step(&other, 0.1).unwrap();
        assert_ne!(lazy.model, dense.model);
    }
}
