//! [`Slot`]: one trained tensor of full fine-tuning, and the order every list of them follows
//! (gradients, AdamW state, checkpoints, export): the embedding, then each block's attention
//! norm, seven linears and MLP norm, then the final norm and the untied lm_head.

use crate::model::Model;
use crate::model::linear::{Norm, Site, Target};
use crate::model::names::{LayerTensor, ModelTensor, Naming};

/// One trained tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Embedding,
    Norm(Norm),
    Linear(Site),
    /// The untied lm_head (absent with tied embeddings).
    Head,
}

impl Slot {
    /// Every trained tensor of `model`, in the canonical order.
    pub fn all(model: &Model) -> Vec<Slot> {
        let mut slots = vec![Slot::Embedding];
        for layer in 0..model.config.n_layers {
            slots.push(Slot::Norm(Norm::Attn(layer)));
            slots.extend(Target::ALL.map(|target| Slot::Linear(Site { layer, target })));
            slots.push(Slot::Norm(Norm::Ffn(layer)));
        }
        slots.push(Slot::Norm(Norm::Output));
        if model.weights.output.is_some() {
            slots.push(Slot::Head);
        }
        slots
    }

    /// The tensor's name in `naming` (`model.layers.0.self_attn.q_proj.weight`, …).
    pub fn name(self, naming: Naming) -> String {
        match self {
            Slot::Embedding => naming.model(ModelTensor::Embedding).to_string(),
            Slot::Head => naming.model(ModelTensor::Output).to_string(),
            Slot::Norm(Norm::Output) => naming.model(ModelTensor::OutputNorm).to_string(),
            Slot::Norm(Norm::Attn(l)) => naming.layer(l, LayerTensor::AttnNorm),
            Slot::Norm(Norm::Ffn(l)) => naming.layer(l, LayerTensor::FfnNorm),
            Slot::Linear(site) => naming.layer(site.layer, site.target.layer_tensor()),
        }
    }
}
