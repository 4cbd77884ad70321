//! The merged model as a Hugging Face folder that `transformers.AutoModelForCausalLM` loads:
//! `config.json`, `model.safetensors` (HF names, f32/f16/bf16), `tokenizer.json`,
//! `tokenizer_config.json` (special tokens, chat template) and `generation_config.json`.
//!
//! From an HF base the JSON files are the base's own (config.json with its dtype updated), and
//! its `tokenizer.model` / `added_tokens.json` where it has them; from a GGUF base they are
//! built from [`ModelConfig`] and the tokenizer the GGUF's metadata rebuilds, and a SentencePiece
//! vocabulary (Gemma 3, Llama 2 style) also gets `tokenizer.model` and `tokenizer_config.json`'s
//! `added_tokens_decoder` ([`crate::tokenizer::gguf_sentencepiece`]), so that llama.cpp's
//! converter rebuilds the GGUF's vocabulary from the folder. Tied embeddings: no
//! `lm_head.weight`, `tie_word_embeddings: true`.

use super::merge::{MergeSource, ROPE_FREQS};
use super::ExportedFile;
use crate::error::{Error, Result};
use crate::formats::safetensors_write::SafetensorsWriter;
use crate::formats::source::ModelFormat;
use crate::model::names::Naming;
use crate::model::{Arch, ModelConfig};
use crate::quant::GgmlType;
use crate::formats::{MetaValue, Metadata};
use crate::tokenizer::{Tokenizer, gguf_sentencepiece};
use half::{bf16, f16};
use serde_json::{Value, json};

/// The folder's files for the merged model of `src`, every tensor in `ty` (F32, F16 or BF16).
pub fn write(src: &MergeSource, ty: GgmlType) -> Result<Vec<ExportedFile>> {
    let (dtype, torch) = match ty {
        GgmlType::F32 => ("F32", "float32"),
        GgmlType::F16 => ("F16", "float16"),
        GgmlType::BF16 => ("BF16", "bfloat16"),
        other => return Err(Error::invalid("--type", format!("{} cannot be written to a Hugging Face folder (f32, f16 or bf16)", other.name()))),
    };
    if src.rope_freqs()?.is_some() {
        return Err(Error::format(
            &src.name,
            format!("{ROPE_FREQS} (per-frequency RoPE divisors) has no config.json form anytune writes: export --format gguf"),
        ));
    }
    let mut st = SafetensorsWriter::new();
    st.set_metadata("format", "pt");
    for p in src.plan() {
        let values = src.values(p)?;
        let bytes: Vec<u8> = match ty {
            GgmlType::F16 => values.iter().flat_map(|x| f16::from_f32(*x).to_le_bytes()).collect(),
            GgmlType::BF16 => values.iter().flat_map(|x| bf16::from_f32(*x).to_le_bytes()).collect(),
            _ => values.iter().flat_map(|x| x.to_le_bytes()).collect(),
        };
        st.add_tensor(p.role.name(Naming::HuggingFace), dtype, &p.shape, bytes)?;
    }
    let weights = st.to_bytes()?;
    let json = |v: &Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    let mut files = match &src.format {
        ModelFormat::HuggingFace(hf) => {
            let mut config: Value = serde_json::from_str(&hf.config_json)
                .map_err(|e| Error::format("config.json", format!("not JSON: {e}")))?;
            if let Some(obj) = config.as_object_mut() {
                let key = if obj.contains_key("dtype") { "dtype" } else { "torch_dtype" };
                obj.insert(key.into(), json!(torch));
            }
            let text = |t: &Option<String>, name: &str| {
                t.clone().ok_or_else(|| Error::format(&src.name, format!("{name} is missing; the export copies it")))
            };
            let mut files = vec![
                ("config.json".to_string(), json(&config)),
                ("tokenizer.json".to_string(), text(&hf.tokenizer_json, "tokenizer.json")?.into_bytes()),
            ];
            if let Some(t) = &hf.tokenizer_config_json {
                files.push(("tokenizer_config.json".into(), t.clone().into_bytes()));
            }
            if let Some(model) = &hf.tokenizer_model {
                files.push(("tokenizer.model".into(), model.clone()));
            }
            if let Some(t) = &hf.added_tokens_json {
                files.push(("added_tokens.json".into(), t.clone().into_bytes()));
            }
            files.push(("generation_config.json".into(), match &hf.generation_config_json {
                Some(t) => t.clone().into_bytes(),
                None => json(&generation_config(&tokenizer_of(src)?)),
            }));
            files
        }
        ModelFormat::Gguf { gguf, .. } => {
            let tok = tokenizer_of(src)?;
            let mut tokenizer_config = tokenizer_config(&src.config, &tok);
            gguf_special_config(&mut tokenizer_config, &gguf.metadata, &src.name)?;
            let mut files = vec![
                ("config.json".to_string(), json(&config_json(&src.config, &tok, torch))),
                ("tokenizer.json".to_string(), tok.to_json()?.into_bytes()),
                ("tokenizer_config.json".to_string(), json(&tokenizer_config)),
                ("generation_config.json".to_string(), json(&generation_config(&tok))),
            ];
            if let Some(model) = gguf_sentencepiece::tokenizer_model(&gguf.metadata, &src.name)? {
                files.push(("tokenizer.model".to_string(), model));
            }
            files
        }
    };
    files.insert(1, ("model.safetensors".to_string(), weights));
    Ok(files)
}

/// The base's tokenizer (rebuilt from GGUF metadata, or its tokenizer.json).
fn tokenizer_of(src: &MergeSource) -> Result<Tokenizer> {
    match &src.format {
        ModelFormat::Gguf { gguf, .. } => Tokenizer::from_gguf(&gguf.metadata, &src.name),
        ModelFormat::HuggingFace(hf) => {
            let json = hf.tokenizer_json.as_deref().unwrap_or_default();
            Tokenizer::from_json(json.as_bytes(), hf.tokenizer_config_json.as_deref().map(str::as_bytes))
        }
    }
}

/// `config.json` of a model of `cfg`, with the fields transformers reads for each family.
pub fn config_json(cfg: &ModelConfig, tok: &Tokenizer, torch_dtype: &str) -> Value {
    let (architecture, model_type, act) = match cfg.arch {
        Arch::Llama => ("LlamaForCausalLM", "llama", "silu"),
        Arch::Qwen2 => ("Qwen2ForCausalLM", "qwen2", "silu"),
        Arch::Qwen3 => ("Qwen3ForCausalLM", "qwen3", "silu"),
        Arch::Gemma3 => ("Gemma3ForCausalLM", "gemma3_text", "gelu_pytorch_tanh"),
    };
    let f = |x: f32| x.to_string().parse::<f64>().unwrap_or(x as f64); // 1e-5, not 9.99999974e-6
    let mut c = json!({
        "architectures": [architecture],
        "model_type": model_type,
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.ffn_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        if cfg.arch == Arch::Gemma3 { "hidden_activation" } else { "hidden_act" }: act,
        "rms_norm_eps": f(cfg.norm_eps),
        "rope_theta": f(cfg.rope_theta),
        "max_position_embeddings": cfg.max_seq_len,
        "tie_word_embeddings": cfg.tied_embeddings,
        "attention_bias": cfg.qkv_bias,
        "torch_dtype": torch_dtype,
        "bos_token_id": tok.bos.as_ref().map(|t| t.id),
        "eos_token_id": tok.eos.as_ref().map(|t| t.id),
    });
    let Some(obj) = c.as_object_mut() else { return c };
    if let Some(s) = &cfg.rope_scaling {
        obj.insert("rope_scaling".into(), json!({ "rope_type": "linear", "factor": f(s.factor) }));
    }
    if let Some(sw) = &cfg.sliding_window {
        let types: Vec<&str> = sw.sliding.iter().map(|&s| if s { "sliding_attention" } else { "full_attention" }).collect();
        obj.insert("sliding_window".into(), json!(sw.window));
        obj.insert("layer_types".into(), json!(types));
        obj.insert("rope_local_base_freq".into(), json!(f(sw.local_rope_theta)));
    }
    if cfg.arch == Arch::Gemma3 {
        // transformers types it as an int (Gemma3TextConfig refuses 32.0): an integral value is written as one.
        let s = cfg.query_pre_attn_scalar.unwrap_or(cfg.head_dim as f32);
        let value = if s.fract() == 0.0 && s.abs() < 1e9 { json!(s as i64) } else { json!(f(s)) };
        obj.insert("query_pre_attn_scalar".into(), value);
    }
    c
}

/// `tokenizer_config.json`: the special tokens, whether BOS is added, the chat template.
fn tokenizer_config(cfg: &ModelConfig, tok: &Tokenizer) -> Value {
    json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": tok.bos.as_ref().map(|t| t.text.clone()),
        "eos_token": tok.eos.as_ref().map(|t| t.text.clone()),
        "add_bos_token": tok.add_bos,
        "clean_up_tokenization_spaces": false,
        "model_max_length": cfg.max_seq_len,
        "chat_template": tok.chat_template.as_ref().map(|t| t.source.clone()),
    })
}

/// What `tokenizer_config.json` says beyond [`tokenizer_config`] for a GGUF base, so a converter
/// finds the GGUF's specials again: the padding and unknown tokens' texts, the GGUF's
/// `add_{bos,eos,sep}_token` flags, a Llama file's `add_space_prefix` (as `add_prefix_space`,
/// which llama.cpp's LlamaModel reads back), and a SentencePiece vocabulary's `added_tokens_decoder`.
fn gguf_special_config(config: &mut Value, meta: &Metadata, file: &str) -> Result<()> {
    let tokens = meta.get("tokenizer.ggml.tokens").and_then(MetaValue::as_array);
    let text = |key: &str| {
        let id = meta.get(&format!("tokenizer.ggml.{key}_token_id")).and_then(MetaValue::as_u64)?;
        tokens?.get(id as usize)?.as_str().map(|t| t.to_string())
    };
    let Some(obj) = config.as_object_mut() else { return Ok(()) };
    for (key, gguf_key) in [("pad_token", "padding"), ("unk_token", "unknown")] {
        if let Some(t) = text(gguf_key) {
            obj.insert(key.into(), json!(t));
        }
    }
    for flag in ["add_bos_token", "add_eos_token", "add_sep_token"] {
        if let Some(b) = meta.get(&format!("tokenizer.ggml.{flag}")).and_then(MetaValue::as_bool) {
            obj.insert(flag.into(), json!(b));
        }
    }
    let llama = meta.get("general.architecture").and_then(MetaValue::as_str) == Some("llama");
    if let Some(b) = meta.get("tokenizer.ggml.add_space_prefix").and_then(MetaValue::as_bool).filter(|_| llama) {
        obj.insert("add_prefix_space".into(), json!(b));
    }
    if let Some(decoder) = gguf_sentencepiece::added_tokens_decoder(meta, file)? {
        obj.insert("added_tokens_decoder".into(), decoder);
    }
    Ok(())
}

/// `generation_config.json`: BOS and every stop id as `eos_token_id`.
fn generation_config(tok: &Tokenizer) -> Value {
    json!({ "bos_token_id": tok.bos.as_ref().map(|t| t.id), "eos_token_id": tok.stop_ids })
}
