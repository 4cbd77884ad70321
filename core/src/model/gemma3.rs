//! The Gemma 3 block: sandwich norms around both halves (a norm before and after attention,
//! before and after the MLP), per-head q/k norms, a GeGLU MLP (tanh GELU), and — set by the
//! config, applied by the shared halves — sliding-window attention on five of every six layers
//! with their own RoPE base and the scale `1/√query_pre_attn_scalar`. The embeddings are scaled
//! by √C ([`super::blocks::embedding_scale`]). RMSNorm here is `x · (1 + w)`: GGUF stores
//! `1 + w` (llama.cpp's converter adds the 1), a Hugging Face folder `w` (the loader adds it).
//!
//! ```text
//! forward (x: residual stream (R, C))               backward (dx: residual gradient)
//!   xn1 = rmsnorm(x) · attn_norm                       dproj = rmsnorm_backward(mlp_out, dx)
//!   attn_out = attention(xn1)                          dxn = mlp_backward(dproj)
//!   x += rmsnorm(attn_out) · post_attention_norm       dx += rmsnorm_backward(x_mid, dxn)
//!   xn2 = rmsnorm(x) · ffn_norm                        dproj = rmsnorm_backward(attn_out, dx)
//!   mlp_out = mlp_gelu_tanh(xn2)                       dxn = attention_backward(dproj)
//!   x += rmsnorm(mlp_out) · post_ffw_norm              dx += rmsnorm_backward(x_in, dxn)
//! ```

use super::Model;
use super::attention::{self, AttnActs, AttnGrads};
use super::backward::saved;
use super::buffers::Halves;
use super::blocks::BlockIo;
use super::linear::{Norm, Output};
use super::mlp::{self, MlpActs, MlpGrads};
use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::add;
use crate::ops::rmsnorm::{rmsnorm_backward, rmsnorm_forward};
use crate::ops::swiglu::Glu;

crate::buffer_table! {
    /// The block's own buffers around its two halves.
    pub struct Norms(s) {
        /// Residual stream entering the block.
        x_in: training [s.rows, s.c] as bf16,
        /// The normed inputs of the halves: one for all layers, rebuilt before each backward.
        xn1: shared [s.rows, s.c],
        rstd1: always [s.rows],
        /// The attention half's output before its post-norm, and that norm's 1/rms.
        attn_out: always [s.rows, s.c] as bf16,
        rstd_attn_out: always [s.rows],
        /// Residual stream after attention.
        x_mid: training [s.rows, s.c] as bf16,
        xn2: shared [s.rows, s.c],
        rstd2: always [s.rows],
        /// The MLP's output before its post-norm, and that norm's 1/rms.
        mlp_out: always [s.rows, s.c] as bf16,
        rstd_mlp_out: always [s.rows],
    }
}

crate::buffer_table! {
    /// The block's own gradient buffers.
    pub struct NormGrads(s) {
        /// Gradient of a normed half's input.
        dxn: always [s.rows, s.c],
        /// Gradient of a half's output before its post-norm.
        dproj: always [s.rows, s.c],
    }
}

/// What one block keeps (per layer in training, else one set shared by all layers).
pub type BlockActs = Halves<Norms, AttnActs, MlpActs>;

/// Gradient buffers of one block's backward pass (one set reused by every layer).
pub type BlockGrads = Halves<NormGrads, AttnGrads, MlpGrads>;

/// The two post-norm weights of layer `layer` (present in every Gemma 3 checkpoint: the loader
/// requires them).
fn post_norms(model: &Model, layer: usize) -> Result<(&GpuTensor, &GpuTensor)> {
    let lw = &model.weights.layers[layer];
    match (&lw.post_attn_norm, &lw.post_ffn_norm) {
        (Some(a), Some(f)) => Ok((a, f)),
        _ => Err(Error::invalid("gemma3 block", format!("layer {layer} has no post-attention / post-feedforward norm"))),
    }
}

/// Records block `io.layer` on the residual stream `io.stream` (updated in place; `io.proj` is
/// scratch) into `b`, writing its keys and values at `io.pos0` of the cache.
///
/// # Shapes
/// `x`, `proj`: (R, C), R = B·T; the cache layer: (B, S, KVH, D) with S ≥ pos0 + T.
pub(super) fn forward(model: &Model, rec: &mut Recorder, b: &BlockActs, io: &BlockIo) -> Result<()> {
    let BlockIo { layer, stream: x, proj, cache, pos0, adapter } = *io;
    let (eps, lw, n) = (model.config.norm_eps, &model.weights.layers[layer], &b.norms);
    let (post_attn, post_ffn) = post_norms(model, layer)?;
    if let Some(x_in) = &n.x_in {
        rec.copy(&x.buffer, 0, &x_in.buffer, 0, x.buffer.size());
    }
    rmsnorm_forward(rec, x, &lw.attn_norm, eps, &n.xn1, &n.rstd1)?;
    attention::forward(model, rec, layer, &b.attn, &n.xn1, Output::Write(&n.attn_out), cache, pos0, adapter)?;
    rmsnorm_forward(rec, &n.attn_out, post_attn, eps, proj, &n.rstd_attn_out)?;
    add::add_forward(rec, x, proj);
    if let Some(x_mid) = &n.x_mid {
        rec.copy(&x.buffer, 0, &x_mid.buffer, 0, x.buffer.size());
    }
    rmsnorm_forward(rec, x, &lw.ffn_norm, eps, &n.xn2, &n.rstd2)?;
    mlp::forward(model, rec, layer, &b.mlp, Glu::GeluTanh, &n.xn2, Output::Write(&n.mlp_out), adapter)?;
    rmsnorm_forward(rec, &n.mlp_out, post_ffn, eps, proj, &n.rstd_mlp_out)?;
    add::add_forward(rec, x, proj);
    Ok(())
}

/// Records the backward pass of block `io.layer` from the residual gradient `io.stream` (R, C), updated
/// in place to the gradient of the block's input; the adapter accumulates its gradients.
pub(super) fn backward(model: &Model, rec: &mut Recorder, b: &BlockActs, g: &BlockGrads, io: &BlockIo) -> Result<()> {
    let BlockIo { layer, stream: dx, cache, adapter, .. } = *io;
    let (lw, n, gn) = (&model.weights.layers[layer], &b.norms, &g.norms);
    let (post_attn, post_ffn) = post_norms(model, layer)?;
    let (x_in, x_mid) = (saved(&n.x_in)?, saved(&n.x_mid)?);
    // Each norm's weight gradient (adapters that train them) from its input, 1/rms and dy.
    let hook = |rec: &mut Recorder, norm: Norm, x: &GpuTensor, rstd: &GpuTensor, dy: &GpuTensor| -> Result<()> {
        adapter.map_or(Ok(()), |a| a.norm_backward(rec, norm, x, rstd, dy))
    };
    // MLP: x_out = x_mid + post_ffn(mlp(rmsnorm(x_mid))).
    hook(rec, Norm::PostFfn(layer), &n.mlp_out, &n.rstd_mlp_out, dx)?;
    rmsnorm_backward(rec, &n.mlp_out, post_ffn, &n.rstd_mlp_out, dx, &gn.dproj, false)?;
    mlp::backward(model, rec, layer, &b.mlp, Glu::GeluTanh, &n.xn2, &gn.dproj, &g.mlp, &gn.dxn, adapter)?;
    hook(rec, Norm::Ffn(layer), x_mid, &n.rstd2, &gn.dxn)?;
    rmsnorm_backward(rec, x_mid, &lw.ffn_norm, &n.rstd2, &gn.dxn, dx, true)?;
    // Attention: x_mid = x_in + post_attn(attention(rmsnorm(x_in))).
    hook(rec, Norm::PostAttn(layer), &n.attn_out, &n.rstd_attn_out, dx)?;
    rmsnorm_backward(rec, &n.attn_out, post_attn, &n.rstd_attn_out, dx, &gn.dproj, false)?;
    attention::backward(model, rec, layer, &b.attn, &n.xn1, &gn.dproj, cache, &g.attn, &gn.dxn, adapter)?;
    hook(rec, Norm::Attn(layer), x_in, &n.rstd1, &gn.dxn)?;
    rmsnorm_backward(rec, x_in, &lw.attn_norm, &n.rstd1, &gn.dxn, dx, true)
}
