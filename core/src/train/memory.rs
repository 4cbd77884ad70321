//! GPU memory a training run needs, computed from the shapes the step allocates — for
//! `--dry-run`, the web page's estimate, and a clear refusal before any buffer is too large for
//! the adapter's storage-binding limit.

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use super::step::LossBuffers;
use crate::lora::{LoraBuffers, LoraParams};
use crate::model::buffers::{BufferSpec, Shapes};
use crate::model::{Activations, Grads, KvCache, Model, Saved};

/// Bytes of each part of a training run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MemoryEstimate {
    /// The frozen base in its stored format.
    pub weights: u64,
    /// LoRA A, B, their gradients and the AdamW moments (4 f32 copies).
    pub adapter: u64,
    /// Saved activations (of every layer, or with recomputation each layer's input and one
    /// layer's activations), the KV cache and the gradient buffers.
    pub activations: u64,
    /// One chunk of logits (row chunks keep it within one storage binding).
    pub logits: u64,
    pub total: u64,
    /// The largest single buffer (must fit one storage binding).
    pub largest_buffer: u64,
}

impl std::fmt::Display for MemoryEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "GPU memory: {:.0} MiB = weights {:.0} + adapter and optimizer {:.1} + activations {:.1} + logits {:.0} (largest buffer {:.1} MiB)",
            mib(self.total),
            mib(self.weights),
            mib(self.adapter),
            mib(self.activations),
            mib(self.logits),
            mib(self.largest_buffer)
        )
    }
}

/// The memory a training step of `batch × t` tokens takes with `lora`, keeping what `saved`
/// says ([`super::TrainConfig::saved`]: every layer's activations in f32 or 16 bits, or with
/// recomputation each layer's input): the sum of the buffer tables that
/// [`super::step::StepBuffers`] and [`LoraBuffers`] allocate (one source for both).
pub fn training_memory(gpu: &Gpu, model: &Model, lora: &LoraParams, batch: usize, t: usize, saved: Saved) -> MemoryEstimate {
    let cfg = &model.config;
    let rows = batch * t;
    let s = Shapes::new(cfg, batch, t);
    let once = |specs: Vec<BufferSpec>| specs.into_iter().map(|b| (1, b)).collect::<Vec<_>>();
    let mut buffers = Activations::specs(cfg, batch, t, saved);
    buffers.extend(KvCache::specs(cfg, batch, t, saved.cache_layers(cfg)));
    buffers.extend(once(Grads::specs(cfg, batch, t)));
    buffers.extend(once(LossBuffers::specs(&s)));
    buffers.extend(LoraBuffers::specs(lora, rows, saved.per_layer(), true));
    let activations = buffers.iter().map(|(n, b)| *n as u64 * b.bytes()).sum();
    let largest_buffer = buffers.iter().map(|(_, b)| b.bytes()).max().unwrap_or(0);
    // The loss head's chunk: its logits and its hidden rows (reused as their gradient).
    let chunk_rows = super::step::loss_head_chunk(gpu, cfg.vocab_size, rows.max(1)) as u64;
    let logits = chunk_rows * (cfg.vocab_size + cfg.dim) as u64 * 4;
    // Parameters, gradients and two AdamW moments, f32; DoRA's per-linear norms and scratch.
    let dora: usize = lora.iter().filter(|(_, _, s)| s.dora.is_some()).map(|(_, _, s)| crate::lora::dora::DoraSlot::floats(s.d_out, lora.rank)).sum();
    let adapter = 16 * lora.parameter_count() as u64 + 4 * dora as u64;
    let weights = model.weights.gpu_bytes();
    MemoryEstimate { weights, adapter, activations, logits, total: weights + adapter + activations + logits, largest_buffer }
}

/// The estimate of full fine-tuning from a run's `lora` estimate on the f32 `model`
/// ([`crate::full::to_f32`]): the weights (4 bytes/parameter, counted in `weights`), their
/// gradients and two AdamW moments (12 bytes/parameter, in `adapter`: 16 in all) replace the
/// LoRA terms; the largest tensor (the embedding) must fit one storage binding too.
pub fn full_memory(lora: &MemoryEstimate, model: &Model) -> MemoryEstimate {
    let cfg = &model.config;
    let params = cfg.parameter_count() as u64;
    let adapter = 12 * params;
    let weights = model.weights.gpu_bytes();
    let activations = lora.activations;
    let largest_buffer = lora.largest_buffer.max(4 * (cfg.vocab_size * cfg.dim) as u64);
    let total = weights + adapter + activations + lora.logits;
    MemoryEstimate { weights, adapter, activations, logits: lora.logits, total, largest_buffer }
}

/// Refuses, with what to change, a batch whose buffers do not fit one storage binding.
pub fn check_fits(gpu: &Gpu, estimate: &MemoryEstimate) -> Result<()> {
    if estimate.largest_buffer > gpu.max_binding() {
        return Err(Error::TooLarge {
            what: format!(
                "a training buffer of {:.0} MiB (batch × sequence length × ffn): lower --batch or --max-seq-len",
                estimate.largest_buffer as f64 / (1024.0 * 1024.0)
            ),
            limit: format!("{} MiB per storage binding", gpu.max_binding() / (1024 * 1024)),
        });
    }
    Ok(())
}

/// Refuses, with what to change, a run whose whole estimate is over `budget` bytes — the memory
/// a caller can give it when the adapter reports no size (WebGPU does not): `budget_source` says
/// where the budget came from (the web page: half of `navigator.deviceMemory`).
pub fn check_budget(estimate: &MemoryEstimate, budget: u64, budget_source: &str) -> Result<()> {
    if estimate.total > budget {
        let gib = |b: u64| b as f64 / (1024.0 * 1024.0 * 1024.0);
        return Err(Error::TooLarge {
            what: format!(
                "the run needs {:.1} GiB of GPU memory in all: lower --batch or --max-seq-len (or turn on --recompute)",
                gib(estimate.total)
            ),
            limit: format!("{:.1} GiB, {budget_source}", gib(budget)),
        });
    }
    Ok(())
}

/// Floating-point operations of one training step per token: the frozen matmuls forward and
/// their input gradients backward (no base weight gradients), the logits and their gradient,
/// attention forward and backward (causal: on average T/2 keys), and the LoRA products.
pub fn training_flops_per_token(model: &Model, lora: &LoraParams, t: usize) -> f64 {
    let cfg = &model.config;
    let (c, f, v) = (cfg.dim as f64, cfg.ffn_dim as f64, cfg.vocab_size as f64);
    let (q, kv) = ((cfg.n_heads * cfg.head_dim) as f64, (cfg.n_kv_heads * cfg.head_dim) as f64);
    let linears = c * q * 2.0 + c * kv * 2.0 + 3.0 * c * f;
    let attention = 2.0 * 2.0 * (t as f64 / 2.0) * q; // q·k and p·v per token
    let per_layer = 2.0 * linears * 2.0 + attention * 3.0; // forward + dX; attention fwd + 2× bwd
    let lora_flops: f64 = lora.iter().map(|(_, _, s)| 2.0 * lora.rank as f64 * (s.d_in + s.d_out) as f64 * 3.0).sum();
    per_layer * cfg.n_layers as f64 + 2.0 * c * v * 2.0 + lora_flops
}
