//! Helpers shared by the GPU tests (unit and integration): one shared device, the seeded
//! [`Rng`], and a closeness check that reports the worst element.

pub use crate::rng::Rng;
#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::{Gpu, GpuOptions};

/// The shared test device (native only: the browser's device is not `Sync`), or `None` (with
/// the reason printed) when no adapter exists at all.
/// Tests return early on `None`; any other failure panics.
#[cfg(not(target_arch = "wasm32"))]
pub fn test_gpu() -> Option<&'static Gpu> {
    static GPU: std::sync::OnceLock<Option<Gpu>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| match pollster::block_on(Gpu::new(&GpuOptions::default())) {
        Ok(gpu) => Some(gpu),
        Err(crate::Error::NoAdapter(why)) => {
            eprintln!("SKIPPED: no GPU adapter ({why})");
            None
        }
        Err(e) => panic!("GPU present but unusable: {e}"),
    })
    .as_ref()
}

/// Panics unless every `|got - want| <= atol + rtol * |want|`; prints the max difference.
pub fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length {} vs {}", got.len(), want.len());
    let mut worst = (0usize, 0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        assert!(g.is_finite() == w.is_finite(), "{what}: [{i}] got {g}, want {w}");
        if d - (atol + rtol * w.abs()) > worst.1 - (atol + rtol * want[worst.0].abs()) {
            worst = (i, d);
        }
    }
    let (i, d) = worst;
    let tol = atol + rtol * want[i].abs();
    let max_abs = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0f32, f32::max);
    eprintln!("{what}: max |diff| {max_abs:.3e}");
    assert!(d <= tol, "{what}: [{i}] got {}, want {} (|diff| {d:.3e} > tol {tol:.3e})", got[i], want[i]);
}
