//! The base model's tensors, one at a time, merged with an adapter: `W + s·B·A` per adapted
//! linear, computed in f32 from the dequantized rows of W (any stored type).
//!
//! Every tensor comes out in Hugging Face's convention, the engine's layout: q/k rows in HF
//! order (a Llama GGUF's interleaved rows are put back, as the loader does), and Gemma's norm
//! weights as HF stores them (`w`, where llama.cpp's converter stores `w + 1`).
//! [`to_gguf_convention`] goes the other way for a GGUF. Only one tensor is in f32 at a time.

use crate::error::{Error, Result};
use std::collections::HashMap;
use crate::formats::source::{ModelFiles, ModelFormat};
use crate::lora::{LoraWeights, Target, permute_rows_to_gguf, permute_rows_to_hf};
use crate::model::checkpoint::Checkpoint;
use crate::model::names::{LayerTensor, ModelTensor, Naming};
use crate::model::{Arch, ModelConfig, open_checkpoint};
use crate::quant::GgmlType;
use crate::quant::dequant::dequantize;
use crate::quant::presets::PresetRole;

/// A tensor's place in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Model(ModelTensor),
    Layer(usize, LayerTensor),
}

impl Role {
    /// Its name under `naming`.
    pub fn name(self, naming: Naming) -> String {
        match self {
            Role::Model(t) => naming.model(t).to_string(),
            Role::Layer(l, t) => naming.layer(l, t),
        }
    }
}

/// What a tensor is, for the conventions and the preset rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `(rows, cols)` weight matrix; `heads`: llama.cpp interleaves its rows per head (Llama q/k).
    Matrix { heads: Option<usize> },
    /// A norm weight (Gemma's hold `w + 1` in GGUF).
    Norm,
    /// A bias.
    Bias,
}

/// One tensor of the base: role, PyTorch shape, kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub role: Role,
    pub shape: Vec<usize>,
    pub kind: Kind,
}

impl Planned {
    /// Its role under a llama.cpp preset (`None` for norms and biases, which stay F32).
    pub fn preset_role(&self, tied: bool) -> Option<PresetRole> {
        if !matches!(self.kind, Kind::Matrix { .. }) {
            return None;
        }
        Some(match self.role {
            Role::Model(ModelTensor::Embedding) => PresetRole::Embedding { tied },
            Role::Model(_) => PresetRole::Output,
            Role::Layer(layer, LayerTensor::V) => PresetRole::AttnV { layer },
            Role::Layer(layer, LayerTensor::Down) => PresetRole::FfnDown { layer },
            Role::Layer(..) => PresetRole::Other,
        })
    }
}

/// The base model's files opened for merging, with the adapter checked against it.
pub struct MergeSource<'a> {
    /// The model's file or folder, for errors.
    pub name: String,
    pub config: ModelConfig,
    pub format: ModelFormat,
    ckpt: Checkpoint<'a>,
    adapter: Option<&'a LoraWeights>,
    plan: Vec<Planned>,
    /// Full fine-tuning's trained tensors by Hugging Face name, replacing the base's.
    trained: Option<&'a HashMap<String, Vec<f32>>>,
}

impl<'a> MergeSource<'a> {
    /// Opens the model in `files`; `adapter` (named `adapter_name` in errors) must fit it. Every
    /// tensor of the model must be one anytune runs (or GGUF's `rope_freqs.weight`): nothing is
    /// dropped silently.
    pub fn open(files: &'a ModelFiles, adapter: Option<&'a LoraWeights>, adapter_name: &str) -> Result<MergeSource<'a>> {
        let format = ModelFormat::detect(files)?;
        let (name, config, ckpt) = open_checkpoint(files, &format)?;
        if let Some(a) = adapter {
            a.check_model(&config, adapter_name)?;
        }
        let plan = plan(&config, &ckpt);
        let naming = ckpt.naming;
        let known: Vec<String> = plan.iter().map(|p| p.role.name(naming)).collect();
        let names: Vec<&str> = match &format {
            ModelFormat::Gguf { gguf, .. } => gguf.tensors.iter().map(|t| t.name.as_str()).collect(),
            ModelFormat::HuggingFace(hf) => hf.tensors.keys().map(String::as_str).collect(),
        };
        if let Some(extra) = names.iter().find(|n| !known.iter().any(|k| k == *n) && **n != ROPE_FREQS) {
            return Err(Error::format(
                &name,
                format!("tensor {extra} is not one anytune runs, so it cannot be exported (it would be lost)"),
            ));
        }
        Ok(MergeSource { name, config, format, ckpt, adapter, plan, trained: None })
    }

    /// Writes `trained` (full fine-tuning: f32 values in Hugging Face's convention, by HF name)
    /// instead of the base's tensors. Every tensor of the plan must be there with its shape's
    /// element count, and nothing else (no adapter either).
    pub fn with_trained(mut self, trained: &'a HashMap<String, Vec<f32>>) -> Result<MergeSource<'a>> {
        if self.adapter.is_some() {
            return Err(Error::invalid("export", "trained weights replace the base: no adapter is merged on top"));
        }
        for p in &self.plan {
            let name = p.role.name(Naming::HuggingFace);
            let want: usize = p.shape.iter().product();
            match trained.get(&name) {
                Some(v) if v.len() == want => {}
                Some(v) => return Err(Error::invalid("trained weights", format!("{name} has {} values, the model's {:?} needs {want}", v.len(), p.shape))),
                None => return Err(Error::invalid("trained weights", format!("{name} is missing (every tensor of {} is trained)", self.name))),
            }
        }
        if trained.len() != self.plan.len() {
            return Err(Error::invalid("trained weights", format!("{} tensors for the model's {}", trained.len(), self.plan.len())));
        }
        self.trained = Some(trained);
        Ok(self)
    }

    /// Every tensor to write: the token embedding, each block's tensors in block order, the
    /// final norm, and the output projection unless it is tied to the embedding.
    pub fn plan(&self) -> &[Planned] {
        &self.plan
    }

    /// The stored type of a planned tensor.
    pub fn stored_type(&self, p: &Planned) -> Result<GgmlType> {
        Ok(self.ckpt.get(&p.role.name(self.ckpt.naming))?.1)
    }

    /// The values of `p` in Hugging Face's convention, merged with its adapter where it has one.
    pub fn values(&self, p: &Planned) -> Result<Vec<f32>> {
        if let Some(v) = self.trained.and_then(|t| t.get(&p.role.name(Naming::HuggingFace))) {
            return Ok(v.clone());
        }
        let name = p.role.name(self.ckpt.naming);
        let (ty, bytes) = self.ckpt.get_shaped(&name, &p.shape)?;
        let mut w = dequantize(ty, bytes, p.shape.iter().product())?;
        let cols = p.shape.last().copied().unwrap_or(1);
        match p.kind {
            Kind::Matrix { heads: Some(heads) } if self.ckpt.qk_permuted => {
                w = permute_rows_to_hf(&w, cols, heads, self.config.head_dim);
            }
            Kind::Norm if self.gguf_gemma_norms() => w.iter_mut().for_each(|x| *x -= 1.0),
            _ => {}
        }
        if let (Role::Layer(layer, t), Some(adapter)) = (p.role, self.adapter)
            && let Some(target) = Target::ALL.into_iter().find(|x| x.layer_tensor() == t)
            && let Some(m) = adapter.module(layer, target)
        {
            m.merge_into(&mut w, adapter.scale());
        }
        Ok(w)
    }

    /// The type, shape and raw bytes of GGUF's `rope_freqs.weight` (Llama 3.1+ RoPE divisors), if any.
    pub fn rope_freqs(&self) -> Result<Option<StoredTensor<'a>>> {
        if !self.ckpt.contains(ROPE_FREQS) {
            return Ok(None);
        }
        let (info, ty, bytes) = self.ckpt.get(ROPE_FREQS)?;
        Ok(Some((ty, info.shape.clone(), bytes)))
    }

    /// Whether the source stores Gemma's norms as llama.cpp's converter does (`w + 1`).
    fn gguf_gemma_norms(&self) -> bool {
        self.config.arch == Arch::Gemma3 && self.ckpt.naming == Naming::Gguf
    }
}

/// A tensor as stored: type, PyTorch shape, bytes.
pub type StoredTensor<'a> = (GgmlType, Vec<usize>, &'a [u8]);

/// GGUF's per-frequency RoPE divisors (Llama 3.1+), copied as they are.
pub const ROPE_FREQS: &str = "rope_freqs.weight";

/// The tensors of a model of `cfg` (the set [`crate::model::ModelWeights::load`] reads).
fn plan(cfg: &ModelConfig, ckpt: &Checkpoint) -> Vec<Planned> {
    let (c, f, v, d) = (cfg.dim, cfg.ffn_dim, cfg.vocab_size, cfg.head_dim);
    let (q, kv) = (cfg.n_heads * d, cfg.n_kv_heads * d);
    let permuted = |heads: usize| cfg.arch.gguf_qk_permuted().then_some(heads);
    let matrix = |rows: usize, cols: usize, heads: Option<usize>| (vec![rows, cols], Kind::Matrix { heads });
    let gemma = cfg.arch == Arch::Gemma3;
    let mut out = vec![Planned { role: Role::Model(ModelTensor::Embedding), shape: vec![v, c], kind: Kind::Matrix { heads: None } }];
    for l in 0..cfg.n_layers {
        use LayerTensor::*;
        let mut layer: Vec<(LayerTensor, (Vec<usize>, Kind))> = vec![
            (AttnNorm, (vec![c], Kind::Norm)),
            (Q, matrix(q, c, permuted(cfg.n_heads))),
            (K, matrix(kv, c, permuted(cfg.n_kv_heads))),
            (V, matrix(kv, c, None)),
        ];
        if cfg.qkv_bias {
            layer.extend([(QBias, (vec![q], Kind::Bias)), (KBias, (vec![kv], Kind::Bias)), (VBias, (vec![kv], Kind::Bias))]);
        }
        if cfg.arch.qk_norm() {
            layer.extend([(QNorm, (vec![d], Kind::Norm)), (KNorm, (vec![d], Kind::Norm))]);
        }
        layer.push((O, matrix(c, q, None)));
        if gemma {
            layer.push((PostAttnNorm, (vec![c], Kind::Norm)));
        }
        layer.push((if gemma { PreFfnNorm } else { FfnNorm }, (vec![c], Kind::Norm)));
        layer.extend([(Gate, matrix(f, c, None)), (Up, matrix(f, c, None)), (Down, matrix(c, f, None))]);
        if gemma {
            layer.push((PostFfnNorm, (vec![c], Kind::Norm)));
        }
        out.extend(layer.into_iter().map(|(t, (shape, kind))| Planned { role: Role::Layer(l, t), shape, kind }));
    }
    out.push(Planned { role: Role::Model(ModelTensor::OutputNorm), shape: vec![c], kind: Kind::Norm });
    if !cfg.tied_embeddings || ckpt.contains(ckpt.naming.model(ModelTensor::Output)) {
        out.push(Planned { role: Role::Model(ModelTensor::Output), shape: vec![v, c], kind: Kind::Matrix { heads: None } });
    }
    out
}

/// Values of `p` from Hugging Face's convention to GGUF's (llama.cpp's converter): Llama q/k
/// rows interleaved per head, Gemma norms `w + 1`.
pub fn to_gguf_convention(cfg: &ModelConfig, p: &Planned, mut w: Vec<f32>) -> Vec<f32> {
    match p.kind {
        Kind::Matrix { heads: Some(heads) } => permute_rows_to_gguf(&w, p.shape[1], heads, cfg.head_dim),
        Kind::Norm if cfg.arch == Arch::Gemma3 => {
            w.iter_mut().for_each(|x| *x += 1.0);
            w
        }
        _ => w,
    }
}
