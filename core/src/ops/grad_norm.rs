//! Global gradient norm over all trainable tensors and the clip scale of
//! `torch.nn.utils.clip_grad_norm_`, computed on the GPU so that the optimizer reads the scale
//! from a buffer and the trainer reads back one pair of floats per step (with the loss), never
//! in between:
//!
//! ```text
//! let gn = GradNorm::new(gpu, &lens);            // once: partials + out (2 floats)
//! gn.record(&mut rec, &grads, max_norm)?;        // each step, after the backward pass
//! adamw_update(&mut rec, &cfg, step, 1.0, Some(gn.clip_scale()), grad, param, m, v)?;
//! ```
//!
//! Binding of the result: `out = [norm, clip scale]`; the optimizers read element
//! [`CLIP_SCALE_INDEX`] through [`GpuScale`]. Pass 1 (`grad_norm_partial`, one dispatch per
//! tensor) writes per-workgroup sums of squares into `partials` at the tensor's offset; pass 2
//! (`grad_norm_finish`, one workgroup) sums them, takes the square root and writes the scale.

use super::adamw::GpuScale;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder, kernels};

/// Index of the norm in [`GradNorm::out`].
pub const NORM_INDEX: usize = 0;
/// Index of the clip scale in [`GradNorm::out`].
pub const CLIP_SCALE_INDEX: usize = 1;

/// Elements per invocation aimed at in pass 1, and the cap on workgroups per tensor.
const ELEMS_PER_THREAD: usize = 8;
const MAX_GROUPS: usize = 256;

/// Mirrors `Params` in `shaders/grad_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GradNormParams {
    n: u32,
    offset: u32,
    max_norm: f32,
    _pad: u32,
}

/// Workgroups of pass 1 for a tensor of `n` elements.
fn groups(n: usize) -> usize {
    n.div_ceil(256 * ELEMS_PER_THREAD).clamp(1, MAX_GROUPS)
}

/// The buffers of the norm computation for a fixed list of gradient tensor sizes.
pub struct GradNorm {
    /// Per-workgroup sums of squares `(P)`.
    pub partials: GpuTensor,
    /// `[norm, clip scale]` `(2)`.
    pub out: GpuTensor,
    lens: Vec<usize>,
}

impl GradNorm {
    /// Allocates the buffers for gradient tensors of `lens` elements (in the order they will be
    /// passed to [`GradNorm::record`]).
    pub fn new(gpu: &Gpu, lens: &[usize]) -> GradNorm {
        let p: usize = lens.iter().map(|&n| groups(n)).sum();
        GradNorm { partials: GpuTensor::zeros(gpu, &[p.max(1)]), out: GpuTensor::zeros(gpu, &[2]), lens: lens.to_vec() }
    }

    /// Records `out = [sqrt(sum of squares of every grad), clip scale]`; `max_norm <= 0` turns
    /// clipping off (scale 1). The scale is `min(max_norm / (norm + 1e-6), 1)` as in
    /// `clip_grad_norm_` (a non-finite norm gives a non-finite or zero scale, as there).
    ///
    /// # Shapes
    /// `grads`: tensors of the lengths given to [`GradNorm::new`], in that order.
    pub fn record(&self, rec: &mut Recorder, grads: &[&GpuTensor], max_norm: f32) -> Result<()> {
        if grads.len() != self.lens.len() || grads.iter().zip(&self.lens).any(|(g, &n)| g.len() != n) {
            let got: Vec<usize> = grads.iter().map(|g| g.len()).collect();
            return Err(Error::invalid(
                "grad_norm grads",
                format!("tensor lengths {got:?} differ from those given to GradNorm::new {:?}", self.lens),
            ));
        }
        let mut offset = 0;
        for g in grads {
            let n = g.len();
            let params = GradNormParams { n: n as u32, offset: offset as u32, max_norm, _pad: 0 };
            let wg = groups(n);
            rec.dispatch(
                &kernels::GRAD_NORM_PARTIAL,
                &params,
                &[g.binding(), self.partials.binding()],
                [wg as u32, 1, 1],
            );
            offset += wg;
        }
        let params = GradNormParams { n: offset as u32, offset: 0, max_norm, _pad: 0 };
        rec.dispatch(&kernels::GRAD_NORM_FINISH, &params, &[self.partials.binding(), self.out.binding()], [1, 1, 1]);
        Ok(())
    }

    /// The clip scale as the optimizers' GPU gradient multiplier.
    pub fn clip_scale(&self) -> GpuScale<'_> {
        GpuScale { tensor: &self.out, index: CLIP_SCALE_INDEX }
    }
}

/// `torch.nn.utils.clip_grad_norm_`'s factor: `min(max_norm / (norm + 1e-6), 1)`, 1 when
/// `max_norm <= 0` (clipping off).
pub fn clip_scale(norm: f32, max_norm: f32) -> f32 {
    if max_norm <= 0.0 { 1.0 } else { (max_norm / (norm + 1e-6)).min(1.0) }
}

/// CPU reference: the L2 norm of all `grads` together (sum in f64).
pub fn grad_norm_cpu(grads: &[&[f32]]) -> f32 {
    grads.iter().flat_map(|g| g.iter()).map(|&x| x as f64 * x as f64).sum::<f64>().sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close, test_gpu};

    #[test]
    fn grad_norm_matches_cpu_on_odd_sizes() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(61);
        // One tiny, several not multiples of 256, one that hits the workgroup cap (> 256*8*256).
        let lens = [1usize, 255, 4609, 3 * 577, 600_001];
        let data: Vec<Vec<f32>> = lens.iter().map(|&n| rng.normal_vec(n, 0.01)).collect();
        let tensors: Vec<GpuTensor> =
            data.iter().zip(&lens).map(|(d, &n)| GpuTensor::from_slice(gpu, &[n], d)).collect();
        let grads: Vec<&GpuTensor> = tensors.iter().collect();
        let gn = GradNorm::new(gpu, &lens);
        let slices: Vec<&[f32]> = data.iter().map(|d| d.as_slice()).collect();
        let norm = grad_norm_cpu(&slices);
        for max_norm in [0.0f32, 1.0, 1e3, norm * 0.5] {
            let mut rec = Recorder::new(gpu);
            gn.record(&mut rec, &grads, max_norm).unwrap();
            let out = pollster::block_on(gn.out.read(rec)).unwrap();
            let want = [norm, clip_scale(norm, max_norm)];
            assert_close(&out, &want, 1e-6, 1e-5, &format!("grad_norm [norm, scale] max_norm={max_norm}"));
        }
        assert!(clip_scale(norm, norm * 0.5) < 0.51, "the test must exercise real clipping");
        let short = GpuTensor::zeros(gpu, &[3]);
        let mut rec = Recorder::new(gpu);
        assert!(gn.record(&mut rec, &[&short], 1.0).is_err());
    }

    #[test]
    fn clip_scale_follows_torch() {
        assert_eq!(clip_scale(0.5, 1.0), 1.0);
        assert_eq!(clip_scale(4.0, 1.0), 1.0 / (4.0 + 1e-6));
        assert_eq!(clip_scale(4.0, 0.0), 1.0);
        assert_eq!(clip_scale(0.0, 1.0), 1.0);
    }

    #[test]
    fn recorder_clear_zeroes_a_gradient_buffer() {
        let Some(gpu) = test_gpu() else { return };
        let t = GpuTensor::from_slice(gpu, &[5], &[1.0, -2.0, 3.0, 4.0, 5.0]);
        let mut rec = Recorder::new(gpu);
        rec.clear(&t);
        assert_eq!(pollster::block_on(t.read(rec)).unwrap(), vec![0.0; 5]);
    }

    /// The whole chain without readback in between: norm → scale buffer → AdamW.
    #[test]
    fn clipped_adamw_step_uses_the_gpu_scale() {
        use crate::ops::adamw::{AdamW, adamw_update, adamw_update_cpu};
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(62);
        let n = 300;
        let (p0, g) = (rng.normal_vec(n, 1.0), rng.normal_vec(n, 1.0));
        let (gp, gg) = (GpuTensor::from_slice(gpu, &[n], &p0), GpuTensor::from_slice(gpu, &[n], &g));
        let (gm, gv) = (GpuTensor::zeros(gpu, &[n]), GpuTensor::zeros(gpu, &[n]));
        let gn = GradNorm::new(gpu, &[n]);
        let cfg = AdamW { weight_decay: 0.0, eps: 1.0, ..AdamW::default() };
        let mut rec = Recorder::new(gpu);
        gn.record(&mut rec, &[&gg], 1.0).unwrap();
        adamw_update(&mut rec, &cfg, 1, 1.0, Some(gn.clip_scale()), &gg, &gp, &gm, &gv).unwrap();
        rec.submit();
        let scale = clip_scale(grad_norm_cpu(&[&g]), 1.0);
        assert!(scale < 0.2, "norm of 300 normals is ~17: clipping must be active");
        let (mut p, mut m, mut v) = (p0.clone(), vec![0f32; n], vec![0f32; n]);
        adamw_update_cpu(&cfg, 1, scale, &g, &mut p, &mut m, &mut v);
        let read = |t: &GpuTensor| pollster::block_on(t.to_vec(gpu)).unwrap();
        assert_close(&read(&gm), &m, 1e-7, 1e-5, "clipped adamw m");
        assert_close(&read(&gp), &p, 1e-7, 1e-5, "clipped adamw param");
    }
}
