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
//! they are exactly what the backward pass needs (llm.c style: forward saves, backward reads) —
//! or, with activation recomputation ([`Saved::LayerInputs`]), only each layer's input, from
//! which the backward pass re-runs [`Model::forward_block`]. In training, LoRA dropout (if any)
//! applies to each adapted branch's input ([`Model::forward_train`]).
//! Logits are projected only for the rows the caller asks for ([`Model::logits`]).

use super::adapter::LoraParams;
use super::config::ModelConfig;
use super::kv_cache::KvCache;
use crate::lora::Target;
use super::Model;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::lora::{BranchDropout, LoraDropout};
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

/// Which activations a forward pass keeps for the backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Inference: one block set shared by all layers, no residuals.
    Nothing,
    /// Training: one block set per layer (everything backward reads).
    AllLayers,
    /// Training with activation recomputation: only the residual stream entering each layer,
    /// plus one shared block set; backward re-runs each block's forward from its input.
    LayerInputs,
}

/// Every buffer of one forward pass over `batch` sequences of `t` tokens.
pub struct Activations {
    pub batch: usize,
    pub t: usize,
    /// The residual stream.
    pub x: GpuTensor, // (R, C)
    /// Output of the attention and MLP projections before the residual add.
    pub proj: GpuTensor, // (R, C)
    /// One per layer with [`Saved::AllLayers`], one shared otherwise ([`Activations::block`]).
    pub blocks: Vec<BlockActs>,
    /// [`Saved::LayerInputs`]: the residual stream entering each layer.
    pub layer_inputs: Vec<GpuTensor>, // per layer (R, C)
    /// Residual stream entering the final norm (training only).
    pub x_final: Option<GpuTensor>, // (R, C)
    pub rstd_final: GpuTensor, // (R)
    /// Final-normed hidden states.
    pub hidden: GpuTensor, // (R, C)
    /// Scratch for `dropout(x)` of a LoRA branch (training with LoRA dropout only).
    pub lora_xd: Option<GpuTensor>, // (R, largest adapted in-features)
}

impl Activations {
    /// Buffers for `batch × t` tokens; `training` keeps one block set per layer and the residuals.
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, batch: usize, t: usize, lora: Option<&LoraParams>, training: bool) -> Self {
        Self::saving(gpu, cfg, batch, t, lora, if training { Saved::AllLayers } else { Saved::Nothing })
    }

    /// Buffers for `batch × t` tokens that keep what `saved` says.
    pub fn saving(gpu: &Gpu, cfg: &ModelConfig, batch: usize, t: usize, lora: Option<&LoraParams>, saved: Saved) -> Self {
        let rows = batch * t;
        let (c, f, d) = (cfg.dim, cfg.ffn_dim, cfg.head_dim);
        let training = saved != Saved::Nothing;
        let per_layer = saved == Saved::AllLayers;
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
                    // A shared block set gets every linear any layer adapts.
                    let adapted = if per_layer { p.slot(layer, l).is_some() } else { p.iter().any(|(_, pl, _)| pl == l) };
                    adapted.then(|| z(&[rows, p.rank]))
                })
            }),
        };
        let n_blocks = if per_layer { cfg.n_layers } else { 1 };
        let n_inputs = if saved == Saved::LayerInputs { cfg.n_layers } else { 0 };
        let max_in = lora.map_or(0, |p| p.iter().map(|(_, _, s)| s.d_in).max().unwrap_or(0));
        let dropout = training && lora.is_some_and(|p| p.dropout > 0.0);
        Activations {
            batch,
            t,
            x: z(&[rows, c]),
            proj: z(&[rows, c]),
            blocks: (0..n_blocks).map(block).collect(),
            layer_inputs: (0..n_inputs).map(|_| z(&[rows, c])).collect(),
            x_final: kept(&[rows, c]),
            rstd_final: z(&[rows]),
            hidden: z(&[rows, c]),
            lora_xd: dropout.then(|| z(&[rows, max_in])),
        }
    }

    /// The block buffers `layer` writes (the shared set unless one is kept per layer).
    pub fn block(&self, layer: usize) -> &BlockActs {
        &self.blocks[layer.min(self.blocks.len() - 1)]
    }

    /// The LoRA dropout of `target` in `layer` for this pass, if `dropout` is on (p > 0).
    pub(crate) fn branch_dropout(
        &self,
        dropout: Option<LoraDropout>,
        layer: usize,
        target: Target,
        d_in: usize,
    ) -> Result<Option<BranchDropout>> {
        let Some(d) = dropout.filter(|d| d.p > 0.0) else { return Ok(None) };
        let xd = self.lora_xd.as_ref().ok_or_else(|| {
            Error::invalid("LoRA dropout", "these activations have no dropout scratch (made for an adapter with dropout 0)")
        })?;
        Ok(Some(BranchDropout { p: d.p, key: d.key(layer, target), xd: xd.view(&[self.batch * self.t, d_in])? }))
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
    /// `(B, T)`) into `acts`, with LoRA `lora` (no dropout), at positions `cache.len ..` of a
    /// cache with `B` rows. Advances `cache.len` by T.
    pub fn forward_into(
        &self,
        rec: &mut Recorder,
        ids: &[u32],
        cache: &mut KvCache,
        lora: Option<&LoraParams>,
        acts: &Activations,
    ) -> Result<()> {
        self.forward_train(rec, ids, cache, lora, acts, None)
    }

    /// [`Model::forward_into`] with LoRA dropout on every adapted branch (training only).
    ///
    /// # Shapes
    /// `ids`: (B, T) row-major, B = `acts.batch`, T = `acts.t`.
    pub fn forward_train(
        &self,
        rec: &mut Recorder,
        ids: &[u32],
        cache: &mut KvCache,
        lora: Option<&LoraParams>,
        acts: &Activations,
        dropout: Option<LoraDropout>,
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
        for layer in 0..w.layers.len() {
            if let Some(saved) = acts.layer_inputs.get(layer) {
                rec.copy(&acts.x.buffer, 0, &saved.buffer, 0, acts.x.buffer.size());
            }
            self.forward_block(rec, layer, acts, cache, pos0, lora, dropout)?;
        }
        if let Some(x_final) = &acts.x_final {
            rec.copy(&acts.x.buffer, 0, &x_final.buffer, 0, acts.x.buffer.size());
        }
        rmsnorm::rmsnorm_forward(rec, &acts.x, &w.output_norm, cfg.norm_eps, &acts.hidden, &acts.rstd_final)?;
        cache.len += t;
        Ok(())
    }

    /// Records block `layer` on the residual stream `acts.x` (updated in place) into
    /// `acts.block(layer)`, writing its keys and values at `pos0` of the cache. The training
    /// backward pass calls it again to recompute a block's activations from its saved input.
    ///
    /// # Shapes
    /// `acts.x`: (R, C), R = B·T; the cache layer: (B, S, KVH, D) with S ≥ pos0 + T.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward_block(
        &self,
        rec: &mut Recorder,
        layer: usize,
        acts: &Activations,
        cache: &KvCache,
        pos0: usize,
        lora: Option<&LoraParams>,
        dropout: Option<LoraDropout>,
    ) -> Result<()> {
        let cfg = &self.config;
        let rows = acts.batch * acts.t;
        let lw = &self.weights.layers[layer];
        let b = acts.block(layer);
        let (ck, cv) = cache.layer(layer);
        // A frozen linear plus its LoRA path when adapted: y = x·Wᵀ (+b) + s·(dropout(x)·Aᵀ)·Bᵀ.
        let linear = |rec: &mut Recorder, which: Target, x: &GpuTensor, wt: &Weight, bias: Option<&GpuTensor>, y: &GpuTensor| -> Result<()> {
            qmatmul::qmatmul_forward(rec, x, wt, bias, y)?;
            if let (Some(p), Some(u)) = (lora, &b.lora_u[which.index()])
                && let Some(slot) = p.slot(layer, which)
            {
                let dims = p.dims(slot, rows);
                match acts.branch_dropout(dropout, layer, which, slot.d_in)? {
                    Some(drop) => lora::lora_forward_dropout(rec, dims, &drop, x, &slot.a, &slot.b, u, y)?,
                    None => lora::lora_forward(rec, dims, x, &slot.a, &slot.b, u, y)?,
                }
            }
            Ok(())
        };
        if let Some(x_in) = &b.x_in {
            rec.copy(&acts.x.buffer, 0, &x_in.buffer, 0, acts.x.buffer.size());
        }
        rmsnorm::rmsnorm_forward(rec, &acts.x, &lw.attn_norm, cfg.norm_eps, &b.xn1, &b.rstd1)?;
        linear(rec, Target::Q, &b.xn1, &lw.wq, lw.bq.as_ref(), &b.q)?;
        linear(rec, Target::K, &b.xn1, &lw.wk, lw.bk.as_ref(), &b.k)?;
        linear(rec, Target::V, &b.xn1, &lw.wv, lw.bv.as_ref(), &b.v)?;
        rope::rope_forward(rec, &b.q, &self.inv_freq, pos0)?;
        rope::rope_forward(rec, &b.k, &self.inv_freq, pos0)?;
        attention::kv_write(rec, &b.k, ck, pos0)?;
        attention::kv_write(rec, &b.v, cv, pos0)?;
        attention::attention_forward(rec, &b.q, ck, cv, pos0, &b.att, &b.lse)?;
        linear(rec, Target::O, &b.att, &lw.wo, None, &acts.proj)?;
        add::add_forward(rec, &acts.x, &acts.proj);
        if let Some(x_mid) = &b.x_mid {
            rec.copy(&acts.x.buffer, 0, &x_mid.buffer, 0, acts.x.buffer.size());
        }
        rmsnorm::rmsnorm_forward(rec, &acts.x, &lw.ffn_norm, cfg.norm_eps, &b.xn2, &b.rstd2)?;
        linear(rec, Target::Gate, &b.xn2, &lw.w_gate, None, &b.gate)?;
        linear(rec, Target::Up, &b.xn2, &lw.w_up, None, &b.up)?;
        swiglu::swiglu_forward(rec, &b.gate, &b.up, &b.h)?;
        linear(rec, Target::Down, &b.h, &lw.w_down, None, &acts.proj)?;
        add::add_forward(rec, &acts.x, &acts.proj);
        Ok(())
    }

    /// Records the logits `(n, V)` of rows `start .. start + n` of the hidden states `hidden` (R, C).
    pub fn logits(&self, rec: &mut Recorder, hidden: &GpuTensor, start: usize, n: usize) -> Result<GpuTensor> {
        let gpu = rec.gpu;
        let rows = GpuTensor::zeros(gpu, &[n, self.config.dim]);
        let logits = GpuTensor::zeros(gpu, &[n, self.config.vocab_size]);
        self.logits_into(rec, hidden, start, &rows, &logits)?;
        Ok(logits)
    }

    /// [`Model::logits`] into caller-owned buffers (training reuses them every step): `rows`
    /// `(n, C)` receives the hidden rows `start..start + n`, `logits` `(n, V)` their logits, with
    /// `n = rows.shape[0]`.
    pub fn logits_into(&self, rec: &mut Recorder, hidden: &GpuTensor, start: usize, rows: &GpuTensor, logits: &GpuTensor) -> Result<()> {
        let (n, c) = (rows.shape[0], self.config.dim);
        rec.copy(&hidden.buffer, (start * c * 4) as u64, &rows.buffer, 0, (n * c * 4) as u64);
        qmatmul::qmatmul_forward(rec, rows, self.weights.lm_head(), None, logits)
    }

    /// Refuses token ids outside the vocabulary with a clear error.
    pub fn check_ids(&self, ids: &[u32]) -> Result<()> {
        embedding::check_ids(ids, self.config.vocab_size)
    }
}
