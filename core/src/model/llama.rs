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
use super::buffers::{BufferSpec, Shapes};
use super::kv_cache::KvCache;
use super::linear::Adapter;
use super::mlp::{self, MlpActs, MlpGrads};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::add;
use crate::ops::rmsnorm::{rmsnorm_backward, rmsnorm_forward};
use crate::ops::swiglu::Glu;

crate::buffer_table! {
    /// The block's own buffers around its two halves.
    pub struct Norms(s) {
        /// Residual stream entering the block.
        x_in: training [s.rows, s.c],
        xn1: always [s.rows, s.c],
        rstd1: always [s.rows],
        /// Residual stream after attention.
        x_mid: training [s.rows, s.c],
        xn2: always [s.rows, s.c],
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
pub struct BlockActs {
    pub norms: Norms,
    pub attn: AttnActs,
    pub mlp: MlpActs,
}

/// Gradient buffers of one block's backward pass (one set reused by every layer).
pub struct BlockGrads {
    pub norms: NormGrads,
    pub attn: AttnGrads,
    pub mlp: MlpGrads,
}

impl BlockActs {
    pub fn new(gpu: &Gpu, s: &Shapes, training: bool) -> BlockActs {
        BlockActs { norms: Norms::new(gpu, s, training), attn: AttnActs::new(gpu, s, training), mlp: MlpActs::new(gpu, s, training) }
    }

    pub fn specs(s: &Shapes) -> Vec<BufferSpec> {
        [Norms::specs(s), AttnActs::specs(s), MlpActs::specs(s)].concat()
    }
}

impl BlockGrads {
    pub fn new(gpu: &Gpu, s: &Shapes) -> BlockGrads {
        BlockGrads { norms: NormGrads::new(gpu, s, true), attn: AttnGrads::new(gpu, s, true), mlp: MlpGrads::new(gpu, s, true) }
    }

    pub fn specs(s: &Shapes) -> Vec<BufferSpec> {
        [NormGrads::specs(s), AttnGrads::specs(s), MlpGrads::specs(s)].concat()
    }
}

/// Records block `layer` on the residual stream `x` (updated in place; `proj` is scratch)
/// into `b`, writing its keys and values at `pos0` of the cache.
///
/// # Shapes
/// `x`, `proj`: (R, C), R = B·T; the cache layer: (B, S, KVH, D) with S ≥ pos0 + T.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    model: &Model,
    rec: &mut Recorder,
    layer: usize,
    b: &BlockActs,
    x: &GpuTensor,
    proj: &GpuTensor,
    cache: &KvCache,
    pos0: usize,
    adapter: Option<&dyn Adapter>,
) -> Result<()> {
    let (eps, lw, n) = (model.config.norm_eps, &model.weights.layers[layer], &b.norms);
    if let Some(x_in) = &n.x_in {
        rec.copy(&x.buffer, 0, &x_in.buffer, 0, x.buffer.size());
    }
    rmsnorm_forward(rec, x, &lw.attn_norm, eps, &n.xn1, &n.rstd1)?;
    attention::forward(model, rec, layer, &b.attn, &n.xn1, proj, cache, pos0, adapter)?;
    add::add_forward(rec, x, proj);
    if let Some(x_mid) = &n.x_mid {
        rec.copy(&x.buffer, 0, &x_mid.buffer, 0, x.buffer.size());
    }
    rmsnorm_forward(rec, x, &lw.ffn_norm, eps, &n.xn2, &n.rstd2)?;
    mlp::forward(model, rec, layer, &b.mlp, Glu::Silu, &n.xn2, proj, adapter)?;
    add::add_forward(rec, x, proj);
    Ok(())
}

/// Records the backward pass of block `layer` from the residual gradient `dx` (R, C), updated
/// in place to the gradient of the block's input; the adapter accumulates its gradients.
/// `b` and the cache hold the layer's forward activations (saved or just recomputed).
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    model: &Model,
    rec: &mut Recorder,
    layer: usize,
    b: &BlockActs,
    cache: &KvCache,
    g: &BlockGrads,
    dx: &GpuTensor,
    adapter: Option<&dyn Adapter>,
) -> Result<()> {
    let (lw, n) = (&model.weights.layers[layer], &b.norms);
    let saved = super::backward::saved;
    let (x_in, x_mid, dxn) = (saved(&n.x_in)?, saved(&n.x_mid)?, &g.norms.dxn);
    // MLP: x_out = x_mid + mlp(rmsnorm(x_mid)).
    mlp::backward(model, rec, layer, &b.mlp, Glu::Silu, &n.xn2, dx, &g.mlp, dxn, adapter)?;
    rmsnorm_backward(rec, x_mid, &lw.ffn_norm, &n.rstd2, dxn, dx, true)?;
    // Attention: x_mid = x_in + attention(rmsnorm(x_in)).
    attention::backward(model, rec, layer, &b.attn, &n.xn1, dx, cache, &g.attn, dxn, adapter)?;
    rmsnorm_backward(rec, x_in, &lw.attn_norm, &n.rstd1, dxn, dx, true)
}
