//! A loaded model: configuration, frozen weights on the GPU, tokenizer and chat template.
//! [`Model::load`] accepts a GGUF file or a Hugging Face folder (as [`ModelFiles`]).
//!
//! Layers: [`linear`] (a frozen linear with an optional [`Adapter`], the only seam adapters use),
//! [`buffers`] (the buffer tables that allocate and size memory), one file per architecture's
//! block (`llama.rs`, `gemma3.rs`) built from the shared halves ([`attention`], [`mlp`]),
//! [`blocks`] (maps an [`Arch`] to its block), and the model-level loops
//! ([`forward`], [`backward`]). Nothing here knows LoRA.

pub mod attention;
pub mod backward;
pub mod blocks;
pub mod buffers;
pub mod checkpoint;
pub mod config;
pub mod forward;
pub mod gemma3;
pub mod kv_cache;
pub mod known_name;
pub mod linear;
pub mod llama;
mod load;
pub mod mlp;
pub mod names;
pub mod store16;
pub mod synthetic;
pub mod weights;

use crate::chat::{ChatTemplate, Message};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor};
use crate::ops::rope::rope_inv_freq;
use crate::tokenizer::Tokenizer;
pub use backward::Grads;
pub use checkpoint::Checkpoint;
pub use config::{Arch, ModelConfig};
pub use forward::{Activations, Saved};
pub use linear::{Adapter, AdapterWeights, Linear, Site, Target};
pub use kv_cache::KvCache;
pub use load::open_checkpoint;
pub use weights::ModelWeights;

/// Everything needed to run a model.
pub struct Model {
    /// File or folder it came from.
    pub name: String,
    pub config: ModelConfig,
    pub weights: ModelWeights,
    pub tokenizer: Tokenizer,
    pub chat_template: Option<ChatTemplate>,
    /// RoPE inverse frequencies (D/2), from theta and the rope scaling.
    pub inv_freq: GpuTensor,
    /// Those of the sliding-window layers, from their own base (Gemma 3).
    pub inv_freq_local: Option<GpuTensor>,
    /// ggml type names of the matrices and how many of each (for `anytune info`).
    pub tensor_types: Vec<(String, usize)>,
    /// The name users know the model by (a Hugging Face id, from GGUF metadata:
    /// [`known_name::known_name`]), for PEFT's `base_model_name_or_path`; `None` when its files
    /// do not say.
    pub known_as: Option<String>,
    /// An adapter applied by [`Model::forward`] (generation and scoring with `--adapter`).
    pub adapter: Option<Box<dyn AdapterWeights>>,
}

impl Model {
    /// Builds the model from a parsed config, a checkpoint and a tokenizer; `rope_factors`
    /// divide the RoPE frequencies (GGUF `rope_freqs.weight`).
    pub fn from_parts(
        gpu: &Gpu,
        name: String,
        config: ModelConfig,
        ckpt: &Checkpoint,
        tokenizer: Tokenizer,
        chat_template: Option<ChatTemplate>,
        rope_factors: Option<Vec<f32>>,
    ) -> Result<Model> {
        let weights = ModelWeights::load(gpu, &config, ckpt)?;
        let mut freqs = rope_inv_freq(config.head_dim, config.rope_theta, config.rope_scaling.as_ref());
        // Llama 3.1+ GGUFs store the scaling as per-frequency divisors (`rope_freqs.weight`).
        if let Some(factors) = rope_factors {
            if factors.len() != freqs.len() {
                return Err(crate::Error::format(
                    &name,
                    format!("rope_freqs.weight has {} values, expected head_dim / 2 = {}", factors.len(), freqs.len()),
                ));
            }
            freqs.iter_mut().zip(&factors).for_each(|(f, d)| *f /= d);
        }
        let inv_freq = GpuTensor::from_slice(gpu, &[freqs.len()], &freqs);
        let inv_freq_local = config.sliding_window.as_ref().map(|sw| {
            let local = rope_inv_freq(config.head_dim, sw.local_rope_theta, None);
            GpuTensor::from_slice(gpu, &[local.len()], &local)
        });
        let tensor_types = ckpt.type_counts();
        Ok(Model { name, config, weights, tokenizer, chat_template, inv_freq, inv_freq_local, tensor_types, known_as: None, adapter: None })
    }
}

impl Model {
    /// Renders `messages` with the model's chat template (as transformers'
    /// `apply_chat_template(..., tokenize=False)`), or an error if the model has none.
    pub fn render_chat(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let template = self.chat_template.as_ref().ok_or_else(|| {
            crate::Error::invalid("chat", format!("{} has no chat template; use a raw prompt instead", self.name))
        })?;
        let text = |t: &Option<crate::tokenizer::SpecialToken>| t.as_ref().map_or(String::new(), |t| t.text.clone());
        template.render(messages, add_generation_prompt, &text(&self.tokenizer.bos), &text(&self.tokenizer.eos))
    }
}

#[cfg(test)]
mod layering_tests {
    /// `model/` names nothing of `lora/` outside comments: adapters plug in through
    /// [`super::Adapter`] only, so a new adapter type never touches the model.
    #[test]
    fn model_imports_nothing_from_lora() {
        fn rs_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    rs_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        rs_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/model"), &mut files);
        assert!(files.len() > 10, "found {} files", files.len());
        let needle = ["lora", "::"].concat(); // not spelled out, or this file would match
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                assert!(!code.contains(&needle), "{}:{}: {line}", file.display(), i + 1);
            }
        }
    }
}
