//! SGD with momentum, dampening, Nesterov and (coupled) weight decay, exactly as
//! `torch.optim.SGD` (maximize=False): the momentum buffer is the first step's gradient, then
//! `b = momentum * b + (1 - dampening) * g`. One dispatch per parameter tensor, in place; the
//! gradient multiplier on the GPU works as in [`super::adamw`] (no extra pass for clipping).

use super::adamw::{GpuScale, check_clip, check_len};
use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};

/// SGD hyperparameters (f64 like PyTorch's Python floats). Defaults are PyTorch's, except
/// `lr` which PyTorch requires (here 1e-3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Momentum factor; 0 = plain SGD, no buffer used (default 0).
    pub momentum: f64,
    /// Dampening of the momentum (default 0).
    pub dampening: f64,
    /// L2 penalty added to the gradient: `g += weight_decay * p` (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0, as in PyTorch; default false).
    pub nesterov: bool,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd { lr: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }
}

/// Mirrors `Params` in `shaders/sgd_update.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SgdParams {
    n: u32,
    step: u32,
    scale_index: u32,
    nesterov: u32,
    lr: f32,
    momentum: f32,
    one_minus_dampening: f32,
    weight_decay: f32,
    grad_scale: f32,
    _pad: [f32; 3],
}

/// Records one SGD step on one parameter tensor, in place. `step` is 1-based (step 1 sets the
/// momentum buffer to the gradient); the gradient used is `grad * grad_scale * clip`.
///
/// # Shapes
/// `grad`, `param`, `buf`: `(N)`; `param` and `buf` (momentum buffer, untouched when
/// `momentum == 0`) are updated.
#[allow(clippy::too_many_arguments)]
pub fn sgd_update(
    rec: &mut Recorder,
    cfg: &Sgd,
    step: u32,
    grad_scale: f32,
    clip: Option<GpuScale>,
    grad: &GpuTensor,
    param: &GpuTensor,
    buf: &GpuTensor,
) -> Result<()> {
    if step == 0 {
        return Err(Error::invalid("sgd step", "the step count starts at 1"));
    }
    if cfg.nesterov && (cfg.momentum <= 0.0 || cfg.dampening != 0.0) {
        return Err(Error::invalid("sgd nesterov", "Nesterov momentum requires momentum > 0 and dampening 0"));
    }
    let n = param.len();
    check_len("sgd", n, &[("grad", grad), ("buf", buf)])?;
    check_clip(clip, "sgd")?;
    let ones;
    let (clip_tensor, scale_index) = match clip {
        Some(s) => (s.tensor, s.index as u32),
        None => {
            ones = GpuTensor::from_slice(rec.gpu, &[1], &[1.0]);
            (&ones, 0)
        }
    };
    let params = SgdParams {
        n: n as u32,
        step,
        scale_index,
        nesterov: cfg.nesterov as u32,
        lr: cfg.lr as f32,
        momentum: cfg.momentum as f32,
        one_minus_dampening: (1.0 - cfg.dampening) as f32,
        weight_decay: cfg.weight_decay as f32,
        grad_scale,
        _pad: [0.0; 3],
    };
    let bindings = [grad.binding(), clip_tensor.binding(), param.binding(), buf.binding()];
    rec.dispatch(&kernels::SGD_UPDATE, &params, &bindings, grid_1d(n, 256));
    Ok(())
}

/// CPU reference of one step, in place, with the same f32 constants as the kernel.
pub fn sgd_update_cpu(cfg: &Sgd, step: u32, grad_scale: f32, grad: &[f32], param: &mut [f32], buf: &mut [f32]) {
    let (lr, momentum, wd) = (cfg.lr as f32, cfg.momentum as f32, cfg.weight_decay as f32);
    let one_minus_dampening = (1.0 - cfg.dampening) as f32;
    for i in 0..param.len() {
        let mut g = grad[i] * grad_scale + wd * param[i];
        if momentum != 0.0 {
            let b = if step > 1 { momentum * buf[i] + one_minus_dampening * g } else { g };
            buf[i] = b;
            g = if cfg.nesterov { g + momentum * b } else { b };
        }
        param[i] -= lr * g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close, test_gpu};

    const P0: [f32; 5] = [0.5, -1.25, 2.0, 0.0, -0.3];

    fn grads(step: usize) -> Vec<f32> {
        let s = step as f32;
        vec![0.1 * (s + 1.0), -0.2, 0.05 * s, 1.5, -0.7 + 0.1 * s]
    }

    /// Expected values printed by PyTorch 2.x: `p = Parameter(P0)`, five `torch.optim.SGD`
    /// steps with `p.grad = grads(s)`.
    #[test]
    #[allow(clippy::excessive_precision)] // the values as PyTorch printed them
    fn sgd_cpu_matches_pytorch() {
        let cases = [
            (
                Sgd { lr: 0.1, momentum: 0.9, dampening: 0.1, weight_decay: 0.01, nesterov: false },
                [0.20489606261253357, -0.9904830455780029, 1.8921388387680054, -1.8318839073181152, 0.3916708528995514],
            ),
            (
                Sgd { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.01, nesterov: true },
                [0.05749344825744629, -0.8938227295875549, 1.8332209587097168, -2.514192581176758, 0.6118052005767822],
            ),
            (Sgd { lr: 0.1, ..Sgd::default() }, [0.35, -1.15, 1.95, -0.75, -0.05]),
        ];
        for (cfg, want) in cases {
            let (mut p, mut b) = (P0.to_vec(), vec![0.0; 5]);
            for step in 0..5 {
                sgd_update_cpu(&cfg, step as u32 + 1, 1.0, &grads(step), &mut p, &mut b);
            }
            assert_close(&p, &want, 1e-6, 1e-6, &format!("sgd cpu vs torch {cfg:?}"));
        }
    }

    #[test]
    fn sgd_gpu_matches_cpu_over_5_steps() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(52);
        let configs = [
            Sgd { lr: 0.05, momentum: 0.9, dampening: 0.2, weight_decay: 0.01, nesterov: false },
            Sgd { lr: 0.05, momentum: 0.8, dampening: 0.0, weight_decay: 0.0, nesterov: true },
            Sgd { lr: 0.05, ..Sgd::default() },
        ];
        for cfg in configs {
            for n in [1usize, 257, 3 * 577 + 1] {
                let mut p = rng.normal_vec(n, 1.0);
                let mut b = vec![0f32; n];
                let (gp, gb, gg) =
                    (GpuTensor::from_slice(gpu, &[n], &p), GpuTensor::zeros(gpu, &[n]), GpuTensor::zeros(gpu, &[n]));
                let clip = GpuTensor::from_slice(gpu, &[2], &[9.0, 0.25]);
                for step in 1..=5u32 {
                    let g = rng.normal_vec(n, 1.0);
                    gg.write(gpu, &g);
                    let mut rec = Recorder::new(gpu);
                    let scale = Some(GpuScale { tensor: &clip, index: 1 });
                    sgd_update(&mut rec, &cfg, step, 2.0, scale, &gg, &gp, &gb).unwrap();
                    rec.submit();
                    sgd_update_cpu(&cfg, step, 2.0 * 0.25, &g, &mut p, &mut b);
                }
                let read = |t: &GpuTensor| pollster::block_on(t.to_vec(gpu)).unwrap();
                assert_close(&read(&gp), &p, 1e-6, 1e-5, &format!("sgd param n={n} {cfg:?}"));
                if cfg.momentum != 0.0 {
                    assert_close(&read(&gb), &b, 1e-6, 1e-5, &format!("sgd buf n={n} {cfg:?}"));
                }
            }
        }
    }
}
