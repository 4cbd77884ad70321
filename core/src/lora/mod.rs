//! LoRA: configuration ([`LoraConfig`]), host-side adapter weights initialised as PEFT does
//! ([`LoraWeights`]), and the two adapter file formats: PEFT's directory
//! (`adapter_config.json` + `adapter_model.safetensors`, loaded by `peft.PeftModel`) and GGUF
//! (loaded by llama.cpp's `--lora`). Both read back into the same [`LoraWeights`]. On the GPU:
//! [`LoraParams`] (A, B and their gradients), the branch products ([`branch`], with dropout),
//! DoRA's magnitude and detached norm ([`dora`], PEFT's `use_dora`) and
//! [`LoraPass`], the model's [`crate::model::Adapter`] for one pass.
//!
//! ```
//! use anytune_core::lora::{LoraConfig, LoraWeights};
//! # let model = anytune_core::lora::tests_support::tiny_model(anytune_core::model::Arch::Llama);
//! let w = LoraWeights::init(&LoraConfig::default(), &model, 42).unwrap();
//! let json = w.peft_config_json("HuggingFaceTB/SmolLM2-135M-Instruct");
//! let st = w.peft_safetensors().unwrap();
//! assert_eq!(LoraWeights::from_peft(&json, &st).unwrap(), w);
//! let gguf = w.to_gguf(&model).unwrap();
//! assert_eq!(LoraWeights::from_gguf(&gguf, "a.gguf", &model).unwrap().modules, w.modules);
//! ```

pub mod branch;
pub mod config;
pub mod dora;
pub mod gguf;
pub mod params;
pub mod pass;
pub mod peft;
#[cfg(test)]
mod tests;
pub mod weights;

pub use config::{Layers, LoraConfig, ModuleShape, Target};
pub use branch::LoraDropout;
pub use gguf::gguf_tensor_name;
pub use params::{LoraParams, LoraSlot};
pub use pass::{LoraBuffers, LoraPass};
pub use peft::{PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, parse_peft_config, peft_magnitude_name, peft_tensor_name};
pub use weights::{
    LoraModule, LoraWeights, kaiming_bound, permute_rows_to_gguf, permute_rows_to_hf,
};

/// Small model configurations for examples and tests.
#[doc(hidden)]
pub mod tests_support {
    use crate::model::{Arch, ModelConfig};

    /// The shape of `tests/fixtures/tiny-llama` (C 64, 4 heads, 2 KV heads, D 16, F 160,
    /// 2 layers), with the given architecture.
    pub fn tiny_model(arch: Arch) -> ModelConfig {
        ModelConfig {
            arch,
            vocab_size: 320,
            dim: 64,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            head_dim: 16,
            ffn_dim: 160,
            rope_theta: 10000.0,
            rope_scaling: None,
            norm_eps: 1e-5,
            tied_embeddings: false,
            qkv_bias: arch == Arch::Qwen2,
            max_seq_len: 128,
            sliding_window: None,
            query_pre_attn_scalar: None,
        }
    }
}
