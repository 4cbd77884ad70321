//! [`FullGrads`]: the [`Adapter`] of full fine-tuning — an f32 gradient for every parameter,
//! accumulated by the backward pass through the seam's hooks: every linear (`dW += dyᵀ·x`),
//! every RMSNorm weight (`dγ += Σ dy ⊙ x̂`), the lm_head (`dW += dlogitsᵀ·rows`) and the
//! embedding (`dE[id] += scale · Σ dy`). With tied embeddings the lm_head's gradient goes
//! into the embedding's (both summed, as PyTorch does).

use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::Model;
use crate::model::linear::{Adapter, Linear, Norm, Site, Target};
use super::Slot;
use crate::ops::weight_grads::{IdGroups, embedding_backward, linear_dw, rmsnorm_dw};

/// The gradients of every parameter of a Llama-family model.
pub struct FullGrads {
    /// `linears[layer * 7 + target]`, `(out, in)`.
    linears: Vec<GpuTensor>,
    /// `norms[2 * layer]` (attention), `norms[2 * layer + 1]` (MLP), `(C)`.
    norms: Vec<GpuTensor>,
    /// The final norm's, `(C)`.
    pub output_norm: GpuTensor,
    /// The embedding's, `(V, C)` (with tied embeddings also the lm_head's).
    pub embedding: GpuTensor,
    /// The untied lm_head's, `(V, C)`; `None` when tied.
    pub head: Option<GpuTensor>,
    n_layers: usize,
    vocab: usize,
}

impl FullGrads {
    /// Zero gradients for every parameter of `model`.
    pub fn new(gpu: &Gpu, model: &Model) -> FullGrads {
        let cfg = &model.config;
        let linears = (0..cfg.n_layers)
            .flat_map(|_| Target::ALL)
            .map(|t| {
                let (inp, out) = t.features(cfg);
                GpuTensor::zeros(gpu, &[out, inp])
            })
            .collect();
        let vc = [cfg.vocab_size, cfg.dim];
        FullGrads {
            linears,
            norms: (0..2 * cfg.n_layers).map(|_| GpuTensor::zeros(gpu, &[cfg.dim])).collect(),
            output_norm: GpuTensor::zeros(gpu, &[cfg.dim]),
            embedding: GpuTensor::zeros(gpu, &vc),
            head: model.weights.output.as_ref().map(|_| GpuTensor::zeros(gpu, &vc)),
            n_layers: cfg.n_layers,
            vocab: cfg.vocab_size,
        }
    }

    /// The gradient of the linear at `site` (`(out, in)`, PyTorch layout).
    pub fn linear(&self, site: Site) -> Result<&GpuTensor> {
        self.check_layer(site.layer)?;
        Ok(&self.linears[site.layer * Target::ALL.len() + site.target.index()])
    }

    /// The gradient of the RMSNorm weight `norm` (`(C)`).
    pub fn norm(&self, norm: Norm) -> Result<&GpuTensor> {
        match norm {
            Norm::Attn(l) => self.check_layer(l).map(|_| &self.norms[2 * l]),
            Norm::Ffn(l) => self.check_layer(l).map(|_| &self.norms[2 * l + 1]),
            Norm::Output => Ok(&self.output_norm),
        }
    }

    /// Every linear's gradient with its site, layer by layer in block order.
    pub fn linears(&self) -> impl Iterator<Item = (Site, &GpuTensor)> {
        self.linears.iter().enumerate().map(|(i, g)| {
            (Site { layer: i / Target::ALL.len(), target: Target::ALL[i % Target::ALL.len()] }, g)
        })
    }

    /// The gradient of `slot` (tied embeddings: the head's is the embedding's).
    pub fn get(&self, slot: Slot) -> Result<&GpuTensor> {
        match slot {
            Slot::Embedding => Ok(&self.embedding),
            Slot::Head => Ok(self.head.as_ref().unwrap_or(&self.embedding)),
            Slot::Norm(n) => self.norm(n),
            Slot::Linear(site) => self.linear(site),
        }
    }

    /// Records zeroing every gradient (before a step's first micro-batch).
    pub fn clear(&self, rec: &mut Recorder) {
        for g in self.linears.iter().chain(&self.norms).chain([&self.output_norm, &self.embedding]).chain(&self.head) {
            rec.clear(g);
        }
    }

    fn check_layer(&self, layer: usize) -> Result<()> {
        if layer >= self.n_layers {
            return Err(Error::invalid("full fine-tuning layer", format!("{layer} is not below {}", self.n_layers)));
        }
        Ok(())
    }
}

impl Adapter for FullGrads {
    fn adapts(&self, site: Site) -> bool {
        site.layer < self.n_layers
    }

    fn lowest_layer(&self) -> Option<usize> {
        (self.n_layers > 0).then_some(0)
    }

    /// Nothing: the model's weight is the trained one, its frozen path computes `x·Wᵀ`.
    fn forward(&self, _rec: &mut Recorder, _base: &Linear<'_>, _x: &GpuTensor, _y: &GpuTensor) -> Result<()> {
        Ok(())
    }

    /// `dW += dyᵀ·x`; `dx` is the frozen path's `dy·W` already (W is the trained weight).
    fn backward(&self, rec: &mut Recorder, base: &Linear<'_>, x: &GpuTensor, dy: &GpuTensor, _dx: &GpuTensor) -> Result<()> {
        linear_dw(rec, x, dy, self.linear(base.site)?, true)
    }

    fn norm_backward(&self, rec: &mut Recorder, norm: Norm, x: &GpuTensor, rstd: &GpuTensor, dy: &GpuTensor) -> Result<()> {
        rmsnorm_dw(rec, x, rstd, dy, self.norm(norm)?, true)
    }

    fn head_backward(&self, rec: &mut Recorder, rows: &GpuTensor, dlogits: &GpuTensor) -> Result<()> {
        linear_dw(rec, rows, dlogits, self.head.as_ref().unwrap_or(&self.embedding), true)
    }

    fn embedding_backward(&self, rec: &mut Recorder, ids: &[u32], d_embed: &GpuTensor, scale: f32) -> Result<()> {
        let groups = IdGroups::new(ids, self.vocab)?;
        embedding_backward(rec, &groups, d_embed, scale, &self.embedding)
    }
}
