//! The backward pass of a Llama-family model with LoRA, recorded after the forward pass that
//! saved its [`Activations`]. The base is frozen: it needs dX through every frozen op and dA, dB
//! of each adapted linear — no weight gradient of the base is ever computed.
//!
//! ```text
//! dx = rmsnorm_backward(d_hidden)                          residual gradient (R, C)
//! per layer, last to first:
//!   dh = dx·Wdown (+LoRA: dA, dB, dh)       dgate, dup = swiglu_backward(dh)
//!   dxn = dgate·Wgate + dup·Wup (+LoRA)     dx += rmsnorm_backward(dxn)     (residual)
//!   datt = dx·Wo (+LoRA)                    dq, dk, dv = attention_backward(datt)
//!   rope_backward(dq, dk)                   dxn = dq·Wq + dk·Wk + dv·Wv (+LoRA)
//!   dx += rmsnorm_backward(dxn)
//! ```
//! Layers below the lowest adapted one are skipped: nothing there has a gradient.
//!
//! With activation recomputation ([`crate::model::Saved::LayerInputs`]) the forward pass kept only each
//! layer's input; before each layer's backward, [`Model::forward_block`] re-runs that block from
//! its input into the one shared block set and the one-layer KV cache (the top layer's are still
//! there from the forward pass). With LoRA dropout, each branch regenerates its mask from the
//! same key as the forward pass (`dA` from `dropout(x)`, `dx += dropout(du·A)`).

use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::lora::Target;
use crate::model::{Activations, BlockActs, KvCache, LoraParams, Model};
use crate::ops::lora::LoraDropout;
use crate::ops::{attention_backward, lora, qmatmul, rmsnorm, rope, swiglu};
use crate::weights::Weight;

/// Gradient buffers of one backward pass (reused across layers).
pub struct Grads {
    dx: GpuTensor,    // (R, C) residual stream
    dxn: GpuTensor,   // (R, C) normed block input
    dh: GpuTensor,    // (R, F)
    dgate: GpuTensor, // (R, F)
    dup: GpuTensor,   // (R, F)
    datt: GpuTensor,  // (B, T, H, D)
    dq: GpuTensor,    // (B, T, H, D)
    dk: GpuTensor,    // (B, T, KVH, D)
    dv: GpuTensor,    // (B, T, KVH, D)
    du: GpuTensor,    // (R, r) LoRA scratch
    /// LoRA dropout scratch: the branch's input gradient before the mask.
    dxd: Option<GpuTensor>, // (R, largest adapted in-features)
}

impl Grads {
    /// Buffers for `batch × t` tokens through `lora` (`None`: evaluation only).
    pub fn new(gpu: &Gpu, model: &Model, batch: usize, t: usize, lora: Option<&LoraParams>) -> Grads {
        let cfg = &model.config;
        let rank = lora.map_or(1, |l| l.rank);
        let max_in = lora.map_or(0, |p| p.iter().map(|(_, _, s)| s.d_in).max().unwrap_or(0));
        let rows = batch * t;
        let z = |shape: &[usize]| GpuTensor::zeros(gpu, shape);
        Grads {
            dx: z(&[rows, cfg.dim]),
            dxn: z(&[rows, cfg.dim]),
            dh: z(&[rows, cfg.ffn_dim]),
            dgate: z(&[rows, cfg.ffn_dim]),
            dup: z(&[rows, cfg.ffn_dim]),
            datt: z(&[batch, t, cfg.n_heads, cfg.head_dim]),
            dq: z(&[batch, t, cfg.n_heads, cfg.head_dim]),
            dk: z(&[batch, t, cfg.n_kv_heads, cfg.head_dim]),
            dv: z(&[batch, t, cfg.n_kv_heads, cfg.head_dim]),
            du: z(&[rows, rank]),
            dxd: lora.is_some_and(|p| p.dropout > 0.0).then(|| z(&[rows, max_in])),
        }
    }
}

/// Records the backward pass from `d_hidden` (R, C), the gradient of the loss with respect to
/// the final-normed hidden states, accumulating into every LoRA slot's `grad_a` / `grad_b`.
/// `acts` and `cache` are those of the training forward pass (`Activations::saving` with
/// [`crate::model::Saved::AllLayers`] and a cache of capacity T holding each layer's keys and values, or
/// [`crate::model::Saved::LayerInputs`] and a [`KvCache::single_layer`]); `dropout` the forward's.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    rec: &mut Recorder,
    model: &Model,
    lora: &LoraParams,
    acts: &Activations,
    cache: &KvCache,
    d_hidden: &GpuTensor,
    g: &Grads,
    dropout: Option<LoraDropout>,
) -> Result<()> {
    let rows = acts.batch * acts.t;
    let w = &model.weights;
    let Some(lowest) = lora.iter().map(|(layer, _, _)| layer).min() else { return Ok(()) };
    let x_final = acts.x_final.as_ref().ok_or_else(not_training)?;
    rmsnorm::rmsnorm_backward(rec, x_final, &w.output_norm, &acts.rstd_final, d_hidden, &g.dx, false)?;

    // dX through a frozen linear (overwriting or adding into `dx_out`), plus its LoRA gradients.
    let linear = |rec: &mut Recorder, layer: usize, which: Target, b: &BlockActs, x: &GpuTensor, wt: &Weight, dy: &GpuTensor, dx_out: &GpuTensor, accumulate: bool| -> Result<()> {
        qmatmul::qmatmul_backward_input(rec, dy, wt, dx_out, accumulate)?;
        if let (Some(slot), Some(u)) = (lora.slot(layer, which), &b.lora_u[which.index()]) {
            let dims = lora.dims(slot, rows);
            let (a, bm, ga, gb) = (&slot.a, &slot.b, &slot.grad_a, &slot.grad_b);
            match acts.branch_dropout(dropout, layer, which, slot.d_in)? {
                Some(drop) => {
                    let dxd = g.dxd.as_ref().ok_or_else(|| crate::Error::invalid("LoRA dropout", "the gradient buffers have no dropout scratch"))?;
                    let dxd = dxd.view(&[rows, slot.d_in])?;
                    lora::lora_backward_dropout(rec, dims, &drop, &dxd, x, a, bm, u, dy, &g.du, ga, gb, dx_out)?
                }
                None => lora::lora_backward(rec, dims, x, a, bm, u, dy, &g.du, ga, gb, dx_out)?,
            }
        }
        Ok(())
    };
    let top = w.layers.len() - 1;
    for layer in (lowest..w.layers.len()).rev() {
        let lw = &w.layers[layer];
        let b = acts.block(layer);
        if let Some(input) = acts.layer_inputs.get(layer)
            && layer != top
        {
            rec.copy(&input.buffer, 0, &acts.x.buffer, 0, input.buffer.size());
            model.forward_block(rec, layer, acts, cache, 0, Some(lora), dropout)?;
        }
        let (ck, cv) = cache.layer(layer);
        let (x_in, x_mid) = (b.x_in.as_ref().ok_or_else(not_training)?, b.x_mid.as_ref().ok_or_else(not_training)?);
        // MLP: x_out = x_mid + down(silu(gate(xn2)) ⊙ up(xn2)).
        linear(rec, layer, Target::Down, b, &b.h, &lw.w_down, &g.dx, &g.dh, false)?;
        swiglu::swiglu_backward(rec, &b.gate, &b.up, &g.dh, &g.dgate, &g.dup)?;
        linear(rec, layer, Target::Gate, b, &b.xn2, &lw.w_gate, &g.dgate, &g.dxn, false)?;
        linear(rec, layer, Target::Up, b, &b.xn2, &lw.w_up, &g.dup, &g.dxn, true)?;
        rmsnorm::rmsnorm_backward(rec, x_mid, &lw.ffn_norm, &b.rstd2, &g.dxn, &g.dx, true)?;
        // Attention: x_mid = x_in + o(attention(rope(q(xn1)), rope(k(xn1)), v(xn1))).
        linear(rec, layer, Target::O, b, &b.att, &lw.wo, &g.dx, &g.datt, false)?;
        attention_backward::attention_backward(
            rec, &b.q, ck, cv, &b.att, &b.lse, &g.datt, 0, &g.dq, &g.dk, &g.dv,
        )?;
        rope::rope_backward(rec, &g.dq, &model.inv_freq, 0)?;
        rope::rope_backward(rec, &g.dk, &model.inv_freq, 0)?;
        linear(rec, layer, Target::Q, b, &b.xn1, &lw.wq, &g.dq, &g.dxn, false)?;
        linear(rec, layer, Target::K, b, &b.xn1, &lw.wk, &g.dk, &g.dxn, true)?;
        linear(rec, layer, Target::V, b, &b.xn1, &lw.wv, &g.dv, &g.dxn, true)?;
        rmsnorm::rmsnorm_backward(rec, x_in, &lw.attn_norm, &b.rstd1, &g.dxn, &g.dx, true)?;
    }
    Ok(())
}

fn not_training() -> crate::Error {
    crate::Error::invalid("activations", "backward needs the activations of a training forward pass")
}
