//! The `wgpu` engine: both matrices live on the device for the whole run; each step is one
//! bulk upload (a small header and the batch's kept word ids) and one dispatch with a
//! workgroup per centre position (with `--hs` a second one, the hierarchical-softmax kernel
//! — `hs.wgsl`, or `hs_subword.wgsl` with `--subwords` — unless it runs alone). Noise words and window sizes are drawn on the GPU from a
//! counter-based hash, so nothing else is uploaded; the loss is reduced on the GPU and read
//! back only when the progress display asks for it.

pub mod check;
pub mod classify;
pub mod concat;
pub mod context;
pub mod halfrows;
mod rowsync;
pub mod shaders;
pub mod sparse;

use context::describe as describe_adapter;
pub use context::GpuContext;

use crate::backend::{Backend, DocRows, DocTraining, KernelParams, Matrix, Rate, StepLoss};
use crate::batch::Batch;
use crate::config::{FeatureVariant, ModelKind, Precision, TrainConfig};
use crate::error::{Error, Result};
use crate::huffman::HuffmanTree;
use crate::model::Model;
use crate::sampling::AliasTable;
use crate::subword::SubwordTable;
use rowsync::RowHost;
use std::collections::VecDeque;

/// u32 words before the tokens in each upload: rate at the first position (f32 bits), RNG
/// key, token count, rate after the last position (f32 bits), padding.
pub const HEADER_WORDS: usize = 8;
/// Matrix bindings per matrix in the kernel (row-range split).
pub const PARTS: usize = 4;
/// Uploads in flight (ring of token buffers).
pub(crate) const RING: usize = 3;

/// The submission ring both GPU engines drive: step `n` fills upload slot `n % RING`, and
/// the host keeps at most `RING - 1` steps queued, so it runs ahead of the GPU but never far.
pub(crate) struct StepRing {
    in_flight: VecDeque<wgpu::SubmissionIndex>,
    /// Steps submitted so far (the counter the slot and the random keys come from).
    pub step: u64,
    /// Slot of the last submitted step whose loss has not been read.
    last: Option<usize>,
}

impl StepRing {
    pub fn starting_at(step: u64) -> StepRing {
        StepRing {
            in_flight: VecDeque::new(),
            step,
            last: None,
        }
    }

    /// The upload slot of the next step.
    pub fn slot(&self) -> usize {
        (self.step % RING as u64) as usize
    }

    /// Submits the next step's commands, then waits for the oldest step while the ring is
    /// full.
    pub fn submit(&mut self, ctx: &GpuContext, commands: wgpu::CommandBuffer) -> Result<()> {
        let k = self.slot();
        self.in_flight.push_back(ctx.queue.submit([commands]));
        while self.in_flight.len() >= RING {
            let oldest = self.in_flight.pop_front();
            ctx.wait(oldest)?;
        }
        self.last = Some(k);
        self.step += 1;
        Ok(())
    }

    /// The slot of the last step, once; reading it waits for the GPU, so the caller then
    /// calls [`StepRing::idle`].
    pub fn take_last(&mut self) -> Option<usize> {
        self.last.take()
    }

    /// Records that the GPU has finished everything submitted.
    pub fn idle(&mut self) {
        self.in_flight.clear();
    }

    /// Waits for everything submitted.
    pub fn drain(&mut self, ctx: &GpuContext) -> Result<()> {
        ctx.wait(None)?;
        self.idle();
        Ok(())
    }
}

/// How a matrix is split over storage bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub rows_per_part: usize,
    pub parts: usize,
}

/// Rows per binding for a `rows × dim` matrix of `elem_bytes`-byte weights (4: f32, 2:
/// `--precision f16`) when one binding holds at most `max_binding` bytes.
pub fn split_rows(rows: usize, dim: usize, elem_bytes: u64, max_binding: u64) -> Result<Split> {
    let row_bytes = dim as u64 * elem_bytes;
    let rpp = (max_binding / row_bytes).min(u32::MAX as u64) as usize;
    if rpp == 0 {
        return Err(Error::Gpu(format!(
            "one row of --dim {dim} ({row_bytes} bytes) exceeds the device's storage binding limit of {max_binding} bytes; use a smaller --dim or --backend cpu"
        )));
    }
    let parts = rows.div_ceil(rpp).max(1);
    if parts > PARTS {
        return Err(Error::Gpu(format!(
            "the model ({rows} words × {dim} dims = {} MiB per matrix) needs {parts} bindings of at most {} MiB, more than the {PARTS} the kernels have; use --max-vocab, a smaller --dim, or --backend cpu",
            (rows as u64 * row_bytes) >> 20,
            max_binding >> 20
        )));
    }
    Ok(Split {
        rows_per_part: rpp.min(rows.max(1)),
        parts,
    })
}

/// The largest storage binding a matrix part may take on `ctx` (`--max-binding-bytes`
/// lowers it, for tests).
pub fn max_binding(ctx: &GpuContext, cfg: &TrainConfig) -> u64 {
    let limits = &ctx.limits;
    let max = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    cfg.max_binding_bytes.map_or(max, |forced| max.min(forced))
}

/// Whether `vocab` word rows and `bucket` subword rows of `dim` floats, each with
/// `state` optimizer vectors beside it (0 for SGD's kernels; the minibatch engine's row
/// records hold Adam's 2, Adagrad's and RMSprop's 1), fit the input matrix's bindings on
/// `ctx`; checked before the model is allocated, so that a bucket count the device cannot
/// hold is refused at once, naming the largest that fits.
pub fn check_subwords_fit(
    ctx: &GpuContext,
    cfg: &TrainConfig,
    vocab: usize,
    bucket: usize,
    dim: usize,
    state: usize,
) -> Result<()> {
    let binding = max_binding(ctx, cfg);
    let rec = dim * (1 + state);
    let elem = cfg.precision.bytes();
    if split_rows(vocab + bucket, rec, elem, binding).is_ok() {
        return Ok(());
    }
    let rpp = (binding / (rec as u64 * elem)) as usize;
    let fit = (PARTS * rpp).saturating_sub(vocab);
    let row = if state > 0 {
        format!(
            "--dim {dim} (+ {state} optimizer state vector{})",
            if state > 1 { "s" } else { "" }
        )
    } else {
        format!("--dim {dim}")
    };
    // Halves fit twice the rows where the SGD engine runs (no optimizer state).
    let halves = state == 0
        && cfg.precision == Precision::F32
        && split_rows(vocab + bucket, rec, 2, binding).is_ok();
    Err(Error::usage(
        "--bucket",
        format!(
            "{vocab} word rows + {bucket} subword buckets × {row} = {} MiB do not fit the input matrix's {PARTS} storage bindings of at most {} MiB on {}; use --bucket {fit} or less, {}a smaller --dim, or --backend cpu",
            ((vocab + bucket) as u64 * rec as u64 * elem) >> 20,
            binding >> 20,
            ctx.info.name,
            if halves { "--precision f16 (half the bytes, enough here), " } else { "" }
        ),
    ))
}

pub struct GpuBackend {
    ctx: GpuContext,
    params: KernelParams,
    vocab: usize,
    /// Rows of the input matrix: the vocabulary's, then the subword buckets' (`--subwords`).
    in_rows: usize,
    /// Whether the subword kernel runs.
    subwords: bool,
    /// Paragraph vectors: the bag's rows, and whether `words` runs.
    doc: Option<DocTraining>,
    /// `--dbow-words`: the skip-gram pass over the words, before the documents'.
    words: Option<wgpu::ComputePipeline>,
    split: Split,
    input: Vec<wgpu::Buffer>,
    output: Vec<wgpu::Buffer>,
    tokens: Vec<wgpu::Buffer>,
    train: wgpu::ComputePipeline,
    train_groups: Vec<wgpu::BindGroup>,
    loss: LossReduction,
    /// Adds into the matrices the training kernels issued (a u64 as two u32 words).
    add_count: wgpu::Buffer,
    capacity: usize,
    staging: Vec<u32>,
    ring: StepRing,
    timestamps: Option<Timestamps>,
    atomics: shaders::Atomics,
    /// How dot products are summed.
    reduce: shaders::Reduce,
    updates: shaders::Updates,
    kernel: shaders::Kernel,
    /// Why this kernel and these atomics (for `--json`'s `kernel_reason`).
    selection: String,
    /// Centre positions per workgroup (1 for the window kernel).
    per_group: usize,
    /// The tile kernel's noise words shared by a tile's windows (`--gpu-tile-noise`).
    tile_noise: bool,
    /// The stride of the window-per-position kernels' order (`--gpu-order`; 1: in order),
    /// the header's word 4.
    order_stride: usize,
    /// The stride of the tile kernel's order over tiles (`--gpu-order`,
    /// `Order::tile_stride`; 1: in order, and for the other kernels), the header's word 5.
    tile_stride: usize,
    /// Invocations per workgroup (`--gpu-workgroup`).
    workgroup: u32,
    /// Where the window kernel keeps skip-gram's context rows (`--gpu-context-rows`); None
    /// where the kernel that runs keeps none of its own (CBOW's mean, subwords, the tree).
    context_rows: Option<shaders::ContextRows>,
    /// `--gpu-in-flight`: the kernels' dispatches split (None: a dispatch per kernel and
    /// step).
    in_flight: Option<InFlight>,
    /// The first workgroup index of each split dispatch, 16 bytes at each dynamic offset.
    _dispatch_bases: wgpu::Buffer,
    /// Distributed syncs' reads and row kernel.
    sync: rowsync::RowSync,
    /// Hierarchical softmax (`--hs`): its kernel, run after the negative-sampling one.
    hs: Option<HsPass>,
}

/// The parts a backend builds beside the word kernels: the subword row table (also the
/// identity table of paragraph vectors), the Huffman tree, the document rows.
#[derive(Default)]
struct Layers<'a> {
    table: Option<&'a SubwordTable>,
    tree: Option<&'a HuffmanTree>,
    doc: Option<DocTraining>,
}

/// The hierarchical-softmax kernel and the tree's matrix (`syn1`, `V − 1` rows, split as
/// the other matrices).
struct HsPass {
    pipeline: wgpu::ComputePipeline,
    /// `doc2vec --dbow-words --hs`: the words' skip-gram along the tree, before `pipeline`.
    words: Option<wgpu::ComputePipeline>,
    groups: Vec<wgpu::BindGroup>,
    matrix: Vec<wgpu::Buffer>,
    /// Path nodes per block, and where the context rows are held.
    block: shaders::HsBlock,
}

/// Timestamp queries around every training dispatch, resolved into a ring of 256-byte
/// slots and read back once at the end: kernel time against wall time is the GPU's busy
/// fraction.
struct Timestamps {
    set: wgpu::QuerySet,
    resolved: wgpu::Buffer,
}

const TS_SLOTS: u64 = 8192;

/// The binding of the training kernels' add counter (`add_count` in matrices.wgsl; 11 is the
/// subword kernel's row table and the hierarchical-softmax kernel's paths).
const ADD_COUNT_BINDING: u32 = 12;
/// Its size: four words (adds, low and high; workgroups running, their peak).
pub(crate) const ADD_COUNT_BYTES: u64 = 16;
/// The SGD kernels' uniform binding of the first workgroup index of a dispatch
/// (`matrices.wgsl`'s `dispatch_base`; a dynamic offset picks each split dispatch's).
const DISPATCH_BASE_BINDING: u32 = 14;

/// Workgroups of a step of `n` positions: per position (`window_position`: ⌈n/S⌉·S of
/// them in the strided order; also the hierarchical-softmax pass), and of the main kernel
/// (per position, per chunk of `per_group`, or per tile: ⌈m/S⌉·S for the m tiles).
fn step_groups(
    n: usize,
    per_group: usize,
    order_stride: usize,
    tile_stride: usize,
) -> (usize, usize) {
    let per_position = n.div_ceil(order_stride) * order_stride;
    let groups = match per_group {
        1 => per_position,
        p => n.div_ceil(p).div_ceil(tile_stride) * tile_stride,
    };
    (per_position, groups)
}

/// `--gpu-in-flight`'s split of a kernel's dispatch: at most `cap` workgroups per dispatch,
/// split dispatch k reading its first workgroup index, k·cap, at offset k·`align` of the
/// dispatch-base buffer.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    cap: usize,
    align: u64,
}

/// Dispatches `groups` workgroups of `pipeline` with bind group `group`: one dispatch (two
/// dimensions past `max_x` workgroups), or with `split` dispatches of at most `cap`
/// workgroups, one after another (wgpu orders dispatches that write the same buffers), each
/// told its first workgroup's index.
fn dispatch_groups(
    pass: &mut wgpu::ComputePass,
    pipeline: &wgpu::ComputePipeline,
    group: &wgpu::BindGroup,
    groups: usize,
    max_x: usize,
    split: Option<InFlight>,
) {
    pass.set_pipeline(pipeline);
    match split {
        None => {
            let gx = groups.clamp(1, max_x);
            pass.set_bind_group(0, group, &[0]);
            pass.dispatch_workgroups(gx as u32, groups.div_ceil(gx) as u32, 1);
        }
        Some(InFlight { cap, align }) => {
            for k in 0..groups.div_ceil(cap) {
                let count = cap.min(groups - k * cap);
                pass.set_bind_group(0, group, &[(k as u64 * align) as u32]);
                pass.dispatch_workgroups(count as u32, 1, 1);
            }
        }
    }
}

/// Writes `parts` one after the other at the start of `buf`, straight into wgpu's staging
/// memory (one copy of a step on the thread that drives the device); `what` names the step
/// in an error.
pub(crate) fn stage(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    parts: &[&[u32]],
    what: &str,
) -> Result<()> {
    let words: usize = parts.iter().map(|p| p.len()).sum();
    let mut view = wgpu::BufferSize::new(4 * words as u64)
        .and_then(|size| ctx.queue.write_buffer_with(buf, 0, size))
        .ok_or_else(|| Error::Gpu(format!("the {what} could not be staged")))?;
    let mut at = 0;
    for data in parts {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        view.slice(at..at + bytes.len()).copy_from_slice(bytes);
        at += bytes.len();
    }
    Ok(())
}

/// Stages one step's upload into `buf` (one of an [`upload_ring`]'s): `header`, then
/// `arrays` one after another, each array's offset in words from the upload's start first
/// written into `header[at + i]`. An upload larger than `buf` is an error naming `what`.
pub(crate) fn stage_step(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    (header, at): (&mut [u32], usize),
    arrays: &[&[u32]],
    what: &str,
) -> Result<()> {
    let mut words = header.len();
    for (i, a) in arrays.iter().enumerate() {
        header[at + i] = words as u32;
        words += a.len();
    }
    let capacity = (buf.size() / 4) as usize;
    if words > capacity {
        return Err(Error::Gpu(format!(
            "internal: a {what} of {words} words exceeds its upload buffer ({capacity})"
        )));
    }
    let parts: Vec<&[u32]> = std::iter::once(&*header)
        .chain(arrays.iter().copied())
        .collect();
    stage(ctx, buf, &parts, what)
}

/// A dispatch of `n` workgroups as (x, y): x at most the adapter's per-dimension limit
/// (and 32,768), the kernels computing their index as x + y · width.
pub(crate) fn dispatch_size(ctx: &GpuContext, n: usize) -> (u32, u32) {
    let max_x = ctx.limits.max_compute_workgroups_per_dimension.min(32768) as usize;
    let gx = n.clamp(1, max_x);
    (gx as u32, n.div_ceil(gx) as u32)
}

/// The [`PARTS`] bindings of a matrix of `rows` rows of `dim` weights stored as
/// `precision` says, split as `split` says, filled from `sources` (consecutive blocks of
/// rows, f32; a part past the matrix's end holds 4 bytes).
pub(crate) fn matrix_parts(
    ctx: &GpuContext,
    label: &str,
    (rows, dim, precision): (usize, usize, Precision),
    split: Split,
    sources: &[&[f32]],
) -> Vec<wgpu::Buffer> {
    let row_bytes = dim * precision.bytes() as usize;
    (0..PARTS)
        .map(|p| {
            let lo = (p * split.rows_per_part).min(rows);
            let hi = ((p + 1) * split.rows_per_part).min(rows);
            let buf = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: ((hi - lo) * row_bytes).max(4) as u64,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_DST
                    | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let mut first = 0;
            for src in sources {
                let n = src.len() / dim.max(1);
                let (a, b) = (lo.max(first), hi.min(first + n));
                if a < b {
                    let rows = &src[(a - first) * dim..(b - first) * dim];
                    let offset = ((a - lo) * row_bytes) as u64;
                    match precision {
                        Precision::F32 => {
                            ctx.queue
                                .write_buffer(&buf, offset, bytemuck::cast_slice(rows))
                        }
                        Precision::F16 => ctx.queue.write_buffer(
                            &buf,
                            offset,
                            bytemuck::cast_slice(&halfrows::pack(rows, dim)),
                        ),
                    }
                }
                first += n;
            }
            buf
        })
        .collect()
}

/// The [`RING`] upload buffers of an engine's steps, `bytes` each.
pub(crate) fn upload_ring(device: &wgpu::Device, label: &str, bytes: u64) -> Vec<wgpu::Buffer> {
    (0..RING)
        .map(|_| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.max(4),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
        .collect()
}

/// A bind group of whole buffers: `fixed` (binding, buffer) pairs, then the matrices'
/// parts `matrices` at bindings 3, 4, ... (the layout of [`step_entries`]).
pub(crate) fn step_group(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    fixed: &[(u32, &wgpu::Buffer)],
    matrices: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = fixed
        .iter()
        .copied()
        .chain(matrices.iter().enumerate().map(|(k, &b)| (3 + k as u32, b)))
        .map(|(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// The layout entries of the minibatch and classifier kernels' first bindings: the upload
/// (0, read-only), two buffers (1, read-only where `one_read_only`; 2), then the
/// [`PARTS`] bindings of each matrix (3 ...).
pub(crate) fn step_entries(one_read_only: bool) -> Vec<wgpu::BindGroupLayoutEntry> {
    let mut entries = vec![
        storage_entry(0, true),
        storage_entry(1, one_read_only),
        storage_entry(2, false),
    ];
    entries.extend((0..2 * PARTS as u32).map(|b| storage_entry(3 + b, false)));
    entries
}

pub(crate) fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

pub(crate) fn pipeline(
    device: &wgpu::Device,
    label: &str,
    source: &str,
    entry: &str,
    layout: &wgpu::BindGroupLayout,
) -> wgpu::ComputePipeline {
    pipeline_with(device, label, source, entry, layout, true)
}

/// The variant a run uses (`forced` by its flag, else the best the adapter supports) and
/// why, for `--json`'s `kernel_reason`; a forced variant the adapter cannot run is a usage
/// error naming the flag.
pub(crate) fn choose<T: FeatureVariant>(
    forced: Option<T>,
    ctx: &GpuContext,
) -> Result<(T, String)> {
    let chosen = match forced {
        None => T::best_for(ctx.features),
        Some(v) if ctx.features.contains(v.required_features()) => v,
        Some(v) => {
            return Err(Error::usage(
                T::FLAG,
                format!(
                    "{} needs {:?}, which {} does not offer; use {} {} or auto",
                    v.name(),
                    v.required_features(),
                    describe_adapter(&ctx.info),
                    T::FLAG,
                    T::PORTABLE.name()
                ),
            ))
        }
    };
    let why = match forced {
        Some(_) => T::FLAG.to_string(),
        None if chosen == T::FAST => format!("auto: the adapter has {}", T::FEATURE_NAME),
        None => format!("auto: the adapter lacks {}", T::FEATURE_NAME),
    };
    Ok((chosen, why))
}

/// The environment variable that makes the SGD kernels count how many of their workgroups
/// run at once, for measuring only (`1`): three more atomics per workgroup; `--json`
/// reports the peak as `workgroups_in_flight_peak`.
pub const IN_FLIGHT_PEAK_VAR: &str = "W2V_GPU_IN_FLIGHT_PEAK";

/// Whether [`IN_FLIGHT_PEAK_VAR`] is set to 1.
pub fn in_flight_peak() -> bool {
    std::env::var_os(IN_FLIGHT_PEAK_VAR).is_some_and(|v| v == "1")
}

/// The environment variable that builds shader modules without some of wgpu's runtime
/// checks, for measuring only: `no-bounds` (no bounds checks), `no-loop-bounding`,
/// `no-div-checks` (integer division), `none` (all three and the rest off); unset or
/// `full`: every check on, the default.
pub const SHADER_CHECKS_VAR: &str = "W2V_GPU_SHADER_CHECKS";

/// The runtime checks [`SHADER_CHECKS_VAR`] asks for (every one when it is unset), or why
/// its value is not one of its names.
pub fn shader_checks() -> std::result::Result<wgpu::ShaderRuntimeChecks, String> {
    let full = wgpu::ShaderRuntimeChecks::checked();
    let Some(v) = std::env::var_os(SHADER_CHECKS_VAR) else {
        return Ok(full);
    };
    Ok(match v.to_str().unwrap_or("") {
        "full" => full,
        "no-bounds" => wgpu::ShaderRuntimeChecks {
            bounds_checks: false,
            ..full
        },
        "no-loop-bounding" => wgpu::ShaderRuntimeChecks {
            force_loop_bounding: false,
            ..full
        },
        "no-div-checks" => wgpu::ShaderRuntimeChecks {
            int_div_checks: false,
            ..full
        },
        "none" => wgpu::ShaderRuntimeChecks::unchecked(),
        other => {
            return Err(format!(
                "{other:?} is not one of full, no-bounds, no-loop-bounding, no-div-checks, none"
            ))
        }
    })
}

/// [`pipeline`], with wgpu's zero-initialisation of workgroup memory (a loop over all of a
/// workgroup's memory and a barrier at the start of every workgroup) off when
/// `zero_workgroup_memory` is false: only for shaders every lane of which writes the
/// workgroup memory it reads before reading it. wgpu's runtime checks stay on unless
/// [`SHADER_CHECKS_VAR`] turns some off for a measurement: created without any
/// (`create_shader_module_trusted`), the window kernel lost 3 analogy points on an NVIDIA
/// H200 at dim 100 (BENCHMARKS.md), a cause not found, so the measured speed-up is not
/// taken; the variable measures which check matters.
pub(crate) fn pipeline_with(
    device: &wgpu::Device,
    label: &str,
    source: &str,
    entry: &str,
    layout: &wgpu::BindGroupLayout,
    zero_workgroup_memory: bool,
) -> wgpu::ComputePipeline {
    let desc = wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    };
    // `GpuContext::open` refused a bad value before any pipeline is built.
    let checks = shader_checks().unwrap_or(wgpu::ShaderRuntimeChecks::checked());
    let module = if checks.bounds_checks && checks.force_loop_bounding && checks.int_div_checks {
        device.create_shader_module(desc)
    } else {
        // SAFETY: asked for by SHADER_CHECKS_VAR, for measuring. The kernels index their
        // arrays within bounds and every loop ends by construction; every parity suite
        // passes with all modules built unchecked on lavapipe, and with one workgroup in
        // flight they train the checked modules' vectors bit for bit (BENCHMARKS.md).
        unsafe { device.create_shader_module_trusted(desc, checks) }
    };
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(&pl),
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            zero_initialize_workgroup_memory: zero_workgroup_memory,
            ..Default::default()
        },
        cache: None,
    })
}

/// Sums the per-position (or per-example) loss of one step on the device and reads the
/// total back: run only when the progress display or the loss curve asks.
pub(crate) struct LossReduction {
    pipeline: wgpu::ComputePipeline,
    groups: Vec<wgpu::BindGroup>,
    sum: wgpu::Buffer,
    read: wgpu::Buffer,
}

impl LossReduction {
    /// `headers[k]` is upload `k` (its word 2 is the number of loss entries); `losses`
    /// holds one `vec2<f32>` (loss, terms) per entry.
    pub(crate) fn new(ctx: &GpuContext, headers: &[wgpu::Buffer], losses: &wgpu::Buffer) -> Self {
        let device = &ctx.device;
        let buffer = |label: &str, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 8,
                usage,
                mapped_at_creation: false,
            })
        };
        let sum = buffer(
            "loss sum",
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let read = buffer(
            "loss readback",
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("reduce"),
            entries: &[
                storage_entry(0, true),
                storage_entry(1, true),
                storage_entry(2, false),
            ],
        });
        let pipeline = pipeline(
            device,
            "reduce",
            &shaders::reduce_source(),
            "reduce",
            &layout,
        );
        let groups = headers
            .iter()
            .map(|h| {
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("reduce"),
                    layout: &layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: h.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: losses.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: sum.as_entire_binding(),
                        },
                    ],
                })
            })
            .collect();
        LossReduction {
            pipeline,
            groups,
            sum,
            read,
        }
    }

    /// The loss of the ring's last step, if one ran since the last take (waits for the
    /// device; the ring is idle afterwards).
    pub(crate) fn take(&self, ctx: &GpuContext, ring: &mut StepRing) -> Result<Option<StepLoss>> {
        let Some(k) = ring.take_last() else {
            return Ok(None);
        };
        let l = self.read(ctx, k)?;
        ring.idle();
        Ok(Some(l))
    }

    /// The loss of the step that used upload `k` (waits for the device).
    pub(crate) fn read(&self, ctx: &GpuContext, k: usize) -> Result<StepLoss> {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("reduce"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.groups[k], &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        enc.copy_buffer_to_buffer(&self.sum, 0, &self.read, 0, 8);
        ctx.queue.submit([enc.finish()]);
        let mut v = [0.0f32; 2];
        ctx.read_buffer(&self.read, bytemuck::cast_slice_mut(&mut v))?;
        Ok(StepLoss {
            sum: v[0] as f64,
            terms: v[1].round() as u64,
        })
    }
}

impl GpuBackend {
    /// The add counter's four words (matrices.wgsl's `add_count`), after the work
    /// submitted so far.
    fn add_count_words(&mut self) -> Result<[u32; 4]> {
        self.ring.drain(&self.ctx)?;
        let mut words = [0u32; 4];
        self.ctx
            .copy_to_host(&self.add_count, bytemuck::cast_slice_mut(&mut words))?;
        Ok(words)
    }

    /// Uploads `model` and builds the pipelines for `params`.
    pub fn new(
        ctx: GpuContext,
        model: &Model,
        params: KernelParams,
        alias: &AliasTable,
        cfg: &TrainConfig,
    ) -> Result<GpuBackend> {
        Self::build(ctx, model, params, alias, cfg, Layers::default())
    }

    /// Uploads a model with its hierarchical-softmax matrix (`model.hs`, `V − 1` rows) and
    /// builds the hierarchical-softmax kernel for `tree`'s paths, run after the
    /// negative-sampling kernel (none with `--negative 0`).
    pub fn with_hs(
        ctx: GpuContext,
        model: &Model,
        params: KernelParams,
        alias: &AliasTable,
        cfg: &TrainConfig,
        tree: &HuffmanTree,
    ) -> Result<GpuBackend> {
        let layers = Layers {
            tree: Some(tree),
            ..Layers::default()
        };
        Self::build(ctx, model, params, alias, cfg, layers)
    }

    /// Uploads a subword model (`model.subwords` holds the bucket rows) and builds the
    /// subword kernel for `params`; `table` gives every vocabulary word's input rows.
    pub fn with_subwords(
        ctx: GpuContext,
        model: &Model,
        params: KernelParams,
        alias: &AliasTable,
        cfg: &TrainConfig,
        table: &SubwordTable,
    ) -> Result<GpuBackend> {
        let layers = Layers {
            table: Some(table),
            ..Layers::default()
        };
        Self::build(ctx, model, params, alias, cfg, layers)
    }

    /// A subword model with hierarchical softmax (`--subwords --hs`): the subword kernel as
    /// [`GpuBackend::with_subwords`] (none with `--negative 0`), then the subword
    /// hierarchical-softmax kernel along `tree`'s paths into `model.hs`.
    pub fn with_subwords_hs(
        ctx: GpuContext,
        model: &Model,
        params: KernelParams,
        alias: &AliasTable,
        cfg: &TrainConfig,
        table: &SubwordTable,
        tree: &HuffmanTree,
    ) -> Result<GpuBackend> {
        let layers = Layers {
            table: Some(table),
            tree: Some(tree),
            doc: None,
        };
        Self::build(ctx, model, params, alias, cfg, layers)
    }

    /// Paragraph vectors (`doc2vec` on the GPU): `model.subwords` holds the document rows,
    /// input rows past the vocabulary; every batch carries each position's document row
    /// ([`Batch::docs`]). The subword kernel trains each position's bag (the document's
    /// row, with PV-DM the context words' rows too) against its word and K noise words
    /// (none with `--negative 0`), then with `tree` the subword hierarchical-softmax
    /// kernel along the word's path; with `doc.words` (`--dbow-words`) the subword
    /// kernels' skip-gram over the words' own rows runs first (noise words, then the
    /// context words' paths with `tree`). With `doc.infer` the kernels add to the document
    /// rows only (inference; no words' pass).
    pub fn with_documents(
        ctx: GpuContext,
        model: &Model,
        params: KernelParams,
        alias: &AliasTable,
        cfg: &TrainConfig,
        doc: DocTraining,
        tree: Option<&HuffmanTree>,
    ) -> Result<GpuBackend> {
        let table = SubwordTable::words_only(model.vocab_size());
        // Inference trains no words.
        let words = doc.words && !doc.infer;
        let layers = Layers {
            table: Some(&table),
            tree,
            doc: Some(DocTraining { words, ..doc }),
        };
        Self::build(ctx, model, params, alias, cfg, layers)
    }

    fn build(
        ctx: GpuContext,
        model: &Model,
        params: KernelParams,
        alias: &AliasTable,
        cfg: &TrainConfig,
        layers: Layers<'_>,
    ) -> Result<GpuBackend> {
        let Layers { table, tree, doc } = layers;
        let limits = &ctx.limits;
        let wg_limit = limits.max_compute_workgroup_storage_size as u64;
        let (reduce, reduce_why) = choose(cfg.gpu_reduce, &ctx)?;
        let mut launch = shaders::Launch::of(cfg, &params, reduce);
        let most_lanes = limits
            .max_compute_invocations_per_workgroup
            .min(limits.max_compute_workgroup_size_x);
        // The size by --dim yields to the adapter's most lanes; a size given is refused below.
        while cfg.gpu_workgroup.is_none() && launch.workgroup > 64 && launch.workgroup > most_lanes
        {
            launch.workgroup /= 2;
        }
        if launch.workgroup > limits.max_compute_invocations_per_workgroup
            || launch.workgroup > limits.max_compute_workgroup_size_x
        {
            return Err(Error::usage(
                "--gpu-workgroup",
                format!(
                    "{} runs at most {} invocations per workgroup; use a smaller --gpu-workgroup",
                    ctx.info.name,
                    limits
                        .max_compute_invocations_per_workgroup
                        .min(limits.max_compute_workgroup_size_x)
                ),
            ));
        }
        let kernel = cfg
            .gpu_kernel
            .unwrap_or_else(|| shaders::auto_kernel(&params, reduce, launch, wg_limit));
        // Hierarchical softmax alone builds the (small) window kernel but never runs it.
        let kernel = if table.is_some() || params.negative == 0 {
            shaders::Kernel::Window
        } else {
            kernel
        };
        let kernel_why = match cfg.gpu_kernel {
            _ if doc.is_some() => {
                "doc2vec: the subword kernel with document rows (a workgroup per position)"
                    .to_string()
            }
            _ if table.is_some() && params.negative == 0 => {
                "--subwords --hs --negative 0: the subword hierarchical-softmax kernel (a workgroup per window)".to_string()
            }
            _ if table.is_some() => {
                "--subwords: the subword kernel (a workgroup per window)".to_string()
            }
            _ if params.negative == 0 => {
                "--hs --negative 0: the hierarchical-softmax kernel (a workgroup per window)"
                    .to_string()
            }
            Some(_) => "--gpu-kernel".to_string(),
            None if kernel == shaders::Kernel::Chunk => {
                "auto: CBOW with serial sums keeps its quality with in-order windows".to_string()
            }
            None if params.model == ModelKind::Cbow && reduce == shaders::Reduce::Subgroup => {
                "auto: CBOW with subgroup sums is fastest with a workgroup per window, at the chunk kernel's quality".to_string()
            }
            None if params.model == ModelKind::Cbow => format!(
                "auto: the chunk kernel needs {} bytes of workgroup memory, the adapter has {wg_limit}",
                shaders::kernel_workgroup_bytes(shaders::Kernel::Chunk, &params, launch)
            ),
            None => "auto: skip-gram is fastest with a workgroup per window".to_string(),
        };
        // The tile kernel takes as many positions per workgroup (up to --gpu-chunk) as fit.
        let launch = match kernel {
            shaders::Kernel::Tile => shaders::Launch {
                chunk: shaders::tile_positions(&params, launch, wg_limit),
                ..launch
            },
            _ => launch,
        };
        let need = |launch: shaders::Launch| match table {
            Some(_) => shaders::subword_workgroup_bytes(&params, launch.workgroup),
            None => shaders::kernel_workgroup_bytes(kernel, &params, launch),
        };
        // Where not given, the workgroup size by --dim is at most 256 lanes for every kernel
        // but the negative-sampling window kernel (the subword kernel at dim 300 on an H200:
        // 19.5M words/s with 256 lanes, 17.2M with 512; BENCHMARKS.md); skip-gram's context
        // rows move to the matrix, then the size halves (down to 64), until the kernel fits
        // the adapter.
        let mut launch = launch;
        // The window kernel is built without subwords (and runs with noise words); skip-gram's
        // holds the context rows.
        let window_built = kernel == shaders::Kernel::Window && table.is_none();
        let skipgram_window = window_built && params.model == ModelKind::SkipGram;
        if cfg.gpu_workgroup.is_none() && !(window_built && params.negative > 0) {
            launch.workgroup = launch.workgroup.min(256);
        }
        if need(launch) > wg_limit && cfg.gpu_context_rows.is_none() && skipgram_window {
            launch.context = shaders::ContextRows::Device;
        }
        while cfg.gpu_workgroup.is_none() && need(launch) > wg_limit && launch.workgroup > 64 {
            launch.workgroup /= 2;
        }
        let need_wg = need(launch);
        if need_wg > wg_limit {
            return Err(Error::Gpu(format!(
                "the {} kernel with --dim {} --window {} --negative {} needs {need_wg} bytes of workgroup memory; {} allows {wg_limit}. Use --gpu-kernel auto, a smaller --dim/--window, or --backend cpu",
                kernel.name(),
                params.dim,
                params.window,
                params.negative,
                ctx.info.name,
            )));
        }
        // Tokens, alias table, loss, the matrices' bindings, the add counter, subword rows,
        // Huffman paths.
        let storage_needed =
            4 + 2 * PARTS as u32 + u32::from(table.is_some()) + u32::from(tree.is_some());
        if limits.max_storage_buffers_per_shader_stage < storage_needed {
            return Err(Error::Gpu(format!(
                "{} allows {} storage buffers per shader stage; the kernels need {storage_needed}. Use --backend cpu",
                ctx.info.name, limits.max_storage_buffers_per_shader_stage,
            )));
        }
        let vocab = model.vocab_size();
        let dim = params.dim;
        let buckets = model.subwords.len() / dim.max(1);
        let in_rows = vocab + buckets;
        // Bindings must be multiples of 4 bytes; rows are.
        if buckets > 0 && doc.is_none() {
            check_subwords_fit(&ctx, cfg, vocab, buckets, dim, 0)?;
        }
        let precision = params.precision;
        if precision != cfg.precision {
            return Err(Error::Gpu(format!(
                "the kernel parameters say --precision {}, the configuration {}",
                precision.name(),
                cfg.precision.name()
            )));
        }
        if precision == Precision::F16 && dim % 2 == 1 {
            return Err(Error::usage(
                "--precision",
                format!("f16 pairs dimensions d and d + dim/2, so --dim must be even (got {dim})"),
            ));
        }
        let elem = precision.bytes();
        if doc.is_some() {
            let (max, row) = (max_binding(&ctx, cfg), dim as u64 * elem);
            let parts = (in_rows as u64).div_ceil((max / row).max(1));
            if parts > PARTS as u64 {
                return Err(Error::usage(
                    "--dim",
                    format!(
                        "{vocab} words and {buckets} document vectors × {row} bytes = {} MiB need {parts} storage bindings of at most {} MiB on {}, more than the {PARTS} the kernels have; use a smaller --dim, a higher --min-count, fewer documents per run, or --backend cpu",
                        (in_rows as u64 * row) >> 20,
                        max >> 20,
                        ctx.info.name
                    ),
                ));
            }
        }
        let split =
            split_rows(in_rows, dim, elem, max_binding(&ctx, cfg)).map_err(|e| match e {
                Error::Gpu(m) if precision == Precision::F32 => Error::Gpu(format!(
                    "{m} (or --precision f16, which stores a row in half the bytes)"
                )),
                e => e,
            })?;
        let device = &ctx.device;
        let make_parts = |label: &str, rows: usize, sources: &[&[f32]]| {
            matrix_parts(&ctx, label, (rows, dim, precision), split, sources)
        };
        let input = make_parts("input", in_rows, &[&model.input, &model.subwords]);
        let output = make_parts("output", vocab, &[&model.output]);
        let alias_buf = ctx.buffer_with("alias", alias.as_words(), wgpu::BufferUsages::STORAGE);
        // Each stream's share of a batch ends at the first chunk end past it, so a batch
        // can exceed `gpu_batch` by a chunk per stream.
        let capacity = crate::batch::max_batch_tokens(cfg.gpu_batch, cfg.stepped_streams()) + 1;
        // Paragraph vectors: each position's document row after the tokens.
        let per_token = 1 + usize::from(doc.is_some());
        let tokens: Vec<wgpu::Buffer> = (0..RING)
            .map(|_| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tokens"),
                    size: ((HEADER_WORDS + per_token * capacity) * 4) as u64,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let loss_out = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("loss per position"),
            size: (capacity * 8) as u64,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let add_count = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("add count"),
            size: ADD_COUNT_BYTES,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut entries = vec![
            storage_entry(0, true),
            storage_entry(1, true),
            storage_entry(2, false),
        ];
        entries.extend((0..2 * PARTS as u32).map(|b| storage_entry(3 + b, false)));
        entries.push(storage_entry(ADD_COUNT_BINDING, false));
        entries.push(wgpu::BindGroupLayoutEntry {
            binding: DISPATCH_BASE_BINDING,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: wgpu::BufferSize::new(16),
            },
            count: None,
        });
        // --gpu-in-flight: split dispatch k starts at workgroup k·cap; its index lies at
        // offset k·align of the dispatch bases (one entry, 0, without a split).
        let order_stride = cfg.gpu_order.stride(params.window);
        let per_group = match kernel {
            shaders::Kernel::Window => 1,
            shaders::Kernel::Chunk | shaders::Kernel::Tile => launch.chunk as usize,
        };
        let tile_stride = match kernel {
            shaders::Kernel::Tile => cfg
                .gpu_order
                .tile_stride(params.window, launch.chunk as usize),
            _ => 1,
        };
        let align = u64::from(limits.min_uniform_buffer_offset_alignment).max(16);
        let cap = cfg.gpu_in_flight.map(|c| c as usize);
        let most = {
            let (per_position, groups) =
                step_groups(capacity, per_group, order_stride, tile_stride);
            per_position.max(groups)
        };
        let splits = cap.map_or(1, |c| most.div_ceil(c));
        // The bases take `align` bytes a split; more than 64 MiB of them is refused.
        if let Some(c) = cap.filter(|_| splits as u64 * align > 1 << 26) {
            return Err(Error::Gpu(format!(
                "--gpu-in-flight {c} splits a step of up to {most} workgroups into {splits} dispatches; give a larger --gpu-in-flight"
            )));
        }
        let words_per_split = (align / 4) as usize;
        let mut bases = vec![0u32; splits * words_per_split];
        for k in 0..splits {
            bases[k * words_per_split] = (k * cap.unwrap_or(0)) as u32;
        }
        let dispatch_bases = ctx.buffer_with("dispatch bases", &bases, wgpu::BufferUsages::UNIFORM);
        let sub_rows = match table {
            Some(t) => {
                if t.words() != vocab {
                    return Err(Error::Gpu(format!(
                        "the subword table has {} words, the model {vocab}",
                        t.words()
                    )));
                }
                let flat = t.flat();
                entries.push(storage_entry(3 + 2 * PARTS as u32, true));
                Some(ctx.buffer_with("subword rows", &flat, wgpu::BufferUsages::STORAGE))
            }
            None => None,
        };
        let train_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("train"),
            entries: &entries,
        });
        let (atomics, atomics_why) = match precision {
            Precision::F32 => choose(cfg.gpu_atomics, &ctx)?,
            Precision::F16 => (
                shaders::Atomics::CompareAndSwap,
                "--precision f16 (a half is added by compare-and-swap on the 32-bit word holding it)"
                    .to_string(),
            ),
        };
        let modes = (cfg.gpu_updates, atomics, reduce);
        let subword = |p: &KernelParams| {
            let rows = split.rows_per_part as u32;
            let (updates, workgroup) = (cfg.gpu_updates, launch.workgroup);
            shaders::subword_source(p, rows, vocab, updates, atomics, reduce, workgroup)
        };
        let train_src = match table {
            Some(_) if doc.is_some() => shaders::doc_source(
                &params,
                split.rows_per_part as u32,
                vocab,
                modes,
                launch.workgroup,
                doc.unwrap_or(DocTraining::NONE),
                doc.is_some_and(|d| d.words),
            ),
            Some(_) => subword(&params),
            None => shaders::kernel_source(
                kernel,
                &params,
                split.rows_per_part as u32,
                cfg.gpu_updates,
                atomics,
                launch,
            ),
        };
        // Every lane of the SGD kernels writes the workgroup memory it reads (audited in
        // train.wgsl, chunk.wgsl and subword.wgsl), so the pipeline skips its
        // zero-initialisation.
        let train = pipeline_with(device, "train", &train_src, "train", &train_layout, false);
        // --dbow-words: the subword kernel's skip-gram over the words' own rows, before the
        // documents' pass (which adds its loss to this one's).
        let words = doc.filter(|d| d.words && params.negative > 0).map(|_| {
            let sg = KernelParams {
                model: ModelKind::SkipGram,
                ..params
            };
            pipeline_with(
                device,
                "words",
                &subword(&sg),
                "train",
                &train_layout,
                false,
            )
        });
        // A step's bindings: its upload, the alias table, the loss, the add counter, the
        // input matrix and `outputs` (the output matrix, or the tree's) at 3 ..; `extra` at
        // 11 and 13 (the add counter is 12).
        let group = |layout: &wgpu::BindGroupLayout,
                     label: &str,
                     t: &wgpu::Buffer,
                     outputs: &[wgpu::Buffer],
                     extra: &[&wgpu::Buffer]| {
            let mut e = vec![
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: t.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: alias_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: loss_out.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: ADD_COUNT_BINDING,
                    resource: add_count.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: DISPATCH_BASE_BINDING,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &dispatch_bases,
                        offset: 0,
                        size: wgpu::BufferSize::new(16),
                    }),
                },
            ];
            for (k, b) in input.iter().chain(outputs).enumerate() {
                e.push(wgpu::BindGroupEntry {
                    binding: 3 + k as u32,
                    resource: b.as_entire_binding(),
                });
            }
            for (b, x) in [3 + 2 * PARTS as u32, ADD_COUNT_BINDING + 1]
                .into_iter()
                .zip(extra)
            {
                e.push(wgpu::BindGroupEntry {
                    binding: b,
                    resource: x.as_entire_binding(),
                });
            }
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(label),
                layout,
                entries: &e,
            })
        };
        let train_groups = tokens
            .iter()
            .map(|t| {
                let extra: Vec<&wgpu::Buffer> = sub_rows.iter().collect();
                group(&train_layout, "train", t, &output, &extra)
            })
            .collect();
        let hs = match tree {
            Some(tree) => {
                let rows = vocab.saturating_sub(1);
                if model.hs.len() != rows * dim || tree.inner_nodes() != rows {
                    return Err(Error::Gpu(format!(
                        "the hierarchical-softmax matrix has {} rows and the tree {} inner nodes; a vocabulary of {vocab} words has {rows}",
                        model.hs.len() / dim.max(1),
                        tree.inner_nodes()
                    )));
                }
                let block = match table {
                    Some(_) => shaders::hs_subword_block(
                        &params,
                        launch.workgroup,
                        cfg.gpu_chunk,
                        tree.max_depth(),
                        wg_limit,
                    )
                    .map(shaders::HsBlock::local),
                    None => shaders::hs_block(
                        &params,
                        launch.workgroup,
                        cfg.gpu_chunk,
                        tree.max_depth(),
                        wg_limit,
                    ),
                }
                .ok_or_else(|| {
                    let need = match table {
                        Some(_) => {
                            shaders::hs_subword_workgroup_bytes(&params, launch.workgroup, 1)
                        }
                        None => shaders::hs_workgroup_bytes(
                            &params,
                            launch.workgroup,
                            shaders::HsBlock {
                                nodes: 1,
                                local_context: false,
                            },
                        ),
                    };
                    Error::Gpu(format!(
                        "the hierarchical-softmax kernel with --dim {} --window {} needs {need} bytes of workgroup memory; {} allows {wg_limit}. Use a smaller --dim/--window, or --backend cpu",
                        params.dim,
                        params.window,
                        ctx.info.name,
                    ))
                })?;
                let matrix = make_parts("hs", rows, &[&model.hs]);
                let paths = tree.gpu_words();
                let tree_buf =
                    ctx.buffer_with("huffman paths", &paths, wgpu::BufferUsages::STORAGE);
                // The paths at 11, or at 13 beside the subword rows (already at 11).
                let mut hs_entries = entries.clone();
                hs_entries.push(storage_entry(
                    if table.is_some() {
                        ADD_COUNT_BINDING + 1
                    } else {
                        3 + 2 * PARTS as u32
                    },
                    true,
                ));
                let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some("hs"),
                    entries: &hs_entries,
                });
                // Hybrid updates make the first HOT_ROWS rows atomic, the frequent words'; the
                // tree's hottest rows are its last (the root and the nodes near it, on every
                // path), so the hierarchical-softmax kernel adds atomically throughout.
                let updates = match cfg.gpu_updates {
                    shaders::Updates::Hybrid => shaders::Updates::Atomic,
                    u => u,
                };
                let modes = (updates, atomics, reduce);
                let hs_subword = |p: &KernelParams| {
                    let rows = split.rows_per_part as u32;
                    let (wg, nodes, add) = (launch.workgroup, block.nodes, params.negative > 0);
                    shaders::hs_subword_source(p, rows, vocab, modes, wg, nodes, add)
                };
                let src = match table {
                    Some(_) if doc.is_some() => shaders::hs_doc_source(
                        &params,
                        split.rows_per_part as u32,
                        vocab,
                        modes,
                        (launch.workgroup, block.nodes),
                        doc.unwrap_or(DocTraining::NONE),
                        params.negative > 0 || doc.is_some_and(|d| d.words),
                    ),
                    Some(_) => hs_subword(&params),
                    None => shaders::hs_source(
                        &params,
                        split.rows_per_part as u32,
                        modes,
                        launch.workgroup,
                        block,
                        params.negative > 0,
                    ),
                };
                // Every lane writes the workgroup memory it reads (hs.wgsl, hs_subword.wgsl).
                let pipeline = pipeline_with(device, "hs", &src, "train", &layout, false);
                // --dbow-words --hs: the words' skip-gram along their context words' paths,
                // after the words' noise-word pass (if any), before the documents' passes.
                let words = doc.filter(|d| d.words).map(|_| {
                    let sg = KernelParams {
                        model: ModelKind::SkipGram,
                        ..params
                    };
                    pipeline_with(
                        device,
                        "words hs",
                        &hs_subword(&sg),
                        "train",
                        &layout,
                        false,
                    )
                });
                let extra: Vec<&wgpu::Buffer> = sub_rows.iter().chain([&tree_buf]).collect();
                let groups = tokens
                    .iter()
                    .map(|t| group(&layout, "hs", t, &matrix, &extra))
                    .collect();
                Some(HsPass {
                    pipeline,
                    words,
                    groups,
                    matrix,
                    block,
                })
            }
            None => None,
        };
        let timestamps = ctx
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY)
            .then(|| Timestamps {
                set: device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("step timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2 * RING as u32,
                }),
                resolved: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("resolved timestamps"),
                    size: TS_SLOTS * wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                }),
            });
        let loss = LossReduction::new(&ctx, &tokens, &loss_out);
        ctx.queue.submit([]);
        ctx.check()?;
        Ok(GpuBackend {
            timestamps,
            ctx,
            params,
            vocab,
            in_rows,
            subwords: table.is_some(),
            doc,
            words,
            split,
            input,
            output,
            tokens,
            train,
            train_groups,
            loss,
            add_count,
            capacity,
            staging: Vec::with_capacity(HEADER_WORDS + capacity),
            ring: StepRing::starting_at(0),
            atomics,
            updates: cfg.gpu_updates,
            kernel,
            selection: format!("kernel {kernel_why}; atomics {atomics_why}; reduce {reduce_why}"),
            reduce,
            workgroup: launch.workgroup,
            context_rows: (skipgram_window && params.negative > 0).then_some(launch.context),
            per_group,
            tile_noise: kernel == shaders::Kernel::Tile && launch.tile_noise,
            order_stride,
            tile_stride,
            in_flight: cap.map(|cap| InFlight { cap, align }),
            _dispatch_bases: dispatch_bases,
            sync: rowsync::RowSync::default(),
            hs,
        })
    }

    /// Bytes of device memory the weight matrices take (input with any subword buckets,
    /// output, the tree's).
    pub fn matrix_bytes(&self) -> u64 {
        let hs = self.hs.iter().flat_map(|h| &h.matrix);
        self.input
            .iter()
            .chain(&self.output)
            .chain(hs)
            .map(|b| b.size())
            .sum()
    }

    pub fn split(&self) -> Split {
        self.split
    }

    /// The kernel variant that runs, for logs and `--json` (`kernel`): the update mode and
    /// how atomic adds are made.
    pub fn kernel_name(&self) -> String {
        let doc = |d: DocTraining| match (d.rows, d.words) {
            (DocRows::Dm, _) => "doc2vec dm",
            (_, true) => "skip-gram + doc2vec dbow",
            _ => "doc2vec dbow",
        };
        let mut k = match self.kernel {
            _ if self.doc.is_some() => {
                let k = self.doc.map(doc).unwrap_or_default().to_string();
                if self.params.negative == 0 {
                    k + " hierarchical softmax"
                } else {
                    k
                }
            }
            _ if self.subwords && self.params.negative == 0 => {
                "subword hierarchical softmax".to_string()
            }
            _ if self.subwords => "subword".to_string(),
            _ if self.params.negative == 0 => "hierarchical softmax".to_string(),
            shaders::Kernel::Window if self.context_rows == Some(shaders::ContextRows::Device) => {
                "window, context rows read from the matrix".to_string()
            }
            shaders::Kernel::Window => "window".to_string(),
            shaders::Kernel::Chunk => format!("chunk {}", self.per_group),
            shaders::Kernel::Tile if self.tile_noise => {
                format!("tile {}, noise words shared per tile", self.per_group)
            }
            shaders::Kernel::Tile => format!("tile {}", self.per_group),
        };
        if let Some(hs) = &self.hs {
            if self.params.negative > 0 {
                k += " + hierarchical softmax";
            }
            k += &format!(" (path blocks of {}", hs.block.nodes);
            if !hs.block.local_context {
                k += ", context rows read from the matrix";
            }
            k += ")";
        }
        let per_position = self.per_group == 1 || self.hs.is_some();
        if per_position && self.order_stride > 1 {
            k += &format!(", windows strided {}", self.order_stride);
        }
        if self.tile_stride > 1 {
            k += &format!(", tiles strided {}", self.tile_stride);
        }
        if let Some(f) = self.in_flight {
            k += &format!(", dispatches of {} workgroups", f.cap);
        }
        if self.workgroup != shaders::WORKGROUP {
            k += &format!(" (workgroup {})", self.workgroup);
        }
        let r = self.reduce.name();
        match self.updates {
            shaders::Updates::Racy => format!("{k}, racy updates, {r} sums"),
            shaders::Updates::Atomic => format!("{k}, {} atomics, {r} sums", self.atomics.name()),
            shaders::Updates::Hybrid => {
                format!(
                    "{k}, hybrid updates ({} atomics), {r} sums",
                    self.atomics.name()
                )
            }
        }
    }

    /// Which kernel runs.
    pub fn kernel(&self) -> shaders::Kernel {
        self.kernel
    }

    /// The order a step's windows run in, as the CPU reference takes it: centre positions
    /// per workgroup (the tile; 1 for the window kernel), the stride of the window order
    /// (`CpuReference::with_order`) and that of the tile order (`with_tile_order`).
    pub fn run_order(&self) -> (usize, usize, usize) {
        (self.per_group, self.order_stride, self.tile_stride)
    }

    /// Why the kernel and the atomics were chosen (flag, or the adapter's features).
    pub fn kernel_reason(&self) -> &str {
        &self.selection
    }

    /// How atomic float adds are made.
    pub fn atomics(&self) -> shaders::Atomics {
        self.atomics
    }

    /// How dot products are summed.
    pub fn reduce(&self) -> shaders::Reduce {
        self.reduce
    }

    /// Invocations per workgroup of the SGD kernels (`--gpu-workgroup`, or by `--dim`).
    pub fn workgroup(&self) -> u32 {
        self.workgroup
    }

    /// Where the window kernel keeps skip-gram's context rows; None where the kernel that
    /// runs keeps none of its own.
    pub fn context_rows(&self) -> Option<shaders::ContextRows> {
        self.context_rows
    }

    /// The wgpu backend in use, lower-case (`vulkan`, `gl`, ...).
    pub fn backend_name(&self) -> &'static str {
        self.ctx.backend_name()
    }

    /// Rows `lo..hi` of a matrix, copied to the host as f32 (the caller waits for the steps).
    fn copy_rows(&self, m: Matrix, lo: usize, hi: usize) -> Result<Vec<f32>> {
        let rows = self.stored_rows(m)?;
        // A row is `stride` 32-bit words on the device: f32 weights, or pairs of halves.
        let words = rows.stride;
        let mut out = vec![0u32; hi.min(rows.rows).saturating_sub(lo) * words];
        for (buf, a, b, offset) in rows.spans(lo, hi) {
            let dst = &mut out[(a - lo) * words..(b - lo) * words];
            self.ctx
                .copy_range_to_host(buf, offset, bytemuck::cast_slice_mut(dst))?;
        }
        Ok(match self.params.precision {
            Precision::F32 => bytemuck::cast_vec(out),
            Precision::F16 => halfrows::unpack(&out, self.params.dim),
        })
    }

    /// Where the rows of `m` live, each a record of `stride` 32-bit words (`dim` f32
    /// weights, or `dim / 2` words of two halves with `--precision f16`).
    fn stored_rows(&self, m: Matrix) -> Result<rowsync::Rows<'_>> {
        let (parts, rows) = match (m, &self.hs) {
            (Matrix::Input, _) => (&self.input, self.in_rows),
            (Matrix::Output, _) => (&self.output, self.vocab),
            (Matrix::Tree, Some(hs)) => (&hs.matrix, self.vocab - 1),
            (Matrix::Tree, None) => return Err(crate::backend::no_tree()),
        };
        let words = match self.params.precision {
            Precision::F32 => self.params.dim,
            Precision::F16 => self.params.dim / 2,
        };
        Ok(rowsync::Rows {
            parts,
            rows_per_part: self.split.rows_per_part,
            rows,
            dim: words,
            stride: words,
        })
    }
}

impl RowHost for GpuBackend {
    fn row_sync(&self) -> (&GpuContext, &rowsync::RowSync) {
        (&self.ctx, &self.sync)
    }

    /// The input's word and bucket rows, the output's word rows, or the tree's inner-node
    /// rows: weights alone, f32 (the syncs' row kernel adds and writes f32 weights).
    fn matrix_rows(&self, m: Matrix) -> Result<rowsync::Rows<'_>> {
        if self.params.precision != Precision::F32 {
            return Err(Error::usage(
                "--precision",
                "f16 rows cannot take part in distributed syncs (they exchange f32 rows); drop --precision for a distributed run",
            ));
        }
        self.stored_rows(m)
    }
}

impl Backend for GpuBackend {
    fn step(&mut self, batch: &Batch, rate: Rate, key: u32) -> Result<()> {
        let n = batch.tokens.len();
        if n == 0 {
            return Ok(());
        }
        if n > self.capacity {
            return Err(Error::Gpu(format!(
                "batch of {n} tokens exceeds the GPU buffers ({})",
                self.capacity
            )));
        }
        // Every id must be a row or the separator (the kernels index the matrices with it).
        let rows = self.vocab as u32;
        if let Some(bad) = batch
            .tokens
            .iter()
            .find(|&&t| t >= rows && t != crate::corpus::SENTENCE_END)
        {
            return Err(Error::Gpu(format!(
                "batch token {bad} is not a vocabulary id (vocabulary of {rows} words)"
            )));
        }
        if self.doc.is_some() {
            let (lo, hi) = (rows, self.in_rows as u32);
            if batch.docs.len() != n {
                return Err(Error::Gpu(format!(
                    "a paragraph-vector batch of {n} tokens carries {} document rows",
                    batch.docs.len()
                )));
            }
            if let Some(bad) = batch.docs.iter().find(|&&d| d < lo || d >= hi) {
                return Err(Error::Gpu(format!(
                    "batch document row {bad} is not a document's (rows {lo}..{hi})"
                )));
            }
        }
        let k = self.ring.slot();
        self.staging.clear();
        self.staging.extend_from_slice(&[
            rate.start.to_bits(),
            key,
            n as u32,
            rate.end.to_bits(),
            self.order_stride as u32,
            self.tile_stride as u32,
            0,
            0,
        ]);
        self.staging.extend_from_slice(&batch.tokens);
        if self.doc.is_some() {
            self.staging.extend_from_slice(&batch.docs);
        }
        self.ctx
            .queue
            .write_buffer(&self.tokens[k], 0, bytemuck::cast_slice(&self.staging));
        let max_x = self
            .ctx
            .limits
            .max_compute_workgroups_per_dimension
            .min(32768) as usize;
        // A workgroup per position (window_position: ⌈n/S⌉·S of them in the strided order),
        // per chunk of consecutive positions, or per tile (strided_index over the m tiles:
        // ⌈m/S⌉·S of them).
        let (per_position, groups) =
            step_groups(n, self.per_group, self.order_stride, self.tile_stride);
        let split = self.in_flight;
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("train"),
                timestamp_writes: self.timestamps.as_ref().map(|t| {
                    wgpu::ComputePassTimestampWrites {
                        query_set: &t.set,
                        beginning_of_pass_write_index: Some(2 * k as u32),
                        end_of_pass_write_index: Some(2 * k as u32 + 1),
                    }
                }),
            });
            // --dbow-words: skip-gram over the words first, by noise words, then along the
            // tree.
            if let Some(words) = &self.words {
                let group = &self.train_groups[k];
                dispatch_groups(&mut pass, words, group, groups, max_x, split);
            }
            if let Some((hs, words)) = self.hs.as_ref().and_then(|h| Some((h, h.words.as_ref()?))) {
                dispatch_groups(&mut pass, words, &hs.groups[k], groups, max_x, split);
            }
            // The negative-sampling kernel, unless hierarchical softmax runs alone.
            if self.params.negative > 0 {
                let group = &self.train_groups[k];
                dispatch_groups(&mut pass, &self.train, group, groups, max_x, split);
            }
            // Hierarchical softmax: a workgroup per position, after the negative-sampling
            // kernel (wgpu orders the two dispatches' accesses to the shared buffers).
            if let Some(hs) = &self.hs {
                let (pipeline, group) = (&hs.pipeline, &hs.groups[k]);
                dispatch_groups(&mut pass, pipeline, group, per_position, max_x, split);
            }
        }
        if let Some(t) = &self.timestamps {
            let slot = self.ring.step % TS_SLOTS;
            enc.resolve_query_set(
                &t.set,
                2 * k as u32..2 * k as u32 + 2,
                &t.resolved,
                slot * wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT,
            );
        }
        self.ring.submit(&self.ctx, enc.finish())
    }

    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        self.loss.take(&self.ctx, &mut self.ring)
    }

    fn download(&mut self) -> Result<Model> {
        self.ring.drain(&self.ctx)?;
        Ok(Model {
            dim: self.params.dim,
            input: self.copy_rows(Matrix::Input, 0, self.vocab)?,
            output: self.copy_rows(Matrix::Output, 0, self.vocab)?,
            hs: match &self.hs {
                Some(_) => self.copy_rows(Matrix::Tree, 0, self.vocab - 1)?,
                None => Vec::new(),
            },
            subwords: self.copy_rows(Matrix::Input, self.vocab, self.in_rows)?,
        })
    }

    fn describe(&self) -> String {
        context::describe(&self.ctx.info)
    }

    fn download_barrier(&mut self) -> Result<()> {
        self.ring.drain(&self.ctx)
    }

    fn matrix_adds(&mut self) -> Result<Option<u64>> {
        let words = self.add_count_words()?;
        Ok(Some(u64::from(words[0]) | (u64::from(words[1]) << 32)))
    }

    fn workgroups_in_flight_peak(&mut self) -> Result<Option<u32>> {
        if !in_flight_peak() {
            return Ok(None);
        }
        Ok(Some(self.add_count_words()?[3]))
    }

    fn device_seconds(&mut self) -> Result<Option<f64>> {
        let Some(t) = &self.timestamps else {
            return Ok(None);
        };
        let steps = self.ring.step.min(TS_SLOTS);
        if steps == 0 {
            return Ok(Some(0.0));
        }
        let bytes = steps * wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT;
        let mut raw = vec![0u64; (bytes / 8) as usize];
        self.ctx
            .copy_to_host(&t.resolved, bytemuck::cast_slice_mut(&mut raw))?;
        let period_ns = self.ctx.queue.get_timestamp_period() as f64;
        let stride = (wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT / 8) as usize;
        let ticks: u64 = raw
            .chunks_exact(stride)
            .map(|s| s[1].saturating_sub(s[0]))
            .sum();
        // Only the last TS_SLOTS steps are kept; scale up to all steps.
        let scale = self.ring.step as f64 / steps as f64;
        Ok(Some(ticks as f64 * period_ns * 1e-9 * scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_by_binding_limit() {
        assert_eq!(
            split_rows(1000, 100, 4, 1 << 27).unwrap(),
            Split {
                rows_per_part: 1000,
                parts: 1
            }
        );
        // 400 B rows, 40 000 B binding → 100 rows per part.
        assert_eq!(
            split_rows(350, 100, 4, 40_000).unwrap(),
            Split {
                rows_per_part: 100,
                parts: 4
            }
        );
        assert!(split_rows(401, 100, 4, 40_000)
            .unwrap_err()
            .to_string()
            .contains("--max-vocab"));
        assert!(split_rows(10, 100, 4, 100).is_err());
        // Half-precision rows take half the bytes: 401 rows fit where f32 refused them.
        assert_eq!(
            split_rows(401, 100, 2, 40_000).unwrap(),
            Split {
                rows_per_part: 200,
                parts: 3
            }
        );
    }
}
