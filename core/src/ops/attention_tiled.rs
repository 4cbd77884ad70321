//! The GPU family's attention (`shaders/attention_tiled_*.wgsl`, tiles in
//! `attention_tiled_common.wgsl`): what [`super::attention::attention_forward_with`] and
//! [`super::attention_backward::attention_backward_with`] run when the device's
//! [`crate::gpu::KernelFamily`] is `Gpu`. Flash-style: a workgroup of 128 invocations owns 16
//! query rows (forward, dq) or 16 cache rows (dk, dv) and walks tiles of 32 keys (queries) in
//! workgroup memory with an online softmax, head dims staged 64 at a time (so D = 256 fits in
//! 16 KiB); nothing of size T × S is ever stored, the forward keeps only `lse`. Each pass is
//! **one dispatch** whatever T and S (no loop-budget chunks: those are lavapipe's), GQA and
//! the sliding window as in the CPU family's kernels, whose results these match.

use super::attention::{AttentionDims, AttentionParams};
use crate::gpu::{GpuTensor, Recorder, kernels};

/// Rows (queries, or cache rows for dk/dv) per workgroup (`RT` in the common shader).
const ROWS: usize = 16;

/// Records the forward: `out`, `lse` (shapes as in `attention_forward_with`).
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    rec: &mut Recorder,
    dims: AttentionDims,
    params: AttentionParams,
    q: &GpuTensor,
    k: &GpuTensor,
    v: &GpuTensor,
    out: &GpuTensor,
    lse: &GpuTensor,
) {
    let bindings = [q.binding(), k.binding(), v.binding(), out.binding(), lse.binding()];
    rec.dispatch(&kernels::ATTENTION_TILED_FORWARD, &params, &bindings, query_grid(dims));
}

/// Records the backward: `dq`, `dk`, `dv` written (shapes as in `attention_backward_with`);
/// `delta` (B, H, T) is pass 1's scratch for pass 2.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    rec: &mut Recorder,
    dims: AttentionDims,
    params: AttentionParams,
    [q, k, v, out, lse, dout]: [&GpuTensor; 6],
    delta: &GpuTensor,
    [dq, dk, dv]: [&GpuTensor; 3],
) {
    let pass1 = [q.binding(), k.binding(), v.binding(), out.binding(), dout.binding(), lse.binding(), dq.binding(), delta.binding()];
    rec.dispatch(&kernels::ATTENTION_TILED_DQ, &params, &pass1, query_grid(dims));
    let pass2 = [q.binding(), k.binding(), v.binding(), dout.binding(), lse.binding(), delta.binding(), dk.binding(), dv.binding()];
    rec.dispatch(&kernels::ATTENTION_TILED_DKV, &params, &pass2, [dims.s.div_ceil(ROWS) as u32, dims.kvh as u32, dims.b as u32]);
}

/// One workgroup per 16 queries of each head and batch row.
fn query_grid(dims: AttentionDims) -> [u32; 3] {
    [dims.t.div_ceil(ROWS) as u32, dims.h as u32, dims.b as u32]
}
