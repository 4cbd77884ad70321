//! One training step on a batch: forward with saved activations, the chunked cross-entropy
//! head, backward into the LoRA gradients — all recorded into one [`Recorder`]. The only
//! readback is the per-row loss (the caller reads it once, after the optimizer update).

use super::backward::{Grads, backward};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::{Activations, KvCache, LoraParams, Model};
use crate::ops::cross_entropy::{count_targets, cross_entropy_backward, cross_entropy_forward};
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
    lse: GpuTensor,      // (R)
    d_hidden: GpuTensor, // (R, C)
}

impl StepBuffers {
    /// `lora`: the adapter that will be trained or evaluated (`None`: evaluate the base alone).
    pub fn new(gpu: &Gpu, model: &Model, lora: Option<&LoraParams>, batch: usize, t: usize) -> Result<StepBuffers> {
        let rows = batch * t;
        Ok(StepBuffers {
            batch,
            t,
            acts: Activations::new(gpu, &model.config, batch, t, lora, true),
            cache: KvCache::batched(gpu, &model.config, batch, t)?,
            grads: Grads::new(gpu, model, batch, t, lora.map_or(1, |l| l.rank)),
            loss: GpuTensor::zeros(gpu, &[rows]),
            lse: GpuTensor::zeros(gpu, &[rows]),
            d_hidden: GpuTensor::zeros(gpu, &[rows, model.config.dim]),
        })
    }
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
    model.forward_into(rec, inputs, &mut buf.cache, Some(lora), &buf.acts)?;
    record_loss_head(rec, model, buf, targets, Some(grad_scale))?;
    backward(rec, model, lora, &buf.acts, &buf.cache, &buf.d_hidden, &buf.grads)?;
    Ok(count_targets(targets, model.config.vocab_size))
}

/// Mean loss over `batches` (forward and loss only), with `lora` or the base alone; one readback
/// per batch. Returns (mean loss, number of targets).
pub async fn evaluate(
    gpu: &Gpu,
    model: &Model,
    lora: Option<&LoraParams>,
    buf: &mut StepBuffers,
    batches: &[crate::data::Batch],
) -> Result<(f32, usize)> {
    let rows = buf.batch * buf.t;
    let (mut sum, mut targets) = (0f64, 0);
    for batch in batches {
        let mut rec = Recorder::new(gpu);
        targets += record_eval(&mut rec, model, lora, buf, &batch.inputs, &batch.targets)?;
        let losses = buf.loss.read(rec).await?;
        sum += losses[..rows].iter().map(|&l| l as f64).sum::<f64>();
    }
    Ok(((sum / targets.max(1) as f64) as f32, targets))
}

/// Records the forward pass and the per-token loss (no backward): validation and `eval`.
/// `lora` may be `None` (the base model alone). Returns the number of targets.
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
/// dlogits (in place over the logits) → `d_hidden = dlogits · W_lm`.
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
    let chunk = (gpu.max_binding() as usize / (v * 4)).clamp(1, rows);
    let mut start = 0;
    while start < rows {
        let n = chunk.min(rows - start);
        let logits = model.logits(rec, &buf.acts.hidden, start, n)?;
        cross_entropy_forward(rec, &logits, &target_ids, start, &buf.loss, &buf.lse)?;
        if let Some(scale) = grad_scale {
            cross_entropy_backward(rec, &target_ids, &buf.lse, start, scale, &logits)?;
            let dh = GpuTensor::zeros(gpu, &[n, c]);
            qmatmul::qmatmul_backward_input(rec, &logits, model.weights.lm_head(), &dh, false)?;
            rec.copy(&dh.buffer, 0, &buf.d_hidden.buffer, (start * c * 4) as u64, (n * c * 4) as u64);
        }
        start += n;
    }
    Ok(())
}
