//! The adapter's f32 peak, for "percent of peak" in `anytune bench`: measured by an FMA
//! throughput kernel (`shaders/fma_peak.wgsl`), and looked up in a short table of common GPUs'
//! published figures where the adapter's name matches one.

use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder, grid_1d, kernels};
use std::time::Instant;

/// Mirrors `Params` in `shaders/fma_peak.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PeakParams {
    iters: u32,
    n: u32,
    seed: f32,
    _pad: u32,
}

/// FLOPs per invocation per round of the kernel (8 vec4 FMAs).
const FLOPS_PER_ROUND: f64 = 64.0;
/// Rounds per invocation.
const ROUNDS: u32 = 512;

/// Published f32 (non-tensor-core) peaks in TFLOP/s, matched against the adapter name.
/// More specific names first (an "H100 PCIe" is not an SXM part).
const PUBLISHED_TFLOPS: [(&str, f64); 10] = [
    ("H100 PCIe", 51.2),
    ("H100", 66.9),
    ("H200", 66.9),
    ("A100", 19.5),
    ("L4", 30.3),
    ("RTX 4090", 82.6),
    ("RTX 4080", 48.7),
    ("RTX 3090", 35.6),
    ("RTX 3080", 29.8),
    ("RTX 3060", 12.7),
];

/// The published f32 peak of the adapter called `name` in GFLOP/s, if the table knows it.
pub fn published_peak_gflops(name: &str) -> Option<f64> {
    PUBLISHED_TFLOPS.iter().find(|(n, _)| name.contains(n)).map(|&(_, t)| t * 1e3)
}

/// Measures f32 FMA throughput in GFLOP/s: doubles the grid until one dispatch takes ≥ 20 ms
/// (so launch costs do not count), then takes the best of three.
pub fn measure_peak_gflops(gpu: &Gpu) -> Result<f64> {
    let mut invocations = 256 * 64;
    loop {
        let secs = time_dispatch(gpu, invocations)?;
        let big_enough = secs >= 0.02 || invocations >= 256 * 65_535;
        if big_enough {
            let best = (0..3).map(|_| time_dispatch(gpu, invocations)).try_fold(secs, |a, s| s.map(|s| a.min(s)))?;
            return Ok(invocations as f64 * ROUNDS as f64 * FLOPS_PER_ROUND / best / 1e9);
        }
        invocations *= 2;
    }
}

/// Seconds of one dispatch of `n` invocations, waited for by reading one value back.
fn time_dispatch(gpu: &Gpu, n: usize) -> Result<f64> {
    let out = GpuTensor::zeros(gpu, &[n]);
    let params = PeakParams { iters: ROUNDS, n: n as u32, seed: 0.5, _pad: 0 };
    let start = Instant::now();
    let mut rec = Recorder::new(gpu);
    rec.dispatch(&kernels::FMA_PEAK, &params, &[out.binding()], grid_1d(n, 256));
    let v = pollster::block_on(crate::gpu::readback::read_f32(rec, &out.buffer, 0, 1))?;
    if !v.first().is_some_and(|x| x.is_finite()) {
        return Err(crate::Error::Gpu(format!("the FMA calibration kernel wrote {v:?}")));
    }
    Ok(start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_gpu;

    #[test]
    fn published_peaks_match_specific_names_first() {
        assert_eq!(published_peak_gflops("NVIDIA H100 PCIe"), Some(51_200.0));
        assert_eq!(published_peak_gflops("NVIDIA H100 80GB HBM3"), Some(66_900.0));
        assert_eq!(published_peak_gflops("llvmpipe (LLVM 19.1.7, 256 bits)"), None);
    }

    /// The kernel's chains stay finite and the figure is positive (its size is not asserted).
    #[test]
    fn fma_calibration_runs() {
        let Some(gpu) = test_gpu() else { return };
        assert!(measure_peak_gflops(gpu).unwrap() > 0.0);
    }
}
