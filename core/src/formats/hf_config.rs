//! Hugging Face `config.json` of Llama-like decoders (Llama 2/3.x, TinyLlama, SmolLM2, Mistral,
//! Qwen2/2.5): the fields anytune needs, with HF's defaults filled in.
//!
//! Each field is read on its own so that an error names it
//! (`config.json: field hidden_size: invalid type: string "576", expected usize`).
//!
//! ```
//! let c = anytune_core::formats::HfConfig::parse(r#"{"model_type": "llama", "vocab_size": 10,
//!   "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
//!   "num_attention_heads": 2, "rms_norm_eps": 1e-5}"#, "config.json").unwrap();
//! assert_eq!((c.num_key_value_heads, c.head_dim, c.rope_theta), (2, 4, 10000.0));
//! ```

use crate::error::{Error, Result};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// `config.json`, resolved: fields HF lets you omit hold HF's default.
#[derive(Clone, Debug, PartialEq)]
pub struct HfConfig {
    /// e.g. `["LlamaForCausalLM"]`; empty when absent.
    pub architectures: Vec<String>,
    /// `llama`, `qwen2`, `mistral`, …
    pub model_type: String,
    pub vocab_size: usize,
    /// Model width C.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Default: `num_attention_heads` (no grouped-query attention).
    pub num_key_value_heads: usize,
    /// Default: `hidden_size / num_attention_heads`.
    pub head_dim: usize,
    /// Default: 10000.
    pub rope_theta: f64,
    /// Default: 1e-6 (HF's `LlamaConfig` default).
    pub rms_norm_eps: f64,
    /// Default: 2048 (HF's `LlamaConfig` default).
    pub max_position_embeddings: usize,
    /// Whether `lm_head` reuses the token embedding. Default: false.
    pub tie_word_embeddings: bool,
    /// Bias on the q/k/v projections. Default: true for `qwen2` (which has it without the
    /// flag), false otherwise.
    pub attention_bias: bool,
    pub rope_scaling: Option<RopeScaling>,
    pub bos_token_id: Option<u32>,
    /// Every end-of-sequence id (`eos_token_id` may be one id or a list); empty when absent.
    pub eos_token_ids: Vec<u32>,
    /// `float32`, `bfloat16`, … as written; `None` when absent.
    pub torch_dtype: Option<String>,
    /// Gemma 3: keys a sliding layer sees (`null` or absent: none).
    pub sliding_window: Option<usize>,
    /// Gemma 3: `sliding_attention` / `full_attention` per layer.
    pub layer_types: Option<Vec<String>>,
    /// Gemma 3: RoPE base of the sliding layers (`rope_local_base_freq`, or transformers 5's
    /// `rope_parameters.sliding_attention.rope_theta`).
    pub rope_local_base_freq: Option<f64>,
    /// Gemma 3: the attention scale is `query_pre_attn_scalar^-0.5`.
    pub query_pre_attn_scalar: Option<f64>,
}

/// `rope_scaling` (Llama 3.x: `rope_type` "llama3" with the frequency factors; older files
/// write `type` "linear" or "dynamic").
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RopeScaling {
    /// `rope_type`, or the older key `type`.
    #[serde(alias = "type")]
    pub rope_type: String,
    #[serde(default = "one")]
    pub factor: f64,
    pub low_freq_factor: Option<f64>,
    pub high_freq_factor: Option<f64>,
    pub original_max_position_embeddings: Option<usize>,
}

fn one() -> f64 {
    1.0
}

impl HfConfig {
    /// Parses `config.json` text; `file` names it in errors.
    pub fn parse(json: &str, file: &str) -> Result<HfConfig> {
        let obj: Map<String, Value> =
            serde_json::from_str(json).map_err(|e| Error::format(file, format!("not a JSON object: {e}")))?;
        let f = Fields { obj: &obj, file };
        let model_type: String = f.opt("model_type")?.unwrap_or_default();
        let hidden_size: usize = f.req("hidden_size")?;
        let num_attention_heads: usize = f.req("num_attention_heads")?;
        if hidden_size == 0 || num_attention_heads == 0 {
            return Err(f.err("hidden_size", "hidden_size and num_attention_heads must be positive"));
        }
        let num_key_value_heads = f.opt("num_key_value_heads")?.unwrap_or(num_attention_heads);
        if num_key_value_heads == 0 || !num_attention_heads.is_multiple_of(num_key_value_heads) {
            return Err(f.err(
                "num_key_value_heads",
                &format!("{num_key_value_heads} does not divide num_attention_heads {num_attention_heads}"),
            ));
        }
        let head_dim = match f.opt::<usize>("head_dim")? {
            Some(d) if d > 0 => d,
            Some(_) => return Err(f.err("head_dim", "must be positive")),
            None if hidden_size.is_multiple_of(num_attention_heads) => hidden_size / num_attention_heads,
            None => {
                return Err(f.err(
                    "head_dim",
                    &format!("missing, and hidden_size {hidden_size} is not a multiple of num_attention_heads {num_attention_heads}"),
                ));
            }
        };
        let eos_token_ids = match f.opt::<Value>("eos_token_id")? {
            None => Vec::new(),
            Some(v @ Value::Array(_)) => {
                Vec::<u32>::deserialize(&v).map_err(|e| f.err("eos_token_id", &e.to_string()))?
            }
            Some(v) => vec![u32::deserialize(&v).map_err(|e| f.err("eos_token_id", &e.to_string()))?],
        };
        // transformers ≥ 5 writes `rope_parameters {rope_type, rope_theta, factor, …}`; published
        // checkpoints carry a top-level `rope_theta` and `rope_scaling`. Accept both.
        let rope_parameters: Option<Map<String, Value>> = f.opt("rope_parameters")?;
        // Gemma 3 in transformers 5: `rope_parameters {full_attention: {…}, sliding_attention: {…}}`.
        let per_type = |t: &str| rope_parameters.as_ref().and_then(|p| p.get(t)).and_then(|p| p.get("rope_theta")).and_then(Value::as_f64);
        let rope_theta = match f.opt::<f64>("rope_theta")? {
            Some(theta) => theta,
            None => rope_parameters
                .as_ref()
                .and_then(|p| p.get("rope_theta"))
                .and_then(Value::as_f64)
                .or_else(|| per_type("full_attention"))
                .unwrap_or(10000.0),
        };
        let rope_local_base_freq = f.opt::<f64>("rope_local_base_freq")?.or_else(|| per_type("sliding_attention"));
        let rope_scaling = match f.opt::<RopeScaling>("rope_scaling")? {
            Some(s) => Some(s),
            None => match &rope_parameters {
                Some(p) if p.get("rope_type").and_then(Value::as_str).is_some_and(|t| t != "default") => Some(
                    RopeScaling::deserialize(Value::Object(p.clone()))
                        .map_err(|e| f.err("rope_parameters", &e.to_string()))?,
                ),
                _ => None,
            },
        };
        Ok(HfConfig {
            architectures: f.opt("architectures")?.unwrap_or_default(),
            attention_bias: f.opt("attention_bias")?.unwrap_or(model_type == "qwen2"),
            model_type,
            vocab_size: f.req("vocab_size")?,
            hidden_size,
            intermediate_size: f.req("intermediate_size")?,
            num_hidden_layers: f.req("num_hidden_layers")?,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rope_theta,
            rms_norm_eps: f.opt("rms_norm_eps")?.unwrap_or(1e-6),
            max_position_embeddings: f.opt("max_position_embeddings")?.unwrap_or(2048),
            tie_word_embeddings: f.opt("tie_word_embeddings")?.unwrap_or(false),
            rope_scaling,
            bos_token_id: f.opt("bos_token_id")?,
            eos_token_ids,
            torch_dtype: f.opt("torch_dtype")?,
            sliding_window: f.opt("sliding_window")?,
            layer_types: f.opt("layer_types")?,
            rope_local_base_freq,
            query_pre_attn_scalar: f.opt("query_pre_attn_scalar")?,
        })
    }
}

/// Field-by-field access to the JSON object, with errors naming the field.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    file: &'a str,
}

impl Fields<'_> {
    fn err(&self, field: &str, what: &str) -> Error {
        Error::format(self.file, format!("field {field}: {what}"))
    }

    /// An optional field; `null` counts as absent (HF writes `"rope_scaling": null`).
    fn opt<T: DeserializeOwned>(&self, field: &str) -> Result<Option<T>> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::deserialize(v).map(Some).map_err(|e| self.err(field, &e.to_string())),
        }
    }

    /// A required field.
    fn req<T: DeserializeOwned>(&self, field: &str) -> Result<T> {
        self.opt(field)?.ok_or_else(|| self.err(field, "missing (a Llama-like config.json must have it)"))
    }
}
