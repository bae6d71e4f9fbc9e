//! fastText's supervised classifier on a GPU: the input matrix (word and bucket rows) and
//! the output matrix (label rows, or the label tree's nodes for `hs`) live on the device,
//! each step uploads one [`ClassifyStep`] with its [`Grouping`] (one bulk write), and three
//! kernels run it (`shaders/classify.wgsl`): `hidden` (every line's mean input row, in
//! parallel), `labels` (the output layer, block after block of lines, in one workgroup)
//! and `apply` (the input rows' grouped adds, in parallel). The CPU reference of a step is
//! [`crate::classify_batch::reference_step`].

use super::context::GpuContext;
use super::shaders::{self, Atomics, Reduce};
use super::{
    choose, dispatch_size, matrix_parts, pipeline, split_rows, stage_step, step_entries,
    step_group, storage_entry, upload_ring, Split, StepRing, PARTS,
};
use crate::classify_batch::{check_step, CellLoss, ClassifyStep, Grouping};
use crate::config::{FeatureVariant, Precision};
use crate::error::{Error, Result};

/// Words of the upload's header (classify.wgsl).
const HEADER: usize = 12;

/// How large a step may be: its lines, input rows and cells (the buffers are sized for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepLimits {
    pub lines: usize,
    pub rows: usize,
    pub cells: usize,
}

/// How the kernels are built; the defaults choose by the adapter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassifierOptions {
    /// Forces the atomics (None: the best the adapter has).
    pub atomics: Option<Atomics>,
    /// Forces the dot-product reduction (None: the best the adapter has).
    pub reduce: Option<Reduce>,
    /// Lowers the bytes per matrix binding (tests of split matrices).
    pub max_binding: Option<u64>,
    /// Whether `labels` keeps the output matrix in workgroup memory (None: where it fits).
    pub local_output: Option<bool>,
    /// The flag that sets how many input rows there are, named when they do not fit the
    /// bindings (None: `-bucket`, as `supervised` sets them; `quantize` keeps `-cutoff`).
    pub rows_flag: Option<&'static str>,
}

/// The classifier's matrices and kernels on one device.
pub struct GpuClassifier {
    ctx: GpuContext,
    dim: usize,
    in_rows: usize,
    out_rows: usize,
    split: Split,
    limits: StepLimits,
    input: Vec<wgpu::Buffer>,
    output: Vec<wgpu::Buffer>,
    loss: wgpu::Buffer,
    uploads: Vec<wgpu::Buffer>,
    groups: Vec<wgpu::BindGroup>,
    hidden: wgpu::ComputePipeline,
    labels: wgpu::ComputePipeline,
    apply: wgpu::ComputePipeline,
    ring: StepRing,
    grouping: Grouping,
    atomics: Atomics,
    reduce: Reduce,
    local: bool,
}

impl GpuClassifier {
    /// Puts `input` (rows of `dim` weights) and `output` on the device and builds the
    /// kernels for `loss` and steps up to `limits`, as `options` says.
    pub fn new(
        ctx: GpuContext,
        dim: usize,
        (input, output): (&[f32], &[f32]),
        loss: CellLoss,
        limits: StepLimits,
        options: ClassifierOptions,
    ) -> Result<GpuClassifier> {
        let (atomics, _) = choose(options.atomics, &ctx)?;
        let (reduce, _) = choose(options.reduce, &ctx)?;
        let max_binding = options.max_binding;
        let lim = &ctx.limits;
        let need = 4 + 2 * PARTS as u32 + 3;
        if lim.max_storage_buffers_per_shader_stage < need {
            return Err(Error::Gpu(format!(
                "{} allows {} storage buffers per shader stage; the classifier's kernels need {need}. Use -backend cpu",
                ctx.info.name, lim.max_storage_buffers_per_shader_stage
            )));
        }
        let in_rows = input.len() / dim.max(1);
        let out_rows = output.len() / dim.max(1);
        let binding = lim.max_storage_buffer_binding_size.min(lim.max_buffer_size);
        let matrix_binding = binding.min(max_binding.unwrap_or(u64::MAX));
        let split = split_rows(in_rows.max(out_rows), dim, 4, matrix_binding).map_err(|_| {
            let fit = PARTS as u64 * (matrix_binding / (dim as u64 * 4).max(1));
            let flag = options.rows_flag.unwrap_or("-bucket");
            Error::usage(
                flag,
                format!(
                    "{in_rows} input rows (words, then buckets) × -dim {dim} = {} MiB do not fit the classifier's {PARTS} storage bindings of at most {} MiB on {}; {fit} rows fit: lower {flag} by {} or more, use a smaller -dim, or -backend cpu",
                    (in_rows as u64 * dim as u64 * 4) >> 20,
                    matrix_binding >> 20,
                    ctx.info.name,
                    (in_rows as u64).saturating_sub(fit)
                ),
            )
        })?;
        // Groups and entries: at most one of each per input row occurrence.
        let upload_words = HEADER + 4 * limits.lines + limits.cells + 6 * limits.rows;
        let scratch = (limits.lines * dim * 4).max(limits.cells * 4) as u64;
        if (upload_words * 4) as u64 > binding || scratch > binding {
            return Err(Error::usage(
                "-gpuLines",
                format!(
                    "a step of {} lines ({} input rows) needs {} MiB of upload, more than one binding of {} ({} MiB); use a smaller -gpuLines",
                    limits.lines,
                    limits.rows,
                    (upload_words * 4) >> 20,
                    ctx.info.name,
                    binding >> 20
                ),
            ));
        }
        let device = &ctx.device;
        let buffer = |label: &str, bytes: usize, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.max(4) as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let parts = |label: &str, m: &[f32]| {
            let shape = (m.len() / dim.max(1), dim, Precision::F32);
            matrix_parts(&ctx, label, shape, split, &[m])
        };
        let input_parts = parts("classifier input", input);
        let output_parts = parts("classifier output", output);
        let scratch_usage = wgpu::BufferUsages::STORAGE;
        let loss_buf = buffer(
            "classifier loss",
            8,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        );
        let h = buffer("classifier h", limits.lines * dim * 4, scratch_usage);
        let dh = buffer("classifier dh", limits.lines * dim * 4, scratch_usage);
        let g = buffer("classifier g", limits.cells * 4, scratch_usage);
        let unused = buffer("unused noise table", 8, scratch_usage);
        let adds = buffer(
            "classifier add count",
            super::ADD_COUNT_BYTES as usize,
            scratch_usage,
        );
        let uploads = upload_ring(device, "classifier step", (upload_words * 4) as u64);
        let mut entries = step_entries(true);
        entries.extend([12, 13, 14, 15].map(|b| storage_entry(b, false)));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("classifier"),
            entries: &entries,
        });
        let wg_limit = lim.max_compute_workgroup_storage_size as u64;
        let fits = shaders::classify_workgroup_bytes(shaders::WORKGROUP, output.len()) <= wg_limit;
        let local = match options.local_output {
            Some(true) if !fits => {
                return Err(Error::Gpu(format!(
                    "the output matrix ({out_rows} rows × {dim}) does not fit {}'s {wg_limit} bytes of workgroup memory",
                    ctx.info.name
                )))
            }
            Some(l) => l,
            None => fits,
        };
        let src = shaders::classify_source(
            dim,
            split.rows_per_part as u32,
            (atomics, reduce),
            loss == CellLoss::Softmax,
            if local { output.len() } else { 0 },
            shaders::WORKGROUP,
        );
        let hidden = pipeline(device, "classifier hidden", &src, "hidden", &layout);
        let labels = pipeline(device, "classifier labels", &src, "labels", &layout);
        let apply = pipeline(device, "classifier apply", &src, "apply", &layout);
        let matrices: Vec<&wgpu::Buffer> = input_parts.iter().chain(&output_parts).collect();
        let groups = uploads
            .iter()
            .map(|u| {
                let fixed = [
                    (0, u),
                    (1, &unused),
                    (2, &loss_buf),
                    (12, &adds),
                    (13, &h),
                    (14, &dh),
                    (15, &g),
                ];
                step_group(device, "classifier", &layout, &fixed, &matrices)
            })
            .collect();
        ctx.queue.submit([]);
        ctx.check()?;
        Ok(GpuClassifier {
            ctx,
            dim,
            in_rows,
            out_rows,
            split,
            limits,
            input: input_parts,
            output: output_parts,
            loss: loss_buf,
            uploads,
            groups,
            hidden,
            labels,
            apply,
            ring: StepRing::starting_at(0),
            grouping: Grouping::default(),
            atomics,
            reduce,
            local,
        })
    }

    /// The most lines' worth of update an input row takes per step ([`Grouping::cap`]).
    pub fn set_row_cap(&mut self, cap: u32) {
        self.grouping.cap = cap;
    }

    /// Runs one step: groups its input-row adds, uploads it, dispatches the three kernels.
    pub fn step(&mut self, step: &ClassifyStep) -> Result<()> {
        let n = step.lines.len();
        if n == 0 {
            return Ok(());
        }
        check_step(step, self.in_rows, self.out_rows)?;
        if n > self.limits.lines
            || step.rows.len() > self.limits.rows
            || step.cells.len() > self.limits.cells
        {
            return Err(Error::Gpu(format!(
                "internal: a classifier step of {n} lines, {} rows, {} cells exceeds the buffers ({:?})",
                step.rows.len(),
                step.cells.len(),
                self.limits
            )));
        }
        self.grouping.build(step, self.in_rows);
        let gr = &self.grouping;
        let lines: &[u32] = bytemuck::cast_slice(&step.lines);
        let groups: &[u32] = bytemuck::cast_slice(&gr.groups);
        let arrays: [&[u32]; 5] = [lines, &step.rows, &step.cells, groups, &gr.entries];
        let mut header = [0u32; HEADER];
        header[0] = n as u32;
        header[1] = step.lr.to_bits();
        header[7] = gr.groups.len() as u32;
        header[8] = step.label_block.max(1);
        let k = self.ring.slot();
        stage_step(
            &self.ctx,
            &self.uploads[k],
            (&mut header, 2),
            &arrays,
            "classifier step",
        )?;
        let (fx, fy) = dispatch_size(&self.ctx, n);
        let (ax, ay) = dispatch_size(&self.ctx, gr.groups.len());
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("classifier step"),
                timestamp_writes: None,
            });
            pass.set_bind_group(0, &self.groups[k], &[]);
            pass.set_pipeline(&self.hidden);
            pass.dispatch_workgroups(fx, fy, 1);
            pass.set_pipeline(&self.labels);
            pass.dispatch_workgroups(1, 1, 1);
            pass.set_pipeline(&self.apply);
            pass.dispatch_workgroups(ax, ay, 1);
        }
        self.ring.submit(&self.ctx, enc.finish())
    }

    /// The summed loss and the number of lines trained so far (summed on the device in f32).
    pub fn loss(&mut self) -> Result<(f64, u64)> {
        self.ring.drain(&self.ctx)?;
        let mut v = [0.0f32; 2];
        self.ctx
            .copy_to_host(&self.loss, bytemuck::cast_slice_mut(&mut v))?;
        Ok((v[0] as f64, v[1] as u64))
    }

    /// Copies both matrices back into `input` and `output`.
    pub fn download(&mut self, input: &mut [f32], output: &mut [f32]) -> Result<()> {
        self.ring.drain(&self.ctx)?;
        for (parts, m) in [(&self.input, input), (&self.output, output)] {
            let rows = m.len() / self.dim.max(1);
            for (p, buf) in parts.iter().enumerate() {
                let lo = (p * self.split.rows_per_part).min(rows);
                let hi = ((p + 1) * self.split.rows_per_part).min(rows);
                if hi > lo {
                    self.ctx.copy_to_host(
                        buf,
                        bytemuck::cast_slice_mut(&mut m[lo * self.dim..hi * self.dim]),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// The adapter, and how the kernels add and sum: `atomics`, `reduction` as `--json`
    /// names them, and where `labels` keeps the output matrix.
    pub fn describe(&self) -> (String, &'static str, &'static str, &'static str) {
        (
            super::context::describe(&self.ctx.info),
            self.atomics.name(),
            self.reduce.name(),
            if self.local {
                "workgroup memory"
            } else {
                "device memory"
            },
        )
    }

    /// Bindings the matrices are split over.
    pub fn split(&self) -> Split {
        self.split
    }
}
