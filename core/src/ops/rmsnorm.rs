//! RMSNorm (Llama's pre-attention and pre-MLP norm, and the final norm):
//! `y = x / sqrt(mean(x²) + eps) * w` over the last dimension. The forward pass saves
//! `rstd = 1 / sqrt(mean(x²) + eps)` per row, the only thing the backward pass needs besides `x`.
//!
//! The norm weight `w` belongs to the frozen base model, so the backward pass computes `dx`
//! only; `dw` is never needed for LoRA fine-tuning and is not implemented.

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Kernel, Recorder, grid_1d, kernels};

/// Mirrors `Params` in `shaders/rmsnorm_forward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RmsNormParams {
    rows: u32,
    c: u32,
    eps: f32,
    _pad: u32,
}

/// Rows at or above which the one-invocation-per-row kernel is used; below it, one workgroup
/// per row (few long rows would leave most of the GPU idle with a per-row loop).
const ROWS_PER_INVOCATION_MIN: usize = 64;

/// Checks the shapes shared by forward and backward; returns `(rows, C)`.
fn check_shapes(x: &GpuTensor, w: &GpuTensor, others: &[(&str, &GpuTensor, bool)]) -> Result<(usize, usize)> {
    let c = w.len();
    if c == 0 || x.shape.last() != Some(&c) {
        return Err(Error::invalid("rmsnorm x", format!("shape {:?}: last dim must equal weight length {c}", x.shape)));
    }
    let rows = x.len() / c;
    for (name, t, per_row) in others {
        let want = if *per_row { rows } else { x.len() };
        if t.len() != want {
            return Err(Error::invalid(
                format!("rmsnorm {name}"),
                format!("shape {:?} has {} elements, expected {want} for x {:?}", t.shape, t.len(), x.shape),
            ));
        }
    }
    Ok((rows, c))
}

/// Records `y = rmsnorm(x) * w` and saves `rstd`.
///
/// # Shapes
/// `x`: `(R, C)` (any leading dims, typically `(B, T, C)`), `w`: `(C)`, `y`: like `x` (written),
/// `rstd`: `(R)` (written).
pub fn rmsnorm_forward(
    rec: &mut Recorder,
    x: &GpuTensor,
    w: &GpuTensor,
    eps: f32,
    y: &GpuTensor,
    rstd: &GpuTensor,
) -> Result<()> {
    let (rows, c) = check_shapes(x, w, &[("y", y, false), ("rstd", rstd, true)])?;
    let params = RmsNormParams { rows: rows as u32, c: c as u32, eps, _pad: 0 };
    let bindings = [x.binding(), w.binding(), y.binding(), rstd.binding()];
    let (kernel, grid): (&Kernel, _) = if rows >= ROWS_PER_INVOCATION_MIN {
        (&kernels::RMSNORM_FORWARD, grid_1d(rows, 64))
    } else {
        (&kernels::RMSNORM_FORWARD_WG, grid_1d(rows, 1))
    };
    rec.dispatch(kernel, &params, &bindings, grid);
    Ok(())
}

/// CPU reference: returns `(y (R, C), rstd (R))`.
pub fn rmsnorm_forward_cpu(x: &[f32], w: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>) {
    let c = w.len();
    let mut y = vec![0f32; x.len()];
    let mut rstd = vec![0f32; x.len() / c];
    for (r, row) in x.chunks(c).enumerate() {
        let ss: f64 = row.iter().map(|&v| (v as f64) * (v as f64)).sum();
        let s = 1.0 / (ss / c as f64 + eps as f64).sqrt();
        for i in 0..c {
            y[r * c + i] = (row[i] as f64 * s * w[i] as f64) as f32;
        }
        rstd[r] = s as f32;
    }
    (y, rstd)
}

/// Mirrors `Params` in `shaders/rmsnorm_backward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RmsNormBackwardParams {
    rows: u32,
    c: u32,
    accumulate: u32,
    _pad: u32,
}

/// Records the gradient with respect to `x`: `dx = ...` or, with `accumulate`, `dx += ...`
/// (the residual stream's gradient, which the norm's input gradient adds to). No `dw`: the
/// norm weight is frozen.
///
/// # Shapes
/// `x`, `dy`, `dx`: `(R, C)`, `w`: `(C)`, `rstd`: `(R)` (saved by [`rmsnorm_forward`]).
pub fn rmsnorm_backward(
    rec: &mut Recorder,
    x: &GpuTensor,
    w: &GpuTensor,
    rstd: &GpuTensor,
    dy: &GpuTensor,
    dx: &GpuTensor,
    accumulate: bool,
) -> Result<()> {
    let (rows, c) = check_shapes(x, w, &[("rstd", rstd, true), ("dy", dy, false), ("dx", dx, false)])?;
    let params = RmsNormBackwardParams { rows: rows as u32, c: c as u32, accumulate: accumulate as u32, _pad: 0 };
    let bindings = [x.binding(), w.binding(), rstd.binding(), dy.binding(), dx.binding()];
    let (kernel, grid): (&Kernel, _) = if rows >= ROWS_PER_INVOCATION_MIN {
        (&kernels::RMSNORM_BACKWARD, grid_1d(rows, 64))
    } else {
        (&kernels::RMSNORM_BACKWARD_WG, grid_1d(rows, 1))
    };
    rec.dispatch(kernel, &params, &bindings, grid);
    Ok(())
}

/// CPU reference: returns `dx (R, C)` (not accumulated).
pub fn rmsnorm_backward_cpu(x: &[f32], w: &[f32], rstd: &[f32], dy: &[f32]) -> Vec<f32> {
    let c = w.len();
    let mut dx = vec![0f32; x.len()];
    for r in 0..x.len() / c {
        let row = r * c..(r + 1) * c;
        let (xr, dyr) = (&x[row.clone()], &dy[row]);
        let dot: f64 = (0..c).map(|i| dyr[i] as f64 * w[i] as f64 * xr[i] as f64).sum();
        let s = rstd[r] as f64;
        for i in 0..c {
            dx[r * c + i] = (s * w[i] as f64 * dyr[i] as f64 - s * s * s / c as f64 * xr[i] as f64 * dot) as f32;
        }
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{numeric_grad, weighted_sum};
    use crate::testing::{Rng, assert_close, test_gpu};

    /// Forward on `x` of `shape` (rows = all but the last dim) against the CPU reference.
    fn run_forward(shape: &[usize], seed: u64) {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(seed);
        let c = shape[shape.len() - 1];
        let rows = shape.iter().product::<usize>() / c;
        let x = rng.normal_vec(rows * c, 2.0);
        let w = rng.normal_vec(c, 1.0);
        let gx = GpuTensor::from_slice(gpu, shape, &x);
        let gw = GpuTensor::from_slice(gpu, &[c], &w);
        let gy = GpuTensor::zeros(gpu, shape);
        let grstd = GpuTensor::zeros(gpu, &[rows]);
        let mut rec = Recorder::new(gpu);
        rmsnorm_forward(&mut rec, &gx, &gw, 1e-5, &gy, &grstd).unwrap();
        rec.submit();
        let (want_y, want_rstd) = rmsnorm_forward_cpu(&x, &w, 1e-5);
        let y = pollster::block_on(gy.to_vec(gpu)).unwrap();
        let rstd = pollster::block_on(grstd.to_vec(gpu)).unwrap();
        assert_close(&y, &want_y, 1e-5, 1e-4, &format!("rmsnorm y {shape:?}"));
        assert_close(&rstd, &want_rstd, 1e-6, 1e-5, &format!("rmsnorm rstd {shape:?}"));
    }

    #[test]
    fn rmsnorm_forward_matches_cpu() {
        // Both kernels: few rows → one workgroup per row; many rows → one invocation per row.
        for (rows, c) in [(1, 37), (3, 577), (13, 64), (65, 37), (130, 577)] {
            run_forward(&[rows, c], rows as u64 * 1000 + c as u64);
        }
    }

    /// Per-head RMSNorm (Gemma 3 and Qwen3 normalise q and k over head_dim with D weights):
    /// x `(B, T, H, D)` is `B·T·H` rows of D. D = 256 and 16, both kernels (rows < 64: one
    /// workgroup per row; rows >= 64: one invocation per row).
    #[test]
    fn rmsnorm_per_head_matches_cpu() {
        for (i, shape) in [[2, 5, 4, 256], [1, 3, 1, 16], [2, 9, 4, 256], [1, 19, 4, 16]].iter().enumerate() {
            run_forward(shape, 70 + i as u64);
            run_backward(shape, 80 + i as u64, false);
        }
        // Finite differences on a small per-head view.
        run_backward(&[1, 2, 3, 16], 90, true);
    }

    /// Backward on `x` of `shape` against the CPU reference (and central differences).
    fn run_backward(shape: &[usize], seed: u64, check_numeric: bool) {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(seed);
        let c = shape[shape.len() - 1];
        let rows = shape.iter().product::<usize>() / c;
        let x = rng.normal_vec(rows * c, 1.5);
        let w = rng.normal_vec(c, 1.0);
        let r = rng.normal_vec(rows * c, 1.0);
        let prior = rng.normal_vec(rows * c, 1.0);
        let (_, rstd) = rmsnorm_forward_cpu(&x, &w, 1e-5);
        let gx = GpuTensor::from_slice(gpu, shape, &x);
        let gw = GpuTensor::from_slice(gpu, &[c], &w);
        let grstd = GpuTensor::from_slice(gpu, &[rows], &rstd);
        let gdy = GpuTensor::from_slice(gpu, shape, &r);
        let gdx = GpuTensor::zeros(gpu, shape);
        let gacc = GpuTensor::from_slice(gpu, shape, &prior);
        let mut rec = Recorder::new(gpu);
        rmsnorm_backward(&mut rec, &gx, &gw, &grstd, &gdy, &gdx, false).unwrap();
        rmsnorm_backward(&mut rec, &gx, &gw, &grstd, &gdy, &gacc, true).unwrap();
        rec.submit();
        let dx = pollster::block_on(gdx.to_vec(gpu)).unwrap();
        let acc = pollster::block_on(gacc.to_vec(gpu)).unwrap();
        let want = rmsnorm_backward_cpu(&x, &w, &rstd, &r);
        assert_close(&dx, &want, 1e-5, 1e-4, &format!("rmsnorm dx {shape:?}"));
        let want_acc: Vec<f32> = want.iter().zip(&prior).map(|(a, b)| a + b).collect();
        assert_close(&acc, &want_acc, 1e-5, 1e-4, &format!("rmsnorm dx accumulate {shape:?}"));
        if check_numeric {
            let numeric = numeric_grad(&x, 1e-2, |xs| weighted_sum(&rmsnorm_forward_cpu(xs, &w, 1e-5).0, &r));
            assert_close(&dx, &numeric, 2e-3, 2e-3, &format!("rmsnorm dx vs finite differences {shape:?}"));
        }
    }

    #[test]
    fn rmsnorm_backward_matches_cpu_and_finite_differences() {
        run_backward(&[3, 7], 11, true);
        run_backward(&[70, 5], 12, true);
        run_backward(&[2, 577], 13, false);
        run_backward(&[67, 37], 14, false);
    }

    /// Compares the two forward kernels' speed; `cargo test -p anytune-core rmsnorm_timing
    /// -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn rmsnorm_timing() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(5);
        for (rows, c) in [(256usize, 576usize), (256, 2048), (16, 2048), (1024, 576)] {
            let x = rng.normal_vec(rows * c, 1.0);
            let w = rng.normal_vec(c, 1.0);
            let gx = GpuTensor::from_slice(gpu, &[rows, c], &x);
            let gw = GpuTensor::from_slice(gpu, &[c], &w);
            let gy = GpuTensor::zeros(gpu, &[rows, c]);
            let grstd = GpuTensor::zeros(gpu, &[rows]);
            let params = RmsNormParams { rows: rows as u32, c: c as u32, eps: 1e-5, _pad: 0 };
            for (name, kernel, grid) in [
                ("per-row", &kernels::RMSNORM_FORWARD, grid_1d(rows, 64)),
                ("workgroup", &kernels::RMSNORM_FORWARD_WG, grid_1d(rows, 1)),
            ] {
                let mut times = vec![];
                for _ in 0..6 {
                    let mut rec = Recorder::new(gpu);
                    for _ in 0..10 {
                        rec.dispatch(
                            kernel,
                            &params,
                            &[gx.binding(), gw.binding(), gy.binding(), grstd.binding()],
                            grid,
                        );
                    }
                    let t0 = std::time::Instant::now();
                    pollster::block_on(grstd.read(rec)).unwrap();
                    times.push(t0.elapsed().as_secs_f64() / 10.0);
                }
                times.sort_by(|a, b| a.partial_cmp(b).unwrap());
                eprintln!("rows={rows} C={c} {name}: {:.3} ms", times[2] * 1e3);
            }
        }
    }
}
