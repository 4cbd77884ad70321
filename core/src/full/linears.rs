//! [`FullLinears`]: the [`Adapter`] of full fine-tuning — every linear of every layer, an f32
//! gradient `dW (out, in)` per linear, accumulated by the backward pass.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::ModelConfig;
use crate::model::linear::{Adapter, Site, Target};
use crate::ops::weight_grads::linear_dw;

/// The weight gradients of all seven linears of every layer (`grads[layer * 7 + target]`).
pub struct FullLinears {
    grads: Vec<GpuTensor>,
    n_layers: usize,
}

impl FullLinears {
    /// Zero gradients `(out, in)` for every linear of `model`.
    pub fn new(gpu: &Gpu, model: &ModelConfig) -> FullLinears {
        let grads = (0..model.n_layers)
            .flat_map(|_| Target::ALL)
            .map(|t| {
                let (inp, out) = t.features(model);
                GpuTensor::zeros(gpu, &[out, inp])
            })
            .collect();
        FullLinears { grads, n_layers: model.n_layers }
    }

    /// The gradient of the linear at `site` (`(out, in)`, PyTorch layout).
    pub fn grad(&self, site: Site) -> Result<&GpuTensor> {
        if site.layer >= self.n_layers {
            return Err(Error::invalid("full fine-tuning layer", format!("{} is not below {}", site.layer, self.n_layers)));
        }
        Ok(&self.grads[site.layer * Target::ALL.len() + site.target.index()])
    }

    /// Every gradient with its site, layer by layer in block order.
    pub fn iter(&self) -> impl Iterator<Item = (Site, &GpuTensor)> {
        self.grads.iter().enumerate().map(|(i, g)| {
            (Site { layer: i / Target::ALL.len(), target: Target::ALL[i % Target::ALL.len()] }, g)
        })
    }
}

impl Adapter for FullLinears {
    fn adapts(&self, site: Site) -> bool {
        site.layer < self.n_layers
    }

    fn lowest_layer(&self) -> Option<usize> {
        (self.n_layers > 0).then_some(0)
    }

    /// Nothing: the model's weight is the trained one, its frozen path computes `x·Wᵀ`.
    fn forward(&self, _rec: &mut Recorder, _site: Site, _x: &GpuTensor, _y: &GpuTensor) -> Result<()> {
        Ok(())
    }

    /// `dW += dyᵀ·x`; `dx` is the frozen path's `dy·W` already (W is the trained weight).
    fn backward(&self, rec: &mut Recorder, site: Site, x: &GpuTensor, dy: &GpuTensor, _dx: &GpuTensor) -> Result<()> {
        linear_dw(rec, x, dy, self.grad(site)?, true)
    }
}
