//! [`Slot`]: one trained tensor of full fine-tuning, and the order every list of them follows
//! (gradients, AdamW state, checkpoints, export): the embedding, then each block's attention
//! norm, seven linears and MLP norm followed by the block's architecture-specific tensors
//! (q/k/v biases, q/k norms, Gemma's post-attention and post-MLP norms), then the final norm
//! and the untied lm_head.

use crate::model::config::{Arch, ModelConfig};
use crate::model::linear::{Norm, Site, Target};
use crate::model::names::{LayerTensor, ModelTensor, Naming};
use crate::model::Model;

/// One trained tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Embedding,
    Norm(Norm),
    Linear(Site),
    /// The bias of a q, k or v projection (Qwen2 / Qwen2.5).
    Bias(Site),
    /// The untied lm_head (absent with tied embeddings).
    Head,
}

impl Slot {
    /// Every trained tensor of `model` (every tensor its weights hold), in the canonical order.
    pub fn all(model: &Model) -> Vec<Slot> {
        let mut slots = vec![Slot::Embedding];
        for (layer, lw) in model.weights.layers.iter().enumerate() {
            slots.push(Slot::Norm(Norm::Attn(layer)));
            slots.extend(Target::ALL.map(|target| Slot::Linear(Site { layer, target })));
            slots.push(Slot::Norm(Norm::Ffn(layer)));
            let biases = [(Target::Q, &lw.bq), (Target::K, &lw.bk), (Target::V, &lw.bv)];
            slots.extend(biases.into_iter().filter(|(_, b)| b.is_some()).map(|(target, _)| Slot::Bias(Site { layer, target })));
            let norms = [(Norm::Q(layer), &lw.q_norm), (Norm::K(layer), &lw.k_norm), (Norm::PostAttn(layer), &lw.post_attn_norm), (Norm::PostFfn(layer), &lw.post_ffn_norm)];
            slots.extend(norms.into_iter().filter(|(_, w)| w.is_some()).map(|(n, _)| Slot::Norm(n)));
        }
        slots.push(Slot::Norm(Norm::Output));
        if model.weights.output.is_some() {
            slots.push(Slot::Head);
        }
        slots
    }

    /// The tensor's name in `naming` for architecture `arch` (`model.layers.0.self_attn.q_proj.weight`, …).
    pub fn name(self, arch: Arch, naming: Naming) -> String {
        let layer = |l, t| naming.layer(l, t);
        match self {
            Slot::Embedding => naming.model(ModelTensor::Embedding).to_string(),
            Slot::Head => naming.model(ModelTensor::Output).to_string(),
            Slot::Norm(Norm::Output) => naming.model(ModelTensor::OutputNorm).to_string(),
            Slot::Norm(Norm::Attn(l)) => layer(l, LayerTensor::AttnNorm),
            // Gemma's norm before the MLP has a name of its own (HF's post_attention_layernorm
            // is its norm after attention).
            Slot::Norm(Norm::Ffn(l)) if arch == Arch::Gemma3 => layer(l, LayerTensor::PreFfnNorm),
            Slot::Norm(Norm::Ffn(l)) => layer(l, LayerTensor::FfnNorm),
            Slot::Norm(Norm::Q(l)) => layer(l, LayerTensor::QNorm),
            Slot::Norm(Norm::K(l)) => layer(l, LayerTensor::KNorm),
            Slot::Norm(Norm::PostAttn(l)) => layer(l, LayerTensor::PostAttnNorm),
            Slot::Norm(Norm::PostFfn(l)) => layer(l, LayerTensor::PostFfnNorm),
            Slot::Linear(site) => layer(site.layer, site.target.layer_tensor()),
            Slot::Bias(site) => layer(site.layer, match site.target {
                Target::Q => LayerTensor::QBias,
                Target::K => LayerTensor::KBias,
                // Only q, k and v have biases (Slot::all makes no other).
                _ => LayerTensor::VBias,
            }),
        }
    }

    /// The tensor's shape in `cfg` (PyTorch layout: linears `(out, in)`).
    pub fn shape(self, cfg: &ModelConfig) -> Vec<usize> {
        match self {
            Slot::Embedding | Slot::Head => vec![cfg.vocab_size, cfg.dim],
            Slot::Norm(Norm::Q(_) | Norm::K(_)) => vec![cfg.head_dim],
            Slot::Norm(_) => vec![cfg.dim],
            Slot::Linear(site) => {
                let (inp, out) = site.target.features(cfg);
                vec![out, inp]
            }
            Slot::Bias(site) => vec![site.target.features(cfg).1],
        }
    }

    /// What the model holds minus the Hugging Face parameter: 1 for Gemma 3's norms (held as
    /// `1 + w` for RMSNorm's `x̂ · (1 + w)`, the parameter is `w`), else 0. The gradient is the
    /// same; AdamW's weight decay and the export work on the parameter.
    pub fn stored_offset(self, arch: Arch) -> f32 {
        match self {
            Slot::Norm(_) if arch == Arch::Gemma3 => 1.0,
            _ => 0.0,
        }
    }
}
