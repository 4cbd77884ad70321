//! LoRA on one frozen linear layer, as PEFT defines it:
//! `y = W·x (+b) + s · B·(A·dropout(x))` with `A (r, in)`, `B (out, r)`, `s = alpha / r`
//! (rsLoRA: `alpha / √r`); dropout only in training, only on the LoRA branch. The frozen part is
//! [`crate::model::linear::Linear`]; this file adds the low-rank branch and its gradients, built
//! from [`crate::ops::matmul`] products (and [`crate::ops::dropout`]).
//!
//! The base is frozen, so the backward pass needs exactly dX, dA and dB:
//! ```text
//! forward:   u  = x · Aᵀ                (M, r)   saved for backward
//!            y += s · u · Bᵀ            (M, out)
//! backward:  dB += s · dyᵀ · u          (out, r)
//!            du  = s · dy · B           (M, r)
//!            dA += duᵀ · x              (r, in)
//!            dx += du · A               (M, in)
//! ```
//! Gradients accumulate (`+=`, llm.c style): the trainer zeroes them once per optimizer step,
//! which makes gradient accumulation over micro-batches free.
//!
//! With dropout ([`lora_forward_dropout`]) `x` is replaced by `x̃ = dropout(x)` in the branch;
//! the mask is not stored: backward regenerates `x̃` from the same [`DropoutKey`], uses it for
//! dA, and routes the branch's input gradient through the mask: `dx += dropout(du · A)`.

use crate::ops::dropout::{DropoutKey, dropout_backward, dropout_forward, dropout_forward_cpu};
use crate::ops::matmul::{MatmulShape, matmul};
use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder};

/// Sizes of one LoRA-adapted linear layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoraDims {
    /// Rows of `x` (B·T tokens).
    pub m: usize,
    pub d_in: usize,
    pub d_out: usize,
    pub r: usize,
    /// `alpha / r` (or `alpha / √r` with rsLoRA).
    pub scale: f32,
}

impl LoraDims {
    fn check(&self, what: &str, t: &GpuTensor, len: usize) -> Result<()> {
        if t.len() != len {
            return Err(Error::invalid(what, format!("{} values, expected {len} for {self:?}", t.len())));
        }
        Ok(())
    }
}

/// Records `u = x·Aᵀ` and `y += s·u·Bᵀ`.
///
/// # Shapes
/// `x`: (M, in), `a`: (r, in), `b`: (out, r), `u`: (M, r) (written), `y`: (M, out) (accumulated).
pub fn lora_forward(
    rec: &mut Recorder,
    dims: LoraDims,
    x: &GpuTensor,
    a: &GpuTensor,
    b: &GpuTensor,
    u: &GpuTensor,
    y: &GpuTensor,
) -> Result<()> {
    let LoraDims { m, d_in, d_out, r, scale } = dims;
    dims.check("lora x", x, m * d_in)?;
    dims.check("lora A", a, r * d_in)?;
    dims.check("lora B", b, d_out * r)?;
    dims.check("lora u", u, m * r)?;
    dims.check("lora y", y, m * d_out)?;
    matmul(rec, x, a, u, MatmulShape::new(m, r, d_in).trans_b())?;
    matmul(rec, u, b, y, MatmulShape { alpha: scale, ..MatmulShape::new(m, d_out, r).trans_b().accumulate() })
}

/// Records the gradients of [`lora_forward`]: `dB += s·dyᵀ·u`, `dA += duᵀ·x`, `dx += du·A`
/// (with `du = s·dy·B` written into the scratch `du`).
///
/// # Shapes
/// `x`: (M, in), `a`: (r, in), `b`: (out, r), `u`: (M, r) saved by the forward, `dy`: (M, out),
/// `du`: (M, r) scratch, `da`: (r, in), `db`: (out, r), `dx`: (M, in) — the last three accumulated.
#[allow(clippy::too_many_arguments)]
pub fn lora_backward(
    rec: &mut Recorder,
    dims: LoraDims,
    x: &GpuTensor,
    a: &GpuTensor,
    b: &GpuTensor,
    u: &GpuTensor,
    dy: &GpuTensor,
    du: &GpuTensor,
    da: &GpuTensor,
    db: &GpuTensor,
    dx: &GpuTensor,
) -> Result<()> {
    backward_products(rec, dims, x, a, b, u, dy, du, da, db, dx, true)
}

/// dB, du, dA, and `dx (+)= du·A` (accumulated or written).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_products(
    rec: &mut Recorder,
    dims: LoraDims,
    x: &GpuTensor,
    a: &GpuTensor,
    b: &GpuTensor,
    u: &GpuTensor,
    dy: &GpuTensor,
    du: &GpuTensor,
    da: &GpuTensor,
    db: &GpuTensor,
    dx: &GpuTensor,
    accumulate_dx: bool,
) -> Result<()> {
    let LoraDims { m, d_in, d_out, r, scale } = dims;
    dims.check("lora dy", dy, m * d_out)?;
    dims.check("lora du", du, m * r)?;
    dims.check("lora dA", da, r * d_in)?;
    dims.check("lora dB", db, d_out * r)?;
    dims.check("lora dx", dx, m * d_in)?;
    let scaled = |s: MatmulShape| MatmulShape { alpha: scale, ..s };
    matmul(rec, dy, u, db, scaled(MatmulShape::new(d_out, r, m).trans_a().accumulate()))?;
    matmul(rec, dy, b, du, scaled(MatmulShape::new(m, r, d_out)))?;
    matmul(rec, du, x, da, MatmulShape::new(r, d_in, m).trans_a().accumulate())?;
    let dx_shape = MatmulShape::new(m, d_in, r);
    matmul(rec, du, a, dx, if accumulate_dx { dx_shape.accumulate() } else { dx_shape })
}

/// The LoRA dropout of one training forward/backward: `p` and the parts of the mask key that
/// all modules share — the run's `seed` and `step`, a counter of micro-batches (optimizer step ×
/// accumulation + micro-batch), so masks change every micro-batch, are reproducible from the
/// seed, and a resumed run regenerates them from its checkpointed step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoraDropout {
    pub p: f32,
    pub seed: u32,
    pub step: u32,
}

impl LoraDropout {
    /// The mask key of `target` in `layer`: every module has its own mask even when modules
    /// share an input (q/k/v, gate/up), as each PEFT LoRA module has its own `nn.Dropout`.
    pub fn key(&self, layer: usize, target: crate::lora::Target) -> DropoutKey {
        DropoutKey { seed: self.seed, step: self.step, layer: (layer * 8 + target.index()) as u32 }
    }
}

/// PEFT's `lora_dropout` on the branch input of one adapted linear during training: the
/// probability `p` (in (0, 1)), the mask's key (distinct per step, layer, module and
/// micro-batch) and `xd`, a scratch buffer `(M, in)` that receives `x̃ = dropout(x)`.
pub struct BranchDropout {
    pub p: f32,
    pub key: DropoutKey,
    pub xd: GpuTensor,
}

/// Records `x̃ = dropout(x)`, `u = x̃·Aᵀ` and `y += s·u·Bᵀ`.
///
/// # Shapes
/// As [`lora_forward`]; `drop.xd`: (M, in) (written).
#[allow(clippy::too_many_arguments)]
pub fn lora_forward_dropout(
    rec: &mut Recorder,
    dims: LoraDims,
    drop: &BranchDropout,
    x: &GpuTensor,
    a: &GpuTensor,
    b: &GpuTensor,
    u: &GpuTensor,
    y: &GpuTensor,
) -> Result<()> {
    dropout_forward(rec, x, &drop.xd, drop.p, drop.key)?;
    lora_forward(rec, dims, &drop.xd, a, b, u, y)
}

/// Records the gradients of [`lora_forward_dropout`]: regenerates `x̃` from the key, then
/// `dB += s·dyᵀ·u`, `dA += duᵀ·x̃`, `dx += dropout(du·A)` (same mask, through `dxd`).
///
/// # Shapes
/// As [`lora_backward`]; `drop.xd`, `dxd`: (M, in) scratch.
#[allow(clippy::too_many_arguments)]
pub fn lora_backward_dropout(
    rec: &mut Recorder,
    dims: LoraDims,
    drop: &BranchDropout,
    dxd: &GpuTensor,
    x: &GpuTensor,
    a: &GpuTensor,
    b: &GpuTensor,
    u: &GpuTensor,
    dy: &GpuTensor,
    du: &GpuTensor,
    da: &GpuTensor,
    db: &GpuTensor,
    dx: &GpuTensor,
) -> Result<()> {
    dims.check("lora dx", dx, dims.m * dims.d_in)?;
    dropout_forward(rec, x, &drop.xd, drop.p, drop.key)?;
    backward_products(rec, dims, &drop.xd, a, b, u, dy, du, da, db, dxd, false)?;
    dropout_backward(rec, dxd, dx, drop.p, drop.key, true)
}

/// CPU reference of the LoRA path alone: returns `s · (x·Aᵀ)·Bᵀ` (M, out).
pub fn lora_forward_cpu(dims: LoraDims, x: &[f32], a: &[f32], b: &[f32]) -> Vec<f32> {
    let LoraDims { m, d_in, d_out, r, scale } = dims;
    let mut u = vec![0f32; m * r];
    for i in 0..m {
        for j in 0..r {
            u[i * r + j] = (0..d_in).map(|k| x[i * d_in + k] * a[j * d_in + k]).sum();
        }
    }
    let mut y = vec![0f32; m * d_out];
    for i in 0..m {
        for o in 0..d_out {
            y[i * d_out + o] = scale * (0..r).map(|j| u[i * r + j] * b[o * r + j]).sum::<f32>();
        }
    }
    y
}

/// CPU reference of the gradients: `(dx, dA, dB)` for upstream `dy`, not accumulated.
pub fn lora_backward_cpu(dims: LoraDims, x: &[f32], a: &[f32], b: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let LoraDims { m, d_in, d_out, r, scale } = dims;
    let dot = |n: usize, f: &dyn Fn(usize) -> f32| (0..n).map(f).sum::<f32>();
    let u: Vec<f32> = (0..m * r).map(|ij| dot(d_in, &|k| x[ij / r * d_in + k] * a[ij % r * d_in + k])).collect();
    let du: Vec<f32> = (0..m * r).map(|ij| scale * dot(d_out, &|o| dy[ij / r * d_out + o] * b[o * r + ij % r])).collect();
    let db: Vec<f32> = (0..d_out * r).map(|oj| scale * dot(m, &|i| dy[i * d_out + oj / r] * u[i * r + oj % r])).collect();
    let da: Vec<f32> = (0..r * d_in).map(|jk| dot(m, &|i| du[i * r + jk / d_in] * x[i * d_in + jk % d_in])).collect();
    let dx: Vec<f32> = (0..m * d_in).map(|ik| dot(r, &|j| du[ik / d_in * r + j] * a[j * d_in + ik % d_in])).collect();
    (dx, da, db)
}

/// CPU reference of the LoRA path with dropout: `s · (dropout(x)·Aᵀ)·Bᵀ` (M, out).
pub fn lora_forward_dropout_cpu(dims: LoraDims, p: f32, key: DropoutKey, x: &[f32], a: &[f32], b: &[f32]) -> Vec<f32> {
    lora_forward_cpu(dims, &dropout_forward_cpu(x, p, key), a, b)
}

/// CPU reference of [`lora_backward_dropout`]: `(dx, dA, dB)`, not accumulated.
pub fn lora_backward_dropout_cpu(
    dims: LoraDims,
    p: f32,
    key: DropoutKey,
    x: &[f32],
    a: &[f32],
    b: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (dxd, da, db) = lora_backward_cpu(dims, &dropout_forward_cpu(x, p, key), a, b, dy);
    (dropout_forward_cpu(&dxd, p, key), da, db)
}

#[cfg(test)]
#[path = "branch_dropout_tests.rs"]
mod dropout_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{numeric_grad, weighted_sum};
    use crate::testing::{Rng, assert_close, test_gpu};

    fn run_gpu(dims: LoraDims, x: &[f32], a: &[f32], b: &[f32], dy: &[f32], y0: &[f32], g0: [&[f32]; 3]) -> [Vec<f32>; 4] {
        let gpu = test_gpu().unwrap();
        let LoraDims { m, d_in, d_out, r, .. } = dims;
        let t = |shape: &[usize], v: &[f32]| GpuTensor::from_slice(gpu, shape, v);
        let (gx, ga, gb, gdy, gy) = (t(&[m, d_in], x), t(&[r, d_in], a), t(&[d_out, r], b), t(&[m, d_out], dy), t(&[m, d_out], y0));
        let (gdx, gda, gdb) = (t(&[m, d_in], g0[0]), t(&[r, d_in], g0[1]), t(&[d_out, r], g0[2]));
        let (gu, gdu) = (GpuTensor::zeros(gpu, &[m, r]), GpuTensor::zeros(gpu, &[m, r]));
        let mut rec = Recorder::new(gpu);
        lora_forward(&mut rec, dims, &gx, &ga, &gb, &gu, &gy).unwrap();
        lora_backward(&mut rec, dims, &gx, &ga, &gb, &gu, &gdy, &gdu, &gda, &gdb, &gdx).unwrap();
        rec.submit();
        let read = |t: &GpuTensor| pollster::block_on(t.to_vec(gpu)).unwrap();
        [read(&gy), read(&gdx), read(&gda), read(&gdb)]
    }

    /// GPU forward and backward (accumulating onto non-zero buffers) against the CPU reference,
    /// on shapes that are not multiples of any tile.
    #[test]
    fn lora_matches_cpu_and_accumulates() {
        let Some(_) = test_gpu() else { return };
        let mut rng = Rng::new(11);
        for (m, d_in, d_out, r) in [(7, 37, 19, 3), (1, 64, 192, 8), (13, 96, 40, 16)] {
            let dims = LoraDims { m, d_in, d_out, r, scale: 2.0 };
            let x = rng.normal_vec(m * d_in, 1.0);
            let a = rng.normal_vec(r * d_in, 0.3);
            let b = rng.normal_vec(d_out * r, 0.3);
            let dy = rng.normal_vec(m * d_out, 1.0);
            let y0 = rng.normal_vec(m * d_out, 1.0);
            let g0 = [rng.normal_vec(m * d_in, 1.0), rng.normal_vec(r * d_in, 1.0), rng.normal_vec(d_out * r, 1.0)];
            let [y, dx, da, db] = run_gpu(dims, &x, &a, &b, &dy, &y0, [&g0[0], &g0[1], &g0[2]]);
            let plus = |base: &[f32], d: Vec<f32>| base.iter().zip(d).map(|(p, q)| p + q).collect::<Vec<_>>();
            let (cdx, cda, cdb) = lora_backward_cpu(dims, &x, &a, &b, &dy);
            let what = |n: &str| format!("lora {n} m={m} in={d_in} out={d_out} r={r}");
            assert_close(&y, &plus(&y0, lora_forward_cpu(dims, &x, &a, &b)), 1e-4, 1e-4, &what("y"));
            assert_close(&dx, &plus(&g0[0], cdx), 1e-4, 1e-4, &what("dx"));
            assert_close(&da, &plus(&g0[1], cda), 1e-4, 1e-4, &what("dA"));
            assert_close(&db, &plus(&g0[2], cdb), 1e-4, 1e-4, &what("dB"));
        }
    }

    /// The CPU backward is the gradient of `L = sum(y * dy)` (central differences).
    #[test]
    fn lora_backward_is_the_gradient() {
        let mut rng = Rng::new(12);
        let dims = LoraDims { m: 3, d_in: 5, d_out: 4, r: 2, scale: 1.5 };
        let x = rng.normal_vec(15, 1.0);
        let a = rng.normal_vec(10, 0.5);
        let b = rng.normal_vec(8, 0.5);
        let dy = rng.normal_vec(12, 1.0);
        let (dx, da, db) = lora_backward_cpu(dims, &x, &a, &b, &dy);
        let nx = numeric_grad(&x, 1e-2, |x| weighted_sum(&lora_forward_cpu(dims, x, &a, &b), &dy));
        let na = numeric_grad(&a, 1e-2, |a| weighted_sum(&lora_forward_cpu(dims, &x, a, &b), &dy));
        let nb = numeric_grad(&b, 1e-2, |b| weighted_sum(&lora_forward_cpu(dims, &x, &a, b), &dy));
        assert_close(&dx, &nx, 1e-3, 1e-3, "dx vs finite differences");
        assert_close(&da, &na, 1e-3, 1e-3, "dA vs finite differences");
        assert_close(&db, &nb, 1e-3, 1e-3, "dB vs finite differences");
    }
}
