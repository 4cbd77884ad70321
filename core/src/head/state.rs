//! The head's training state beside the LoRA's in [`crate::train::Trainer`]: the score weight
//! `(L, C)`, its gradient and AdamW moments (f32), plus one step's and one evaluation's
//! recording through [`record_head_step`] / [`head_forward`]. Validation through the head
//! reports the mean cross-entropy over the labels and the accuracy of the argmax label.

use super::data::HeadTargets;
use super::reference::predict;
use super::seqcls::{INIT_STD, init_score};
use super::step::{HeadBuffers, head_forward};
use super::train_step::{HeadBatch, record_head_step};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::{Adapter, Model};
use crate::ops::embedding::GpuIds;
use crate::train::memory::MemoryEstimate;
use crate::train::step::{EvalReport, StepBuffers};

/// The score weight, its gradient and its AdamW moments.
pub struct HeadState {
    /// `(L, C)`.
    pub score: GpuTensor,
    /// `(L, C)`, accumulated by each step (zero it per step).
    pub d_score: GpuTensor,
    /// AdamW's `[m, v]` of the score weight.
    pub moments: [GpuTensor; 2],
    /// L.
    pub labels: usize,
}

impl HeadState {
    /// A fresh head for `labels` labels on `model` (score normal(0, 0.02), seeded).
    pub fn new(gpu: &Gpu, model: &Model, labels: usize, seed: u64) -> HeadState {
        let shape = [labels, model.config.dim];
        let zeros = || GpuTensor::zeros(gpu, &shape);
        HeadState {
            score: GpuTensor::from_slice(gpu, &shape, &init_score(labels, model.config.dim, INIT_STD, seed)),
            d_score: zeros(),
            moments: [zeros(), zeros()],
            labels,
        }
    }

    /// A trained head: `score` `(labels, dim)` as read from a SEQ_CLS adapter (for evaluation;
    /// moments zero).
    pub fn from_score(gpu: &Gpu, model: &Model, labels: usize, score: &[f32]) -> HeadState {
        let shape = [labels, model.config.dim];
        let zeros = || GpuTensor::zeros(gpu, &shape);
        HeadState { score: GpuTensor::from_slice(gpu, &shape, score), d_score: zeros(), moments: [zeros(), zeros()], labels }
    }

    /// Records one batch's forward, head loss and backward; returns the buffers holding the
    /// per-row loss `(B_real)`.
    pub fn record_step(&self, rec: &mut Recorder, model: &Model, adapter: &dyn Adapter, buf: &mut StepBuffers, inputs: &[u32], targets: &HeadTargets) -> Result<HeadBuffers> {
        let gpu = rec.gpu;
        let (last, labels) = (GpuIds::from_slice(gpu, &targets.last), GpuIds::from_slice(gpu, &targets.labels));
        let bufs = HeadBuffers::new(gpu, targets.last.len(), model.config.dim, self.labels);
        let batch = HeadBatch { last: &last, labels: &labels, score: &self.score, d_score: &self.d_score, bufs: &bufs };
        record_head_step(rec, model, adapter, buf, inputs, &batch)?;
        Ok(bufs)
    }

    /// Mean head loss and label accuracy over `batches` (with their `targets`) through
    /// `adapter` (no dropout); `targets` of the report = the rows.
    pub async fn evaluate(&self, gpu: &Gpu, model: &Model, adapter: Option<&dyn Adapter>, buf: &mut StepBuffers, batches: &[(&[u32], &HeadTargets)]) -> Result<EvalReport> {
        let (mut sum, mut hits, mut rows) = (0f64, 0usize, 0usize);
        for (inputs, targets) in batches {
            let (logits, losses) = self.logits(gpu, model, adapter, buf, inputs, targets).await?;
            sum += losses.iter().map(|&l| l as f64).sum::<f64>();
            hits += predict(&logits, self.labels).iter().zip(&targets.labels).filter(|(p, l)| **p == **l as usize).count();
            rows += targets.labels.len();
        }
        let loss = (sum / rows.max(1) as f64) as f32;
        Ok(EvalReport { loss, perplexity: loss.exp(), accuracy: hits as f32 / rows.max(1) as f32, targets: rows })
    }

    /// The head's logits `(B_real, L)` and per-row losses of one batch (forward only).
    pub async fn logits(&self, gpu: &Gpu, model: &Model, adapter: Option<&dyn Adapter>, buf: &mut StepBuffers, inputs: &[u32], targets: &HeadTargets) -> Result<(Vec<f32>, Vec<f32>)> {
        let n = targets.last.len();
        let (last, labels) = (GpuIds::from_slice(gpu, &targets.last), GpuIds::from_slice(gpu, &targets.labels));
        let bufs = HeadBuffers::new(gpu, n, model.config.dim, self.labels);
        let mut rec = Recorder::new(gpu);
        buf.cache.clear();
        model.forward_into(&mut rec, inputs, &mut buf.cache, adapter, &buf.acts)?;
        head_forward(&mut rec, buf.acts.hidden(), &last, &self.score, &labels, &bufs)?;
        let out = GpuTensor::zeros(gpu, &[n * self.labels + n]);
        rec.copy(&bufs.logits.buffer, 0, &out.buffer, 0, (n * self.labels * 4) as u64);
        rec.copy(&bufs.loss.buffer, 0, &out.buffer, (n * self.labels * 4) as u64, (n * 4) as u64);
        let mut values = out.read(rec).await?;
        let losses = values.split_off(n * self.labels);
        Ok((values, losses))
    }
}

/// `estimate` plus the head: the score weight, its gradient and moments (4 f32 copies, in
/// `adapter`) and its per-batch buffers (pooled rows and their gradient, logits, loss, lse).
pub fn head_memory(mut estimate: MemoryEstimate, labels: usize, dim: usize, batch: usize) -> MemoryEstimate {
    let params = 16 * (labels * dim) as u64;
    let acts = 4 * (batch * (2 * dim + labels + 2)) as u64;
    estimate.adapter += params;
    estimate.activations += acts;
    estimate.total += params + acts;
    estimate
}
