//! The gated activation of the MLP, `h = act(gate) * up` element-wise over `(R, F)`, with the
//! activation chosen by [`Glu`]: SwiGLU (`silu`, Llama and Qwen2; [`swiglu_forward`]) or GeGLU
//! (`gelu_tanh`, Gemma 3; [`glu_forward`] with [`Glu::GeluTanh`]). Both are evaluated so that
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

/// The gate's activation `act` in `h = act(gate) * up` (the `ACT` override constant of the
/// `swiglu_*` shaders). `Default` is [`Glu::Silu`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Glu {
    /// `silu(x) = x · sigmoid(x)` (SwiGLU: Llama, Qwen2; HF `hidden_act = "silu"`).
    #[default]
    Silu,
    /// `gelu_tanh(x) = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`, PyTorch's
    /// `gelu(approximate="tanh")` (GeGLU: Gemma 3; HF `hidden_activation = "gelu_pytorch_tanh"`).
    GeluTanh,
}

impl Glu {
    /// The shader's `ACT` override constant.
    fn constants(self) -> [(&'static str, f64); 1] {
        [("ACT", match self {
            Glu::Silu => 0.0,
            Glu::GeluTanh => 1.0,
        })]
    }
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

/// Records `h = silu(gate) * up` (SwiGLU; [`glu_forward`] with [`Glu::Silu`]).
///
/// # Shapes
/// `gate`, `up`, `h`: `(R, F)` (any shape with the same number of elements); `h` is written.
pub fn swiglu_forward(rec: &mut Recorder, gate: &GpuTensor, up: &GpuTensor, h: &GpuTensor) -> Result<()> {
    glu_forward(rec, Glu::Silu, gate, up, h)
}

/// Records `h = act(gate) * up`.
///
/// # Shapes
/// `gate`, `up`, `h`: `(R, F)` (any shape with the same number of elements); `h` is written.
pub fn glu_forward(rec: &mut Recorder, act: Glu, gate: &GpuTensor, up: &GpuTensor, h: &GpuTensor) -> Result<()> {
    let n = gate.len();
    check_same(n, &[("up", up), ("h", h)])?;
    let params = SwigluParams { n: n as u32, _pad: [0; 3] };
    let bindings = [gate.binding(), up.binding(), h.binding()];
    rec.dispatch_with(&kernels::SWIGLU_FORWARD, &act.constants(), &params, &bindings, grid_1d(n, 256));
    Ok(())
}

/// Records the gradients `dgate` and `dup` of `h = silu(gate) * up` given `dh` ([`glu_backward`]
/// with [`Glu::Silu`]).
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
    glu_backward(rec, Glu::Silu, gate, up, dh, dgate, dup)
}

/// Records the gradients `dgate = dh · up · act'(gate)` and `dup = dh · act(gate)` of
/// `h = act(gate) * up`.
///
/// # Shapes
/// `gate`, `up`, `dh`, `dgate`, `dup`: `(R, F)`; `dgate` and `dup` are written (not accumulated).
pub fn glu_backward(
    rec: &mut Recorder,
    act: Glu,
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
    rec.dispatch_with(&kernels::SWIGLU_BACKWARD, &act.constants(), &params, &bindings, grid_1d(n, 256));
    Ok(())
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }
}

/// `(act(x), act'(x))` in f64, written as the formulas read (PyTorch's tanh form for GeGLU;
/// the shader uses the equivalent `x · sigmoid(2u)`).
fn act_cpu(act: Glu, x: f64) -> (f64, f64) {
    match act {
        Glu::Silu => {
            let sig = sigmoid(x);
            (x * sig, sig * (1.0 + x * (1.0 - sig)))
        }
        Glu::GeluTanh => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let th = (c * (x + 0.044715 * x * x * x)).tanh();
            (0.5 * x * (1.0 + th), 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * c * (1.0 + 3.0 * 0.044715 * x * x))
        }
    }
}

/// CPU reference: returns `h = silu(gate) * up`.
pub fn swiglu_forward_cpu(gate: &[f32], up: &[f32]) -> Vec<f32> {
    glu_forward_cpu(Glu::Silu, gate, up)
}

/// CPU reference: returns `h = act(gate) * up`.
pub fn glu_forward_cpu(act: Glu, gate: &[f32], up: &[f32]) -> Vec<f32> {
    gate.iter().zip(up).map(|(&g, &u)| (act_cpu(act, g as f64).0 * u as f64) as f32).collect()
}

/// CPU reference of [`swiglu_backward`]: returns `(dgate, dup)`.
pub fn swiglu_backward_cpu(gate: &[f32], up: &[f32], dh: &[f32]) -> (Vec<f32>, Vec<f32>) {
    glu_backward_cpu(Glu::Silu, gate, up, dh)
}

/// CPU reference of [`glu_backward`]: returns `(dgate, dup)`.
pub fn glu_backward_cpu(act: Glu, gate: &[f32], up: &[f32], dh: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut dgate = vec![0f32; gate.len()];
    let mut dup = vec![0f32; gate.len()];
    for i in 0..gate.len() {
        let (a, da) = act_cpu(act, gate[i] as f64);
        let d = dh[i] as f64;
        dgate[i] = (d * up[i] as f64 * da) as f32;
        dup[i] = (d * a) as f32;
    }
    (dgate, dup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{numeric_grad, weighted_sum};
    use crate::testing::{Rng, assert_close, test_gpu};

    /// Random values with a few extremes mixed in (both activations must stay finite for large
    /// |x|; 1e20 cubed overflows f32, 19.9/20.1 straddle GeLU's clamp).
    fn inputs(rng: &mut Rng, n: usize) -> Vec<f32> {
        let extremes = [-1e20, -1000.0, -88.0, -30.0, -20.1, -19.9, -3.0, 19.9, 20.1, 30.0, 88.0, 1000.0, 1e20, 3.4e38];
        (0..n).map(|i| if i % 17 == 5 { extremes[rng.below(extremes.len())] } else { rng.normal(3.0) }).collect()
    }

    #[test]
    fn swiglu_forward_and_backward_match_cpu() {
        check_against_cpu(Glu::Silu, 31);
    }

    #[test]
    fn geglu_forward_and_backward_match_cpu() {
        check_against_cpu(Glu::GeluTanh, 33);
    }

    /// GPU forward and backward against the CPU references on odd shapes with extremes.
    fn check_against_cpu(act: Glu, seed: u64) {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(seed);
        for (rows, f) in [(1usize, 37usize), (7, 577), (13, 1536)] {
            let n = rows * f;
            let (gate, up, dh) = (inputs(&mut rng, n), rng.normal_vec(n, 1.0), rng.normal_vec(n, 1.0));
            let t = |x: &[f32]| GpuTensor::from_slice(gpu, &[rows, f], x);
            let (gg, gu, gdh) = (t(&gate), t(&up), t(&dh));
            let (gh, gdg, gdu) = (t(&vec![0.0; n]), t(&vec![0.0; n]), t(&vec![0.0; n]));
            let mut rec = Recorder::new(gpu);
            glu_forward(&mut rec, act, &gg, &gu, &gh).unwrap();
            glu_backward(&mut rec, act, &gg, &gu, &gdh, &gdg, &gdu).unwrap();
            rec.submit();
            let read = |x: &GpuTensor| pollster::block_on(x.to_vec(gpu)).unwrap();
            let what = format!("{act:?} rows={rows} F={f}");
            assert_close(&read(&gh), &glu_forward_cpu(act, &gate, &up), 1e-5, 1e-4, &format!("glu h {what}"));
            let (want_dg, want_du) = glu_backward_cpu(act, &gate, &up, &dh);
            assert_close(&read(&gdg), &want_dg, 1e-5, 1e-4, &format!("glu dgate {what}"));
            assert_close(&read(&gdu), &want_du, 1e-5, 1e-4, &format!("glu dup {what}"));
        }
    }

    /// `gelu(x, approximate="tanh")` at a few points, as PyTorch defines it, evaluated
    /// independently in Python float64 (`0.5*x*(1+math.tanh(math.sqrt(2/math.pi)*(x+0.044715*x**3)))`),
    /// and `x * sigmoid(x)` for silu.
    #[test]
    fn activations_match_known_values() {
        let xs = [-3.0f32, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0];
        let gelu = [-0.0036373920817729943, -0.15880800939172324, -0.15428599017485606, 0.0, 0.34571400982514394,
            0.8411919906082768, 2.996362607918227];
        let got = glu_forward_cpu(Glu::GeluTanh, &xs, &[1.0; 7]);
        assert_close(&got, &gelu.map(|v| v as f32), 1e-7, 1e-6, "gelu_tanh known values");
        let silu: Vec<f32> = xs.iter().map(|&x| (x as f64 / (1.0 + (-x as f64).exp())) as f32).collect();
        assert_close(&glu_forward_cpu(Glu::Silu, &xs, &[1.0; 7]), &silu, 1e-7, 1e-6, "silu known values");
    }

    #[test]
    fn glu_backward_matches_finite_differences() {
        for act in [Glu::Silu, Glu::GeluTanh] {
            check_against_finite_differences(act);
        }
    }

    fn check_against_finite_differences(act: Glu) {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(32);
        let n = 29;
        let (gate, up, r) = (rng.normal_vec(n, 2.0), rng.normal_vec(n, 1.0), rng.normal_vec(n, 1.0));
        let t = |x: &[f32]| GpuTensor::from_slice(gpu, &[n], x);
        let (gg, gu, gr, gdg, gdu) = (t(&gate), t(&up), t(&r), t(&vec![0.0; n]), t(&vec![0.0; n]));
        let mut rec = Recorder::new(gpu);
        glu_backward(&mut rec, act, &gg, &gu, &gr, &gdg, &gdu).unwrap();
        rec.submit();
        let dgate = pollster::block_on(gdg.to_vec(gpu)).unwrap();
        let dup = pollster::block_on(gdu.to_vec(gpu)).unwrap();
        let num_dg = numeric_grad(&gate, 1e-2, |g| weighted_sum(&glu_forward_cpu(act, g, &up), &r));
        let num_du = numeric_grad(&up, 1e-2, |u| weighted_sum(&glu_forward_cpu(act, &gate, u), &r));
        assert_close(&dgate, &num_dg, 1e-3, 1e-3, &format!("{act:?} dgate vs finite differences"));
        assert_close(&dup, &num_du, 1e-3, 1e-3, &format!("{act:?} dup vs finite differences"));
    }

    /// Times forward and backward at SmolLM2's MLP size (rows 128, F 1536):
    /// `cargo test -p anytune-core swiglu_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn swiglu_timing() {
        let Some(gpu) = test_gpu() else { return };
        let (rows, f) = (128usize, 1536usize);
        let z = || GpuTensor::zeros(gpu, &[rows, f]);
        let (gate, up, h, dh, dgate, dup) = (z(), z(), z(), z(), z(), z());
        let time = |backward: bool| {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let mut rec = Recorder::new(gpu);
                for _ in 0..10 {
                    if backward {
                        swiglu_backward(&mut rec, &gate, &up, &dh, &dgate, &dup).unwrap();
                    } else {
                        swiglu_forward(&mut rec, &gate, &up, &h).unwrap();
                    }
                }
                let t0 = std::time::Instant::now();
                pollster::block_on(dup.read(rec)).unwrap();
                best = best.min(t0.elapsed().as_secs_f64() / 10.0);
            }
            best * 1e3
        };
        eprintln!("swiglu rows={rows} F={f}: forward {:.3} ms, backward {:.3} ms", time(false), time(true));
    }
}
