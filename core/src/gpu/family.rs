//! Which kernel family a device runs: the kernels shaped for CPU adapters (llvmpipe/lavapipe,
//! SwiftShader: operands staged into 64 KiB uniform buffers, 16-invocation workgroups, products
//! cut into row blocks), or the kernels shaped for GPUs (workgroup-memory tiles, 256
//! invocations, one dispatch per product). Chosen once when the device opens
//! ([`KernelFamily::choose`]); `ANYTUNE_KERNELS=cpu|gpu` (natively) or
//! [`super::GpuOptions::kernels`] overrides it, so the GPU family is tested on lavapipe.
//! Within the GPU family the tiled products keep their tiles in f16 where the device has
//! `shader-f16` ([`choose_f16_tiles`]); `ANYTUNE_F16=on|off` or [`super::GpuOptions::f16`]
//! forces either way.

use crate::error::{Error, Result};

/// The kernel family of a [`super::Gpu`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelFamily {
    /// Kernels tuned on llvmpipe (CPU adapters); the default where the adapter is a CPU.
    Cpu,
    /// Tiled kernels for GPUs (`matmul_tiled`, `qmatmul_tiled_*`); the default elsewhere.
    Gpu,
}

impl KernelFamily {
    /// `"cpu"` or `"gpu"`, as `ANYTUNE_KERNELS` spells it.
    pub fn name(self) -> &'static str {
        match self {
            KernelFamily::Cpu => "cpu",
            KernelFamily::Gpu => "gpu",
        }
    }

    /// Parses `cpu` / `gpu` (any case); `source` names where the value came from, for the error.
    pub fn parse(value: &str, source: &str) -> Result<KernelFamily> {
        match value.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(KernelFamily::Cpu),
            "gpu" => Ok(KernelFamily::Gpu),
            _ => Err(Error::invalid(source, format!("{value:?} is not a kernel family: use cpu or gpu"))),
        }
    }

    /// The family for an adapter and why: `forced` (a caller's choice) first, then
    /// `ANYTUNE_KERNELS` (natively), else from the adapter: Cpu for a CPU device type or an
    /// adapter whose name or driver says SwiftShader (the browser may report no device type),
    /// Gpu otherwise.
    pub fn choose(forced: Option<KernelFamily>, info: &wgpu::AdapterInfo) -> Result<(KernelFamily, String)> {
        if let Some(f) = forced {
            return Ok((f, "chosen by the caller".into()));
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Ok(value) = std::env::var("ANYTUNE_KERNELS") {
            return Ok((Self::parse(&value, "ANYTUNE_KERNELS")?, "set by ANYTUNE_KERNELS".into()));
        }
        let text = format!("{} {} {}", info.name, info.driver, info.driver_info);
        Ok(Self::from_adapter(info.device_type, &text))
    }

    /// The family an adapter of `device_type` described by `text` (its name and driver) calls
    /// for, without overrides, and why.
    pub fn from_adapter(device_type: wgpu::DeviceType, text: &str) -> (KernelFamily, String) {
        let text = text.to_ascii_lowercase();
        if device_type == wgpu::DeviceType::Cpu {
            (KernelFamily::Cpu, "the adapter is a CPU (software rasterizer)".into())
        } else if text.contains("swiftshader") {
            (KernelFamily::Cpu, "the adapter is SwiftShader (a CPU)".into())
        } else {
            (KernelFamily::Gpu, format!("the adapter is a {device_type:?} device"))
        }
    }
}

/// Whether the GPU family's tiled products run their `_f16` variants (tiles in f16, products
/// summed in f32), and why: (frozen-weight products `qmatmul_tiled_*`, f32 products
/// `matmul_tiled*`, reason). `forced` (a caller's choice) first, then `ANYTUNE_F16=on|off`
/// (natively): on turns on both, off neither; else the frozen-weight products alone exactly
/// when the family is `Gpu` and the device has `shader-f16` (the f32 products' operands include
/// gradients, which f16 would flush below 6e-5). Forcing on where the device lacks
/// `shader-f16`, or on the CPU family (which has no f16 tiles), is an error naming the option.
pub fn choose_f16_tiles(forced: Option<bool>, family: KernelFamily, shader_f16: bool) -> Result<(bool, bool, String)> {
    let wanted = match forced {
        Some(on) => Some((on, "GpuOptions::f16")),
        None => f16_from_env()?,
    };
    match wanted {
        Some((false, source)) => Ok((false, false, format!("turned off by {source}"))),
        Some((true, source)) if !shader_f16 => {
            Err(Error::invalid(source, "f16 tiles need the shader-f16 feature, which this adapter does not have: use off, or leave it unset"))
        }
        Some((true, source)) if family == KernelFamily::Cpu => Err(Error::invalid(
            source,
            "f16 tiles belong to the GPU kernel family and this device runs the cpu family: also set ANYTUNE_KERNELS=gpu (GpuOptions::kernels)",
        )),
        Some((true, source)) => Ok((true, true, format!("forced on by {source}"))),
        None if family == KernelFamily::Cpu => Ok((false, false, "the cpu kernel family has no f16 tiles".into())),
        None if !shader_f16 => Ok((false, false, "the adapter has no shader-f16".into())),
        None => Ok((true, false, "the adapter has shader-f16".into())),
    }
}

/// `ANYTUNE_F16` (natively; the browser has no environment) and its name, if set.
fn f16_from_env() -> Result<Option<(bool, &'static str)>> {
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(value) = std::env::var("ANYTUNE_F16") {
        return Ok(Some((parse_on_off(&value, "ANYTUNE_F16")?, "ANYTUNE_F16")));
    }
    Ok(None)
}

/// Parses `on` / `off` (any case); `source` names where the value came from, for the error.
#[cfg(not(target_arch = "wasm32"))]
pub fn parse_on_off(value: &str, source: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(Error::invalid(source, format!("{value:?} is neither on nor off"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_family_from_adapter() {
        use wgpu::DeviceType::{Cpu, DiscreteGpu, Other};
        assert_eq!(KernelFamily::from_adapter(Cpu, "llvmpipe (LLVM 15.0.7, 256 bits)").0, KernelFamily::Cpu);
        assert_eq!(KernelFamily::from_adapter(Other, "Google SwiftShader").0, KernelFamily::Cpu);
        assert_eq!(KernelFamily::from_adapter(DiscreteGpu, "NVIDIA H100 NVIDIA 550.54").0, KernelFamily::Gpu);
        // The browser may report nothing at all: a GPU.
        assert_eq!(KernelFamily::from_adapter(Other, "").0, KernelFamily::Gpu);
    }

    #[test]
    fn kernel_family_parse_refuses_other_names() {
        assert_eq!(KernelFamily::parse(" GPU ", "ANYTUNE_KERNELS").unwrap(), KernelFamily::Gpu);
        let e = KernelFamily::parse("fast", "ANYTUNE_KERNELS").unwrap_err().to_string();
        assert!(e.contains("ANYTUNE_KERNELS") && e.contains("cpu or gpu"), "{e}");
    }

    #[test]
    fn f16_tiles_choice_and_refusals() {
        use KernelFamily::{Cpu, Gpu};
        let on = |forced, family, f16| choose_f16_tiles(forced, family, f16).map(|(w, o, _)| (w, o)).unwrap();
        assert_eq!(on(None, Gpu, true), (true, false), "automatic: the frozen weights' tiles only");
        assert_eq!(on(None, Gpu, false), (false, false));
        assert_eq!(on(None, Cpu, true), (false, false));
        assert_eq!(on(Some(false), Gpu, true), (false, false));
        assert_eq!(on(Some(true), Gpu, true), (true, true), "forced on: the f32 products too");
        let e = choose_f16_tiles(Some(true), Gpu, false).unwrap_err().to_string();
        assert!(e.contains("GpuOptions::f16") && e.contains("shader-f16"), "{e}");
        let e = choose_f16_tiles(Some(true), Cpu, true).unwrap_err().to_string();
        assert!(e.contains("ANYTUNE_KERNELS=gpu"), "{e}");
        assert!(parse_on_off(" ON ", "ANYTUNE_F16").unwrap());
        let e = parse_on_off("yes", "ANYTUNE_F16").unwrap_err().to_string();
        assert!(e.contains("ANYTUNE_F16") && e.contains("on nor off"), "{e}");
    }
}
