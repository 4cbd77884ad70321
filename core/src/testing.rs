//! Helpers shared by the GPU tests (unit and integration): one shared device, a small seeded
//! RNG, and a closeness check that reports the worst element.

use crate::gpu::{Gpu, GpuOptions};
use std::sync::OnceLock;

/// The shared test device, or `None` (with the reason printed) when no adapter exists at all.
/// Tests return early on `None`; any other failure panics.
pub fn test_gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
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

/// SplitMix64: tiny, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box–Muller) times `scale`.
    pub fn normal(&mut self, scale: f32) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        scale * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }

    pub fn normal_vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal(scale)).collect()
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
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
