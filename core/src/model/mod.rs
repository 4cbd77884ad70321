//! A loaded Llama-family model: configuration, frozen weights on the GPU, tokenizer and chat
//! template. [`Model::load`] accepts a GGUF file or a Hugging Face folder (as [`ModelFiles`]).

pub mod checkpoint;
pub mod config;
mod forward;
pub mod kv_cache;
pub mod names;
pub mod weights;

use crate::chat::ChatTemplate;
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor};
use crate::ops::rope::rope_inv_freq;
use crate::tokenizer::Tokenizer;
pub use checkpoint::Checkpoint;
pub use config::{Arch, ModelConfig};
pub use kv_cache::KvCache;
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
    /// ggml type names of the matrices and how many of each (for `anytune info`).
    pub tensor_types: Vec<(String, usize)>,
}

impl Model {
    /// Builds the model from a parsed config, a checkpoint and a tokenizer.
    pub fn from_parts(
        gpu: &Gpu,
        name: String,
        config: ModelConfig,
        ckpt: &Checkpoint,
        tokenizer: Tokenizer,
        chat_template: Option<ChatTemplate>,
    ) -> Result<Model> {
        let weights = ModelWeights::load(gpu, &config, ckpt)?;
        let freqs = rope_inv_freq(config.head_dim, config.rope_theta, config.rope_scaling.as_ref());
        let inv_freq = GpuTensor::from_slice(gpu, &[freqs.len()], &freqs);
        let tensor_types = ckpt.type_counts();
        Ok(Model { name, config, weights, tokenizer, chat_template, inv_freq, tensor_types })
    }
}
