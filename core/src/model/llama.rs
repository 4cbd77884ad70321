//! The Llama-family block (Llama 2/3, SmolLM2, TinyLlama, Mistral-style, Qwen2/2.5 with q/k/v
//! biases, Qwen3 with per-head q/k norms): pre-norm attention and SwiGLU MLP halves
//! ([`super::attention`], [`super::mlp`]) on the residual stream — its buffers, forward and
//! backward side by side (llm.c style: forward saves what backward reads).
//!
//! ```text
//! forward (x: residual stream (R, C), R = B·T)     backward (dx: residual gradient)
//!   xn1 = rmsnorm(x) · attn_norm                      dxn = mlp_backward(dx)
//!   x += attention(xn1)                               dx += rmsnorm_backward(dxn)
//!   xn2 = rmsnorm(x) · ffn_norm                       dxn = attention_backward(dx)
//!   x += mlp_silu(xn2)                                dx += rmsnorm_backward(dxn)
//! ```
//! The base is frozen: backward computes dX through every op and lets the adapter accumulate
//! its own gradients at each linear; no weight gradient of the base exists.

use super::Model;
use super::attention::{self, AttnActs, AttnGrads};
use super::buffers::Halves;
use super::blocks::BlockIo;
use super::linear::{Norm, Output};
use super::mlp::{self, MlpActs, MlpGrads};
use crate::error::Result;
use crate::gpu::Recorder;
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
        /// Residual stream after attention.
        x_mid: training [s.rows, s.c] as bf16,
        xn2: shared [s.rows, s.c],
        rstd2: always [s.rows],
    }
}

crate::buffer_table! {
    /// The block's own gradient buffer.
    pub struct NormGrads(s) {
        /// Gradient of a normed half's input.
        dxn: always [s.rows, s.c],
    }
}

/// What one block keeps (per layer in training, else one set shared by all layers).
pub type BlockActs = Halves<Norms, AttnActs, MlpActs>;

/// Gradient buffers of one block's backward pass (one set reused by every layer).
pub type BlockGrads = Halves<NormGrads, AttnGrads, MlpGrads>;

/// Records block `io.layer` on the residual stream `io.stream` (updated in place; `io.proj` is
/// scratch) into `b`, writing its keys and values at `io.pos0` of the cache.
///
/// # Shapes
/// `x`, `proj`: (R, C), R = B·T; the cache layer: (B, S, KVH, D) with S ≥ pos0 + T.
pub(super) fn forward(model: &Model, rec: &mut Recorder, b: &BlockActs, io: &BlockIo) -> Result<()> {
    let BlockIo { layer, stream: x, proj, cache, pos0, adapter } = *io;
    let (eps, lw, n) = (model.config.norm_eps, &model.weights.layers[layer], &b.norms);
    if let Some(x_in) = &n.x_in {
        rec.copy(&x.buffer, 0, &x_in.buffer, 0, x.buffer.size());
    }
    rmsnorm_forward(rec, x, &lw.attn_norm, eps, &n.xn1, &n.rstd1)?;
    // Each half's output projection adds into the stream in its epilogue.
    let out = Output::Add { to: x, scratch: proj };
    attention::forward(model, rec, layer, &b.attn, &n.xn1, out, cache, pos0, adapter)?;
    if let Some(x_mid) = &n.x_mid {
        rec.copy(&x.buffer, 0, &x_mid.buffer, 0, x.buffer.size());
    }
    rmsnorm_forward(rec, x, &lw.ffn_norm, eps, &n.xn2, &n.rstd2)?;
    mlp::forward(model, rec, layer, &b.mlp, Glu::Silu, &n.xn2, out, adapter)
}

/// Records the backward pass of block `io.layer` from the residual gradient `io.stream` (R, C), updated
/// in place to the gradient of the block's input; the adapter accumulates its gradients.
/// `b` and the cache hold the layer's forward activations (saved or just recomputed).
pub(super) fn backward(model: &Model, rec: &mut Recorder, b: &BlockActs, g: &BlockGrads, io: &BlockIo) -> Result<()> {
    let BlockIo { layer, stream: dx, cache, adapter, .. } = *io;
    let (lw, n) = (&model.weights.layers[layer], &b.norms);
    let saved = super::backward::saved;
    let (x_in, x_mid, dxn) = (saved(&n.x_in)?, saved(&n.x_mid)?, &g.norms.dxn);
    // MLP: x_out = x_mid + mlp(rmsnorm(x_mid)).
    mlp::backward(model, rec, layer, &b.mlp, Glu::Silu, &n.xn2, dx, &g.mlp, dxn, adapter)?;
    if let Some(a) = adapter {
        a.norm_backward(rec, Norm::Ffn(layer), x_mid, &n.rstd2, dxn)?;
    }
    rmsnorm_backward(rec, x_mid, &lw.ffn_norm, &n.rstd2, dxn, dx, true)?;
    // Attention: x_mid = x_in + attention(rmsnorm(x_in)).
    attention::backward(model, rec, layer, &b.attn, &n.xn1, dx, cache, &g.attn, dxn, adapter)?;
    if let Some(a) = adapter {
        a.norm_backward(rec, Norm::Attn(layer), x_in, &n.rstd1, dxn)?;
    }
    rmsnorm_backward(rec, x_in, &lw.attn_norm, &n.rstd1, dxn, dx, true)
}
