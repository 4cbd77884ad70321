//! Fused softmax + cross-entropy over the vocabulary, the training loss:
//! `loss[r] = logsumexp(logits[r, :]) - logits[r, target[r]]`, max-subtracted so that it is
//! finite for any finite logits. Targets are u32 token ids ([`GpuIds`]); [`IGNORE`]
//! (`u32::MAX`, or any id ≥ V) marks a position that does not count (prompt tokens, padding),
//! as `ignore_index = -100` does in PyTorch.
//!
//! The lm head's logits are `(B*T, V)` with V = 49152, more than one storage binding holds for
//! long batches, so the caller projects them chunk by chunk: each call takes the logits of R
//! rows and an `offset` into the batch-wide `targets`, `loss` and `lse` (so one readback of
//! `loss` at the end of the step gives every row). The forward pass saves `lse` (R floats per
//! chunk), the only thing the backward pass needs besides the logits; the backward pass
//! overwrites the logits with `dlogits` in place (the logits are dead after it), ready for the
//! lm head's input-gradient product. Use [`mean_loss`] on the read-back losses.
//!
//! Loss mean over the batch: pass `scale = 1 / count` to the backward, `count` being the
//! number of non-ignored targets in the whole batch ([`count_targets`]), as PyTorch's
//! `cross_entropy(reduction="mean", ignore_index=-100)` does.

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Kernel, Recorder, grid_1d, kernels};
use crate::ops::embedding::GpuIds;

/// The target id of a position that does not count towards the loss.
pub const IGNORE: u32 = u32::MAX;

/// Mirrors `Params` in `shaders/cross_entropy_forward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CrossEntropyParams {
    rows: u32,
    v: u32,
    offset: u32,
    _pad: u32,
}

/// Mirrors `Params` in `shaders/cross_entropy_backward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CrossEntropyBackwardParams {
    rows: u32,
    v: u32,
    offset: u32,
    scale: f32,
}

/// Largest V the per-row kernel accepts. Its two loops over V run in one invocation, and
/// lavapipe (llvmpipe) silently stops a shader invocation's loops after 65535 iterations in
/// all (measured: at V = 49152 the sum loop ended after 16383 iterations, 49151 + 16383 =
/// 65534), so a per-row loop over the full vocabulary gives wrong losses there.
pub const PER_ROW_MAX_V: usize = 32767;

/// Which forward kernel to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrossEntropyKernel {
    /// One invocation per row, a serial loop over V (no barriers); only for V ≤ [`PER_ROW_MAX_V`].
    PerRow,
    /// One workgroup of 256 per row, shared-memory reductions.
    Workgroup,
}

impl CrossEntropyKernel {
    /// The faster kernel for `rows` rows of `v` logits. Measured on lavapipe (2 cores) at
    /// V = 49152: the workgroup kernel wins for any R (see `cross_entropy_timing`); the per-row
    /// loop only pays off for tiny vocabularies with many rows.
    pub fn choose(rows: usize, v: usize) -> Self {
        if v <= 256 && rows >= 256 { CrossEntropyKernel::PerRow } else { CrossEntropyKernel::Workgroup }
    }
}

/// Checks shapes; returns `(R, V)`.
fn check(
    logits: &GpuTensor,
    targets: &GpuIds,
    offset: usize,
    per_row: &[(&str, &GpuTensor)],
) -> Result<(usize, usize)> {
    let v = *logits.shape.last().unwrap_or(&0);
    if logits.shape.len() < 2 || v == 0 {
        return Err(Error::invalid(
            "cross_entropy logits",
            format!("shape {:?}: expected (R, V) with V > 0", logits.shape),
        ));
    }
    let rows = logits.len() / v;
    if offset + rows > targets.len {
        return Err(Error::invalid(
            "cross_entropy targets",
            format!("{} targets do not cover rows {offset}..{} of this chunk", targets.len, offset + rows),
        ));
    }
    for (name, t) in per_row {
        if t.len() != targets.len {
            return Err(Error::invalid(
                format!("cross_entropy {name}"),
                format!("shape {:?}: expected one value per target ({})", t.shape, targets.len),
            ));
        }
    }
    Ok((rows, v))
}

/// Records the per-row loss and logsumexp of one chunk of logits, with the kernel chosen by
/// [`CrossEntropyKernel::choose`].
///
/// # Shapes
/// `logits`: `(R, V)` (rows `offset..offset+R` of the batch), `targets`: `(N)` u32 with
/// `N ≥ offset + R`, `loss`, `lse`: `(N)`; rows `offset..offset+R` are written (0 for ignored).
pub fn cross_entropy_forward(
    rec: &mut Recorder,
    logits: &GpuTensor,
    targets: &GpuIds,
    offset: usize,
    loss: &GpuTensor,
    lse: &GpuTensor,
) -> Result<()> {
    let v = *logits.shape.last().unwrap_or(&0);
    let kernel = CrossEntropyKernel::choose(logits.len() / v.max(1), v);
    cross_entropy_forward_with(rec, kernel, logits, targets, offset, loss, lse)
}

/// [`cross_entropy_forward`] with an explicit kernel (tests, timing).
pub fn cross_entropy_forward_with(
    rec: &mut Recorder,
    kernel: CrossEntropyKernel,
    logits: &GpuTensor,
    targets: &GpuIds,
    offset: usize,
    loss: &GpuTensor,
    lse: &GpuTensor,
) -> Result<()> {
    let (rows, v) = check(logits, targets, offset, &[("loss", loss), ("lse", lse)])?;
    if kernel == CrossEntropyKernel::PerRow && v > PER_ROW_MAX_V {
        return Err(Error::invalid(
            "cross_entropy kernel",
            format!("the per-row kernel needs V <= {PER_ROW_MAX_V} (got {v}); use CrossEntropyKernel::Workgroup"),
        ));
    }
    let params = CrossEntropyParams { rows: rows as u32, v: v as u32, offset: offset as u32, _pad: 0 };
    let (k, grid): (&Kernel, _) = match kernel {
        CrossEntropyKernel::PerRow => (&kernels::CROSS_ENTROPY_FORWARD, grid_1d(rows, 16)),
        CrossEntropyKernel::Workgroup => (&kernels::CROSS_ENTROPY_FORWARD_WG, grid_1d(rows, 1)),
    };
    let bindings = [logits.binding(), targets.buffer.as_entire_binding(), loss.binding(), lse.binding()];
    rec.dispatch(k, &params, &bindings, grid);
    Ok(())
}

/// Records `logits <- (softmax(logits) - onehot(target)) * scale` IN PLACE (0 for ignored
/// rows): the logits buffer holds `dlogits` afterwards.
///
/// # Shapes
/// `targets`, `lse`: `(N)` (`lse` saved by [`cross_entropy_forward`]), `logits`: `(R, V)`,
/// rows `offset..offset+R` of the batch; in = logits, out = dlogits.
pub fn cross_entropy_backward(
    rec: &mut Recorder,
    targets: &GpuIds,
    lse: &GpuTensor,
    offset: usize,
    scale: f32,
    logits: &GpuTensor,
) -> Result<()> {
    let (rows, v) = check(logits, targets, offset, &[("lse", lse)])?;
    let params = CrossEntropyBackwardParams { rows: rows as u32, v: v as u32, offset: offset as u32, scale };
    let bindings = [targets.buffer.as_entire_binding(), lse.binding(), logits.binding()];
    rec.dispatch(&kernels::CROSS_ENTROPY_BACKWARD, &params, &bindings, grid_1d(rows * v, 256));
    Ok(())
}

/// Number of targets that count (not [`IGNORE`], below `v`).
pub fn count_targets(targets: &[u32], v: usize) -> usize {
    targets.iter().filter(|&&t| (t as usize) < v).count()
}

/// Host side, after reading back the per-row losses: `(mean loss, count)` over the targets that
/// count (mean 0 when none counts). Sums in f64.
pub fn mean_loss(losses: &[f32], targets: &[u32], v: usize) -> (f32, usize) {
    let mut sum = 0f64;
    let mut count = 0usize;
    for (&l, &t) in losses.iter().zip(targets) {
        if (t as usize) < v {
            sum += l as f64;
            count += 1;
        }
    }
    (if count == 0 { 0.0 } else { (sum / count as f64) as f32 }, count)
}

/// CPU reference: returns `(loss (R), lse (R))` for `logits (R, V)` and `targets (R)`.
pub fn cross_entropy_forward_cpu(logits: &[f32], targets: &[u32], v: usize) -> (Vec<f32>, Vec<f32>) {
    let rows = logits.len() / v;
    let (mut loss, mut lse) = (vec![0f32; rows], vec![0f32; rows]);
    for r in 0..rows {
        let t = targets[r] as usize;
        if t >= v {
            continue;
        }
        let row = &logits[r * v..(r + 1) * v];
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let s: f64 = row.iter().map(|&x| (x as f64 - m).exp()).sum();
        let l = m + s.ln();
        lse[r] = l as f32;
        loss[r] = (l - row[t] as f64) as f32;
    }
    (loss, lse)
}

/// CPU reference: returns `dlogits (R, V) = (softmax - onehot) * scale`, 0 for ignored rows.
pub fn cross_entropy_backward_cpu(logits: &[f32], targets: &[u32], lse: &[f32], v: usize, scale: f32) -> Vec<f32> {
    let mut d = vec![0f32; logits.len()];
    for r in 0..logits.len() / v {
        let t = targets[r] as usize;
        if t >= v {
            continue;
        }
        for c in 0..v {
            let p = (logits[r * v + c] as f64 - lse[r] as f64).exp() - if c == t { 1.0 } else { 0.0 };
            d[r * v + c] = (p * scale as f64) as f32;
        }
    }
    d
}

#[cfg(test)]
#[path = "cross_entropy_tests.rs"]
mod tests;
