//! DoRA on one frozen linear layer, as PEFT computes it (`peft/tuners/lora/dora.py`,
//! `DoraLinearLayer.forward`; `use_dora=True`): a LoRA branch plus a trained magnitude
//! `m (out)`, with the row norm of the adapted weight treated as a constant (detached):
//! ```text
//! norm_i = ‖W_i + s·B_i·A‖  (over in; W in its stored format)     detached, (out)
//! g      = m / norm                                               (out)
//! y      = x·Wᵀ + b + (g − 1) ⊙ (x̃·Wᵀ) + g ⊙ s·(x̃·Aᵀ)·Bᵀ            x̃ = dropout(x) (= x off)
//! ```
//! The norm comes from the frozen weight without dequantizing it whole:
//! `norm_i² = ‖W_i‖² + 2s·Σ_k B_ik (A·Wᵀ)_ki + s²·B_i (A·Aᵀ) B_iᵀ`, with `‖W_i‖²` computed once
//! ([`row_norms2`]: W's rows through `qmatmul` of one-hot rows), `A·Wᵀ` by one `qmatmul` of A,
//! `B·(A·Aᵀ)` by two small matmuls, combined by `dora_norm_forward.wgsl`.
//!
//! The base is frozen and the norm detached, so the backward needs dx, dA, dB and dm:
//! ```text
//! z   = x̃·Wᵀ + s·u·Bᵀ              (M, out)   recomputed (u = x̃·Aᵀ saved by the forward)
//! dm += Σ_t dy ⊙ z / norm           (out)      dora_magnitude_backward.wgsl
//! dyg = g ⊙ dy                      (M, out)
//! dB += s·dygᵀ·u, du = s·dyg·B, dA += duᵀ·x̃, dx̃ (+)= du·A        (LoRA's products)
//! dx̃ += ((g − 1) ⊙ dy)·W            (then through the dropout mask into dx)
//! ```
//! (`dx += dy·W` of the base is the frozen linear's own.)

use super::branch::{LoraDims, backward_products, lora_forward};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder, grid_1d, kernels};
use crate::ops::matmul::{MatmulShape, matmul};
use crate::ops::qmatmul::{qmatmul_backward_input, qmatmul_forward};
use crate::weights::Weight;

/// Mirrors `Params` in `shaders/dora_norm_forward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NormParams {
    out_features: u32,
    r: u32,
    scale: f32,
    init: u32,
}

/// Mirrors `Params` in `shaders/dora_scale_forward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ScaleParams {
    n: u32,
    cols: u32,
    offset: f32,
    flags: u32,
}

/// Mirrors `Params` in `shaders/dora_magnitude_backward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MagnitudeParams {
    rows: u32,
    cols: u32,
    accumulate: u32,
    _pad: u32,
}

/// DoRA's state of one adapted linear on the GPU: the trained magnitude and its gradient, the
/// frozen `‖W_i‖²`, and what each forward computes from A and B (kept for the backward).
pub struct DoraSlot {
    pub magnitude: GpuTensor, // (out)
    pub grad_m: GpuTensor,    // (out), accumulated by backward
    /// `‖W_i‖²` of the frozen weight (out), computed once.
    pub w_norm2: GpuTensor,
    /// `‖W_i + s·B_i·A‖` (out) and `g = m / norm` (out), written by each forward.
    pub norm: GpuTensor,
    pub g: GpuTensor,
    aat: GpuTensor, // (r, r)  A·Aᵀ
    q: GpuTensor,   // (out, r) B·A·Aᵀ
    p: GpuTensor,   // (r, out) A·Wᵀ
    bg: GpuTensor,  // (out, r) g ⊙ B (rows)
}

impl DoraSlot {
    /// A slot for a `(d_out, d_in)` weight at rank `r`: `‖W_i‖²` recorded into `rec` from `w`,
    /// the magnitude from `magnitude` (PEFT's file) or, when empty, set by the first
    /// [`weight_norm`] with `init` (PEFT's init: `m = ‖W + s·B·A‖`).
    pub fn new(rec: &mut Recorder, w: &Weight, r: usize, magnitude: &[f32]) -> Result<DoraSlot> {
        let gpu = rec.gpu;
        let d_out = w.rows;
        if !magnitude.is_empty() && magnitude.len() != d_out {
            return Err(Error::invalid(
                format!("DoRA magnitude of {}", w.name),
                format!("{} values, expected {d_out}", magnitude.len()),
            ));
        }
        let z = |shape: &[usize]| GpuTensor::zeros(gpu, shape);
        let slot = DoraSlot {
            magnitude: if magnitude.is_empty() { z(&[d_out]) } else { GpuTensor::from_slice(gpu, &[d_out], magnitude) },
            grad_m: z(&[d_out]),
            w_norm2: z(&[d_out]),
            norm: z(&[d_out]),
            g: z(&[d_out]),
            aat: z(&[r, r]),
            q: z(&[d_out, r]),
            p: z(&[r, d_out]),
            bg: z(&[d_out, r]),
        };
        row_norms2(rec, w, &slot.w_norm2)?;
        Ok(slot)
    }

    /// Values a slot holds besides the magnitude and its gradient (which count as parameters):
    /// `‖W‖²`, norm and g `(out)` and the scratch `A·Aᵀ`, `B·A·Aᵀ`, `A·Wᵀ`, `g ⊙ B`. For the
    /// memory estimate.
    pub fn floats(d_out: usize, r: usize) -> usize {
        3 * d_out + r * r + 3 * d_out * r
    }
}

/// Records `out_i = ‖W_i‖²` of a stored-format weight `(out, in)`: W's rows come out of
/// `qmatmul` with one-hot inputs (exact: each output is one weight times 1), in chunks of at
/// most 256 input features.
pub fn row_norms2(rec: &mut Recorder, w: &Weight, out: &GpuTensor) -> Result<()> {
    let gpu = rec.gpu;
    let (d_out, d_in) = (w.rows, w.cols);
    const CHUNK: usize = 256;
    let ones = GpuTensor::from_slice(gpu, &[d_out], &vec![1.0; d_out]);
    for start in (0..d_in).step_by(CHUNK) {
        let n = CHUNK.min(d_in - start);
        let mut eye = vec![0f32; n * d_in];
        (0..n).for_each(|j| eye[j * d_in + start + j] = 1.0);
        let eye = GpuTensor::from_slice(gpu, &[n, d_in], &eye);
        let wt = GpuTensor::zeros(gpu, &[n, d_out]); // rows start..start+n of Wᵀ
        qmatmul_forward(rec, &eye, w, None, &wt)?;
        magnitude_backward(rec, &wt, &wt, &ones, out, start > 0)?;
    }
    Ok(())
}

/// Records `norm = ‖W + s·B·A‖` per row and `g = m / norm` (with `init`, first `m = norm`).
///
/// # Shapes
/// `a`: (r, in), `b`: (out, r); the slot's vectors (out).
pub fn weight_norm(rec: &mut Recorder, dims: LoraDims, w: &Weight, slot: &DoraSlot, a: &GpuTensor, b: &GpuTensor, init: bool) -> Result<()> {
    let LoraDims { d_in, d_out, r, scale, .. } = dims;
    if (w.rows, w.cols) != (d_out, d_in) {
        return Err(Error::invalid(format!("DoRA on {}", w.name), format!("the weight is ({}, {}), the adapter ({d_out}, {d_in})", w.rows, w.cols)));
    }
    matmul(rec, a, a, &slot.aat, MatmulShape::new(r, r, d_in).trans_b())?;
    matmul(rec, b, &slot.aat, &slot.q, MatmulShape::new(d_out, r, r))?;
    qmatmul_forward(rec, a, w, None, &slot.p)?;
    let params = NormParams { out_features: d_out as u32, r: r as u32, scale, init: init as u32 };
    let bindings = [slot.w_norm2.binding(), b.binding(), slot.p.binding(), slot.q.binding(), slot.magnitude.binding(), slot.norm.binding(), slot.g.binding()];
    rec.dispatch(&kernels::DORA_NORM_FORWARD, &params, &bindings, grid_1d(d_out, 64));
    Ok(())
}

/// Records `y (+)= (v + offset) ⊙ x`: `v` per column of `x` (`by_row` false) or per row.
pub fn scale(rec: &mut Recorder, v: &GpuTensor, x: &GpuTensor, y: &GpuTensor, offset: f32, by_row: bool, accumulate: bool) -> Result<()> {
    let n = x.len();
    let cols = if by_row { n / v.len().max(1) } else { v.len() };
    if y.len() != n || v.is_empty() || !n.is_multiple_of(v.len()) {
        return Err(Error::invalid("dora scale", format!("x has {n} values, y {}, v {}", y.len(), v.len())));
    }
    let params = ScaleParams { n: n as u32, cols: cols as u32, offset, flags: accumulate as u32 | (by_row as u32) << 1 };
    rec.dispatch(&kernels::DORA_SCALE_FORWARD, &params, &[v.binding(), x.binding(), y.binding()], grid_1d(n, 256));
    Ok(())
}

/// Records `dm (+)= Σ_t dy ⊙ z / norm` over the rows of `dy`, `z` `(rows, out)`.
pub fn magnitude_backward(rec: &mut Recorder, dy: &GpuTensor, z: &GpuTensor, norm: &GpuTensor, dm: &GpuTensor, accumulate: bool) -> Result<()> {
    let cols = dm.len();
    let rows = dy.len().checked_div(cols).unwrap_or(0);
    if z.len() != dy.len() || norm.len() != cols || rows * cols != dy.len() {
        return Err(Error::invalid("dora magnitude backward", format!("dy {} and z {} values, norm {}, dm {cols}", dy.len(), z.len(), norm.len())));
    }
    let params = MagnitudeParams { rows: rows as u32, cols: cols as u32, accumulate: accumulate as u32, _pad: 0 };
    rec.dispatch(&kernels::DORA_MAGNITUDE_BACKWARD, &params, &[dy.binding(), z.binding(), norm.binding(), dm.binding()], grid_1d(cols, 64));
    Ok(())
}

/// DoRA's scratch of one pass: `z` (M, out) for the forward's `x̃·Wᵀ` and the backward's
/// products, `dyg` (M, out) for `g ⊙ dy` (backward only).
pub struct DoraScratch {
    pub z: GpuTensor,
    pub dyg: Option<GpuTensor>,
}

/// Records the norm (see [`weight_norm`]) and `y += (g − 1) ⊙ (x̃·Wᵀ) + g ⊙ s·(x̃·Aᵀ)·Bᵀ`,
/// writing `u = x̃·Aᵀ` for the backward. `xb` is the branch input x̃ (x without dropout).
///
/// # Shapes
/// `xb`: (M, in), `a`: (r, in), `b`: (out, r), `u`: (M, r), `y`: (M, out), `z`: (M, out) scratch.
#[allow(clippy::too_many_arguments)]
pub fn dora_forward(rec: &mut Recorder, dims: LoraDims, w: &Weight, slot: &DoraSlot, z: &GpuTensor, xb: &GpuTensor, a: &GpuTensor, b: &GpuTensor, u: &GpuTensor, y: &GpuTensor) -> Result<()> {
    weight_norm(rec, dims, w, slot, a, b, false)?;
    qmatmul_forward(rec, xb, w, None, z)?;
    scale(rec, &slot.g, z, y, -1.0, false, true)?;
    scale(rec, &slot.g, b, &slot.bg, 0.0, true, false)?;
    lora_forward(rec, dims, xb, a, &slot.bg, u, y)
}

/// Records the gradients of [`dora_forward`] (with the norm and g it left in `slot`): `dm`,
/// `dA`, `dB` accumulated; `dxb (+)= ∂/∂x̃` (accumulated when `accumulate_dx`, else written).
///
/// # Shapes
/// As [`dora_forward`]; `dy`: (M, out), `du`: (M, r) scratch, `dyg`: (M, out) scratch,
/// `da`: (r, in), `db`: (out, r), `dxb`: (M, in).
#[allow(clippy::too_many_arguments)]
pub fn dora_backward(
    rec: &mut Recorder,
    dims: LoraDims,
    w: &Weight,
    slot: &DoraSlot,
    scratch: (&GpuTensor, &GpuTensor),
    xb: &GpuTensor,
    (a, b, u): (&GpuTensor, &GpuTensor, &GpuTensor),
    dy: &GpuTensor,
    du: &GpuTensor,
    (da, db): (&GpuTensor, &GpuTensor),
    dxb: &GpuTensor,
    accumulate_dx: bool,
) -> Result<()> {
    let (z, dyg) = scratch;
    let LoraDims { m, d_out, r, scale: s, .. } = dims;
    qmatmul_forward(rec, xb, w, None, z)?;
    matmul(rec, u, b, z, MatmulShape { alpha: s, ..MatmulShape::new(m, d_out, r).trans_b().accumulate() })?;
    magnitude_backward(rec, dy, z, &slot.norm, &slot.grad_m, true)?;
    scale(rec, &slot.g, dy, dyg, 0.0, false, false)?;
    backward_products(rec, dims, xb, a, b, u, dyg, du, da, db, dxb, accumulate_dx)?;
    scale(rec, &slot.g, dy, z, -1.0, false, false)?;
    qmatmul_backward_input(rec, z, w, dxb, true)
}

/// CPU reference of [`scale`]: `(v + offset) ⊙ x`, v per column (`by_row` false) or per row.
pub fn scale_cpu(v: &[f32], x: &[f32], offset: f32, by_row: bool) -> Vec<f32> {
    let cols = if by_row { x.len() / v.len().max(1) } else { v.len() };
    x.iter().enumerate().map(|(e, x)| (v[if by_row { e / cols } else { e % cols }] + offset) * x).collect()
}

/// CPU reference of [`magnitude_backward`]: `Σ_t dy ⊙ z / norm` per column.
pub fn magnitude_backward_cpu(dy: &[f32], z: &[f32], norm: &[f32]) -> Vec<f32> {
    let cols = norm.len();
    (0..cols).map(|i| dy.iter().zip(z).skip(i).step_by(cols).map(|(d, z)| d * z).sum::<f32>() / norm[i]).collect()
}

/// CPU reference of the norm: `‖W_i + s·B_i·A‖` per row of a dense `w` `(out, in)`.
pub fn weight_norm_cpu(dims: LoraDims, w: &[f32], a: &[f32], b: &[f32]) -> Vec<f32> {
    let LoraDims { d_in, d_out, r, scale, .. } = dims;
    (0..d_out)
        .map(|i| {
            let row = |k: usize| w[i * d_in + k] + scale * (0..r).map(|j| b[i * r + j] * a[j * d_in + k]).sum::<f32>();
            (0..d_in).map(|k| row(k) * row(k)).sum::<f32>().sqrt()
        })
        .collect()
}

/// CPU reference of a DoRA linear without bias: `g ⊙ (x·Wᵀ + s·x·Aᵀ·Bᵀ)` (M, out), with a dense
/// `w` `(out, in)` and the norm held constant (it is recomputed here from A and B).
pub fn dora_forward_cpu(dims: LoraDims, w: &[f32], x: &[f32], a: &[f32], b: &[f32], magnitude: &[f32]) -> Vec<f32> {
    dora_forward_const_norm_cpu(dims, w, x, a, b, magnitude, &weight_norm_cpu(dims, w, a, b))
}

/// [`dora_forward_cpu`] with a given norm (what the backward differentiates: it is detached).
pub fn dora_forward_const_norm_cpu(dims: LoraDims, w: &[f32], x: &[f32], a: &[f32], b: &[f32], magnitude: &[f32], norm: &[f32]) -> Vec<f32> {
    let LoraDims { m, d_in, d_out, .. } = dims;
    let lora = super::branch::lora_forward_cpu(dims, x, a, b);
    let mut y = vec![0f32; m * d_out];
    for t in 0..m {
        for i in 0..d_out {
            let base: f32 = (0..d_in).map(|k| x[t * d_in + k] * w[i * d_in + k]).sum();
            y[t * d_out + i] = magnitude[i] / norm[i] * (base + lora[t * d_out + i]);
        }
    }
    y
}

/// CPU reference of the gradients of [`dora_forward_const_norm_cpu`] for upstream `dy`:
/// `(dx, dA, dB, dm)`, not accumulated; dx includes the base's `dy·W`.
pub fn dora_backward_cpu(dims: LoraDims, w: &[f32], x: &[f32], a: &[f32], b: &[f32], magnitude: &[f32], dy: &[f32]) -> [Vec<f32>; 4] {
    let LoraDims { m, d_in, d_out, .. } = dims;
    let norm = weight_norm_cpu(dims, w, a, b);
    let g: Vec<f32> = magnitude.iter().zip(&norm).map(|(m, n)| m / n).collect();
    let dyg = scale_cpu(&g, dy, 0.0, false);
    let (mut dx, da, db) = super::branch::lora_backward_cpu(dims, x, a, b, &dyg);
    for t in 0..m {
        for k in 0..d_in {
            dx[t * d_in + k] += (0..d_out).map(|i| dyg[t * d_out + i] * w[i * d_in + k]).sum::<f32>();
        }
    }
    let ones = vec![1.0; d_out];
    let z = dora_forward_const_norm_cpu(dims, w, x, a, b, &ones, &ones);
    [dx, da, db, magnitude_backward_cpu(dy, &z, &norm)]
}

/// Uploads a dense f32 `(rows, cols)` matrix as a frozen [`Weight`] (tests and examples).
pub fn f32_weight(gpu: &Gpu, name: &str, rows: usize, cols: usize, w: &[f32]) -> Result<Weight> {
    Weight::upload(gpu, name, crate::quant::GgmlType::F32, rows, cols, &super::weights::f32_bytes(w))
}

#[cfg(test)]
#[path = "dora_tests.rs"]
mod tests;
