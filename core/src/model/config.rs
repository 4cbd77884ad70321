//! [`ModelConfig`]: the hyperparameters of a model, from GGUF metadata (`llama.*`, `qwen2.*`,
//! `qwen3.*`, `gemma3.*`) or from a Hugging Face `config.json`.

use crate::error::{Error, Result};
use crate::formats::GgufFile;
use crate::formats::hf_config::HfConfig;
use crate::ops::rope::{RopeScaling, RopeType};

pub mod limits;

/// A model architecture. Llama, Qwen2 and Qwen3 share the Llama block (`model/llama.rs`:
/// biases and q/k norms are options of it); Gemma 3 has its own (`model/gemma3.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Llama 2/3, SmolLM, TinyLlama, Mistral-style: no biases.
    Llama,
    /// Qwen2 / Qwen2.5: biases on q, k, v.
    Qwen2,
    /// Qwen3: RMSNorm of each query and key head, no biases.
    Qwen3,
    /// Gemma 3: sandwich norms, q/k norms, GeGLU, √d embedding scale, sliding-window layers.
    Gemma3,
}

impl Arch {
    /// Every architecture, for "supported: …" messages.
    pub const ALL: [Arch; 4] = [Arch::Llama, Arch::Qwen2, Arch::Qwen3, Arch::Gemma3];

    /// The GGUF `general.architecture` name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Gemma3 => "gemma3",
        }
    }

    /// The architecture named `name` in GGUF.
    pub fn from_gguf_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether llama.cpp's converter permutes this architecture's q/k rows (interleaved RoPE
    /// pairs): only Llama's; the others use NEOX-style (split halves) RoPE as transformers does.
    pub fn gguf_qk_permuted(self) -> bool {
        self == Arch::Llama
    }

    /// Whether q and k are RMS-normed per head before RoPE.
    pub fn qk_norm(self) -> bool {
        matches!(self, Arch::Qwen3 | Arch::Gemma3)
    }
}

/// Sliding-window attention on some layers (Gemma 3: five of every six, the sixth global).
#[derive(Clone, Debug, PartialEq)]
pub struct SlidingWindow {
    /// Keys a query sees on a sliding layer, itself included.
    pub window: usize,
    /// Per layer: whether it slides (the others attend to every earlier position).
    pub sliding: Vec<bool>,
    /// RoPE base of the sliding layers (the global ones use `rope_theta`).
    pub local_rope_theta: f32,
}

impl SlidingWindow {
    /// Gemma 3's pattern as llama.cpp hard-codes it: every sixth layer global.
    pub fn every_sixth_global(window: usize, n_layers: usize, local_rope_theta: f32) -> SlidingWindow {
        SlidingWindow { window, sliding: (0..n_layers).map(|l| l % 6 != 5).collect(), local_rope_theta }
    }

    /// Whether `layer` slides.
    pub fn slides(&self, layer: usize) -> bool {
        self.sliding.get(layer).copied().unwrap_or(false)
    }
}

/// Model hyperparameters. Shapes elsewhere use C = `dim`, H = `n_heads`, KVH = `n_kv_heads`,
/// D = `head_dim`, F = `ffn_dim`, V = `vocab_size`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub arch: Arch,
    pub vocab_size: usize,
    pub dim: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub ffn_dim: usize,
    pub rope_theta: f32,
    pub rope_scaling: Option<RopeScaling>,
    pub norm_eps: f32,
    /// The output projection is the token embedding (`lm_head` tied to `embed_tokens`).
    pub tied_embeddings: bool,
    /// Biases on the q/k/v projections (Qwen2).
    pub qkv_bias: bool,
    /// Context length the model was trained for.
    pub max_seq_len: usize,
    /// Sliding-window layers (Gemma 3), `None` for full attention everywhere.
    pub sliding_window: Option<SlidingWindow>,
    /// The attention scale is `1/√query_pre_attn_scalar` (Gemma 3), `None`: `1/√head_dim`.
    pub query_pre_attn_scalar: Option<f32>,
}

impl ModelConfig {
    /// Reads `{arch}.*` metadata of a GGUF file. Tied embeddings are detected from the absence
    /// of `output.weight`.
    pub fn from_gguf(gguf: &GgufFile) -> Result<ModelConfig> {
        let arch_name = gguf
            .require("general.architecture")?
            .as_str()
            .ok_or_else(|| Error::format(&gguf.file, "general.architecture is not a string"))?;
        let arch = Arch::from_gguf_name(arch_name).ok_or_else(|| {
            let names: Vec<&str> = Arch::ALL.iter().map(|a| a.name()).collect();
            Error::format(&gguf.file, format!("architecture \"{arch_name}\" is not supported (supported: {})", names.join(", ")))
        })?;
        let key = |k: &str| format!("{arch_name}.{k}");
        let u = |k: &str| gguf.require_usize(&key(k));
        let opt_u = |k: &str| gguf.opt_usize(&key(k));
        let opt_f = |k: &str| gguf.opt_f64(&key(k));
        let dim = u("embedding_length")?;
        let n_heads = u("attention.head_count")?;
        let n_kv_heads = opt_u("attention.head_count_kv")?.unwrap_or(n_heads);
        let head_dim = opt_u("attention.key_length")?.unwrap_or(dim / n_heads.max(1));
        let vocab_size = match opt_u("vocab_size")? {
            Some(v) => v,
            None => gguf
                .tensor("token_embd.weight")
                .and_then(|t| t.shape.first().copied())
                .ok_or_else(|| Error::format(&gguf.file, "no vocab size: neither vocab_size metadata nor token_embd.weight"))?,
        };
        // Llama 3.1+ GGUFs carry the scaled frequencies as a `rope_freqs.weight` tensor instead
        // (applied by the loader); linear scaling is metadata.
        let scaling_type = key("rope.scaling.type");
        let rope_scaling = match gguf.get(&scaling_type) {
            None => None,
            Some(v) => match v.as_str() {
                Some("linear") => Some(RopeScaling {
                    rope_type: RopeType::Linear,
                    factor: opt_f("rope.scaling.factor")?.unwrap_or(1.0) as f32,
                    low_freq_factor: 1.0,
                    high_freq_factor: 4.0,
                    original_max_position_embeddings: 8192,
                }),
                Some("none") => None,
                Some(other) => {
                    return Err(Error::format(&gguf.file, format!("rope scaling type \"{other}\" is not supported")));
                }
                None => return Err(Error::format(&gguf.file, format!("metadata {scaling_type} = {v:?} is not a string"))),
            },
        };
        let config = ModelConfig {
            arch,
            vocab_size,
            dim,
            n_layers: u("block_count")?,
            n_heads,
            n_kv_heads,
            head_dim,
            ffn_dim: u("feed_forward_length")?,
            rope_theta: opt_f("rope.freq_base")?.unwrap_or(10000.0) as f32,
            rope_scaling,
            norm_eps: opt_f("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-5) as f32,
            tied_embeddings: gguf.tensor("output.weight").is_none(),
            qkv_bias: arch == Arch::Qwen2,
            max_seq_len: opt_u("context_length")?.unwrap_or(2048),
            // llama.cpp hard-codes Gemma 3's pattern (every sixth layer global) and local base.
            sliding_window: match (arch, opt_u("attention.sliding_window")?) {
                (Arch::Gemma3, Some(window)) => Some(SlidingWindow::every_sixth_global(window, u("block_count")?, 10000.0)),
                _ => None,
            },
            // llama.cpp: Gemma 3 scales queries by 1/√key_length (= query_pre_attn_scalar).
            query_pre_attn_scalar: None,
        };
        config.validate_keys(&gguf.file, &|f: limits::Field| f.gguf_key(arch_name))?;
        Ok(config)
    }

    /// Converts a Hugging Face `config.json` (`file` names it in errors).
    pub fn from_hf(hf: &HfConfig, file: &str) -> Result<ModelConfig> {
        let arch = match hf.model_type.as_str() {
            "llama" | "mistral" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            "gemma3_text" => Arch::Gemma3,
            other => {
                return Err(Error::format(
                    file,
                    format!("model_type \"{other}\" is not supported (supported: llama, mistral, qwen2, qwen3, gemma3_text)"),
                ));
            }
        };
        let rope_scaling = match &hf.rope_scaling {
            None => None,
            Some(s) => {
                let rope_type = match s.rope_type.as_str() {
                    "default" => None,
                    "linear" => Some(RopeType::Linear),
                    "llama3" => Some(RopeType::Llama3),
                    other => {
                        return Err(Error::format(
                            file,
                            format!("rope_scaling type \"{other}\" is not supported (supported: linear, llama3)"),
                        ));
                    }
                };
                rope_type.map(|rope_type| RopeScaling {
                    rope_type,
                    factor: s.factor as f32,
                    low_freq_factor: s.low_freq_factor.unwrap_or(1.0) as f32,
                    high_freq_factor: s.high_freq_factor.unwrap_or(4.0) as f32,
                    original_max_position_embeddings: s.original_max_position_embeddings.unwrap_or(8192),
                })
            }
        };
        let config = ModelConfig {
            arch,
            vocab_size: hf.vocab_size,
            dim: hf.hidden_size,
            n_layers: hf.num_hidden_layers,
            n_heads: hf.num_attention_heads,
            n_kv_heads: hf.num_key_value_heads,
            head_dim: hf.head_dim,
            ffn_dim: hf.intermediate_size,
            rope_theta: hf.rope_theta as f32,
            rope_scaling,
            norm_eps: hf.rms_norm_eps as f32,
            tied_embeddings: hf.tie_word_embeddings,
            qkv_bias: hf.attention_bias,
            max_seq_len: hf.max_position_embeddings,
            sliding_window: match (arch, hf.sliding_window) {
                (Arch::Gemma3, Some(window)) => {
                    let theta = hf.rope_local_base_freq.unwrap_or(10000.0) as f32;
                    Some(match &hf.layer_types {
                        Some(types) => SlidingWindow {
                            window,
                            sliding: types.iter().map(|t| t == "sliding_attention").collect(),
                            local_rope_theta: theta,
                        },
                        None => SlidingWindow::every_sixth_global(window, hf.num_hidden_layers, theta),
                    })
                }
                _ => None,
            },
            query_pre_attn_scalar: hf.query_pre_attn_scalar.map(|s| s as f32),
        };
        config.validate(file)?;
        Ok(config)
    }

    /// Checks every hyperparameter against [`limits`] and the divisibility rules the kernels
    /// rely on, and that every product of sizes used later (`H·D`, `C·F`, `V·C`, …) fits a
    /// `usize`: an error names `file` and the value, with the allowed range.
    pub fn validate(&self, file: &str) -> Result<()> {
        self.validate_keys(file, &|f: limits::Field| f.hf_key())
    }

    /// [`ModelConfig::validate`], naming each field by the key `file` uses for it.
    pub fn validate_keys(&self, file: &str, key: &dyn Fn(limits::Field) -> String) -> Result<()> {
        limits::check(self, key).map_err(|what| Error::format(file, what))
    }

    /// Number of parameters (weights of every matrix, norms and biases).
    /// Saturates at `usize::MAX` (a model of more than 2^32 parameters on wasm32).
    pub fn parameter_count(&self) -> usize {
        let n = |x: usize| x as u128;
        let (c, f, d) = (n(self.dim), n(self.ffn_dim), n(self.head_dim));
        let q = n(self.n_heads) * d;
        let kv = n(self.n_kv_heads) * d;
        let attn = c * q + 2 * c * kv + q * c + if self.qkv_bias { q + 2 * kv } else { 0 };
        let mlp = 3 * c * f;
        let norms = if self.arch == Arch::Gemma3 { 4 * c } else { 2 * c } + if self.arch.qk_norm() { 2 * d } else { 0 };
        let layer = attn + mlp + norms;
        let embed = n(self.vocab_size) * c * if self.tied_embeddings { 1 } else { 2 };
        usize::try_from(n(self.n_layers) * layer + embed + c).unwrap_or(usize::MAX)
    }
}
