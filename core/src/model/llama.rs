//! The Llama-family block (Llama 2/3, SmolLM2, TinyLlama, Mistral-style, Qwen2/2.5 with q/k/v
//! biases): its buffers, its forward and its backward, side by side (llm.c style: forward saves
//! what backward reads).
//!
//! ```text
//! forward (x: residual stream (R, C), R = B·T)         backward (dx: residual gradient)
//!   xn1 = rmsnorm(x) · attn_norm                          dh = dx·Wdown (+adapter)
//!   q, k, v = xn1·Wᵀ (+b) (+adapter)                      dgate, dup = swiglu_backward(dh)
//!   rope(q), rope(k); k, v → cache at pos0                dxn = dgate·Wgate + dup·Wup
//!   att = attention(q, cache)                             dx += rmsnorm_backward(dxn)
//!   x += att·Woᵀ (+adapter)                               datt = dx·Wo
//!   xn2 = rmsnorm(x) · ffn_norm                           dq, dk, dv = attention_backward(datt)
//!   gate, up = xn2·Wᵀ; h = silu(gate) ⊙ up                rope_backward(dq, dk)
//!   x += h·Wdownᵀ (+adapter)                              dxn = dq·Wq + dk·Wk + dv·Wv
//!                                                         dx += rmsnorm_backward(dxn)
//! ```
//! The base is frozen: backward computes dX through every op and lets the adapter accumulate
//! its own gradients at each [`Linear`]; no weight gradient of the base exists.

use super::Model;
use super::kv_cache::KvCache;
use super::linear::{Adapter, Linear, Site, Target};
use super::weights::LayerWeights;
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::{add, attention, attention_backward, rmsnorm, rope, swiglu};

crate::buffer_table! {
    /// What one block writes during the forward pass (per layer in training, else shared).
    pub struct BlockActs(s) {
        /// Residual stream entering the block.
        x_in: training [s.rows, s.c],
        xn1: always [s.rows, s.c],
        rstd1: always [s.rows],
        /// After RoPE.
        q: always [s.batch, s.t, s.h, s.d],
        /// After RoPE (copied into the cache).
        k: always [s.batch, s.t, s.kvh, s.d],
        v: always [s.batch, s.t, s.kvh, s.d],
        att: always [s.batch, s.t, s.h, s.d],
        lse: always [s.batch, s.h, s.t],
        /// Residual stream after attention.
        x_mid: training [s.rows, s.c],
        xn2: always [s.rows, s.c],
        rstd2: always [s.rows],
        gate: always [s.rows, s.f],
        up: always [s.rows, s.f],
        h: always [s.rows, s.f],
    }
}

crate::buffer_table! {
    /// Gradient buffers of one block's backward pass (one set reused by every layer).
    pub struct BlockGrads(s) {
        /// Normed block input.
        dxn: always [s.rows, s.c],
        dh: always [s.rows, s.f],
        dgate: always [s.rows, s.f],
        dup: always [s.rows, s.f],
        datt: always [s.batch, s.t, s.h, s.d],
        dq: always [s.batch, s.t, s.h, s.d],
        dk: always [s.batch, s.t, s.kvh, s.d],
        dv: always [s.batch, s.t, s.kvh, s.d],
    }
}

/// The block's linears, named by where they sit.
fn linear(lw: &LayerWeights, layer: usize, target: Target) -> Linear<'_> {
    let (weight, bias) = match target {
        Target::Q => (&lw.wq, lw.bq.as_ref()),
        Target::K => (&lw.wk, lw.bk.as_ref()),
        Target::V => (&lw.wv, lw.bv.as_ref()),
        Target::O => (&lw.wo, None),
        Target::Gate => (&lw.w_gate, None),
        Target::Up => (&lw.w_up, None),
        Target::Down => (&lw.w_down, None),
    };
    Linear { weight, bias, site: Site { layer, target } }
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
    let eps = model.config.norm_eps;
    let lw = &model.weights.layers[layer];
    let lin = |t| linear(lw, layer, t);
    let (ck, cv) = cache.layer(layer);
    if let Some(x_in) = &b.x_in {
        rec.copy(&x.buffer, 0, &x_in.buffer, 0, x.buffer.size());
    }
    rmsnorm::rmsnorm_forward(rec, x, &lw.attn_norm, eps, &b.xn1, &b.rstd1)?;
    lin(Target::Q).forward(rec, &b.xn1, &b.q, adapter)?;
    lin(Target::K).forward(rec, &b.xn1, &b.k, adapter)?;
    lin(Target::V).forward(rec, &b.xn1, &b.v, adapter)?;
    rope::rope_forward(rec, &b.q, &model.inv_freq, pos0)?;
    rope::rope_forward(rec, &b.k, &model.inv_freq, pos0)?;
    attention::kv_write(rec, &b.k, ck, pos0)?;
    attention::kv_write(rec, &b.v, cv, pos0)?;
    attention::attention_forward(rec, &b.q, ck, cv, pos0, &b.att, &b.lse)?;
    lin(Target::O).forward(rec, &b.att, proj, adapter)?;
    add::add_forward(rec, x, proj);
    if let Some(x_mid) = &b.x_mid {
        rec.copy(&x.buffer, 0, &x_mid.buffer, 0, x.buffer.size());
    }
    rmsnorm::rmsnorm_forward(rec, x, &lw.ffn_norm, eps, &b.xn2, &b.rstd2)?;
    lin(Target::Gate).forward(rec, &b.xn2, &b.gate, adapter)?;
    lin(Target::Up).forward(rec, &b.xn2, &b.up, adapter)?;
    swiglu::swiglu_forward(rec, &b.gate, &b.up, &b.h)?;
    lin(Target::Down).forward(rec, &b.h, proj, adapter)?;
    add::add_forward(rec, x, proj);
    Ok(())
}

/// Records the backward pass of block `layer` from the residual gradient `dx` (R, C), updated
/// in place to the gradient of the block's input; the adapter accumulates its gradients.
/// `b` and the cache hold the layer's forward activations (saved or just recomputed).
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
    let lw = &model.weights.layers[layer];
    let lin = |t| linear(lw, layer, t);
    let (ck, cv) = cache.layer(layer);
    let (x_in, x_mid) = (super::backward::saved(&b.x_in)?, super::backward::saved(&b.x_mid)?);
    // MLP: x_out = x_mid + down(silu(gate(xn2)) ⊙ up(xn2)).
    lin(Target::Down).backward(rec, &b.h, dx, &g.dh, false, adapter)?;
    swiglu::swiglu_backward(rec, &b.gate, &b.up, &g.dh, &g.dgate, &g.dup)?;
    lin(Target::Gate).backward(rec, &b.xn2, &g.dgate, &g.dxn, false, adapter)?;
    lin(Target::Up).backward(rec, &b.xn2, &g.dup, &g.dxn, true, adapter)?;
    rmsnorm::rmsnorm_backward(rec, x_mid, &lw.ffn_norm, &b.rstd2, &g.dxn, dx, true)?;
    // Attention: x_mid = x_in + o(attention(rope(q(xn1)), rope(k(xn1)), v(xn1))).
    lin(Target::O).backward(rec, &b.att, dx, &g.datt, false, adapter)?;
    attention_backward::attention_backward(rec, &b.q, ck, cv, &b.att, &b.lse, &g.datt, 0, &g.dq, &g.dk, &g.dv)?;
    rope::rope_backward(rec, &g.dq, &model.inv_freq, 0)?;
    rope::rope_backward(rec, &g.dk, &model.inv_freq, 0)?;
    lin(Target::Q).backward(rec, &b.xn1, &g.dq, &g.dxn, false, adapter)?;
    lin(Target::K).backward(rec, &b.xn1, &g.dk, &g.dxn, true, adapter)?;
    lin(Target::V).backward(rec, &b.xn1, &g.dv, &g.dxn, true, adapter)?;
    rmsnorm::rmsnorm_backward(rec, x_in, &lw.attn_norm, &b.rstd1, &g.dxn, dx, true)
}
