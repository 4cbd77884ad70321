//! One training step on a batch: forward with saved activations, the chunked cross-entropy
//! head, backward into the adapter's gradients — all recorded into one [`Recorder`]. The only
//! readback is the per-row loss (the caller reads it once, after the optimizer update).
//! Evaluation runs the forward pass and the same loss head, plus the token accuracy
//! ([`crate::ops::argmax`]) on the same logits chunks.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::buffers::Shapes;
use crate::model::{Activations, Adapter, Grads, KvCache, Model, Saved};
use crate::ops::argmax::argmax_forward;
use crate::ops::cross_entropy::{count_targets, cross_entropy_backward, cross_entropy_forward};
use crate::ops::embedding::GpuIds;

crate::buffer_table! {
    /// The loss head's per-token buffers.
    pub struct LossBuffers(s) {
        /// Per-token loss of the last step (0 at ignored positions).
        loss: always [s.rows],
        /// Per-token hit of the last evaluation: 1 where the argmax logit is the target.
        hits: always [s.rows],
        lse: always [s.rows],
        /// The loss's gradient with respect to the final hidden states.
        d_hidden: always [s.rows, s.c],
    }
}

/// Buffers of a training step for batches of `batch × t` tokens, allocated once.
pub struct StepBuffers {
    pub batch: usize,
    pub t: usize,
    pub acts: Activations,
    pub cache: KvCache,
    pub grads: Grads,
    pub head: LossBuffers,
    /// The loss head's buffers for one chunk of rows (reused by every chunk and step): the
    /// hidden rows (then their gradient) `(chunk, C)` and their logits `(chunk, V)`.
    head_rows: GpuTensor,
    head_logits: GpuTensor,
}

impl StepBuffers {
    /// The model's buffers (the adapter keeps its own, e.g. [`crate::lora::LoraBuffers`]).
    pub fn new(gpu: &Gpu, model: &Model, batch: usize, t: usize) -> Result<StepBuffers> {
        Self::saving(gpu, model, batch, t, Saved::AllLayers)
    }

    /// [`StepBuffers::new`] for a forward pass that keeps what `saved` says: every layer's
    /// activations (in f32 or 16 bits), or with recomputation only each layer's input and one
    /// layer's activations and KV cache (the backward pass recomputes the rest).
    pub fn saving(gpu: &Gpu, model: &Model, batch: usize, t: usize, saved: Saved) -> Result<StepBuffers> {
        let cfg = &model.config;
        let rows = batch * t;
        let chunk = loss_head_chunk(gpu, cfg.vocab_size, rows);
        let cache = KvCache::with_layers(gpu, cfg, batch, t, saved.cache_layers(cfg))?;
        Ok(StepBuffers {
            batch,
            t,
            acts: Activations::saving(gpu, cfg, batch, t, saved),
            cache,
            grads: Grads::new(gpu, model, batch, t),
            head: LossBuffers::new(gpu, &Shapes::new(cfg, batch, t), true),
            head_rows: GpuTensor::zeros(gpu, &[chunk, cfg.dim]),
            head_logits: GpuTensor::zeros(gpu, &[chunk, cfg.vocab_size]),
        })
    }
}

/// How a training forward keeps the activations its backward reads (`saved_activations`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ActivationStore {
    /// In 16 bits with the GPU kernel family (real GPUs, where memory bounds the batch), in f32
    /// on CPU adapters.
    #[default]
    Auto,
    /// Every saved activation in f32 (the gradients of the reference, exactly).
    F32,
    /// The large ones in 16 bits ([`Saved::AllLayers16`]): f16 matmul operands and keys and
    /// values, bf16 residuals — about half the memory of f32.
    Sixteen,
}

impl ActivationStore {
    /// `auto`, `f32` or `16bit`.
    pub fn parse(value: &str) -> Result<ActivationStore> {
        match value {
            "auto" => Ok(ActivationStore::Auto),
            "f32" => Ok(ActivationStore::F32),
            "16bit" => Ok(ActivationStore::Sixteen),
            _ => Err(Error::invalid("saved_activations", format!("{value:?} is not auto, f32 or 16bit"))),
        }
    }

    /// What a training forward on `gpu` keeps: every layer's activations, in f32 or 16 bits,
    /// or with `recompute` each layer's input only (16 bits and recomputation are two ways to
    /// save memory: asking for both is refused).
    pub fn saved(self, gpu: &Gpu, recompute: bool) -> Result<Saved> {
        match (self, recompute) {
            (ActivationStore::Sixteen, true) => Err(Error::invalid(
                "saved_activations",
                "16bit keeps every layer's activations, --recompute only each layer's input: choose one",
            )),
            (_, true) => Ok(Saved::LayerInputs),
            (ActivationStore::Sixteen, false) => Ok(Saved::AllLayers16),
            (ActivationStore::F32, false) => Ok(Saved::AllLayers),
            (ActivationStore::Auto, false) if gpu.family == crate::gpu::KernelFamily::Gpu => Ok(Saved::AllLayers16),
            (ActivationStore::Auto, false) => Ok(Saved::AllLayers),
        }
    }
}

/// Loss, perplexity and token accuracy over a set of batches.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EvalReport {
    /// Mean cross-entropy over the targets.
    pub loss: f32,
    /// `exp(loss)`.
    pub perplexity: f32,
    /// Fraction of targets whose argmax logit is the target (ties → lowest id).
    pub accuracy: f32,
    pub targets: usize,
}

/// Records forward, loss and backward for `inputs` / `targets` (row-major `(B, T)`; targets
/// `IGNORE` where no loss is taken) through `adapter`, whose gradients are *accumulated* (zero them per optimizer
/// step); with `grad_scale` the loss is averaged over `grad_scale`-weighted targets — pass
/// `1 / n_targets` of the whole optimizer step so micro-batches add up to the mean.
/// Returns the number of targets in this batch.
pub fn record_step(
    rec: &mut Recorder,
    model: &Model,
    adapter: &dyn Adapter,
    buf: &mut StepBuffers,
    inputs: &[u32],
    targets: &[u32],
    grad_scale: f32,
) -> Result<usize> {
    buf.cache.clear();
    model.forward_into(rec, inputs, &mut buf.cache, Some(adapter), &buf.acts)?;
    record_loss_head(rec, model, buf, targets, Some((grad_scale, adapter)))?;
    model.backward(rec, adapter, &buf.acts, &buf.cache, &buf.head.d_hidden, &buf.grads)?;
    model.embedding_backward(rec, adapter, inputs, &buf.grads)?;
    Ok(count_targets(targets, model.config.vocab_size))
}

/// Mean loss, perplexity and token accuracy over `batches` (forward and loss only, no
/// dropout), with `adapter` or the base alone; one readback per batch.
pub async fn evaluate(
    gpu: &Gpu,
    model: &Model,
    adapter: Option<&dyn Adapter>,
    buf: &mut StepBuffers,
    batches: &[crate::data::Batch],
) -> Result<EvalReport> {
    let rows = buf.batch * buf.t;
    let (mut sum, mut hits, mut targets) = (0f64, 0f64, 0);
    // Losses then hits: one readback per batch.
    let out = GpuTensor::zeros(gpu, &[2 * rows]);
    for batch in batches {
        let mut rec = Recorder::new(gpu);
        targets += record_eval(&mut rec, model, adapter, buf, &batch.inputs, &batch.targets)?;
        rec.copy(&buf.head.loss.buffer, 0, &out.buffer, 0, (rows * 4) as u64);
        rec.copy(&buf.head.hits.buffer, 0, &out.buffer, (rows * 4) as u64, (rows * 4) as u64);
        let values = out.read(rec).await?;
        sum += values[..rows].iter().map(|&l| l as f64).sum::<f64>();
        hits += values[rows..].iter().map(|&h| h as f64).sum::<f64>();
    }
    let loss = (sum / targets.max(1) as f64) as f32;
    Ok(EvalReport { loss, perplexity: loss.exp(), accuracy: (hits / targets.max(1) as f64) as f32, targets })
}

/// The loss at every position of `batch` (row-major `(B, T)`: position j's loss of predicting
/// its target, 0 where the target is `IGNORE`) under `model` with `adapter` (`None`: the base).
pub async fn position_losses(
    gpu: &Gpu,
    model: &Model,
    adapter: Option<&dyn Adapter>,
    buf: &mut StepBuffers,
    batch: &crate::data::Batch,
) -> Result<Vec<f32>> {
    let mut rec = Recorder::new(gpu);
    record_eval(&mut rec, model, adapter, buf, &batch.inputs, &batch.targets)?;
    let rows = buf.batch * buf.t;
    let out = GpuTensor::zeros(gpu, &[rows]);
    rec.copy(&buf.head.loss.buffer, 0, &out.buffer, 0, (rows * 4) as u64);
    out.read(rec).await
}

/// Records the forward pass, the per-token loss and hits (no backward): validation and
/// `eval`. `adapter` may be `None` (the base model alone). Returns the number of targets.
pub fn record_eval(
    rec: &mut Recorder,
    model: &Model,
    adapter: Option<&dyn Adapter>,
    buf: &mut StepBuffers,
    inputs: &[u32],
    targets: &[u32],
) -> Result<usize> {
    buf.cache.clear();
    model.forward_into(rec, inputs, &mut buf.cache, adapter, &buf.acts)?;
    record_loss_head(rec, model, buf, targets, None)?;
    Ok(count_targets(targets, model.config.vocab_size))
}

/// Rows per chunk of the loss head: as many as keep `(chunk, V)` logits within one binding and
/// [`HEAD_LOGITS_BYTES`] (at least [`HEAD_MIN_ROWS`]).
pub fn loss_head_chunk(gpu: &Gpu, vocab: usize, rows: usize) -> usize {
    let (binding, row) = (gpu.max_binding() as usize, vocab * 4);
    let budget = (HEAD_LOGITS_BYTES / row).max(HEAD_MIN_ROWS);
    (binding / row).min(budget).clamp(1, rows)
}

/// The loss head's logits chunk stays within 64 MiB (the memory of a step is mostly saved
/// activations; the logits of all 4 × 512 rows of SmolLM2 would be 384 MiB) …
const HEAD_LOGITS_BYTES: usize = 64 << 20;
/// … unless that is under 128 rows (a large vocabulary): each chunk reads the whole output
/// matrix again, so fewer, larger chunks (up to one storage binding) go faster.
const HEAD_MIN_ROWS: usize = 128;

fn record_loss_head(
    rec: &mut Recorder,
    model: &Model,
    buf: &mut StepBuffers,
    targets: &[u32],
    grad_scale: Option<(f32, &dyn Adapter)>,
) -> Result<()> {
    let gpu = rec.gpu;
    let (v, c) = (model.config.vocab_size, model.config.dim);
    let rows = buf.batch * buf.t;
    let target_ids = GpuIds::from_slice(gpu, targets);
    let chunk = buf.head_logits.shape[0];
    let mut start = 0;
    while start < rows {
        let n = chunk.min(rows - start);
        let (hidden_rows, logits) = (buf.head_rows.view(&[n, c])?, buf.head_logits.view(&[n, v])?);
        model.logits_into(rec, buf.acts.hidden(), start, &hidden_rows, &logits)?;
        cross_entropy_forward(rec, &logits, &target_ids, start, &buf.head.loss, &buf.head.lse)?;
        if let Some((scale, adapter)) = grad_scale {
            cross_entropy_backward(rec, &target_ids, &buf.head.lse, start, scale, &logits)?;
            adapter.head_backward(rec, &hidden_rows, &logits)?;
            // The rows' copy of the hidden states is no longer needed: it takes their gradient.
            model.logits_backward(rec, &logits, &hidden_rows)?;
            rec.copy(&hidden_rows.buffer, 0, &buf.head.d_hidden.buffer, (start * c * 4) as u64, (n * c * 4) as u64);
        } else {
            argmax_forward(rec, &logits, &target_ids, start, &buf.head.hits)?;
        }
        start += n;
    }
    Ok(())
}
