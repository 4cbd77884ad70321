//! Adapter and device: natively any wgpu backend (Vulkan, Metal, DX12, GL), WebGPU in wasm.
//! We ask for the adapter's own limits (not the WebGPU defaults) and the optional features it
//! has (shader-f16, subgroups, timestamp-query); kernels pick variants from [`GpuFeatures`].
//! wgpu's errors are captured as values, never panics (`gpu/errors.rs`).

use super::family::{KernelFamily, choose_f16_tiles};
use super::kernels::PipelineCache;
use crate::error::{Error, Result};

/// How to choose the adapter.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Restrict to these backends; `None` reads `ANYTUNE_BACKEND` (vulkan, metal, dx12, gl)
    /// natively, else tries Vulkan/Metal/DX12/WebGPU first and GL second.
    pub backends: Option<wgpu::Backends>,
    /// Force a kernel family; `None` reads `ANYTUNE_KERNELS` (cpu, gpu) natively, else chooses
    /// from the adapter ([`KernelFamily::choose`]). Tests force `Gpu` on lavapipe.
    pub kernels: Option<KernelFamily>,
    /// Force the GPU family's f16 tiles on or off; `None` reads `ANYTUNE_F16` (on, off)
    /// natively, else uses them where the family is `Gpu` and the device has shader-f16
    /// ([`super::family::choose_f16_tiles`]). `Some(true)` without shader-f16 is an error.
    pub f16: Option<bool>,
}

/// Optional features the device was opened with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GpuFeatures {
    pub shader_f16: bool,
    pub subgroups: bool,
    pub timestamp_query: bool,
}

/// What `anytune info` prints about the adapter (and the web page shows).
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub features: GpuFeatures,
    pub max_storage_binding: u64,
    pub max_buffer_size: u64,
    pub max_workgroup_size_x: u32,
    pub max_invocations: u32,
    pub max_workgroup_storage: u32,
    pub max_storage_buffers_per_stage: u32,
    /// The kernel family the device runs ([`Gpu::family`]).
    pub kernels: KernelFamily,
    /// Why that family: the adapter's type, or the override that chose it.
    pub kernels_reason: String,
    /// Whether the tiled products keep their tiles in f16 ([`Gpu::f16_tiles`]), and why.
    pub f16_tiles: bool,
    pub f16_tiles_reason: String,
    /// Whether the f32 products' operands go into f16 tiles too ([`Gpu::f16_operands`]).
    pub f16_operands: bool,
}

impl AdapterReport {
    /// `name (device type, driver)`, leaving out what the adapter does not report (in the browser
    /// the name and driver are often empty): never `()` or `, )`.
    pub fn label(&self) -> String {
        let details: Vec<&str> = [&self.device_type, &self.driver].into_iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
        let details = if details.is_empty() { String::new() } else { format!("({})", details.join(", ")) };
        [self.name.as_str(), details.as_str()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
    }

    /// The kernel family's name, with `, f16 tiles` where the tiled products use them (`, f16
    /// weight tiles` where only the frozen-weight ones do).
    pub fn kernels_label(&self) -> String {
        let f16 = match (self.f16_tiles, self.f16_operands) {
            (true, true) => ", f16 tiles",
            (true, false) => ", f16 weight tiles",
            _ => "",
        };
        format!("{}{f16}", self.kernels.name())
    }
}

impl std::fmt::Display for AdapterReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        writeln!(f, "adapter: {}", self.label())?;
        writeln!(f, "backend: {}", self.backend)?;
        writeln!(
            f,
            "limits: storage binding {:.0} MiB, buffer {:.0} MiB, workgroup x {} / {} invocations, \
             workgroup memory {} KiB, {} storage buffers per stage",
            mib(self.max_storage_binding),
            mib(self.max_buffer_size),
            self.max_workgroup_size_x,
            self.max_invocations,
            self.max_workgroup_storage / 1024,
            self.max_storage_buffers_per_stage
        )?;
        write!(
            f,
            "features: shader-f16 {}, subgroups {}, timestamp-query {}",
            yes(self.features.shader_f16),
            yes(self.features.subgroups),
            yes(self.features.timestamp_query)
        )?;
        write!(f, "\nkernels: {} ({})", self.kernels.name(), self.kernels_reason)?;
        write!(f, "\nf16 tiles: {} ({})", yes(self.f16_tiles), self.f16_tiles_reason)?;
        if self.f16_tiles {
            let operands = if self.f16_operands { "and the f32 products' operands" } else { "only (f32 products' operands too with ANYTUNE_F16=on)" };
            write!(f, ": frozen weights {operands}")?;
        }
        Ok(())
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// An open GPU device with its queue, limits, features and compiled pipelines.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub limits: wgpu::Limits,
    pub features: GpuFeatures,
    pub report: AdapterReport,
    /// rgba32float textures can be bound as read-only storage textures (the f32 matmul's
    /// texture path on CPU adapters needs it).
    pub rgba32f_storage_read: bool,
    /// A CPU adapter (lavapipe, SwiftShader, WARP): some kernels take CPU-specific paths.
    pub cpu: bool,
    /// The subgroup kernels (`matmul_forward_sg`, `qmatmul_*_sg`) can run: subgroups enabled,
    /// never fewer than 8 lanes, and not in a browser (their WGSL would need `enable
    /// subgroups;`, which naga here does not accept). `ANYTUNE_MATMUL_SG=0` when the device
    /// opens forces the plain kernels, to compare the two.
    pub subgroup_kernels: bool,
    /// The kernel family (chosen once when the device opens): `Gpu` runs the tiled kernels
    /// (`matmul_tiled`, `qmatmul_tiled_*`), `Cpu` the llvmpipe-shaped ones.
    pub family: KernelFamily,
    /// The GPU family's frozen-weight products (`qmatmul_tiled_*`) run their `_f16` kernels (the
    /// dequantized weights in f16 workgroup memory, sums in f32); never set without shader-f16
    /// (chosen once when the device opens).
    pub f16_tiles: bool,
    /// The f32 products (`matmul_tiled*`) run their `_f16` kernels too (both operands in f16):
    /// only when forced on, because their operands include gradients (LoRA's dy·B, dyᵀ·u),
    /// whose values can fall below f16's normal range (6e-5) at real batch sizes.
    pub f16_operands: bool,
    pub(crate) pipelines: PipelineCache,
    pub(crate) profile: super::profile::ProfileState,
    /// The first uncaptured wgpu error or refused buffer, returned by the next readback.
    pub(crate) errors: std::sync::Arc<super::errors::ErrorSlot>,
}

impl Gpu {
    /// Opens the best adapter with its own limits and optional features.
    pub async fn new(options: &GpuOptions) -> Result<Gpu> {
        // Prefer the primary APIs (Vulkan, Metal, DX12, browser WebGPU); fall back to GL.
        let tries = match options.backends.or_else(backends_from_env) {
            Some(b) => vec![b],
            None => vec![wgpu::Backends::PRIMARY, wgpu::Backends::SECONDARY],
        };
        let mut last_error = String::from("no backend tried");
        let mut found = None;
        for backends in tries {
            let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
            desc.backends = backends;
            let instance = wgpu::Instance::new(desc);
            let options = wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                apply_limit_buckets: false,
            };
            match instance.request_adapter(&options).await {
                Ok(adapter) => {
                    found = Some(adapter);
                    break;
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        let adapter = found.ok_or(Error::NoAdapter(last_error))?;

        let available = adapter.features();
        let wanted = wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY;
        let required_features = available & wanted;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("anytune"),
                required_features,
                required_limits: limits.clone(),
                experimental_features: Default::default(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::Device(e.to_string()))?;

        let features = GpuFeatures {
            shader_f16: required_features.contains(wgpu::Features::SHADER_F16),
            subgroups: required_features.contains(wgpu::Features::SUBGROUP),
            timestamp_query: required_features.contains(wgpu::Features::TIMESTAMP_QUERY),
        };
        let info = adapter.get_info();
        let (family, kernels_reason) = KernelFamily::choose(options.kernels, &info)?;
        let (f16_tiles, f16_operands, f16_tiles_reason) = choose_f16_tiles(options.f16, family, features.shader_f16)?;
        let report = AdapterReport {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
            features,
            max_storage_binding: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_workgroup_size_x: limits.max_compute_workgroup_size_x,
            max_invocations: limits.max_compute_invocations_per_workgroup,
            max_workgroup_storage: limits.max_compute_workgroup_storage_size,
            max_storage_buffers_per_stage: limits.max_storage_buffers_per_shader_stage,
            kernels: family,
            kernels_reason,
            f16_tiles,
            f16_tiles_reason,
            f16_operands,
        };
        let rgba32f = adapter.get_texture_format_features(wgpu::TextureFormat::Rgba32Float);
        let rgba32f_storage_read = rgba32f.allowed_usages.contains(wgpu::TextureUsages::STORAGE_BINDING)
            && rgba32f.flags.contains(wgpu::TextureFormatFeatureFlags::STORAGE_READ_ONLY);
        let cpu = info.device_type == wgpu::DeviceType::Cpu;
        let subgroup_kernels = features.subgroups
            && !std::env::var("ANYTUNE_MATMUL_SG").is_ok_and(|v| v == "0")
            && info.subgroup_min_size >= 8
            && info.backend != wgpu::Backend::BrowserWebGpu;
        let gpu = Gpu {
            device,
            queue,
            limits,
            features,
            report,
            rgba32f_storage_read,
            cpu,
            subgroup_kernels,
            family,
            f16_tiles,
            f16_operands,
            pipelines: PipelineCache::default(),
            profile: Default::default(),
            errors: Default::default(),
        };
        super::errors::capture_errors(&gpu.device, &gpu.errors);
        Ok(gpu)
    }

    /// Largest buffer a single storage binding may cover, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// The pending GPU error, if any, as `Err` (and clears it: the device stays usable).
    pub fn take_error(&self) -> Result<()> {
        match self.errors.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether an error is pending (recording and submitting are skipped until it is taken).
    pub fn has_error(&self) -> bool {
        self.errors.pending()
    }

    /// Keeps `error` as the pending error unless one is already pending.
    pub(crate) fn record_error(&self, error: crate::Error) {
        self.errors.record(error);
    }

    /// Refuses a buffer of `bytes` larger than the adapter's buffer size limit, or, for one bound
    /// as storage (`storage`), than its storage-binding limit; `what` describes it for the error.
    pub fn check_buffer(&self, bytes: u64, storage: bool, what: impl FnOnce() -> String) -> Result<()> {
        super::errors::check_buffer(&self.limits, bytes, storage, what)
    }
}

fn backends_from_env() -> Option<wgpu::Backends> {
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(name) = std::env::var("ANYTUNE_BACKEND") {
        return match name.to_ascii_lowercase().as_str() {
            "vulkan" => Some(wgpu::Backends::VULKAN),
            "metal" => Some(wgpu::Backends::METAL),
            "dx12" => Some(wgpu::Backends::DX12),
            "gl" => Some(wgpu::Backends::GL),
            _ => None,
        };
    }
    None
}
