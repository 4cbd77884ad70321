//! [`LoraParams`]: the trainable LoRA weights of a model on the GPU, with their gradients. One
//! optional slot per (layer, linear); A is `(r, in)`, B `(out, r)` (PEFT's layout), f32.

use super::branch::LoraDims;
use super::dora::DoraSlot;
use super::config::Target;
use crate::model::ModelConfig;
use crate::model::linear::{Adapter, AdapterWeights};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor};

/// LoRA weights and gradients of one adapted linear layer.
pub struct LoraSlot {
    pub d_in: usize,
    pub d_out: usize,
    pub a: GpuTensor,      // (r, in)
    pub b: GpuTensor,      // (out, r)
    pub grad_a: GpuTensor, // (r, in), accumulated by backward
    pub grad_b: GpuTensor, // (out, r), accumulated by backward
    /// DoRA's magnitude and norms (`None`: plain LoRA).
    pub dora: Option<DoraSlot>,
}

/// All adapted layers of a model.
pub struct LoraParams {
    pub rank: usize,
    /// `alpha / r`, or `alpha / √r` with rsLoRA.
    pub scale: f32,
    /// PEFT's `lora_dropout` p, applied to each LoRA branch input by the trainer only
    /// (never in evaluation or generation). 0 = off.
    pub dropout: f32,
    /// Per layer, indexed by [`Target::index`].
    pub slots: Vec<[Option<LoraSlot>; 7]>,
}

impl LoraParams {
    /// Uploads `(layer, linear, A, B)` host weights (A `(r, in)`, B `(out, r)`, row-major).
    pub fn upload<'a>(
        gpu: &Gpu,
        cfg: &ModelConfig,
        rank: usize,
        scale: f32,
        modules: impl IntoIterator<Item = (usize, Target, &'a [f32], &'a [f32])>,
    ) -> Result<LoraParams> {
        if rank == 0 {
            return Err(Error::invalid("LoRA rank", "r must be at least 1"));
        }
        let mut slots: Vec<[Option<LoraSlot>; 7]> = (0..cfg.n_layers).map(|_| Default::default()).collect();
        for (layer, linear, a, b) in modules {
            let (d_in, d_out) = linear.features(cfg);
            let name = format!("layer {layer} {}", linear.peft_name());
            if layer >= cfg.n_layers {
                return Err(Error::invalid(name, format!("the model has {} layers", cfg.n_layers)));
            }
            if a.len() != rank * d_in || b.len() != d_out * rank {
                return Err(Error::invalid(
                    name,
                    format!(
                        "LoRA A has {} values and B {}, expected ({rank}, {d_in}) and ({d_out}, {rank})",
                        a.len(),
                        b.len()
                    ),
                ));
            }
            slots[layer][linear.index()] = Some(LoraSlot {
                d_in,
                d_out,
                a: GpuTensor::from_slice(gpu, &[rank, d_in], a),
                b: GpuTensor::from_slice(gpu, &[d_out, rank], b),
                grad_a: GpuTensor::zeros(gpu, &[rank, d_in]),
                grad_b: GpuTensor::zeros(gpu, &[d_out, rank]),
                dora: None,
            });
        }
        Ok(LoraParams { rank, scale, dropout: 0.0, slots })
    }

    /// The slot of `linear` in `layer`, if adapted.
    pub fn slot(&self, layer: usize, linear: Target) -> Option<&LoraSlot> {
        self.slots.get(layer).and_then(|s| s[linear.index()].as_ref())
    }

    /// Dimensions of the LoRA product for `rows` tokens through `slot`.
    pub fn dims(&self, slot: &LoraSlot, rows: usize) -> LoraDims {
        LoraDims { m: rows, d_in: slot.d_in, d_out: slot.d_out, r: self.rank, scale: self.scale }
    }

    /// Every adapted slot with its position.
    pub fn iter(&self) -> impl Iterator<Item = (usize, Target, &LoraSlot)> {
        self.slots.iter().enumerate().flat_map(|(layer, s)| {
            Target::ALL.into_iter().filter_map(move |l| s[l.index()].as_ref().map(|slot| (layer, l, slot)))
        })
    }

    /// Number of trainable parameters (A, B and DoRA's magnitudes).
    pub fn parameter_count(&self) -> usize {
        self.iter().map(|(_, _, s)| s.a.len() + s.b.len() + s.dora.as_ref().map_or(0, |d| d.magnitude.len())).sum()
    }

    /// Whether the adapted linears are DoRA's.
    pub fn is_dora(&self) -> bool {
        self.iter().any(|(_, _, s)| s.dora.is_some())
    }
}

impl LoraParams {
    /// Uploads host adapter weights (fresh from [`crate::lora::LoraWeights::init`], or loaded
    /// from PEFT / GGUF files) for `model`, with their configuration's dropout. DoRA
    /// (`use_dora`) computes `‖W_i‖²` of each adapted frozen weight here, and a fresh adapter's
    /// magnitude `m = ‖W + s·B·A‖` (PEFT's init).
    pub fn from_weights(gpu: &Gpu, model: &crate::model::Model, weights: &crate::lora::LoraWeights) -> Result<LoraParams> {
        let modules = weights.modules.iter().map(|m| (m.layer, m.target, &m.a[..], &m.b[..]));
        let mut params = LoraParams::upload(gpu, &model.config, weights.config.r, weights.scale(), modules)?;
        params.dropout = weights.config.dropout;
        if weights.config.use_dora {
            let mut rec = crate::gpu::Recorder::new(gpu);
            for m in &weights.modules {
                let linear = model.linear(m.layer, m.target)?;
                let Some(slot) = params.slots[m.layer][m.target.index()].as_mut() else { continue };
                let dora = DoraSlot::new(&mut rec, linear.weight, weights.config.r, &m.magnitude)?;
                let dims = LoraDims { m: 0, d_in: slot.d_in, d_out: slot.d_out, r: weights.config.r, scale: weights.scale() };
                super::dora::weight_norm(&mut rec, dims, linear.weight, &dora, &slot.a, &slot.b, m.magnitude.is_empty())?;
                slot.dora = Some(dora);
            }
            rec.submit();
        }
        Ok(params)
    }

    /// Reads A and B back into host weights described by `config`.
    pub async fn to_weights(&self, gpu: &Gpu, config: &crate::lora::LoraConfig) -> Result<crate::lora::LoraWeights> {
        let tensors: Vec<&GpuTensor> = self.iter().flat_map(|(_, _, s)| [&s.a, &s.b].into_iter().chain(s.dora.as_ref().map(|d| &d.magnitude))).collect();
        let mut values = crate::gpu::readback::read_tensors(gpu, &tensors).await?.into_iter();
        let mut modules = Vec::new();
        for (layer, target, slot) in self.iter() {
            let (a, b) = (values.next().unwrap_or_default(), values.next().unwrap_or_default());
            let magnitude = if slot.dora.is_some() { values.next().unwrap_or_default() } else { Vec::new() };
            modules.push(crate::lora::LoraModule { layer, target, in_features: slot.d_in, out_features: slot.d_out, a, b, magnitude });
        }
        Ok(crate::lora::LoraWeights { config: config.clone(), modules })
    }
}

impl AdapterWeights for LoraParams {
    fn inference<'a>(&'a self, gpu: &Gpu, rows: usize) -> Box<dyn Adapter + 'a> {
        Box::new(super::pass::LoraPass::new(self, super::pass::LoraBuffers::new(gpu, self, rows, false, false), None))
    }

    fn describe(&self) -> String {
        format!(
            "{} r {}, scale {}, {} adapted linears, {} parameters",
            if self.is_dora() { "DoRA" } else { "LoRA" },
            self.rank,
            self.scale,
            self.iter().count(),
            self.parameter_count()
        )
    }
}
