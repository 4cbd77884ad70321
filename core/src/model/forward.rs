//! The forward pass of a Llama-family model, recorded into one [`Recorder`]:
//!
//! ```text
//! x = embed(ids)                                   (T, C)
//! per layer:  xn = rmsnorm(x) · attn_norm
//!             q, k, v = xn·Wqᵀ(+b), xn·Wkᵀ(+b), xn·Wvᵀ(+b)     (T, H·D), (T, KVH·D)
//!             rope(q), rope(k); k, v → cache at pos0
//!             x += attention(q, cache) · Woᵀ
//!             xn = rmsnorm(x) · ffn_norm
//!             x += (silu(xn·Wgateᵀ) ⊙ xn·Wupᵀ) · Wdownᵀ
//! xn = rmsnorm(x) · output_norm                    (T, C)
//! ```
//! Logits are projected only for the rows the caller asks for ([`Model::logits`]).

use super::kv_cache::KvCache;
use super::Model;
use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::{add, attention, embedding, qmatmul, rmsnorm, rope, swiglu};

/// Per-forward scratch buffers for T rows.
struct Scratch {
    x: GpuTensor,    // (T, C) residual stream
    xn: GpuTensor,   // (T, C)
    rstd: GpuTensor, // (T)
    q: GpuTensor,    // (T, H*D)
    k: GpuTensor,    // (T, KVH*D)
    v: GpuTensor,    // (T, KVH*D)
    att: GpuTensor,  // (T, H*D)
    lse: GpuTensor,  // (H, T)
    proj: GpuTensor, // (T, C)
    gate: GpuTensor, // (T, F)
    up: GpuTensor,   // (T, F)
    h: GpuTensor,    // (T, F)
}

impl Model {
    /// Records the forward pass of `ids` at positions `cache.len ..`, appending to the cache.
    /// Returns the final-normed hidden states `(T, C)`.
    ///
    /// # Shapes
    /// `ids`: (T) with T ≥ 1 and `cache.len + T <= cache.capacity`.
    pub fn forward(&self, rec: &mut Recorder, ids: &[u32], cache: &mut KvCache) -> Result<GpuTensor> {
        let cfg = &self.config;
        let gpu = rec.gpu;
        let t = ids.len();
        let pos0 = cache.len;
        if t == 0 {
            return Err(Error::invalid("tokens", "nothing to run: the token list is empty"));
        }
        if pos0 + t > cache.capacity {
            return Err(Error::invalid(
                "sequence length",
                format!("{} tokens exceed the context of {} positions", pos0 + t, cache.capacity),
            ));
        }
        self.check_ids(ids)?;
        let (c, f) = (cfg.dim, cfg.ffn_dim);
        let (h, kvh, d) = (cfg.n_heads, cfg.n_kv_heads, cfg.head_dim);
        let s = Scratch {
            x: GpuTensor::zeros(gpu, &[t, c]),
            xn: GpuTensor::zeros(gpu, &[t, c]),
            rstd: GpuTensor::zeros(gpu, &[t]),
            q: GpuTensor::zeros(gpu, &[1, t, h, d]),
            k: GpuTensor::zeros(gpu, &[1, t, kvh, d]),
            v: GpuTensor::zeros(gpu, &[1, t, kvh, d]),
            att: GpuTensor::zeros(gpu, &[1, t, h, d]),
            lse: GpuTensor::zeros(gpu, &[1, h, t]),
            proj: GpuTensor::zeros(gpu, &[t, c]),
            gate: GpuTensor::zeros(gpu, &[t, f]),
            up: GpuTensor::zeros(gpu, &[t, f]),
            h: GpuTensor::zeros(gpu, &[t, f]),
        };
        let ids_buf = embedding::GpuIds::from_slice(gpu, ids);
        let w = &self.weights;
        embedding::embedding_forward(rec, &ids_buf, &w.token_embd, &s.x)?;
        for (layer, lw) in w.layers.iter().enumerate() {
            rmsnorm::rmsnorm_forward(rec, &s.x, &lw.attn_norm, cfg.norm_eps, &s.xn, &s.rstd)?;
            qmatmul::qmatmul_forward(rec, &s.xn, &lw.wq, lw.bq.as_ref(), &s.q)?;
            qmatmul::qmatmul_forward(rec, &s.xn, &lw.wk, lw.bk.as_ref(), &s.k)?;
            qmatmul::qmatmul_forward(rec, &s.xn, &lw.wv, lw.bv.as_ref(), &s.v)?;
            rope::rope_forward(rec, &s.q, &self.inv_freq, pos0)?;
            rope::rope_forward(rec, &s.k, &self.inv_freq, pos0)?;
            attention::kv_write(rec, &s.k, &cache.k[layer], pos0)?;
            attention::kv_write(rec, &s.v, &cache.v[layer], pos0)?;
            attention::attention_forward(rec, &s.q, &cache.k[layer], &cache.v[layer], pos0, &s.att, &s.lse)?;
            qmatmul::qmatmul_forward(rec, &s.att, &lw.wo, None, &s.proj)?;
            add::add_forward(rec, &s.x, &s.proj);
            rmsnorm::rmsnorm_forward(rec, &s.x, &lw.ffn_norm, cfg.norm_eps, &s.xn, &s.rstd)?;
            qmatmul::qmatmul_forward(rec, &s.xn, &lw.w_gate, None, &s.gate)?;
            qmatmul::qmatmul_forward(rec, &s.xn, &lw.w_up, None, &s.up)?;
            swiglu::swiglu_forward(rec, &s.gate, &s.up, &s.h)?;
            qmatmul::qmatmul_forward(rec, &s.h, &lw.w_down, None, &s.proj)?;
            add::add_forward(rec, &s.x, &s.proj);
        }
        rmsnorm::rmsnorm_forward(rec, &s.x, &w.output_norm, cfg.norm_eps, &s.xn, &s.rstd)?;
        cache.len += t;
        Ok(s.xn)
    }

    /// Records the logits `(n, V)` of rows `start .. start + n` of the hidden states `hidden` (T, C).
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
