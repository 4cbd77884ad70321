//! One training step on a batch: forward with saved activations, the chunked cross-entropy
//! head, backward into the LoRA gradients — all recorded into one [`Recorder`]. The only
//! readback is the per-row loss (the caller reads it once, after the optimizer update).
//! Evaluation runs the forward pass and the same loss head, plus the token accuracy
//! ([`crate::ops::argmax`]) on the same logits chunks.

use super::backward::{Grads, backward};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::{Activations, KvCache, LoraParams, Model, Saved};
use crate::ops::argmax::argmax_forward;
use crate::ops::cross_entropy::{count_targets, cross_entropy_backward, cross_entropy_forward};
use crate::ops::lora::LoraDropout;
use crate::ops::embedding::GpuIds;
use crate::ops::qmatmul;

/// Buffers of a training step for batches of `batch × t` tokens, allocated once.
pub struct StepBuffers {
    pub batch: usize,
    pub t: usize,
    pub acts: Activations,
    pub cache: KvCache,
    pub grads: Grads,
    /// Per-token loss of the last step (0 at ignored positions).
    pub loss: GpuTensor, // (R)
    /// Per-token hit of the last evaluation: 1 where the argmax logit is the target.
    pub hits: GpuTensor, // (R)
    lse: GpuTensor,      // (R)
    d_hidden: GpuTensor, // (R, C)
    /// The loss head's buffers for one chunk of rows (reused by every chunk and step): the
    /// hidden rows (then their gradient) `(chunk, C)` and their logits `(chunk, V)`.
    head_rows: GpuTensor,
    head_logits: GpuTensor,
    /// LoRA dropout of the next [`record_step`] (the trainer sets the key per micro-batch);
    /// `None` or p = 0: off. Evaluation never applies it.
    pub dropout: Option<LoraDropout>,
}

impl StepBuffers {
    /// `lora`: the adapter that will be trained or evaluated (`None`: evaluate the base alone).
    pub fn new(gpu: &Gpu, model: &Model, lora: Option<&LoraParams>, batch: usize, t: usize) -> Result<StepBuffers> {
        Self::with_recompute(gpu, model, lora, batch, t, false)
    }

    /// [`StepBuffers::new`]; with `recompute`, the forward pass keeps only each layer's input
    /// and one layer's activations and KV cache (the backward pass recomputes the rest).
    pub fn with_recompute(
        gpu: &Gpu,
        model: &Model,
        lora: Option<&LoraParams>,
        batch: usize,
        t: usize,
        recompute: bool,
    ) -> Result<StepBuffers> {
        let rows = batch * t;
        let cfg = &model.config;
        let chunk = loss_head_chunk(gpu, cfg.vocab_size, rows);
        let (saved, cache) = if recompute {
            (Saved::LayerInputs, KvCache::single_layer(gpu, cfg, batch, t)?)
        } else {
            (Saved::AllLayers, KvCache::batched(gpu, cfg, batch, t)?)
        };
        Ok(StepBuffers {
            batch,
            t,
            acts: Activations::saving(gpu, cfg, batch, t, lora, saved),
            cache,
            grads: Grads::new(gpu, model, batch, t, lora),
            loss: GpuTensor::zeros(gpu, &[rows]),
            hits: GpuTensor::zeros(gpu, &[rows]),
            lse: GpuTensor::zeros(gpu, &[rows]),
            d_hidden: GpuTensor::zeros(gpu, &[rows, cfg.dim]),
            head_rows: GpuTensor::zeros(gpu, &[chunk, cfg.dim]),
            head_logits: GpuTensor::zeros(gpu, &[chunk, cfg.vocab_size]),
            dropout: None,
        })
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
/// `IGNORE` where no loss is taken). LoRA gradients are *accumulated* (zero them per optimizer
/// step); with `grad_scale` the loss is averaged over `grad_scale`-weighted targets — pass
/// `1 / n_targets` of the whole optimizer step so micro-batches add up to the mean.
/// Returns the number of targets in this batch.
pub fn record_step(
    rec: &mut Recorder,
    model: &Model,
    lora: &LoraParams,
    buf: &mut StepBuffers,
    inputs: &[u32],
    targets: &[u32],
    grad_scale: f32,
) -> Result<usize> {
    buf.cache.clear();
    let dropout = buf.dropout.filter(|d| d.p > 0.0);
    model.forward_train(rec, inputs, &mut buf.cache, Some(lora), &buf.acts, dropout)?;
    record_loss_head(rec, model, buf, targets, Some(grad_scale))?;
    backward(rec, model, lora, &buf.acts, &buf.cache, &buf.d_hidden, &buf.grads, dropout)?;
    Ok(count_targets(targets, model.config.vocab_size))
}

/// Mean loss, perplexity and token accuracy over `batches` (forward and loss only, no
/// dropout), with `lora` or the base alone; one readback per batch.
pub async fn evaluate(
    gpu: &Gpu,
    model: &Model,
    lora: Option<&LoraParams>,
    buf: &mut StepBuffers,
    batches: &[crate::data::Batch],
) -> Result<EvalReport> {
    let rows = buf.batch * buf.t;
    let (mut sum, mut hits, mut targets) = (0f64, 0f64, 0);
    // Losses then hits: one readback per batch.
    let out = GpuTensor::zeros(gpu, &[2 * rows]);
    for batch in batches {
        let mut rec = Recorder::new(gpu);
        targets += record_eval(&mut rec, model, lora, buf, &batch.inputs, &batch.targets)?;
        rec.copy(&buf.loss.buffer, 0, &out.buffer, 0, (rows * 4) as u64);
        rec.copy(&buf.hits.buffer, 0, &out.buffer, (rows * 4) as u64, (rows * 4) as u64);
        let values = out.read(rec).await?;
        sum += values[..rows].iter().map(|&l| l as f64).sum::<f64>();
        hits += values[rows..].iter().map(|&h| h as f64).sum::<f64>();
    }
    let loss = (sum / targets.max(1) as f64) as f32;
    Ok(EvalReport { loss, perplexity: loss.exp(), accuracy: (hits / targets.max(1) as f64) as f32, targets })
}

/// Records the forward pass, the per-token loss and hits (no backward, no dropout):
/// validation and `eval`. `lora` may be `None` (the base model alone). Returns the number of
/// targets.
pub fn record_eval(
    rec: &mut Recorder,
    model: &Model,
    lora: Option<&LoraParams>,
    buf: &mut StepBuffers,
    inputs: &[u32],
    targets: &[u32],
) -> Result<usize> {
    buf.cache.clear();
    model.forward_into(rec, inputs, &mut buf.cache, lora, &buf.acts)?;
    record_loss_head(rec, model, buf, targets, None)?;
    Ok(count_targets(targets, model.config.vocab_size))
}

/// The loss head over the hidden states of the last forward pass, in row chunks small enough
/// for one storage binding: logits → per-token loss and logsumexp; with `grad_scale`, also
/// dlogits (in place over the logits) → `d_hidden = dlogits · W_lm`; without (evaluation), the
/// per-token hits of the argmax.
/// Rows per chunk of the loss head: as many as keep `(chunk, V)` logits within one binding.
pub fn loss_head_chunk(gpu: &Gpu, vocab: usize, rows: usize) -> usize {
    (gpu.max_binding() as usize / (vocab * 4)).clamp(1, rows)
}

fn record_loss_head(
    rec: &mut Recorder,
    model: &Model,
    buf: &mut StepBuffers,
    targets: &[u32],
    grad_scale: Option<f32>,
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
        model.logits_into(rec, &buf.acts.hidden, start, &hidden_rows, &logits)?;
        cross_entropy_forward(rec, &logits, &target_ids, start, &buf.loss, &buf.lse)?;
        if let Some(scale) = grad_scale {
            cross_entropy_backward(rec, &target_ids, &buf.lse, start, scale, &logits)?;
            // The rows' copy of the hidden states is no longer needed: it takes their gradient.
            qmatmul::qmatmul_backward_input(rec, &logits, model.weights.lm_head(), &hidden_rows, false)?;
            rec.copy(&hidden_rows.buffer, 0, &buf.d_hidden.buffer, (start * c * 4) as u64, (n * c * 4) as u64);
        } else {
            argmax_forward(rec, &logits, &target_ids, start, &buf.hits)?;
        }
        start += n;
    }
    Ok(())
}
