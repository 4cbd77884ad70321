//! SwiGLU, the gated activation of the Llama MLP: `h = silu(gate) * up` with
//! `silu(x) = x * sigmoid(x)`, element-wise over `(R, F)`. The sigmoid is evaluated so that
//! `exp` never overflows (finite for any finite input). The backward pass needs only the
//! forward's inputs `gate` and `up`, which the MLP keeps anyway.

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};

/// Mirrors `Params` in `shaders/swiglu_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SwigluParams {
    n: u32,
    _pad: [u32; 3],
}

fn check_same(n: usize, tensors: &[(&str, &GpuTensor)]) -> Result<()> {
    for (name, t) in tensors {
        if t.len() != n {
            return Err(Error::invalid(
                format!("swiglu {name}"),
                format!("shape {:?} has {} elements, expected {n} like gate", t.shape, t.len()),
            ));
        }
    }
    Ok(())
}

/// Records `h = silu(gate) * up`.
///
/// # Shapes
/// `gate`, `up`, `h`: `(R, F)` (any shape with the same number of elements); `h` is written.
pub fn swiglu_forward(rec: &mut Recorder, gate: &GpuTensor, up: &GpuTensor, h: &GpuTensor) -> Result<()> {
    let n = gate.len();
    check_same(n, &[("up", up), ("h", h)])?;
    let params = SwigluParams { n: n as u32, _pad: [0; 3] };
    rec.dispatch(&kernels::SWIGLU_FORWARD, &params, &[gate.binding(), up.binding(), h.binding()], grid_1d(n, 256));
    Ok(())
}

/// Records the gradients `dgate` and `dup` of `h = silu(gate) * up` given `dh`.
///
/// # Shapes
/// `gate`, `up`, `dh`, `dgate`, `dup`: `(R, F)`; `dgate` and `dup` are written (not accumulated).
pub fn swiglu_backward(
    rec: &mut Recorder,
    gate: &GpuTensor,
    up: &GpuTensor,
    dh: &GpuTensor,
    dgate: &GpuTensor,
    dup: &GpuTensor,
) -> Result<()> {
    let n = gate.len();
    check_same(n, &[("up", up), ("dh", dh), ("dgate", dgate), ("dup", dup)])?;
    let params = SwigluParams { n: n as u32, _pad: [0; 3] };
    let bindings = [gate.binding(), up.binding(), dh.binding(), dgate.binding(), dup.binding()];
    rec.dispatch(&kernels::SWIGLU_BACKWARD, &params, &bindings, grid_1d(n, 256));
    Ok(())
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }
}

/// CPU reference: returns `h`.
pub fn swiglu_forward_cpu(gate: &[f32], up: &[f32]) -> Vec<f32> {
    gate.iter().zip(up).map(|(&g, &u)| (g as f64 * sigmoid(g as f64) * u as f64) as f32).collect()
}

/// CPU reference: returns `(dgate, dup)`.
pub fn swiglu_backward_cpu(gate: &[f32], up: &[f32], dh: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut dgate = vec![0f32; gate.len()];
    let mut dup = vec![0f32; gate.len()];
    for i in 0..gate.len() {
        let (g, u, d) = (gate[i] as f64, up[i] as f64, dh[i] as f64);
        let sig = sigmoid(g);
        dgate[i] = (d * u * sig * (1.0 + g * (1.0 - sig))) as f32;
        dup[i] = (d * g * sig) as f32;
    }
    (dgate, dup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{numeric_grad, weighted_sum};
    use crate::testing::{Rng, assert_close, test_gpu};

    /// Random values with a few extremes mixed in (silu must stay finite for large |x|).
    fn inputs(rng: &mut Rng, n: usize) -> Vec<f32> {
        let extremes = [-1000.0, -88.0, -30.0, 30.0, 88.0, 1000.0];
        (0..n).map(|i| if i % 17 == 5 { extremes[rng.below(extremes.len())] } else { rng.normal(3.0) }).collect()
    }

    #[test]
    fn swiglu_forward_and_backward_match_cpu() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(31);
        for (rows, f) in [(1usize, 37usize), (7, 577), (13, 1536)] {
            let n = rows * f;
            let (gate, up, dh) = (inputs(&mut rng, n), rng.normal_vec(n, 1.0), rng.normal_vec(n, 1.0));
            let t = |x: &[f32]| GpuTensor::from_slice(gpu, &[rows, f], x);
            let (gg, gu, gdh) = (t(&gate), t(&up), t(&dh));
            let (gh, gdg, gdu) = (t(&vec![0.0; n]), t(&vec![0.0; n]), t(&vec![0.0; n]));
            let mut rec = Recorder::new(gpu);
            swiglu_forward(&mut rec, &gg, &gu, &gh).unwrap();
            swiglu_backward(&mut rec, &gg, &gu, &gdh, &gdg, &gdu).unwrap();
            rec.submit();
            let read = |x: &GpuTensor| pollster::block_on(x.to_vec(gpu)).unwrap();
            let what = format!("rows={rows} F={f}");
            assert_close(&read(&gh), &swiglu_forward_cpu(&gate, &up), 1e-5, 1e-4, &format!("swiglu h {what}"));
            let (want_dg, want_du) = swiglu_backward_cpu(&gate, &up, &dh);
            assert_close(&read(&gdg), &want_dg, 1e-5, 1e-4, &format!("swiglu dgate {what}"));
            assert_close(&read(&gdu), &want_du, 1e-5, 1e-4, &format!("swiglu dup {what}"));
        }
    }

    #[test]
    fn swiglu_backward_matches_finite_differences() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(32);
        let n = 29;
        let (gate, up, r) = (rng.normal_vec(n, 2.0), rng.normal_vec(n, 1.0), rng.normal_vec(n, 1.0));
        let t = |x: &[f32]| GpuTensor::from_slice(gpu, &[n], x);
        let (gg, gu, gr, gdg, gdu) = (t(&gate), t(&up), t(&r), t(&vec![0.0; n]), t(&vec![0.0; n]));
        let mut rec = Recorder::new(gpu);
        swiglu_backward(&mut rec, &gg, &gu, &gr, &gdg, &gdu).unwrap();
        rec.submit();
        let dgate = pollster::block_on(gdg.to_vec(gpu)).unwrap();
        let dup = pollster::block_on(gdu.to_vec(gpu)).unwrap();
        let num_dg = numeric_grad(&gate, 1e-2, |g| weighted_sum(&swiglu_forward_cpu(g, &up), &r));
        let num_du = numeric_grad(&up, 1e-2, |u| weighted_sum(&swiglu_forward_cpu(&gate, u), &r));
        assert_close(&dgate, &num_dg, 1e-3, 1e-3, "swiglu dgate vs finite differences");
        assert_close(&dup, &num_du, 1e-3, 1e-3, "swiglu dup vs finite differences");
    }
}
