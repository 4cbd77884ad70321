//! The attention half of a block, shared by every architecture: q, k, v projections (each a
//! [`Linear`] with its adapter), the optional per-head RMSNorm of q and k (Qwen3, Gemma 3),
//! RoPE, the KV cache, causal GQA attention (with a sliding window on the layers that have one)
//! and the output projection — forward and backward side by side.
//!
//! ```text
//! forward (xn: normed block input (R, C))         backward (dout: gradient of `out`)
//!   q, k, v = xn·Wᵀ (+b)                             datt = dout·Wo
//!   q, k = rmsnorm_head(q, k)   (qk norm)            dq, dk, dv = attention_backward(datt)
//!   rope(q), rope(k); k, v → cache at pos0           rope_backward(dq, dk)
//!   att = attention(q, cache, window, scale)         dq, dk = rmsnorm_head_backward  (qk norm)
//!   out = att·Woᵀ                                    dxn = dq·Wq + dk·Wk + dv·Wv
//! ```
//! The adapter's hooks see every parameter's inputs: each linear's (and its bias's) through
//! [`Linear::backward`], the q/k norms' through [`Adapter::norm_backward`] (`Norm::Q`, `Norm::K`).

use super::Model;
use super::kv_cache::KvCache;
use super::linear::{Adapter, Linear, Norm, Output, Site, Target};
use super::weights::LayerWeights;
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::attention::AttentionOptions;
use crate::ops::{attention, attention_backward, rmsnorm, rope};

crate::buffer_table! {
    /// What the attention half writes in the forward pass.
    pub struct AttnActs(s) {
        /// q and k before their per-head norm, and the norms' 1/rms.
        q_pre: always [s.batch, s.t, s.h, s.d] as f16 when (s.qk_norm),
        rstd_q: always [s.rows * s.h] when (s.qk_norm),
        k_pre: always [s.batch, s.t, s.kvh, s.d] as f16 when (s.qk_norm),
        rstd_k: always [s.rows * s.kvh] when (s.qk_norm),
        /// After RoPE.
        q: always [s.batch, s.t, s.h, s.d] as f16,
        /// After RoPE, copied into the cache (backward reads the cache: one for all layers).
        k: shared [s.batch, s.t, s.kvh, s.d],
        v: shared [s.batch, s.t, s.kvh, s.d],
        att: always [s.batch, s.t, s.h, s.d] as f16,
        lse: always [s.batch, s.h, s.t],
    }
}

crate::buffer_table! {
    /// Gradient buffers of the attention half (one set reused by every layer).
    pub struct AttnGrads(s) {
        datt: always [s.batch, s.t, s.h, s.d],
        dq: always [s.batch, s.t, s.h, s.d],
        dk: always [s.batch, s.t, s.kvh, s.d],
        dv: always [s.batch, s.t, s.kvh, s.d],
        dq_pre: always [s.batch, s.t, s.h, s.d] when (s.qk_norm),
        dk_pre: always [s.batch, s.t, s.kvh, s.d] when (s.qk_norm),
    }
}

/// The linear `target` of a block, named by where it sits.
pub(super) fn linear(lw: &LayerWeights, layer: usize, target: Target) -> Linear<'_> {
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

impl Model {
    /// The frozen linear `target` of block `layer` (DoRA reads its weight).
    pub fn linear(&self, layer: usize, target: Target) -> crate::error::Result<Linear<'_>> {
        let lw = self.weights.layers.get(layer).ok_or_else(|| {
            crate::error::Error::invalid(format!("layer {layer}"), format!("the model has {} layers", self.weights.layers.len()))
        })?;
        Ok(linear(lw, layer, target))
    }

    /// RoPE frequencies and mask of `layer`: the sliding layers' own base and window, else the
    /// model's; the scale `1/√query_pre_attn_scalar` where the config sets one.
    fn attention_of(&self, layer: usize) -> (&GpuTensor, AttentionOptions) {
        let scale = self.config.query_pre_attn_scalar.map(|s| 1.0 / s.sqrt());
        match (&self.config.sliding_window, &self.inv_freq_local) {
            (Some(sw), Some(local)) if sw.slides(layer) => (local, AttentionOptions { window: sw.window, scale }),
            _ => (&self.inv_freq, AttentionOptions { window: 0, scale }),
        }
    }
}

/// A `(B, T, H, D)` tensor as `B·T·H` rows of D (per-head norms).
fn heads(x: &GpuTensor) -> Result<GpuTensor> {
    let d = x.shape.last().copied().unwrap_or(1);
    x.view(&[x.len() / d.max(1), d])
}

/// Records `out = attention(xn)·Woᵀ` (or `out +=`, [`Output`]) of block `layer`, writing its
/// keys and values at `pos0` of the cache.
///
/// # Shapes
/// `xn`, `out`: (R, C); the cache layer: (B, S, KVH, D) with S ≥ pos0 + T.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    model: &Model,
    rec: &mut Recorder,
    layer: usize,
    a: &AttnActs,
    xn: &GpuTensor,
    out: Output,
    cache: &KvCache,
    pos0: usize,
    adapter: Option<&dyn Adapter>,
) -> Result<()> {
    let lw = &model.weights.layers[layer];
    let lin = |t| linear(lw, layer, t);
    let (inv_freq, opts) = model.attention_of(layer);
    let (ck, cv) = cache.layer(layer);
    let eps = model.config.norm_eps;
    for (target, pre, rstd, w, y) in [(Target::Q, &a.q_pre, &a.rstd_q, &lw.q_norm, &a.q), (Target::K, &a.k_pre, &a.rstd_k, &lw.k_norm, &a.k)] {
        match (pre, rstd, w) {
            (Some(pre), Some(rstd), Some(w)) => {
                lin(target).forward(rec, xn, pre, adapter)?;
                rmsnorm::rmsnorm_forward(rec, &heads(pre)?, w, eps, &heads(y)?, rstd)?;
            }
            _ => lin(target).forward(rec, xn, y, adapter)?,
        }
        rope::rope_forward(rec, y, inv_freq, pos0)?;
    }
    lin(Target::V).forward(rec, xn, &a.v, adapter)?;
    attention::kv_write(rec, &a.k, ck, pos0)?;
    attention::kv_write(rec, &a.v, cv, pos0)?;
    attention::attention_forward_with(rec, &a.q, ck, cv, pos0, opts, &a.att, &a.lse)?;
    lin(Target::O).forward_to(rec, &a.att, out, adapter)
}

/// Records the backward pass of [`forward`] from `dout` (the gradient of `out`), writing the
/// gradient of `xn` into `dxn`; the adapter accumulates its gradients.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    model: &Model,
    rec: &mut Recorder,
    layer: usize,
    a: &AttnActs,
    xn: &GpuTensor,
    dout: &GpuTensor,
    cache: &KvCache,
    g: &AttnGrads,
    dxn: &GpuTensor,
    adapter: Option<&dyn Adapter>,
) -> Result<()> {
    let lw = &model.weights.layers[layer];
    let lin = |t| linear(lw, layer, t);
    let (inv_freq, opts) = model.attention_of(layer);
    let (ck, cv) = cache.layer(layer);
    lin(Target::O).backward(rec, &a.att, dout, &g.datt, false, adapter)?;
    attention_backward::attention_backward_with(rec, &a.q, ck, cv, &a.att, &a.lse, &g.datt, 0, opts, &g.dq, &g.dk, &g.dv)?;
    let qk = [
        (Target::Q, Norm::Q(layer), &g.dq, &a.q_pre, &a.rstd_q, &lw.q_norm, &g.dq_pre),
        (Target::K, Norm::K(layer), &g.dk, &a.k_pre, &a.rstd_k, &lw.k_norm, &g.dk_pre),
    ];
    for (i, (target, norm, dy, pre, rstd, w, dpre)) in qk.into_iter().enumerate() {
        rope::rope_backward(rec, dy, inv_freq, 0)?;
        let dproj = match (pre, rstd, w, dpre) {
            (Some(pre), Some(rstd), Some(w), Some(dpre)) => {
                if let Some(a) = adapter {
                    a.norm_backward(rec, norm, &heads(pre)?, rstd, &heads(dy)?)?;
                }
                rmsnorm::rmsnorm_backward(rec, &heads(pre)?, w, rstd, &heads(dy)?, &heads(dpre)?, false)?;
                dpre
            }
            _ => dy,
        };
        lin(target).backward(rec, xn, dproj, dxn, i > 0, adapter)?;
    }
    lin(Target::V).backward(rec, xn, &g.dv, dxn, true, adapter)
}
