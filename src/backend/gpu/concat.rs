//! `doc2vec --dm-concat` on a GPU: the input matrix (word rows, the null word's, then the
//! document rows) and the output matrix (negative-sampling rows, then the tree's nodes, each
//! as long as the concatenated layer) live on the device; each step uploads one
//! [`ConcatStep`] (one bulk write) and one kernel runs it (`shaders/concat.wgsl`, a
//! workgroup per position). The CPU reference of a step is
//! [`crate::concat_batch::reference_step`].

use super::context::GpuContext;
use super::shaders::{self, Atomics};
use super::{
    choose, dispatch_size, matrix_parts, pipeline_with, split_rows, stage_step, step_entries,
    step_group, storage_entry, upload_ring, LossReduction, Split, StepRing, PARTS,
};
use crate::backend::StepLoss;
use crate::concat_batch::{check_step, ConcatShape, ConcatStep};
use crate::config::{FeatureVariant, Precision};
use crate::error::{Error, Result};

/// Words of the upload's header (concat.wgsl).
const HEADER: usize = 8;

/// How the kernel is built; the defaults choose by the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatOptions {
    /// Forces the atomics (None: the best the adapter has).
    pub atomics: Option<Atomics>,
    /// Invocations per workgroup (a power of two: the logit is summed as a tree).
    pub workgroup: u32,
    /// Lowers the bytes per matrix binding (tests of split matrices).
    pub max_binding: Option<u64>,
    /// Inference: only the document rows (slot 0 of each position) learn.
    pub frozen: bool,
}

impl Default for ConcatOptions {
    fn default() -> Self {
        ConcatOptions {
            atomics: None,
            workgroup: shaders::WORKGROUP,
            max_binding: None,
            frozen: false,
        }
    }
}

/// The dm_concat model's matrices and kernel on one device.
pub struct GpuConcat {
    ctx: GpuContext,
    shape: ConcatShape,
    /// Input rows and output rows (of the layer's length).
    in_rows: usize,
    out_rows: usize,
    split: Split,
    /// Positions and cells a step may hold (the buffers are sized for it).
    max_positions: usize,
    max_cells: usize,
    input: Vec<wgpu::Buffer>,
    output: Vec<wgpu::Buffer>,
    uploads: Vec<wgpu::Buffer>,
    groups: Vec<wgpu::BindGroup>,
    kernel: wgpu::ComputePipeline,
    loss: LossReduction,
    ring: StepRing,
    atomics: Atomics,
    /// Row reads and writes of the input matrix (inference's document rows).
    sync: super::rowsync::RowSync,
}

impl GpuConcat {
    /// Puts the input rows (`inputs`: the word rows with the null word's, then the document
    /// rows, all of `shape.dim`) and the output rows (`outputs`: the negative-sampling rows,
    /// then the tree's, all of `shape.layer()`) on the device, for steps of at most
    /// `max_positions` positions and `max_cells` cells, built as `options` says.
    pub fn new(
        ctx: GpuContext,
        shape: ConcatShape,
        (inputs, outputs): (&[&[f32]], &[&[f32]]),
        (max_positions, max_cells): (usize, usize),
        options: ConcatOptions,
    ) -> Result<GpuConcat> {
        let ConcatOptions {
            atomics,
            workgroup,
            max_binding,
            frozen,
        } = options;
        if !workgroup.is_power_of_two() {
            return Err(Error::usage(
                "--gpu-workgroup",
                format!("{workgroup} is not a power of two"),
            ));
        }
        let (atomics, _) = choose(atomics, &ctx)?;
        let lim = &ctx.limits;
        let need = 4 + 2 * PARTS as u32;
        if lim.max_storage_buffers_per_shader_stage < need {
            return Err(Error::Gpu(format!(
                "{} allows {} storage buffers per shader stage; the dm_concat kernel needs {need}. Use --backend cpu",
                ctx.info.name, lim.max_storage_buffers_per_shader_stage
            )));
        }
        let wg_need = shaders::concat_workgroup_bytes(shape.dim, shape.window, workgroup);
        let wg_limit = lim.max_compute_workgroup_storage_size as u64;
        if wg_need > wg_limit {
            return Err(Error::usage(
                "--dm-concat",
                format!(
                    "a layer of {} rows of --dim {} needs {wg_need} bytes of workgroup memory on the GPU; {} allows {wg_limit}. Use a smaller --window or --dim, or --backend cpu",
                    shape.slots(),
                    shape.dim,
                    ctx.info.name
                ),
            ));
        }
        let dim = shape.dim;
        let rows_of =
            |m: &[&[f32]], len: usize| m.iter().map(|s| s.len()).sum::<usize>() / len.max(1);
        let in_rows = rows_of(inputs, dim);
        let out_rows = rows_of(outputs, shape.layer());
        // The kernel addresses both matrices in rows of `dim`: an output row is
        // `shape.slots()` of them.
        let sub_rows = out_rows * shape.slots();
        let binding = lim.max_storage_buffer_binding_size.min(lim.max_buffer_size);
        let matrix_binding = binding.min(max_binding.unwrap_or(u64::MAX));
        let split = split_rows(in_rows.max(sub_rows), dim, 4, matrix_binding).map_err(|_| {
            Error::usage(
                "--dm-concat",
                format!(
                    "the output matrix ({out_rows} rows of {} floats, {} MiB) does not fit the kernel's {PARTS} storage bindings of at most {} MiB on {}; use a smaller --dim or --window, a larger --min-count, or --backend cpu",
                    shape.layer(),
                    (sub_rows as u64 * dim as u64 * 4) >> 20,
                    matrix_binding >> 20,
                    ctx.info.name
                ),
            )
        })?;
        let upload_words = HEADER + max_positions * (shape.slots() + 2) + 1 + max_cells;
        if (upload_words * 4) as u64 > binding {
            return Err(Error::usage(
                "--gpu-batch",
                format!(
                    "a step of {max_positions} positions needs {} MiB of upload, more than one binding of {} ({} MiB); use a smaller --gpu-batch",
                    (upload_words * 4) >> 20,
                    ctx.info.name,
                    binding >> 20
                ),
            ));
        }
        let device = &ctx.device;
        let buffer = |label: &str, bytes: usize| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.max(8) as u64,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        let input = matrix_parts(
            &ctx,
            "dm_concat input",
            (in_rows, dim, Precision::F32),
            split,
            inputs,
        );
        let output = matrix_parts(
            &ctx,
            "dm_concat output",
            (sub_rows, dim, Precision::F32),
            split,
            outputs,
        );
        let loss_out = buffer("dm_concat loss per position", max_positions * 8);
        let unused = buffer("unused noise table", 8);
        let adds = buffer("dm_concat add count", super::ADD_COUNT_BYTES as usize);
        let uploads = upload_ring(device, "dm_concat step", (upload_words * 4) as u64);
        let mut entries = step_entries(true);
        entries.push(storage_entry(12, false));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("dm_concat"),
            entries: &entries,
        });
        let src = shaders::concat_source(
            dim,
            shape.window,
            shape.vocab,
            split.rows_per_part as u32,
            (atomics, frozen),
            workgroup,
        );
        // Every lane writes the workgroup memory it reads (its own elements of the layer
        // and of its gradient, its partial sum; lane 0 the cell range) before reading it:
        // no zero-initialisation.
        let kernel = pipeline_with(device, "dm_concat", &src, "concat", &layout, false);
        let matrices: Vec<&wgpu::Buffer> = input.iter().chain(&output).collect();
        let groups = uploads
            .iter()
            .map(|u| {
                let fixed = [(0, u), (1, &unused), (2, &loss_out), (12, &adds)];
                step_group(device, "dm_concat", &layout, &fixed, &matrices)
            })
            .collect();
        let loss = LossReduction::new(&ctx, &uploads, &loss_out);
        ctx.queue.submit([]);
        ctx.check()?;
        Ok(GpuConcat {
            ctx,
            shape,
            in_rows,
            out_rows,
            split,
            max_positions,
            max_cells,
            input,
            output,
            uploads,
            groups,
            kernel,
            loss,
            ring: StepRing::starting_at(0),
            atomics,
            sync: Default::default(),
        })
    }

    /// Runs one step: uploads it, dispatches a workgroup per position.
    pub fn step(&mut self, step: &ConcatStep) -> Result<()> {
        let n = step.positions();
        if n == 0 {
            return Ok(());
        }
        check_step(step, self.shape, self.in_rows, self.out_rows)?;
        if n > self.max_positions || step.cells.len() > self.max_cells {
            return Err(Error::Gpu(format!(
                "internal: a dm_concat step of {n} positions and {} cells exceeds the buffers ({} and {})",
                step.cells.len(),
                self.max_positions,
                self.max_cells
            )));
        }
        let rates: &[u32] = bytemuck::cast_slice(&step.rates);
        let arrays: [&[u32]; 4] = [&step.inputs, &step.offsets, &step.cells, rates];
        let mut header = [0u32; HEADER];
        header[2] = n as u32;
        let k = self.ring.slot();
        stage_step(
            &self.ctx,
            &self.uploads[k],
            (&mut header, 3),
            &arrays,
            "dm_concat step",
        )?;
        let (x, y) = dispatch_size(&self.ctx, n);
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("dm_concat step"),
                timestamp_writes: None,
            });
            pass.set_bind_group(0, &self.groups[k], &[]);
            pass.set_pipeline(&self.kernel);
            pass.dispatch_workgroups(x, y, 1);
        }
        self.ring.submit(&self.ctx, enc.finish())
    }

    /// The loss of the last step since the last call, if one ran (waits for the device).
    pub fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        self.loss.take(&self.ctx, &mut self.ring)
    }

    /// Copies both matrices back into `inputs` and `outputs` (the slices `new` took, in
    /// the same order).
    pub fn download(
        &mut self,
        inputs: &mut [&mut [f32]],
        outputs: &mut [&mut [f32]],
    ) -> Result<()> {
        self.ring.drain(&self.ctx)?;
        self.download_parts(0, inputs)?;
        self.download_parts(1, outputs)
    }

    /// Matrix `which` (0 input, 1 output) into `dst`, its sources in order: the kernel's
    /// rows of `dim`, a part at a time, each part's rows spread over the sources they came
    /// from.
    fn download_parts(&self, which: usize, dst: &mut [&mut [f32]]) -> Result<()> {
        let dim = self.shape.dim;
        let parts = if which == 0 {
            &self.input
        } else {
            &self.output
        };
        let rows: usize = dst.iter().map(|s| s.len()).sum::<usize>() / dim.max(1);
        for (p, buf) in parts.iter().enumerate() {
            let lo = (p * self.split.rows_per_part).min(rows);
            let hi = ((p + 1) * self.split.rows_per_part).min(rows);
            if hi == lo {
                continue;
            }
            let mut part = vec![0.0f32; (hi - lo) * dim];
            self.ctx
                .copy_to_host(buf, bytemuck::cast_slice_mut(&mut part))?;
            let mut first = 0;
            for m in dst.iter_mut() {
                let n = m.len() / dim.max(1);
                let (a, b) = (lo.max(first), hi.min(first + n));
                if a < b {
                    m[(a - first) * dim..(b - first) * dim]
                        .copy_from_slice(&part[(a - lo) * dim..(b - lo) * dim]);
                }
                first += n;
            }
        }
        Ok(())
    }

    /// The adapter and how the kernel adds (`--json`'s name).
    pub fn describe(&self) -> (String, &'static str) {
        (
            super::context::describe(&self.ctx.info),
            self.atomics.name(),
        )
    }

    /// Bindings the matrices are split over.
    pub fn split(&self) -> Split {
        self.split
    }
}

/// Row access to the input matrix (`SyncRows`: inference writes its documents' first
/// vectors and reads them back). The output matrix's rows are the layer's length, stored
/// as sub-rows of `dim` that need not line up with the bindings' parts: not offered.
impl super::rowsync::RowHost for GpuConcat {
    fn row_sync(&self) -> (&GpuContext, &super::rowsync::RowSync) {
        (&self.ctx, &self.sync)
    }

    fn matrix_rows(&self, m: crate::backend::Matrix) -> Result<super::rowsync::Rows<'_>> {
        match m {
            crate::backend::Matrix::Input => Ok(super::rowsync::Rows {
                parts: &self.input,
                rows_per_part: self.split.rows_per_part,
                rows: self.in_rows,
                dim: self.shape.dim,
                stride: self.shape.dim,
            }),
            _ => Err(Error::Gpu(
                "the dm_concat engine offers row access to its input matrix only".into(),
            )),
        }
    }
}
