//! Row access for a distributed run's syncs ([`crate::backend::SyncRows`]) on a matrix the
//! GPU engines keep split by row ranges over storage bindings. A row is a record of
//! `stride` floats whose first `dim` are its weights: the SGD engine's rows are the
//! weights alone (`stride == dim`), the minibatch engine's are followed by their optimizer
//! state, which a sync neither reads nor changes.

use super::{pipeline, shaders, storage_entry, GpuContext};
use crate::backend::{Matrix, SyncRows};
use crate::error::{Error, Result};

/// A GPU engine whose distributed syncs go through its [`RowSync`]: it names its context,
/// its `RowSync` and where each matrix's rows live, and its [`SyncRows`] follows (the SGD
/// engine's rows are its weights, the minibatch engine's its row records).
pub(crate) trait RowHost {
    fn row_sync(&self) -> (&GpuContext, &RowSync);
    /// Where the rows of matrix `m` live (an error for a matrix the engine does not hold).
    fn matrix_rows(&self, m: Matrix) -> Result<Rows<'_>>;
}

/// Row access for distributed syncs, queued between steps: reads at their point in the
/// queue, exact adds and overwrites of the weights.
impl<T: RowHost> SyncRows for T {
    fn write_rows(&mut self, m: Matrix, lo: usize, rows: &[f32]) -> Result<()> {
        let (ctx, sync) = self.row_sync();
        sync.apply(ctx, &self.matrix_rows(m)?, lo, rows, true)
    }

    fn begin_read(&mut self, m: Matrix, lo: usize, hi: usize) -> Result<()> {
        let (ctx, sync) = self.row_sync();
        sync.begin_read(ctx, &self.matrix_rows(m)?, lo, hi)
    }

    fn finish_reads(&mut self) -> Result<Vec<Vec<f32>>> {
        let (ctx, sync) = self.row_sync();
        sync.finish_reads(ctx)
    }

    fn add_rows(&mut self, m: Matrix, lo: usize, rows: &[f32]) -> Result<()> {
        let (ctx, sync) = self.row_sync();
        sync.apply(ctx, &self.matrix_rows(m)?, lo, rows, false)
    }
}

/// Where a matrix's rows live: `parts[p]` holds rows `p · rows_per_part ..`, `rows` in all.
pub(crate) struct Rows<'a> {
    pub parts: &'a [wgpu::Buffer],
    pub rows_per_part: usize,
    pub rows: usize,
    pub dim: usize,
    pub stride: usize,
}

impl<'a> Rows<'a> {
    /// For each part that holds some of rows `lo..hi`: the part, the first and end row it
    /// holds of them, and the byte offset of the first in the part.
    pub fn spans(
        &self,
        lo: usize,
        hi: usize,
    ) -> impl Iterator<Item = (&'a wgpu::Buffer, usize, usize, u64)> + use<'a> {
        let (rpp, stride, hi) = (self.rows_per_part, self.stride, hi.min(self.rows));
        self.parts.iter().enumerate().filter_map(move |(p, buf)| {
            let (a, b) = ((p * rpp).max(lo), ((p + 1) * rpp).min(hi));
            (a < b).then_some((buf, a, b, ((a - p * rpp) * stride * 4) as u64))
        })
    }
}

/// A copy of row records into a mappable buffer, submitted after some steps.
struct PendingRead {
    buf: wgpu::Buffer,
    index: wgpu::SubmissionIndex,
    rows: usize,
    dim: usize,
    stride: usize,
}

/// The reads begun and the row kernel (built at its first use) of one engine. Its
/// methods take `&self`, so an engine passes its own buffers ([`Rows`]) alongside.
#[derive(Default)]
pub(crate) struct RowSync {
    reads: std::cell::RefCell<Vec<PendingRead>>,
    kernel: std::cell::OnceCell<(wgpu::ComputePipeline, wgpu::BindGroupLayout)>,
}

impl RowSync {
    /// Starts copying the records of rows `lo..hi` as they stand after every step
    /// submitted so far (steps submitted later do not change what is read).
    pub fn begin_read(&self, ctx: &GpuContext, m: &Rows, lo: usize, hi: usize) -> Result<()> {
        let rows = hi.min(m.rows).saturating_sub(lo);
        let buf = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("sync readback"),
            size: (rows * m.stride).max(1) as u64 * 4,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        for (src, a, b, offset) in m.spans(lo, hi) {
            let at = ((a - lo) * m.stride * 4) as u64;
            enc.copy_buffer_to_buffer(src, offset, &buf, at, ((b - a) * m.stride * 4) as u64);
        }
        let index = ctx.queue.submit([enc.finish()]);
        self.reads.borrow_mut().push(PendingRead {
            buf,
            index,
            rows,
            dim: m.dim,
            stride: m.stride,
        });
        Ok(())
    }

    /// The weights of every read begun since the last call, in call order (waits for those
    /// copies only, not for later steps).
    pub fn finish_reads(&self, ctx: &GpuContext) -> Result<Vec<Vec<f32>>> {
        let reads = self.reads.take();
        let mut out = Vec::with_capacity(reads.len());
        for r in reads {
            let mut rows = Vec::with_capacity(r.rows * r.dim);
            if r.rows > 0 {
                let slice = r.buf.slice(..(r.rows * r.stride * 4) as u64);
                slice.map_async(wgpu::MapMode::Read, |_| {});
                ctx.wait(Some(r.index))?;
                {
                    let view = slice.get_mapped_range().map_err(|e| {
                        Error::Gpu(format!("reading back from {}: {e}", ctx.info.name))
                    })?;
                    let floats: &[f32] = bytemuck::cast_slice(&view);
                    for rec in floats.chunks_exact(r.stride) {
                        rows.extend_from_slice(&rec[..r.dim]);
                    }
                }
                r.buf.unmap();
            }
            out.push(rows);
        }
        Ok(out)
    }

    /// Adds `rows` (`set`: writes them) into the weights of rows `lo..`, after every step
    /// submitted so far and before the next (one kernel per part, queued in order).
    pub fn apply(
        &self,
        ctx: &GpuContext,
        m: &Rows,
        lo: usize,
        rows: &[f32],
        set: bool,
    ) -> Result<()> {
        let device = &ctx.device;
        let (pipeline, layout) = self.kernel.get_or_init(|| {
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("add_rows"),
                entries: &[
                    storage_entry(0, false),
                    storage_entry(1, true),
                    storage_entry(2, true),
                ],
            });
            let p = pipeline(device, "add_rows", shaders::ADD_ROWS, "add_rows", &layout);
            (p, layout)
        });
        let d = m.dim;
        let hi = lo + rows.len() / d.max(1);
        let mut enc = device.create_command_encoder(&Default::default());
        for (buf, a, b, offset) in m.spans(lo, hi) {
            let count = (b - a) * d;
            let storage = |label: &str, bytes: &[u8]| {
                let t = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: bytes.len() as u64,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                ctx.queue.write_buffer(&t, 0, bytes);
                t
            };
            let delta = storage(
                "sync rows",
                bytemuck::cast_slice(&rows[(a - lo) * d..(b - lo) * d]),
            );
            let range = storage(
                "sync range",
                bytemuck::cast_slice(&[
                    (offset / 4) as u32,
                    count as u32,
                    d as u32,
                    m.stride as u32,
                    u32::from(set),
                ]),
            );
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("add_rows"),
                layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: buf.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: delta.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: range.as_entire_binding(),
                    },
                ],
            });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("add_rows"),
                timestamp_writes: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(count.div_ceil(256).clamp(1, 65_535) as u32, 1, 1);
        }
        // Queue writes land before this submission; it runs after every earlier step.
        ctx.queue.submit([enc.finish()]);
        Ok(())
    }
}
