//! AdamW, exactly as `torch.optim.AdamW` (amsgrad=False, maximize=False): decoupled weight
//! decay, bias correction with the step count `t`, `eps` outside the square root. One dispatch
//! per parameter tensor updates `param`, `m` and `v` in place.
//!
//! Gradient clipping costs no extra pass: the update multiplies the gradient by `grad_scale`
//! (a host constant, e.g. 1 / accumulation steps) and by one f32 read from a GPU buffer
//! ([`GpuScale`]), which [`super::grad_norm::GradNorm`] writes (`clip_grad_norm_`'s scale), so
//! no readback sits between the norm and the update.

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};

/// AdamW hyperparameters, f64 like PyTorch's Python floats (the derived constants are computed
/// in f64 and rounded to f32 once). Defaults are PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay of the first moment (default 0.9).
    pub beta1: f64,
    /// Decay of the second moment (default 0.999).
    pub beta2: f64,
    /// Added to `sqrt(v_hat)` (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay: `p -= lr * weight_decay * p` (default 0.01).
    pub weight_decay: f64,
}

impl Default for AdamW {
    fn default() -> Self {
        AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 }
    }
}

/// A gradient multiplier that lives on the GPU: element `index` of `tensor` (for example the
/// clip scale of [`super::grad_norm::GradNorm::clip_scale`]).
#[derive(Clone, Copy, Debug)]
pub struct GpuScale<'a> {
    pub tensor: &'a GpuTensor,
    pub index: usize,
}

/// Errors unless the clip index lies inside its tensor.
pub(crate) fn check_clip(clip: Option<GpuScale>, who: &str) -> Result<()> {
    match clip {
        Some(s) if s.index >= s.tensor.len() => Err(Error::invalid(
            format!("{who} clip scale"),
            format!("index {} is outside the tensor {:?}", s.index, s.tensor.shape),
        )),
        _ => Ok(()),
    }
}

/// Errors unless every tensor has `n` elements.
pub(crate) fn check_len(who: &str, n: usize, tensors: &[(&str, &GpuTensor)]) -> Result<()> {
    for (name, t) in tensors {
        if t.len() != n {
            return Err(Error::invalid(
                format!("{who} {name}"),
                format!("shape {:?} has {} elements, expected {n} like the parameter", t.shape, t.len()),
            ));
        }
    }
    Ok(())
}

/// Mirrors `Params` in `shaders/adamw_update.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct AdamWParams {
    n: u32,
    step: u32,
    scale_index: u32,
    _pad0: u32,
    lr: f32,
    weight_decay: f32,
    decay: f32,
    grad_scale: f32,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    eps: f32,
    step_size: f32,
    bc2_sqrt: f32,
    decay_center: f32,
}

impl AdamWParams {
    fn new(cfg: &AdamW, n: usize, step: u32, grad_scale: f32, scale_index: u32, decay_center: f32) -> Self {
        let t = step as i32;
        AdamWParams {
            n: n as u32,
            step,
            scale_index,
            _pad0: 0,
            lr: cfg.lr as f32,
            weight_decay: cfg.weight_decay as f32,
            decay: (1.0 - cfg.lr * cfg.weight_decay) as f32,
            grad_scale,
            beta1: cfg.beta1 as f32,
            one_minus_beta1: (1.0 - cfg.beta1) as f32,
            beta2: cfg.beta2 as f32,
            one_minus_beta2: (1.0 - cfg.beta2) as f32,
            eps: cfg.eps as f32,
            step_size: (cfg.lr / (1.0 - cfg.beta1.powi(t))) as f32,
            bc2_sqrt: (1.0 - cfg.beta2.powi(t)).sqrt() as f32,
            decay_center,
        }
    }
}

/// Records one AdamW step on one parameter tensor, in place. `step` is the 1-based step count
/// `t` (bias correction); the gradient used is `grad * grad_scale * clip` (`clip` 1 if `None`).
/// `m` and `v` start at zero (`GpuTensor::zeros`).
///
/// # Shapes
/// `grad`, `param`, `m`, `v`: `(N)` (any shape with N elements); `param`, `m`, `v` are updated.
#[allow(clippy::too_many_arguments)]
pub fn adamw_update(
    rec: &mut Recorder,
    cfg: &AdamW,
    step: u32,
    grad_scale: f32,
    clip: Option<GpuScale>,
    grad: &GpuTensor,
    param: &GpuTensor,
    m: &GpuTensor,
    v: &GpuTensor,
) -> Result<()> {
    adamw_update_about(rec, cfg, step, grad_scale, clip, grad, param, m, v, 0.0)
}

/// [`adamw_update`] of a tensor stored as `center + w` whose parameter is `w` (Gemma's norms,
/// held as `1 + w`): the decoupled weight decay shrinks `param - center`, as PyTorch shrinks `w`.
#[allow(clippy::too_many_arguments)]
pub fn adamw_update_about(rec: &mut Recorder, cfg: &AdamW, step: u32, grad_scale: f32, clip: Option<GpuScale>, grad: &GpuTensor, param: &GpuTensor, m: &GpuTensor, v: &GpuTensor, center: f32) -> Result<()> {
    if step == 0 {
        return Err(Error::invalid("adamw step", "the step count starts at 1"));
    }
    let n = param.len();
    check_len("adamw", n, &[("grad", grad), ("m", m), ("v", v)])?;
    check_clip(clip, "adamw")?;
    let ones;
    let (clip_tensor, scale_index) = match clip {
        Some(s) => (s.tensor, s.index as u32),
        None => {
            ones = GpuTensor::from_slice(rec.gpu, &[1], &[1.0]);
            (&ones, 0)
        }
    };
    let params = AdamWParams::new(cfg, n, step, grad_scale, scale_index, center);
    let bindings = [grad.binding(), clip_tensor.binding(), param.binding(), m.binding(), v.binding()];
    rec.dispatch(&kernels::ADAMW_UPDATE, &params, &bindings, grid_1d(n, 256));
    Ok(())
}

/// CPU reference of one step, in place, with the same f32 constants as the kernel.
pub fn adamw_update_cpu(
    cfg: &AdamW,
    step: u32,
    grad_scale: f32,
    grad: &[f32],
    param: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    adamw_update_about_cpu(cfg, step, grad_scale, grad, param, m, v, 0.0)
}

/// CPU reference of [`adamw_update_about`].
#[allow(clippy::too_many_arguments)]
pub fn adamw_update_about_cpu(cfg: &AdamW, step: u32, grad_scale: f32, grad: &[f32], param: &mut [f32], m: &mut [f32], v: &mut [f32], center: f32) {
    let k = AdamWParams::new(cfg, param.len(), step, grad_scale, 0, center);
    for i in 0..param.len() {
        let g = grad[i] * grad_scale;
        let p = (param[i] - center) * k.decay + center;
        m[i] += (g - m[i]) * k.one_minus_beta1;
        v[i] = v[i] * k.beta2 + k.one_minus_beta2 * g * g;
        let denom = v[i].sqrt() / k.bc2_sqrt + k.eps;
        param[i] = p - k.step_size * m[i] / denom;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close, test_gpu};

    /// Start values of the golden runs; the expected values below were printed by PyTorch 2.x:
    /// `p = Parameter(P0)`, five steps with `p.grad = grads(s) * scale` (s = 0..5).
    pub(crate) const P0: [f32; 5] = [0.5, -1.25, 2.0, 0.0, -0.3];

    pub(crate) fn grads(step: usize) -> Vec<f32> {
        let s = step as f32;
        vec![0.1 * (s + 1.0), -0.2, 0.05 * s, 1.5, -0.7 + 0.1 * s]
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the values as PyTorch printed them
    fn adamw_cpu_matches_pytorch() {
        let cfg = AdamW { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-6, weight_decay: 0.1 };
        let torch =
            [0.44975224137306213, -1.1938624382019043, 1.957380771636963, -0.04990006983280182, -0.24973180890083313];
        // torch with every gradient multiplied by 0.25 before the step.
        let torch_scaled =
            [0.4497530460357666, -1.1938636302947998, 1.957382321357727, -0.04989996552467346, -0.24973204731941223];
        for (scale, want) in [(1.0f32, torch), (0.25, torch_scaled)] {
            let (mut p, mut m, mut v) = (P0.to_vec(), vec![0.0; 5], vec![0.0; 5]);
            for step in 0..5 {
                adamw_update_cpu(&cfg, step as u32 + 1, scale, &grads(step), &mut p, &mut m, &mut v);
            }
            assert_close(&p, &want, 1e-7, 1e-6, &format!("adamw cpu vs torch, grad scale {scale}"));
        }
    }

    #[test]
    fn adamw_gpu_matches_cpu_over_5_steps() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(51);
        let cfg = AdamW { lr: 3e-3, beta1: 0.9, beta2: 0.98, eps: 1e-7, weight_decay: 0.05 };
        for n in [1usize, 255, 257, 3 * 577 + 1] {
            let mut p = rng.normal_vec(n, 1.0);
            let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
            let (gp, gm, gv) =
                (GpuTensor::from_slice(gpu, &[n], &p), GpuTensor::zeros(gpu, &[n]), GpuTensor::zeros(gpu, &[n]));
            let gg = GpuTensor::zeros(gpu, &[n]);
            // A GPU scale buffer [norm, 0.5] like grad_norm's output; grad_scale 0.8.
            let clip = GpuTensor::from_slice(gpu, &[2], &[123.0, 0.5]);
            for step in 1..=5u32 {
                let g = rng.normal_vec(n, 0.1 * step as f32);
                gg.write(gpu, &g);
                let mut rec = Recorder::new(gpu);
                let scale = Some(GpuScale { tensor: &clip, index: 1 });
                adamw_update(&mut rec, &cfg, step, 0.8, scale, &gg, &gp, &gm, &gv).unwrap();
                rec.submit();
                adamw_update_cpu(&cfg, step, 0.8 * 0.5, &g, &mut p, &mut m, &mut v);
            }
            let read = |t: &GpuTensor| pollster::block_on(t.to_vec(gpu)).unwrap();
            assert_close(&read(&gp), &p, 1e-6, 1e-5, &format!("adamw param n={n}"));
            assert_close(&read(&gm), &m, 1e-7, 1e-5, &format!("adamw m n={n}"));
            assert_close(&read(&gv), &v, 1e-9, 1e-5, &format!("adamw v n={n}"));
        }
    }

    /// A tensor stored as `1 + w` (Gemma's norms) steps as PyTorch steps `w`: the decay pulls
    /// it towards 1, not 0.
    #[test]
    fn adamw_about_a_center_decays_the_stored_offset_parameter() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(52);
        let cfg = AdamW { lr: 1e-2, weight_decay: 0.5, ..AdamW::default() };
        let n = 300;
        let mut w = rng.normal_vec(n, 0.1);
        let stored: Vec<f32> = w.iter().map(|x| 1.0 + x).collect();
        let (gp, gm, gv, gg) = (GpuTensor::from_slice(gpu, &[n], &stored), GpuTensor::zeros(gpu, &[n]), GpuTensor::zeros(gpu, &[n]), GpuTensor::zeros(gpu, &[n]));
        let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
        for step in 1..=3u32 {
            let g = rng.normal_vec(n, 1.0);
            gg.write(gpu, &g);
            let mut rec = Recorder::new(gpu);
            adamw_update_about(&mut rec, &cfg, step, 1.0, None, &gg, &gp, &gm, &gv, 1.0).unwrap();
            rec.submit();
            adamw_update_cpu(&cfg, step, 1.0, &g, &mut w, &mut m, &mut v);
        }
        let got: Vec<f32> = pollster::block_on(gp.to_vec(gpu)).unwrap().iter().map(|p| p - 1.0).collect();
        assert_close(&got, &w, 1e-6, 0.0, "1 + w stepped about 1 vs w stepped about 0");
        let mut plain = stored.clone();
        let (mut m0, mut v0) = (vec![0f32; n], vec![0f32; n]);
        adamw_update_cpu(&cfg, 1, 1.0, &vec![0.0; n], &mut plain, &mut m0, &mut v0);
        assert!((plain[0] - stored[0] * (1.0 - 5e-3)).abs() < 1e-6, "without a center the decay pulls towards 0");
    }

    #[test]
    fn adamw_rejects_bad_arguments() {
        let Some(gpu) = test_gpu() else { return };
        let t = |n: usize| GpuTensor::zeros(gpu, &[n]);
        let (g, p, m, v, short) = (t(5), t(5), t(5), t(5), t(4));
        let mut rec = Recorder::new(gpu);
        assert!(adamw_update(&mut rec, &AdamW::default(), 0, 1.0, None, &g, &p, &m, &v).is_err());
        assert!(adamw_update(&mut rec, &AdamW::default(), 1, 1.0, None, &g, &p, &short, &v).is_err());
        let bad = Some(GpuScale { tensor: &short, index: 4 });
        assert!(adamw_update(&mut rec, &AdamW::default(), 1, 1.0, bad, &g, &p, &m, &v).is_err());
    }
}
