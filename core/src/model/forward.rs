//! The forward pass of a Llama-family model, recorded into one [`Recorder`], with an optional
//! LoRA adapter on any of the seven linear layers of each block:
//!
//! ```text
//! x = embed(ids)                                   (R, C), R = B·T
//! per layer:  xn1 = rmsnorm(x) · attn_norm
//!             q, k, v = xn1·Wᵀ(+b) (+ s·(xn1·Aᵀ)·Bᵀ)        (B, T, H, D), (B, T, KVH, D)
//!             rope(q), rope(k); k, v → cache at pos0
//!             att = attention(q, cache);  x += att·Woᵀ (+LoRA)
//!             xn2 = rmsnorm(x) · ffn_norm
//!             gate, up = xn2·Wᵀ (+LoRA);  h = silu(gate) ⊙ up;  x += h·Wdownᵀ (+LoRA)
//! hidden = rmsnorm(x) · output_norm                (R, C)
//! ```
//! Inference shares one set of block buffers across layers; training keeps one per layer —
//! they are exactly what the backward pass needs (llm.c style: forward saves, backward reads).
//! Logits are projected only for the rows the caller asks for ([`Model::logits`]).

use super::adapter::LoraParams;
use super::config::ModelConfig;
use super::kv_cache::KvCache;
use crate::lora::Target;
use super::Model;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::{add, attention, embedding, lora, qmatmul, rmsnorm, rope, swiglu};
use crate::weights::Weight;

/// What one block writes during the forward pass.
pub struct BlockActs {
    /// Residual stream entering the block (training only).
    pub x_in: Option<GpuTensor>, // (R, C)
    pub xn1: GpuTensor,          // (R, C)
    pub rstd1: GpuTensor,        // (R)
    pub q: GpuTensor,            // (B, T, H, D), after RoPE
    pub k: GpuTensor,            // (B, T, KVH, D), after RoPE (copied into the cache)
    pub v: GpuTensor,            // (B, T, KVH, D)
    pub att: GpuTensor,          // (B, T, H, D)
    pub lse: GpuTensor,          // (B, H, T)
    /// Residual stream after attention (training only).
    pub x_mid: Option<GpuTensor>, // (R, C)
    pub xn2: GpuTensor,           // (R, C)
    pub rstd2: GpuTensor,         // (R)
    pub gate: GpuTensor,          // (R, F)
    pub up: GpuTensor,            // (R, F)
    pub h: GpuTensor,             // (R, F)
    /// `x·Aᵀ` of each adapted linear, by [`Target::index`].
    pub lora_u: [Option<GpuTensor>; 7], // (R, r)
}

/// Every buffer of one forward pass over `batch` sequences of `t` tokens.
pub struct Activations {
    pub batch: usize,
    pub t: usize,
    /// The residual stream.
    pub x: GpuTensor, // (R, C)
    /// Output of the attention and MLP projections before the residual add.
    pub proj: GpuTensor, // (R, C)
    /// One per layer when training, one shared otherwise.
    pub blocks: Vec<BlockActs>,
    /// Residual stream entering the final norm (training only).
    pub x_final: Option<GpuTensor>, // (R, C)
    pub rstd_final: GpuTensor, // (R)
    /// Final-normed hidden states.
    pub hidden: GpuTensor, // (R, C)
}

impl Activations {
    /// Buffers for `batch × t` tokens; `training` keeps one block set per layer and the residuals.
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, batch: usize, t: usize, lora: Option<&LoraParams>, training: bool) -> Self {
        let rows = batch * t;
        let (c, f, d) = (cfg.dim, cfg.ffn_dim, cfg.head_dim);
        let z = |shape: &[usize]| GpuTensor::zeros(gpu, shape);
        let kept = |shape: &[usize]| training.then(|| z(shape));
        let block = |layer: usize| BlockActs {
            x_in: kept(&[rows, c]),
            xn1: z(&[rows, c]),
            rstd1: z(&[rows]),
            q: z(&[batch, t, cfg.n_heads, d]),
            k: z(&[batch, t, cfg.n_kv_heads, d]),
            v: z(&[batch, t, cfg.n_kv_heads, d]),
            att: z(&[batch, t, cfg.n_heads, d]),
            lse: z(&[batch, cfg.n_heads, t]),
            x_mid: kept(&[rows, c]),
            xn2: z(&[rows, c]),
            rstd2: z(&[rows]),
            gate: z(&[rows, f]),
            up: z(&[rows, f]),
            h: z(&[rows, f]),
            lora_u: Target::ALL.map(|l| {
                lora.and_then(|p| {
                    // Inference shares one block set: give it every linear any layer adapts.
                    let adapted = if training { p.slot(layer, l).is_some() } else { p.iter().any(|(_, pl, _)| pl == l) };
                    adapted.then(|| z(&[rows, p.rank]))
                })
            }),
        };
        let n_blocks = if training { cfg.n_layers } else { 1 };
        Activations {
            batch,
            t,
            x: z(&[rows, c]),
            proj: z(&[rows, c]),
            blocks: (0..n_blocks).map(block).collect(),
            x_final: kept(&[rows, c]),
            rstd_final: z(&[rows]),
            hidden: z(&[rows, c]),
        }
    }
}

impl Model {
    /// Records the forward pass of `ids` at positions `cache.len ..`, appending to the cache,
    /// with the model's adapter if it has one. Returns the final-normed hidden states `(T, C)`.
    ///
    /// # Shapes
    /// `ids`: (T) with T ≥ 1 and `cache.len + T <= cache.capacity`.
    pub fn forward(&self, rec: &mut Recorder, ids: &[u32], cache: &mut KvCache) -> Result<GpuTensor> {
        let acts = Activations::new(rec.gpu, &self.config, 1, ids.len(), self.adapter.as_ref(), false);
        self.forward_into(rec, ids, cache, self.adapter.as_ref(), &acts)?;
        Ok(acts.hidden)
    }

    /// Records the forward pass of `acts.batch` sequences of `acts.t` tokens (`ids` row-major
    /// `(B, T)`) into `acts`, with LoRA `lora`, at positions `cache.len ..` of a cache with
    /// `B` rows. Advances `cache.len` by T.
    pub fn forward_into(
        &self,
        rec: &mut Recorder,
        ids: &[u32],
        cache: &mut KvCache,
        lora: Option<&LoraParams>,
        acts: &Activations,
    ) -> Result<()> {
        let cfg = &self.config;
        let (t, rows) = (acts.t, acts.batch * acts.t);
        let pos0 = cache.len;
        if t == 0 || ids.len() != rows {
            return Err(Error::invalid("tokens", format!("{} token ids for a batch of {} × {t}", ids.len(), acts.batch)));
        }
        if pos0 + t > cache.capacity {
            return Err(Error::invalid(
                "sequence length",
                format!("{} tokens exceed the context of {} positions", pos0 + t, cache.capacity),
            ));
        }
        self.check_ids(ids)?;
        let w = &self.weights;
        let ids_buf = embedding::GpuIds::from_slice(rec.gpu, ids);
        embedding::embedding_forward(rec, &ids_buf, &w.token_embd, &acts.x)?;
        // A frozen linear plus its LoRA path when adapted: y = x·Wᵀ (+b) + s·(x·Aᵀ)·Bᵀ.
        let linear = |rec: &mut Recorder, layer: usize, which: Target, b: &BlockActs, x: &GpuTensor, wt: &Weight, bias: Option<&GpuTensor>, y: &GpuTensor| -> Result<()> {
            qmatmul::qmatmul_forward(rec, x, wt, bias, y)?;
            if let (Some(p), Some(u)) = (lora, &b.lora_u[which.index()])
                && let Some(slot) = p.slot(layer, which)
            {
                lora::lora_forward(rec, p.dims(slot, rows), x, &slot.a, &slot.b, u, y)?;
            }
            Ok(())
        };
        for (layer, lw) in w.layers.iter().enumerate() {
            let b = &acts.blocks[layer.min(acts.blocks.len() - 1)];
            if let Some(x_in) = &b.x_in {
                rec.copy(&acts.x.buffer, 0, &x_in.buffer, 0, acts.x.buffer.size());
            }
            rmsnorm::rmsnorm_forward(rec, &acts.x, &lw.attn_norm, cfg.norm_eps, &b.xn1, &b.rstd1)?;
            linear(rec, layer, Target::Q, b, &b.xn1, &lw.wq, lw.bq.as_ref(), &b.q)?;
            linear(rec, layer, Target::K, b, &b.xn1, &lw.wk, lw.bk.as_ref(), &b.k)?;
            linear(rec, layer, Target::V, b, &b.xn1, &lw.wv, lw.bv.as_ref(), &b.v)?;
            rope::rope_forward(rec, &b.q, &self.inv_freq, pos0)?;
            rope::rope_forward(rec, &b.k, &self.inv_freq, pos0)?;
            attention::kv_write(rec, &b.k, &cache.k[layer], pos0)?;
            attention::kv_write(rec, &b.v, &cache.v[layer], pos0)?;
            attention::attention_forward(rec, &b.q, &cache.k[layer], &cache.v[layer], pos0, &b.att, &b.lse)?;
            linear(rec, layer, Target::O, b, &b.att, &lw.wo, None, &acts.proj)?;
            add::add_forward(rec, &acts.x, &acts.proj);
            if let Some(x_mid) = &b.x_mid {
                rec.copy(&acts.x.buffer, 0, &x_mid.buffer, 0, acts.x.buffer.size());
            }
            rmsnorm::rmsnorm_forward(rec, &acts.x, &lw.ffn_norm, cfg.norm_eps, &b.xn2, &b.rstd2)?;
            linear(rec, layer, Target::Gate, b, &b.xn2, &lw.w_gate, None, &b.gate)?;
            linear(rec, layer, Target::Up, b, &b.xn2, &lw.w_up, None, &b.up)?;
            swiglu::swiglu_forward(rec, &b.gate, &b.up, &b.h)?;
            linear(rec, layer, Target::Down, b, &b.h, &lw.w_down, None, &acts.proj)?;
            add::add_forward(rec, &acts.x, &acts.proj);
        }
        if let Some(x_final) = &acts.x_final {
            rec.copy(&acts.x.buffer, 0, &x_final.buffer, 0, acts.x.buffer.size());
        }
        rmsnorm::rmsnorm_forward(rec, &acts.x, &w.output_norm, cfg.norm_eps, &acts.hidden, &acts.rstd_final)?;
        cache.len += t;
        Ok(())
    }

    /// Records the logits `(n, V)` of rows `start .. start + n` of the hidden states `hidden` (R, C).
    pub fn logits(&self, rec: &mut Recorder, hidden: &GpuTensor, start: usize, n: usize) -> Result<GpuTensor> {
        let c = self.config.dim;
        let gpu = rec.gpu;
        let rows = GpuTensor::zeros(gpu, &[n, c]);
        rec.copy(&hidden.buffer, (start * c * 4) as u64, &rows.buffer, 0, (n * c * 4) as u64);
        let logits = GpuTensor::zeros(gpu, &[n, self.config.vocab_size]);
        qmatmul::qmatmul_forward(rec, &rows, self.weights.lm_head(), None, &logits)?;
        Ok(logits)
    }

    /// Refuses token ids outside the vocabulary with a clear error.
    pub fn check_ids(&self, ids: &[u32]) -> Result<()> {
        embedding::check_ids(ids, self.config.vocab_size)
    }
}
