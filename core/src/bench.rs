//! Matmul micro-benchmarks (native only): GFLOP/s of the f32 [`matmul`], of
//! [`qmatmul_forward`] and of [`qmatmul_backward_input`] against a weight of any GGUF type. Run in release mode, e.g.
//! `cargo test --release -p anytune-core bench -- --ignored --nocapture`.

use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::matmul::{MatmulShape, matmul};
use crate::ops::qmatmul::{qmatmul_backward_input, qmatmul_forward};
use crate::quant::GgmlType;
use crate::quant::quantize::random_blocks;
use crate::testing::Rng;
use crate::weights::Weight;
use std::time::Instant;

/// One measurement.
#[derive(Clone, Copy, Debug)]
pub struct BenchResult {
    /// 2·m·n·k / seconds per product, in 10⁹.
    pub gflops: f64,
    pub ms_per_iter: f64,
}

/// Times `(m, k) · (k, n)`: `ty = None` for the f32 matmul (`x · B`, B stored `(k, n)`), or
/// `qmatmul_forward` with an `(n, k)` weight of type `ty`. One warm-up run (compiles the
/// pipeline), then `iters` dispatches in one submission, waited for with one readback.
pub fn bench_matmul(gpu: &Gpu, m: usize, n: usize, k: usize, ty: Option<GgmlType>, iters: usize) -> Result<BenchResult> {
    check_operands(gpu, &[("x", m, k), ("y", m, n), ("B", if ty.is_none() { k } else { 1 }, n)])?;
    let mut rng = Rng::new(1);
    let x = GpuTensor::from_slice(gpu, &[m, k], &rng.normal_vec(m * k, 1.0));
    let y = GpuTensor::zeros(gpu, &[m, n]);
    let weight = match ty {
        Some(ty) => {
            let bytes = random_blocks(ty, n * k / ty.block_size(), 0.1, &mut rng);
            Some(Weight::upload(gpu, "bench.weight", ty, n, k, &bytes)?)
        }
        None => None,
    };
    // B (k, n) for the f32 product; one unused value for qmatmul.
    let b_len = if ty.is_none() { k * n } else { 1 };
    let b = GpuTensor::from_slice(gpu, &[b_len], &rng.normal_vec(b_len, 1.0));
    let record = |rec: &mut Recorder| -> Result<()> {
        match &weight {
            Some(w) => qmatmul_forward(rec, &x, w, None, &y),
            None => matmul(rec, &x, &b, &y, MatmulShape::new(m, n, k)),
        }
    };
    time(gpu, &y, 2 * m * n * k, iters, record)
}

/// Times `dx = dy · W` ([`qmatmul_backward_input`]), dy `(m, n)`, W `(n, k)` of type `ty`, as
/// [`bench_matmul`] does.
pub fn bench_qmatmul_backward(gpu: &Gpu, m: usize, n: usize, k: usize, ty: GgmlType, iters: usize) -> Result<BenchResult> {
    check_operands(gpu, &[("dy", m, n), ("dx", m, k)])?;
    let mut rng = Rng::new(2);
    let dy = GpuTensor::from_slice(gpu, &[m, n], &rng.normal_vec(m * n, 1.0));
    let dx = GpuTensor::zeros(gpu, &[m, k]);
    let bytes = random_blocks(ty, n * k / ty.block_size(), 0.1, &mut rng);
    let w = Weight::upload(gpu, "bench.weight", ty, n, k, &bytes)?;
    time(gpu, &dx, 2 * m * n * k, iters, |rec| qmatmul_backward_input(rec, &dy, &w, &dx, false))
}

/// Refuses f32 operands `(name, rows, cols)` too large for one storage binding before any host
/// data is made for them.
fn check_operands(gpu: &Gpu, operands: &[(&str, usize, usize)]) -> Result<()> {
    for &(name, rows, cols) in operands {
        let bytes = (rows as u64).saturating_mul(cols as u64).saturating_mul(4);
        gpu.check_buffer(bytes, true, || format!("the matmul operand {name} ({rows} × {cols} f32)"))?;
    }
    Ok(())
}

/// One warm-up run of `record`, then `iters` in one submission, waited for by reading `out`.
fn time(gpu: &Gpu, out: &GpuTensor, flops: usize, iters: usize, record: impl Fn(&mut Recorder) -> Result<()>) -> Result<BenchResult> {
    let mut rec = Recorder::new(gpu);
    record(&mut rec)?;
    pollster::block_on(crate::gpu::readback::read_f32(rec, &out.buffer, 0, 1))?;
    let start = Instant::now();
    let mut rec = Recorder::new(gpu);
    for _ in 0..iters {
        record(&mut rec)?;
    }
    pollster::block_on(crate::gpu::readback::read_f32(rec, &out.buffer, 0, 1))?;
    let secs = start.elapsed().as_secs_f64() / iters.max(1) as f64;
    Ok(BenchResult { gflops: flops as f64 / secs / 1e9, ms_per_iter: secs * 1e3 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_gpu;

    /// Both kinds of row `anytune bench --op matmul` prints run (the qmatmul rows once panicked
    /// building the unused f32 B); speed is not asserted.
    #[test]
    fn bench_matmul_runs_f32_and_qmatmul_rows() {
        let Some(gpu) = test_gpu() else { return };
        for ty in [None, Some(GgmlType::Q8_0)] {
            let r = bench_matmul(gpu, 8, 16, 64, ty, 1).unwrap();
            assert!(r.gflops > 0.0 && r.ms_per_iter > 0.0, "{ty:?}: {} GFLOP/s, {} ms", r.gflops, r.ms_per_iter);
        }
    }

    /// Prints GFLOP/s; never asserts on speed.
    #[test]
    #[ignore = "benchmark: run in release with --ignored --nocapture"]
    fn bench_matmul_shapes() {
        let Some(gpu) = test_gpu() else { return };
        let only = std::env::var("ANYTUNE_BENCH").unwrap_or_default();
        let mut cases: Vec<(usize, usize, usize, Option<GgmlType>)> =
            vec![(512, 1536, 576, None), (512, 512, 512, None), (512, 1536, 576, Some(GgmlType::F32))];
        for ty in [GgmlType::Q4_1, GgmlType::Q8_0] {
            for (m, k, n) in [(128, 576, 576), (128, 576, 192), (128, 576, 1536), (128, 1536, 576), (128, 576, 49152)] {
                cases.push((m, n, k, Some(ty)));
            }
            cases.push((1, 1536, 576, Some(ty)));
            cases.push((1, 49152, 576, Some(ty)));
        }
        for (m, n, k, ty) in cases {
            let name = ty.map_or("f32", |t| t.name()).to_string();
            if !only.is_empty() && !only.split(',').any(|o| o == name) {
                continue;
            }
            let iters = ((4e9 / (2.0 * (m * n * k) as f64)) as usize).clamp(2, 50);
            let r = bench_matmul(gpu, m, n, k, ty, iters).unwrap();
            println!("{name:>5} m={m:<4} k={k:<5} n={n:<6} {:>7.2} GFLOP/s {:>9.3} ms/iter", r.gflops, r.ms_per_iter);
        }
    }

    /// Process CPU seconds (user + system, all threads, llvmpipe's included) from /proc/self/stat.
    fn cpu_secs() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<f64> = after.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
        (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
    }

    /// f32 matmul only: wall GFLOP/s and GFLOP per CPU-second (less sensitive to other load on
    /// a shared machine), three repeats per shape.
    #[test]
    #[ignore = "benchmark: run in release with --ignored --nocapture"]
    fn bench_f32_matmul_cpu() {
        let Some(gpu) = test_gpu() else { return };
        for (m, n, k) in [(512, 1536, 576), (512, 512, 512), (128, 576, 576), (128, 576, 1536)] {
            for _ in 0..3 {
                let iters = ((3e9 / (2.0 * (m * n * k) as f64)) as usize).clamp(2, 50);
                let c0 = cpu_secs();
                let r = bench_matmul(gpu, m, n, k, None, iters).unwrap();
                let cpu = cpu_secs() - c0;
                let cpu_gflops = 2.0 * (m * n * k) as f64 * (iters + 1) as f64 / cpu.max(1e-9) / 1e9;
                println!("f32 m={m:<4} n={n:<5} k={k:<5} {:>6.2} GFLOP/s wall {:>6.2} per CPU-s", r.gflops, cpu_gflops);
            }
        }
    }

    /// Prints GFLOP/s of the backward-input product on SmolLM2's shapes (M = 256 tokens).
    #[test]
    #[ignore = "benchmark: run in release with --ignored --nocapture"]
    fn bench_qmatmul_backward_shapes() {
        let Some(gpu) = test_gpu() else { return };
        let cases = [(576, 576, GgmlType::Q4_1), (192, 576, GgmlType::Q4_1), (1536, 576, GgmlType::Q4_1), (576, 1536, GgmlType::Q4_1), (49152, 576, GgmlType::Q8_0)];
        for (n, k, ty) in cases {
            let m = 256;
            let iters = ((4e9 / (2.0 * (m * n * k) as f64)) as usize).clamp(2, 50);
            let r = bench_qmatmul_backward(gpu, m, n, k, ty, iters).unwrap();
            println!("bwd {:>5} m={m:<4} n={n:<6} k={k:<5} {:>7.2} GFLOP/s {:>9.3} ms/iter", ty.name(), r.gflops, r.ms_per_iter);
        }
    }
}
