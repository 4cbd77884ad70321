//! [`FullGrads`]: the [`Adapter`] of full fine-tuning — an f32 gradient for every parameter
//! ([`Slot::all`]), accumulated by the backward pass through the seam's hooks: every linear
//! (`dW += dyᵀ·x`) and its bias (`db += Σ_rows dy`), every RMSNorm weight (`dγ += Σ dy ⊙ x̂`:
//! the block norms, the per-head q/k norms over `B·T·H` rows, Gemma's sandwich norms), the
//! lm_head (`dW += dlogitsᵀ·rows`) and the embedding (`dE[id] += scale · Σ dy`). With tied
//! embeddings the lm_head's gradient goes into the embedding's (both summed, as PyTorch does).

use std::collections::HashMap;

use super::Slot;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::Model;
use crate::model::linear::{Adapter, Linear, Norm, Site};
use crate::ops::weight_grads::{IdGroups, bias_dw, embedding_backward, linear_dw, rmsnorm_dw};

/// The gradients of every parameter of a model, by [`Slot`].
pub struct FullGrads {
    grads: HashMap<Slot, GpuTensor>,
    n_layers: usize,
    vocab: usize,
}

impl FullGrads {
    /// Zero gradients for every parameter of `model`.
    pub fn new(gpu: &Gpu, model: &Model) -> FullGrads {
        let grads = Slot::all(model).into_iter().map(|s| (s, GpuTensor::zeros(gpu, &s.shape(&model.config)))).collect();
        FullGrads { grads, n_layers: model.config.n_layers, vocab: model.config.vocab_size }
    }

    /// The gradient of `slot` (tied embeddings: the head's is the embedding's); refused for a
    /// tensor the model does not have.
    pub fn get(&self, slot: Slot) -> Result<&GpuTensor> {
        let key = match slot {
            Slot::Head if !self.grads.contains_key(&Slot::Head) => Slot::Embedding,
            s => s,
        };
        self.grads.get(&key).ok_or_else(|| {
            Error::invalid("full fine-tuning", format!("no gradient for {slot:?}: the model ({} layers) has no such tensor", self.n_layers))
        })
    }

    /// The gradient of the linear at `site` (`(out, in)`, PyTorch layout).
    pub fn linear(&self, site: Site) -> Result<&GpuTensor> {
        self.get(Slot::Linear(site))
    }

    /// The gradient of the RMSNorm weight `norm` (`(C)`, per-head norms `(D)`).
    pub fn norm(&self, norm: Norm) -> Result<&GpuTensor> {
        self.get(Slot::Norm(norm))
    }

    /// Records zeroing every gradient (before a step's first micro-batch).
    pub fn clear(&self, rec: &mut Recorder) {
        for g in self.grads.values() {
            rec.clear(g);
        }
    }
}

impl Adapter for FullGrads {
    fn adapts(&self, site: Site) -> bool {
        site.layer < self.n_layers
    }

    fn lowest_layer(&self) -> Option<usize> {
        (self.n_layers > 0).then_some(0)
    }

    /// Nothing: the model's weight is the trained one, its frozen path computes `x·Wᵀ (+ b)`.
    fn forward(&self, _rec: &mut Recorder, _base: &Linear<'_>, _x: &GpuTensor, _y: &GpuTensor) -> Result<()> {
        Ok(())
    }

    /// `dW += dyᵀ·x` (and `db += Σ_rows dy` where the linear has a bias); `dx` is the frozen
    /// path's `dy·W` already (W is the trained weight).
    fn backward(&self, rec: &mut Recorder, base: &Linear<'_>, x: &GpuTensor, dy: &GpuTensor, _dx: &GpuTensor) -> Result<()> {
        linear_dw(rec, x, dy, self.linear(base.site)?, true)?;
        match base.bias {
            Some(_) => bias_dw(rec, dy, self.get(Slot::Bias(base.site))?, true),
            None => Ok(()),
        }
    }

    fn norm_backward(&self, rec: &mut Recorder, norm: Norm, x: &GpuTensor, rstd: &GpuTensor, dy: &GpuTensor) -> Result<()> {
        rmsnorm_dw(rec, x, rstd, dy, self.norm(norm)?, true)
    }

    fn head_backward(&self, rec: &mut Recorder, rows: &GpuTensor, dlogits: &GpuTensor) -> Result<()> {
        linear_dw(rec, rows, dlogits, self.get(Slot::Head)?, true)
    }

    fn embedding_backward(&self, rec: &mut Recorder, ids: &[u32], d_embed: &GpuTensor, scale: f32) -> Result<()> {
        let groups = IdGroups::new(ids, self.vocab)?;
        embedding_backward(rec, &groups, d_embed, scale, self.get(Slot::Embedding)?)
    }
}
