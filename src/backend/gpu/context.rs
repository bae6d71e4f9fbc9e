//! Instance, adapter and device: only the requested backend is asked for adapters (a
//! missing Vulkan driver never silently becomes GL), and the device is created with the
//! adapter's own limits rather than wgpu's conservative defaults.

use crate::config::BackendKind;
use crate::error::{Error, Result};
use crate::progress::Reporter;
use std::sync::{Arc, Mutex};

/// An open device and everything needed to report on it. A clone shares the device, its
/// queue and its fault slot (`devices --check` runs its cases one after another on one).
#[derive(Clone)]
pub struct GpuContext {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    /// The first uncaptured device error (validation, out of memory, device loss).
    pub error: Arc<Mutex<Option<DeviceFault>>>,
}

impl DeviceFault {
    /// The library error for this fault on `adapter`, naming the way out.
    pub fn into_error(self, adapter: &str) -> Error {
        let adapter = adapter.to_string();
        match self {
            DeviceFault::Lost(message) => Error::GpuDeviceLost { adapter, message },
            DeviceFault::OutOfMemory(message) => Error::GpuOutOfMemory { adapter, message },
            DeviceFault::Validation(m) | DeviceFault::Internal(m) => Error::Gpu(format!(
                "GPU error on {adapter}: {m}\nuse a smaller --dim, --gpu-batch or --batch-size, another --adapter, or --backend cpu."
            )),
        }
    }
}

/// What went wrong on the device, as wgpu reports it (classified by wgpu's error type and
/// the device-lost callback, not by the driver's wording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceFault {
    Lost(String),
    OutOfMemory(String),
    Validation(String),
    Internal(String),
}

/// The wgpu backends a `--backend` value asks for.
pub fn backends_for(kind: BackendKind) -> wgpu::Backends {
    match kind {
        BackendKind::Vulkan => wgpu::Backends::VULKAN,
        BackendKind::Metal => wgpu::Backends::METAL,
        BackendKind::Dx12 => wgpu::Backends::DX12,
        BackendKind::Gl => wgpu::Backends::GL,
        BackendKind::Auto => {
            wgpu::Backends::VULKAN
                | wgpu::Backends::METAL
                | wgpu::Backends::DX12
                | wgpu::Backends::GL
        }
        BackendKind::Cpu => wgpu::Backends::empty(),
    }
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    // No validation layers by default (also in debug builds); WGPU_VALIDATION=1 turns them on.
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    desc.flags = wgpu::InstanceFlags::empty().with_env();
    wgpu::Instance::new(desc)
}

/// Every adapter the given backends expose, in enumeration order (the `--adapter` index).
pub fn enumerate(kind: BackendKind) -> Vec<wgpu::Adapter> {
    let inst = instance(backends_for(kind));
    pollster::block_on(inst.enumerate_adapters(backends_for(kind)))
}

fn type_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn backend_rank(b: wgpu::Backend) -> u32 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    }
}

/// The `--backend` that opens adapters of wgpu backend `b` (None: one this crate does
/// not select, e.g. WebGPU).
pub fn backend_kind(b: wgpu::Backend) -> Option<BackendKind> {
    match b {
        wgpu::Backend::Vulkan => Some(BackendKind::Vulkan),
        wgpu::Backend::Metal => Some(BackendKind::Metal),
        wgpu::Backend::Dx12 => Some(BackendKind::Dx12),
        wgpu::Backend::Gl => Some(BackendKind::Gl),
        _ => None,
    }
}

/// One line per adapter: index, backend, type, name, driver.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} ({:?}, {:?}, driver {} {})",
        info.name, info.backend, info.device_type, info.driver, info.driver_info
    )
    .replace(" )", ")")
}

impl GpuContext {
    pub(crate) fn wait(&self, index: Option<wgpu::SubmissionIndex>) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: index,
                timeout: None,
            })
            .map_err(|e| Error::Gpu(format!("waiting for {}: {e}", self.info.name)))?;
        self.check()
    }

    /// A buffer of `usage` (and COPY_DST) holding `words`, written through the queue.
    pub(crate) fn buffer_with(
        &self,
        label: &str,
        words: &[u32],
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: std::mem::size_of_val(words) as u64,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue
            .write_buffer(&buf, 0, bytemuck::cast_slice(words));
        buf
    }

    pub(crate) fn read_buffer(&self, buf: &wgpu::Buffer, out: &mut [u8]) -> Result<()> {
        let slice = buf.slice(..out.len() as u64);
        slice.map_async(wgpu::MapMode::Read, |_| {});
        self.wait(None)?;
        {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading back from {}: {e}", self.info.name)))?;
            out.copy_from_slice(&view);
        }
        buf.unmap();
        Ok(())
    }

    /// Copies the first `out.len()` bytes of a device buffer into `out` through a temporary
    /// mappable buffer.
    pub(crate) fn copy_to_host(&self, src: &wgpu::Buffer, out: &mut [u8]) -> Result<()> {
        self.copy_range_to_host(src, 0, out)
    }

    /// Copies `out.len()` bytes of `src` from byte `offset` (both multiples of 4).
    pub(crate) fn copy_range_to_host(
        &self,
        src: &wgpu::Buffer,
        offset: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let bytes = out.len() as u64;
        if bytes == 0 {
            return Ok(());
        }
        let read = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src, offset, &read, 0, bytes);
        self.queue.submit([enc.finish()]);
        self.read_buffer(&read, out)
    }

    /// The wgpu backend in use, lower-case (`vulkan`, `gl`, ...).
    pub fn backend_name(&self) -> &'static str {
        backend_kind(self.info.backend).map_or("other", BackendKind::name)
    }

    /// Opens the adapter for `kind`. `Ok(None)` means `auto` found no hardware adapter and
    /// the CPU trainer should run (it is faster than a software rasteriser).
    pub fn open(
        kind: BackendKind,
        index: Option<usize>,
        reporter: &Reporter,
    ) -> Result<Option<GpuContext>> {
        let adapters = enumerate(kind);
        let seen = || {
            let all = enumerate(BackendKind::Auto);
            if all.is_empty() {
                "no adapter on any backend".to_string()
            } else {
                all.iter()
                    .map(|a| format!("  {}", describe(&a.get_info())))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        if adapters.is_empty() {
            if kind == BackendKind::Auto {
                reporter.note("auto: no GPU adapter found; training on the CPU backend");
                return Ok(None);
            }
            return Err(Error::Gpu(format!(
                "--backend {}: no adapter found (is the driver installed? on Linux, Vulkan needs a Vulkan ICD such as mesa-vulkan-drivers or the vendor driver). Adapters seen:\n{}\nUse --backend cpu to train without a GPU.",
                kind.name(),
                seen()
            )));
        }
        let adapter = match index {
            Some(i) => adapters.into_iter().nth(i).ok_or_else(|| {
                Error::usage(
                    "--adapter",
                    format!(
                        "{i} is out of range for --backend {}; `w2v-gpu devices` lists the adapters",
                        kind.name()
                    ),
                )
            })?,
            None => {
                let mut v = adapters;
                v.sort_by_key(|a| {
                    let i = a.get_info();
                    (type_rank(i.device_type), backend_rank(i.backend))
                });
                let best = v.into_iter().next().expect("non-empty");
                if kind == BackendKind::Auto && best.get_info().device_type == wgpu::DeviceType::Cpu {
                    reporter.note(&format!(
                        "auto: only a software adapter ({}) found; training on the CPU backend, which is faster",
                        best.get_info().name
                    ));
                    return Ok(None);
                }
                best
            }
        };
        let checks =
            super::shader_checks().map_err(|why| Error::usage(super::SHADER_CHECKS_VAR, why))?;
        if std::env::var_os(super::SHADER_CHECKS_VAR).is_some() {
            reporter.warning(&format!(
                "{}: shader modules built with bounds checks {}, loop bounding {}, integer division checks {} (for measuring)",
                super::SHADER_CHECKS_VAR,
                on_off(checks.bounds_checks),
                on_off(checks.force_loop_bounding),
                on_off(checks.int_div_checks)
            ));
        }
        let info = adapter.get_info();
        if info.device_type == wgpu::DeviceType::Cpu {
            reporter.warning(&format!(
                "{} is a software rasteriser running on the CPU: training on it is 10-100x slower than --backend cpu (it is a correctness target, e.g. for tests)",
                info.name
            ));
        }
        let limits = adapter.limits();
        // Optional features the kernels use where present (see shaders::Atomics).
        let features = adapter.features()
            & (wgpu::Features::TIMESTAMP_QUERY
                | wgpu::Features::SHADER_FLOAT32_ATOMIC
                | wgpu::Features::SUBGROUP);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("w2v-gpu"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| {
            Error::Gpu(format!(
                "{}: cannot open the device: {e}; use --backend cpu",
                describe(&info)
            ))
        })?;
        let error = Arc::new(Mutex::new(None::<DeviceFault>));
        let slot = error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let fault = match &e {
                wgpu::Error::OutOfMemory { .. } => DeviceFault::OutOfMemory(e.to_string()),
                wgpu::Error::Validation { .. } => DeviceFault::Validation(e.to_string()),
                _ => DeviceFault::Internal(e.to_string()),
            };
            let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
            if s.is_none() {
                *s = Some(fault);
            }
        }));
        let slot = error.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
            if s.is_none() {
                *s = Some(DeviceFault::Lost(format!("{reason:?}: {msg}")));
            }
        });
        Ok(Some(GpuContext {
            adapter,
            device,
            queue,
            info,
            limits,
            features,
            error,
        }))
    }

    /// Fails with the first device error recorded, naming the way out.
    pub fn check(&self) -> Result<()> {
        let e = self.error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match e {
            None => Ok(()),
            Some(fault) => Err(fault.into_error(&describe(&self.info))),
        }
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Faults become typed errors that name the adapter and the way out.
    #[test]
    fn faults_become_typed_errors() {
        let e = DeviceFault::Lost("Unknown: gone".into()).into_error("GPU X");
        assert!(matches!(e, Error::GpuDeviceLost { .. }));
        assert!(e.to_string().contains("GPU X") && e.to_string().contains("another adapter"));
        let e = DeviceFault::OutOfMemory("no room".into()).into_error("GPU X");
        assert!(matches!(e, Error::GpuOutOfMemory { .. }));
        assert!(e.to_string().contains("smaller --dim"));
        let e = DeviceFault::Validation("bad bind".into()).into_error("GPU X");
        assert!(matches!(e, Error::Gpu(_)) && e.to_string().contains("bad bind"));
        assert_eq!(e.exit_code(), 1);
    }
}
