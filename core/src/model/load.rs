//! [`Model::load`]: from the bytes of a model's files (one GGUF, or a Hugging Face folder) to a
//! model on the GPU with its tokenizer and chat template.

use super::checkpoint::Checkpoint;
use super::config::ModelConfig;
use super::names::Naming;
use super::Model;
use crate::chat::ChatTemplate;
use crate::error::{Error, Result};
use crate::formats::TensorInfo;
use crate::formats::source::{ModelFiles, ModelFormat};
use crate::gpu::Gpu;
use crate::quant::dequant::dequantize;
use crate::tokenizer::Tokenizer;

/// The name, configuration and tensors of the model `format` found in `files` (GGUF: q/k rows
/// marked as permuted for the architectures llama.cpp permutes; HF: each tensor naming its shard).
pub fn open_checkpoint<'a>(files: &'a ModelFiles, format: &ModelFormat) -> Result<(String, ModelConfig, Checkpoint<'a>)> {
    match format {
        ModelFormat::Gguf { file, gguf } => {
            let name = files.name(*file).to_string();
            let config = ModelConfig::from_gguf(gguf)?;
            let mut ckpt = Checkpoint::new(&name, Naming::Gguf, config.arch.gguf_qk_permuted());
            for t in &gguf.tensors {
                ckpt.insert(t, files.bytes(*file));
            }
            Ok((name, config, ckpt))
        }
        ModelFormat::HuggingFace(hf) => {
            let name = "Hugging Face folder".to_string();
            let config = ModelConfig::from_hf(&hf.config, "config.json")?;
            let mut ckpt = Checkpoint::new(&name, Naming::HuggingFace, false);
            for (file, info) in hf.tensors.values() {
                ckpt.insert_from(files.name(*file), info, files.bytes(*file));
            }
            Ok((name, config, ckpt))
        }
    }
}

impl Model {
    /// Loads a GGUF file or a Hugging Face folder held in `files`.
    pub fn load(gpu: &Gpu, files: &ModelFiles) -> Result<Model> {
        let format = ModelFormat::detect(files)?;
        let (name, config, ckpt) = open_checkpoint(files, &format)?;
        match &format {
            ModelFormat::Gguf { file, gguf } => {
                let bytes = files.bytes(*file);
                let tokenizer = Tokenizer::from_gguf(&gguf.metadata, &name)?;
                let rope_factors = match gguf.tensor("rope_freqs.weight") {
                    Some(t) => Some(rope_factors(&name, t, bytes)?),
                    None => None,
                };
                let known_as = super::known_name::known_name(&gguf.metadata, &name);
                Ok(Model { known_as, ..Model::assemble(gpu, name, config, &ckpt, tokenizer, rope_factors)? })
            }
            ModelFormat::HuggingFace(hf) => {
                let tokenizer_json = hf.tokenizer_json.as_ref().ok_or_else(|| {
                    Error::format(&name, "tokenizer.json is missing (it must sit next to config.json)")
                })?;
                let tokenizer =
                    Tokenizer::from_json(tokenizer_json.as_bytes(), hf.tokenizer_config_json.as_deref().map(str::as_bytes))?;
                Model::assemble(gpu, name, config, &ckpt, tokenizer, None)
            }
        }
    }

    fn assemble(
        gpu: &Gpu,
        name: String,
        config: ModelConfig,
        ckpt: &Checkpoint,
        tokenizer: Tokenizer,
        rope_factors: Option<Vec<f32>>,
    ) -> Result<Model> {
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(Error::format(
                &name,
                format!(
                    "the tokenizer has {} tokens but the model only {} embeddings",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            ));
        }
        let chat_template = tokenizer.chat_template.as_ref().map(ChatTemplate::from_source).transpose()?;
        Model::from_parts(gpu, name, config, ckpt, tokenizer, chat_template, rope_factors)
    }
}

/// The RoPE frequency divisors of GGUF tensor `t` (`rope_freqs.weight`); each must be finite
/// and positive.
fn rope_factors(file: &str, t: &TensorInfo, bytes: &[u8]) -> Result<Vec<f32>> {
    let factors = dequantize(t.ty(file)?, t.bytes(bytes), t.numel())?;
    if let Some((i, x)) = factors.iter().enumerate().find(|(_, x)| !(x.is_finite() && **x > 0.0)) {
        let what = format!("tensor {}: value {i} is {x}; the RoPE frequency divisors must be finite and positive", t.name);
        return Err(Error::format(file, what));
    }
    Ok(factors)
}
