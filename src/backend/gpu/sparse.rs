//! The minibatch optimizers on the GPU (`shaders/sparse.wgsl`): both matrices and their
//! optimizer state stay on the device; each step is one upload (the minibatch's slot rows,
//! examples and occurrence lists) and two dispatches: `grad` (a workgroup per example,
//! writing that example's h, ∂L/∂h and logit coefficients) and `apply` (a workgroup per
//! slot: the row's gradient summed along its occurrences in example order, then one
//! optimizer update). With `--dense-optimizer` (a measuring baseline) a third dispatch,
//! `decay`, gives every row `apply` did not update the update of gradient 0 (Adam and
//! RMSprop; for Adagrad and SGD that update changes nothing). The CPU reference is
//! [`crate::backend::cpu_sparse::CpuSparse`].
//!
//! Duplicated rows: exactly as on the CPU, the gradients of every occurrence of a row in
//! the minibatch are summed, in example order, before the row's single update. There are
//! no atomics, so a step gives the same bits on every run on a given adapter; results
//! differ from the CPU's by float rounding only (dot-product order, `exp`/`log`, fused
//! multiply-adds; the parity tests bound it).

use super::context::{describe, GpuContext};
use super::{
    dispatch_size, pipeline, shaders, split_rows, stage_step, step_entries, step_group,
    upload_ring, LossReduction, Split, StepRing, PARTS,
};
use crate::backend::{KernelParams, SparseBackend, StepLoss};
use crate::error::{Error, Result};
use crate::minibatch::Minibatch;
use crate::model::Model;
use crate::optim::{OptimParams, OptimState, OptimizerKind};

/// u32 words before the arrays in each minibatch upload.
const MB_HEADER: usize = 16;

pub struct GpuSparse {
    ctx: GpuContext,
    params: KernelParams,
    opt: OptimParams,
    /// Output rows (the vocabulary).
    vocab: usize,
    /// Input rows: the vocabulary's, then with subwords the bucket rows
    /// ([`Model::merged_subwords`]).
    in_rows: usize,
    split: Split,
    /// Floats per row record: weights then state.
    rec: usize,
    input: Vec<wgpu::Buffer>,
    output: Vec<wgpu::Buffer>,
    steps: wgpu::Buffer,
    uploads: Vec<wgpu::Buffer>,
    grad: wgpu::ComputePipeline,
    apply: wgpu::ComputePipeline,
    grad_groups: Vec<wgpu::BindGroup>,
    apply_groups: Vec<wgpu::BindGroup>,
    /// `--dense-optimizer` with Adam or RMSprop: the kernel for the rows a step leaves out
    /// (bound as `apply` is).
    decay: Option<wgpu::ComputePipeline>,
    loss: LossReduction,
    /// Capacity: upload words, examples, slots.
    max_examples: usize,
    max_slots: usize,
    ring: StepRing,
    /// Distributed syncs' reads and row kernel.
    sync: super::rowsync::RowSync,
}

impl GpuSparse {
    /// Uploads the model and its state (interleaved into row records) and builds the
    /// kernels, sized for minibatches of `batch_size` centre words whose words bring at
    /// most `bag` input rows each (1; with subwords the model's input matrix holds the
    /// bucket rows after the vocabulary's, [`Model::merged_subwords`], and `bag` is
    /// [`crate::subword::SubwordTable::max_bag`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: GpuContext,
        model: &Model,
        state: &OptimState,
        params: KernelParams,
        opt: OptimParams,
        batch_size: usize,
        bag: usize,
        max_binding_bytes: Option<u64>,
    ) -> Result<GpuSparse> {
        let limits = &ctx.limits;
        let need_wg = shaders::sparse_workgroup_bytes(&params);
        if need_wg > limits.max_compute_workgroup_storage_size as u64 {
            return Err(Error::Gpu(format!(
                "--negative {} needs {need_wg} bytes of workgroup memory; {} allows {}. Use a smaller --negative or --backend cpu",
                params.negative, ctx.info.name, limits.max_compute_workgroup_storage_size
            )));
        }
        if limits.max_storage_buffers_per_shader_stage < 3 + 2 * PARTS as u32 {
            return Err(Error::Gpu(format!(
                "{} allows {} storage buffers per shader stage; the kernels need {}. Use --backend cpu",
                ctx.info.name,
                limits.max_storage_buffers_per_shader_stage,
                3 + 2 * PARTS
            )));
        }
        let dim = params.dim;
        // Output rows are the vocabulary's; input rows may be more (subword buckets).
        let vocab = model.output.len() / dim.max(1);
        let in_rows = model.input.len() / dim.max(1);
        let rec = dim * (1 + opt.kind.state_vectors());
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        // The test hook forces the matrices' row-range split only.
        let split = split_rows(
            in_rows,
            rec,
            4,
            max_binding.min(max_binding_bytes.unwrap_or(u64::MAX)),
        )
        .map_err(|e| match e {
            Error::Gpu(m) if in_rows > vocab => Error::Gpu(format!(
                "{m}; with --subwords the input side holds {vocab} words and {} bucket rows: a smaller --bucket also helps",
                in_rows - vocab
            )),
            e => e,
        })?;
        let (max_examples, max_inputs, max_in, max_out) = crate::minibatch::capacity(
            params.model,
            params.window,
            params.negative,
            batch_size,
            (in_rows, vocab),
            bag.max(1),
        );
        let max_slots = max_in + max_out;
        let nout = params.negative + 1;
        // Header, slot rows, example offsets, inputs, outputs, then the occurrence lists
        // (offsets and entries for both matrices).
        let max_words = MB_HEADER
            + max_slots
            + max_examples
            + 1
            + max_inputs
            + max_examples * nout
            + max_slots
            + 2
            + max_inputs
            + max_examples * nout;
        let ex_floats = max_examples * (2 * dim + nout);
        let too_big = |what: &str, bytes: u64| -> Result<()> {
            if bytes > max_binding {
                return Err(Error::Gpu(format!(
                    "the {what} of a minibatch of --batch-size {batch_size} needs {} MiB, more than one binding of {} ({} MiB); use a smaller --batch-size",
                    bytes >> 20,
                    ctx.info.name,
                    max_binding >> 20
                )));
            }
            Ok(())
        };
        too_big("per-example buffer", (ex_floats * 4) as u64)?;
        too_big("upload", (max_words * 4) as u64)?;
        let device = &ctx.device;
        let storage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let buffer = |label: &str, bytes: usize, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.max(4) as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let rl = state.row_len();
        let make_parts = |label: &str, w: &[f32], st: &[f32]| -> Vec<wgpu::Buffer> {
            let rows = w.len() / dim.max(1);
            (0..PARTS)
                .map(|p| {
                    let lo = (p * split.rows_per_part).min(rows);
                    let hi = ((p + 1) * split.rows_per_part).min(rows);
                    let buf = buffer(label, (hi - lo) * rec * 4, storage);
                    if hi > lo {
                        let mut data = Vec::with_capacity((hi - lo) * rec);
                        for r in lo..hi {
                            data.extend_from_slice(&w[r * dim..(r + 1) * dim]);
                            data.extend_from_slice(&st[r * rl..(r + 1) * rl]);
                        }
                        ctx.queue.write_buffer(&buf, 0, bytemuck::cast_slice(&data));
                    }
                    buf
                })
                .collect()
        };
        let input = make_parts("input records", &model.input, &state.input);
        let output = make_parts("output records", &model.output, &state.output);
        // Adam's update counts: the input rows', then the output rows'.
        let steps = buffer("adam steps", (in_rows + vocab) * 4, storage);
        if opt.kind.counts_steps() {
            let mut all = state.input_steps.clone();
            all.extend_from_slice(&state.output_steps);
            ctx.queue
                .write_buffer(&steps, 0, bytemuck::cast_slice(&all));
        }
        let ex = buffer(
            "per-example h, dL/dh, coefficients",
            ex_floats * 4,
            wgpu::BufferUsages::STORAGE,
        );
        let loss_out = buffer(
            "loss per example",
            max_examples * 8,
            wgpu::BufferUsages::STORAGE,
        );
        let uploads = upload_ring(device, "minibatch", (max_words * 4) as u64);
        let entries = step_entries(false);
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("sparse"),
            entries: &entries,
        });
        let src = shaders::sparse_source(
            &params,
            &opt,
            split.rows_per_part as u32,
            (in_rows, vocab),
            max_examples,
        );
        let grad = pipeline(device, "sparse grad", &src, "grad", &layout);
        let apply = pipeline(device, "sparse apply", &src, "apply", &layout);
        let decays = matches!(opt.kind, OptimizerKind::Adam | OptimizerKind::Rmsprop);
        let decay =
            (opt.dense && decays).then(|| pipeline(device, "sparse decay", &src, "decay", &layout));
        // Dense mode: `apply` and `decay` share the step that last updated each row (the
        // per-row counts, unused there, stay as they were, as on the CPU).
        let marks = opt
            .dense
            .then(|| buffer("rows updated per step", (in_rows + vocab) * 4, storage));
        let matrices: Vec<&wgpu::Buffer> = input.iter().chain(&output).collect();
        let group = |upload: &wgpu::Buffer, aux: &wgpu::Buffer| {
            let fixed = [(0, upload), (1, &ex), (2, aux)];
            step_group(device, "sparse", &layout, &fixed, &matrices)
        };
        let grad_groups = uploads.iter().map(|u| group(u, &loss_out)).collect();
        let apply_groups = uploads
            .iter()
            .map(|u| group(u, marks.as_ref().unwrap_or(&steps)))
            .collect();
        let loss = LossReduction::new(&ctx, &uploads, &loss_out);
        ctx.queue.submit([]);
        ctx.check()?;
        Ok(GpuSparse {
            ctx,
            params,
            opt,
            vocab,
            in_rows,
            split,
            rec,
            input,
            output,
            steps,
            uploads,
            grad,
            apply,
            grad_groups,
            apply_groups,
            decay,
            loss,
            max_examples,
            max_slots,
            ring: StepRing::starting_at(state.step),
            sync: Default::default(),
        })
    }

    pub fn split(&self) -> Split {
        self.split
    }

    /// Weights and state of one matrix from its record buffers.
    fn download_records(
        &self,
        parts: &[wgpu::Buffer],
        rows: usize,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let dim = self.params.dim;
        let rl = self.rec - dim;
        let mut w = Vec::with_capacity(rows * dim);
        let mut st = Vec::with_capacity(rows * rl);
        for (p, buf) in parts.iter().enumerate() {
            let lo = (p * self.split.rows_per_part).min(rows);
            let hi = ((p + 1) * self.split.rows_per_part).min(rows);
            if hi == lo {
                continue;
            }
            let mut data = vec![0.0f32; (hi - lo) * self.rec];
            self.ctx
                .copy_to_host(buf, bytemuck::cast_slice_mut(&mut data))?;
            for r in data.chunks_exact(self.rec) {
                w.extend_from_slice(&r[..dim]);
                st.extend_from_slice(&r[dim..]);
            }
        }
        Ok((w, st))
    }
}

impl super::rowsync::RowHost for GpuSparse {
    fn row_sync(&self) -> (&GpuContext, &super::rowsync::RowSync) {
        (&self.ctx, &self.sync)
    }

    /// The row records: the weights, then the optimizer state, which a sync leaves alone.
    fn matrix_rows(&self, m: crate::backend::Matrix) -> Result<super::rowsync::Rows<'_>> {
        let output = match m {
            crate::backend::Matrix::Input => false,
            crate::backend::Matrix::Output => true,
            crate::backend::Matrix::Tree => return Err(crate::backend::no_tree()),
        };
        Ok(super::rowsync::Rows {
            parts: if output { &self.output } else { &self.input },
            rows_per_part: self.split.rows_per_part,
            rows: if output { self.vocab } else { self.in_rows },
            dim: self.params.dim,
            stride: self.rec,
        })
    }
}

impl SparseBackend for GpuSparse {
    fn step(&mut self, mb: &Minibatch, lr: f32) -> Result<()> {
        let n_ex = mb.examples();
        if n_ex == 0 {
            return Ok(());
        }
        let slots = mb.in_rows.len() + mb.out_rows.len();
        if n_ex > self.max_examples || slots > self.max_slots {
            return Err(Error::Gpu(format!(
                "minibatch of {n_ex} examples and {slots} rows exceeds the GPU buffers ({} and {})",
                self.max_examples, self.max_slots
            )));
        }
        let k = self.ring.slot();
        // The upload: a header (rate, counts, each array's offset in words), then the arrays,
        // copied straight into wgpu's staging memory (one copy of the minibatch on this
        // thread, which drives the device).
        let arrays: [&[u32]; 9] = [
            &mb.in_rows,
            &mb.out_rows,
            &mb.offsets,
            &mb.inputs,
            &mb.outputs,
            &mb.in_occ_offsets,
            &mb.in_occ,
            &mb.out_occ_offsets,
            &mb.out_occ,
        ];
        let mut header = [0u32; MB_HEADER];
        header[0] = lr.to_bits();
        header[1] = mb.in_rows.len() as u32;
        header[2] = n_ex as u32;
        header[3] = mb.out_rows.len() as u32;
        // The run's step count, from 1 (the CPU's `OptimState::step` after this step).
        header[13] = (self.ring.step + 1).min(u32::MAX as u64) as u32;
        stage_step(
            &self.ctx,
            &self.uploads[k],
            (&mut header, 4),
            &arrays,
            "minibatch upload",
        )?;
        let (gx, gy) = dispatch_size(&self.ctx, n_ex);
        let (ax, ay) = dispatch_size(&self.ctx, slots);
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("sparse step"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.grad);
            pass.set_bind_group(0, &self.grad_groups[k], &[]);
            pass.dispatch_workgroups(gx, gy, 1);
            pass.set_pipeline(&self.apply);
            pass.set_bind_group(0, &self.apply_groups[k], &[]);
            pass.dispatch_workgroups(ax, ay, 1);
            if let Some(decay) = &self.decay {
                let (dx, dy) = dispatch_size(&self.ctx, self.in_rows + self.vocab);
                pass.set_pipeline(decay);
                pass.dispatch_workgroups(dx, dy, 1);
            }
        }
        self.ring.submit(&self.ctx, enc.finish())
    }

    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        self.loss.take(&self.ctx, &mut self.ring)
    }

    fn download(&mut self) -> Result<(Model, OptimState)> {
        self.ring.drain(&self.ctx)?;
        let (wi, si) = self.download_records(&self.input, self.in_rows)?;
        let (wo, so) = self.download_records(&self.output, self.vocab)?;
        let mut state = OptimState::new(self.opt.kind, 0, self.params.dim);
        state.input = si;
        state.output = so;
        state.step = self.ring.step;
        if self.opt.kind.counts_steps() {
            let mut all = vec![0u32; self.in_rows + self.vocab];
            self.ctx
                .copy_to_host(&self.steps, bytemuck::cast_slice_mut(&mut all))?;
            state.output_steps = all.split_off(self.in_rows);
            state.input_steps = all;
        }
        Ok((
            Model {
                dim: self.params.dim,
                input: wi,
                output: wo,
                hs: Vec::new(),
                subwords: Vec::new(),
            },
            state,
        ))
    }

    fn describe(&self) -> String {
        describe(&self.ctx.info)
    }

    fn backend_name(&self) -> &'static str {
        self.ctx.backend_name()
    }
}
