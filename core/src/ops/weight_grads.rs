//! Weight gradients for full fine-tuning, the parameters LoRA keeps frozen:
//! - [`linear_dw`]: `dW (+)= dyᵀ · x` for a linear `y = x · Wᵀ` (one [`matmul`] with `trans_a`);
//! - [`bias_dw`]: `db (+)= Σ_rows dy` (the same product against a column of ones);
//! - [`rmsnorm_dw`]: `dγ (+)= Σ_rows dy ⊙ x̂` (`shaders/rmsnorm_dw.wgsl`, one invocation per column);
//! - [`embedding_backward`]: `dE[id] += scale · Σ_{t: ids[t] = id} dy[t]`
//!   (`shaders/embedding_backward.wgsl`, a scatter-add over ids grouped on the host: deterministic,
//!   no float atomics).
//!
//! Each has a CPU reference and GPU tests against it and against finite differences.

use super::embedding::GpuIds;
use super::matmul::{MatmulShape, matmul, matmul_cpu};
use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};

/// Records `dw (+)= dyᵀ · x`, the weight gradient of `y = x · Wᵀ` (PyTorch layout `W (out, in)`).
///
/// # Shapes
/// `x`: `(R, in)`, `dy`: `(R, out)` (any shapes of those many elements), `dw`: `(out, in)`;
/// `R` = rows (B·T tokens).
pub fn linear_dw(rec: &mut Recorder, x: &GpuTensor, dy: &GpuTensor, dw: &GpuTensor, accumulate: bool) -> Result<()> {
    let (rows, inp, out) = linear_dw_shape(&x.shape, &dy.shape, &dw.shape)?;
    matmul(rec, dy, x, dw, MatmulShape { trans_a: true, accumulate, ..MatmulShape::new(out, inp, rows) })
}

/// Checks `x (R, in)`, `dy (R, out)`, `dw (out, in)`; returns `(R, in, out)`.
fn linear_dw_shape(x: &[usize], dy: &[usize], dw: &[usize]) -> Result<(usize, usize, usize)> {
    let (out, inp) = match dw {
        [o, i] => (*o, *i),
        _ => return Err(Error::invalid("linear_dw dw", format!("shape {dw:?} is not (out, in)"))),
    };
    // Element counts, not last dims: attention hands (B, T, H, D) views of (R, H·D) rows.
    let rows_of = |s: &[usize], width: usize, name: &str| -> Result<usize> {
        let n: usize = s.iter().product();
        if width == 0 || !n.is_multiple_of(width) {
            return Err(Error::invalid(format!("linear_dw {name}"), format!("shape {s:?} is not rows of {width} for dw {dw:?}")));
        }
        Ok(n / width)
    };
    let rows = rows_of(x, inp, "x")?;
    if rows_of(dy, out, "dy")? != rows {
        return Err(Error::invalid("linear_dw dy", format!("shape {dy:?} has other rows than x {x:?} for dw {dw:?}")));
    }
    Ok((rows, inp, out))
}

/// CPU reference of [`linear_dw`] (not accumulated): `dw[o, i] = Σ_r dy[r, o] · x[r, i]`, the
/// same product through [`matmul_cpu`].
pub fn linear_dw_cpu(x: &[f32], dy: &[f32], out: usize, inp: usize) -> Vec<f32> {
    let rows = x.len() / inp.max(1);
    matmul_cpu(dy, x, &vec![0.0; out * inp], MatmulShape { trans_a: true, ..MatmulShape::new(out, inp, rows) })
}

/// Records `db (+)= Σ_r dy[r, :]` (`dyᵀ · 1`), the bias gradient of `y = x · Wᵀ + b`: the
/// [`linear_dw`] product with a column of ones for `x`.
///
/// # Shapes
/// `dy`: `(R, out)` (any shape of those many elements), `db`: `(out)`.
pub fn bias_dw(rec: &mut Recorder, dy: &GpuTensor, db: &GpuTensor, accumulate: bool) -> Result<()> {
    let out = db.len();
    if out == 0 || !dy.len().is_multiple_of(out) {
        return Err(Error::invalid("bias_dw dy", format!("shape {:?} is not rows of db's {out} values", dy.shape)));
    }
    let rows = dy.len() / out;
    let ones = GpuTensor::from_slice(rec.gpu, &[rows, 1], &vec![1.0; rows]);
    linear_dw(rec, &ones, dy, &db.view(&[out, 1])?, accumulate)
}

/// CPU reference of [`bias_dw`] (not accumulated): the column sums of `dy (R, out)`.
pub fn bias_dw_cpu(dy: &[f32], out: usize) -> Vec<f32> {
    (0..out).map(|o| dy.iter().skip(o).step_by(out.max(1)).map(|&v| v as f64).sum::<f64>() as f32).collect()
}

/// Mirrors `Params` in `shaders/rmsnorm_dw.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RmsNormDwParams {
    rows: u32,
    c: u32,
    accumulate: u32,
    _pad: u32,
}

/// Records `dw (+)= Σ_r dy[r, :] ⊙ x[r, :] · rstd[r]`, the gradient of the RMSNorm weight.
///
/// # Shapes
/// `x`, `dy`: `(R, C)` (any leading dims), `rstd`: `(R)` (saved by the forward), `dw`: `(C)`.
pub fn rmsnorm_dw(rec: &mut Recorder, x: &GpuTensor, rstd: &GpuTensor, dy: &GpuTensor, dw: &GpuTensor, accumulate: bool) -> Result<()> {
    let c = dw.len();
    if c == 0 || x.shape.last() != Some(&c) || dy.shape != x.shape {
        return Err(Error::invalid(
            "rmsnorm_dw",
            format!("x {:?} and dy {:?} must be equal shapes whose last dim is dw's length {c}", x.shape, dy.shape),
        ));
    }
    let rows = x.len() / c;
    if rstd.len() != rows {
        return Err(Error::invalid("rmsnorm_dw rstd", format!("{} values for {rows} rows of x {:?}", rstd.len(), x.shape)));
    }
    let params = RmsNormDwParams { rows: rows as u32, c: c as u32, accumulate: accumulate as u32, _pad: 0 };
    let bindings = [x.binding(), rstd.binding(), dy.binding(), dw.binding()];
    rec.dispatch(&kernels::RMSNORM_DW, &params, &bindings, grid_1d(c, 64));
    Ok(())
}

/// CPU reference of [`rmsnorm_dw`] (not accumulated).
pub fn rmsnorm_dw_cpu(x: &[f32], rstd: &[f32], dy: &[f32], c: usize) -> Vec<f32> {
    (0..c)
        .map(|i| (0..rstd.len()).map(|r| dy[r * c + i] as f64 * x[r * c + i] as f64 * rstd[r] as f64).sum::<f64>() as f32)
        .collect()
}

/// Token positions grouped by id, the host side of [`embedding_backward`]: `rows` the distinct
/// ids in increasing order, `offsets[u]..offsets[u + 1]` the run of `positions` (token indices,
/// in token order) holding id `rows[u]`.
#[derive(Debug, PartialEq)]
pub struct IdGroups {
    pub rows: Vec<u32>,
    pub offsets: Vec<u32>,
    pub positions: Vec<u32>,
}

impl IdGroups {
    /// Groups `ids`; refuses an id at or above `vocab` by position.
    pub fn new(ids: &[u32], vocab: usize) -> Result<IdGroups> {
        super::embedding::check_ids(ids, vocab)?;
        let mut positions: Vec<u32> = (0..ids.len() as u32).collect();
        positions.sort_by_key(|&p| ids[p as usize]); // stable: token order within an id
        let (mut rows, mut offsets) = (Vec::new(), Vec::new());
        for (j, &p) in positions.iter().enumerate() {
            let id = ids[p as usize];
            if rows.last() != Some(&id) {
                rows.push(id);
                offsets.push(j as u32);
            }
        }
        offsets.push(positions.len() as u32);
        Ok(IdGroups { rows, offsets, positions })
    }
}

/// Mirrors `Params` in `shaders/embedding_backward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct EmbeddingBackwardParams {
    u: u32,
    c: u32,
    scale: f32,
    _pad: u32,
}

/// Records `dtable[id, :] += scale · Σ_{t: ids[t] = id} dy[t, :]` for the ids of `groups`
/// (other rows untouched: clear `dtable` at the start of a step). `scale` is the forward's
/// (1, or `√C` for Gemma).
///
/// # Shapes
/// `dy`: `(T, C)` for the `T` ids grouped in `groups`, `dtable`: `(vocab, C)`.
pub fn embedding_backward(rec: &mut Recorder, groups: &IdGroups, dy: &GpuTensor, scale: f32, dtable: &GpuTensor) -> Result<()> {
    let c = match dtable.shape.as_slice() {
        [_, c] => *c,
        s => return Err(Error::invalid("embedding_backward dtable", format!("shape {s:?} is not (vocab, C)"))),
    };
    let t = groups.positions.len();
    if dy.len() != t * c || dy.shape.last() != Some(&c) {
        return Err(Error::invalid("embedding_backward dy", format!("shape {:?} is not ({t} tokens, {c})", dy.shape)));
    }
    if groups.rows.iter().any(|&r| r as usize >= dtable.shape[0]) {
        return Err(Error::invalid("embedding_backward ids", format!("an id is not below the table's {} rows", dtable.shape[0])));
    }
    if t == 0 || c == 0 {
        return Ok(());
    }
    let gpu = rec.gpu;
    let rows = GpuIds::from_slice(gpu, &groups.rows);
    let offsets = GpuIds::from_slice(gpu, &groups.offsets);
    let positions = GpuIds::from_slice(gpu, &groups.positions);
    let u = groups.rows.len();
    let params = EmbeddingBackwardParams { u: u as u32, c: c as u32, scale, _pad: 0 };
    let bindings = [
        rows.buffer.as_entire_binding(),
        offsets.buffer.as_entire_binding(),
        positions.buffer.as_entire_binding(),
        dy.binding(),
        dtable.binding(),
    ];
    rec.dispatch(&kernels::EMBEDDING_BACKWARD, &params, &bindings, grid_1d(u * c, 64));
    Ok(())
}

/// CPU reference of [`embedding_backward`] on a zero table: returns `dtable (vocab, C)`.
pub fn embedding_backward_cpu(ids: &[u32], dy: &[f32], scale: f32, vocab: usize, c: usize) -> Vec<f32> {
    let mut d = vec![0f64; vocab * c];
    for (t, &id) in ids.iter().enumerate() {
        for i in 0..c {
            d[id as usize * c + i] += dy[t * c + i] as f64;
        }
    }
    d.into_iter().map(|v| (v * scale as f64) as f32).collect()
}

#[cfg(test)]
#[path = "weight_grads_tests.rs"]
mod tests;
