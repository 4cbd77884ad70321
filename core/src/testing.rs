//! Helpers shared by the GPU tests (unit and integration): one shared device, the seeded
//! [`Rng`], and a closeness check that reports the worst element.

pub use crate::rng::Rng;
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::{Gpu, GpuOptions, KernelFamily};

/// The shared test device (native only: the browser's device is not `Sync`), or `None` (with
/// the reason printed) when no adapter exists at all. Its kernel family is the adapter's own
/// (or `ANYTUNE_KERNELS`'s).
/// Tests return early on `None`; any other failure panics.
#[cfg(not(target_arch = "wasm32"))]
pub fn test_gpu() -> Option<&'static Gpu> {
    static GPU: std::sync::OnceLock<Option<Gpu>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| open_test_gpu(None, None)).as_ref()
}

/// A second shared test device that runs `family`'s kernels whatever the adapter (so the GPU
/// family is tested on lavapipe), with f32 tiles, or `None` as for [`test_gpu`].
#[cfg(not(target_arch = "wasm32"))]
pub fn test_gpu_with(family: KernelFamily) -> Option<&'static Gpu> {
    static GPUS: [std::sync::OnceLock<Option<Gpu>>; 2] = [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    GPUS[family as usize].get_or_init(|| open_test_gpu(Some(family), Some(false))).as_ref()
}

/// A shared test device of the GPU family with f16 tiles forced on ([`Gpu::f16_tiles`]), or
/// `None` (with the reason printed) where there is no adapter or it lacks shader-f16.
#[cfg(not(target_arch = "wasm32"))]
pub fn test_gpu_f16() -> Option<&'static Gpu> {
    static GPU: std::sync::OnceLock<Option<Gpu>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| {
        if !test_gpu_with(KernelFamily::Gpu)?.features.shader_f16 {
            eprintln!("SKIPPED: the adapter has no shader-f16 (no f16 tiles to test)");
            return None;
        }
        open_test_gpu(Some(KernelFamily::Gpu), Some(true))
    })
    .as_ref()
}

/// Both families' shared test devices ([`test_gpu_with`]), Cpu first; empty without an adapter.
/// Kernel tests loop over them so that every variant is checked against its CPU reference.
#[cfg(not(target_arch = "wasm32"))]
pub fn test_gpus() -> Vec<&'static Gpu> {
    [KernelFamily::Cpu, KernelFamily::Gpu].into_iter().filter_map(test_gpu_with).collect()
}

#[cfg(not(target_arch = "wasm32"))]
fn open_test_gpu(kernels: Option<KernelFamily>, f16: Option<bool>) -> Option<Gpu> {
    match pollster::block_on(Gpu::new(&GpuOptions { kernels, f16, ..Default::default() })) {
        Ok(gpu) => Some(gpu),
        Err(crate::Error::NoAdapter(why)) => {
            eprintln!("SKIPPED: no GPU adapter ({why})");
            None
        }
        Err(e) => panic!("GPU present but unusable: {e}"),
    }
}

/// Panics unless every `|got - want| <= atol + rtol * |want|`; prints the max difference.
pub fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_within(got, want, |_, w| atol + rtol * w.abs(), what);
}

/// Panics unless every `|got[i] - want[i]| <= tol(i, want[i])`; prints the max difference.
pub fn assert_within(got: &[f32], want: &[f32], tol: impl Fn(usize, f32) -> f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length {} vs {}", got.len(), want.len());
    let mut worst = (0usize, 0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        assert!(g.is_finite() == w.is_finite(), "{what}: [{i}] got {g}, want {w}");
        if d - tol(i, *w) > worst.1 - tol(worst.0, want[worst.0]) {
            worst = (i, d);
        }
    }
    let (i, d) = worst;
    let tol = tol(i, want[i]);
    let max_abs = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
    eprintln!("{what}: max |diff| {max_abs:.3e}");
    assert!(d <= tol, "{what}: [{i}] got {}, want {} (|diff| {d:.3e} > tol {tol:.3e})", got[i], want[i]);
}
