//! The GGUF metadata of a model exported from a Hugging Face folder, as llama.cpp's
//! `convert_hf_to_gguf.py` writes it for these models: the architecture keys from its
//! [`ModelConfig`], and `tokenizer.ggml.*` rebuilt from `tokenizer.json` (byte-level BPE: the
//! vocabulary in id order, the merges, token types, the pre-tokenizer by its llama.cpp name)
//! with the special ids, BOS flag and chat template of `tokenizer_config.json`.
//!
//! Refused by name, with what to do: Gemma 3 (its SentencePiece vocabulary needs the scores of
//! `tokenizer.model`), a tokenizer that is not byte-level BPE or whose pre-tokenizer llama.cpp
//! does not name, and Llama 3 RoPE scaling (GGUF carries it as a `rope_freqs` tensor).

use serde_json::Value;

use crate::error::{Error, Result};
use crate::formats::MetaValue;
use crate::formats::source::HfModel;
use crate::model::{Arch, ModelConfig};
use crate::ops::rope::RopeType;
use crate::tokenizer::gguf_vocab::{LLAMA3_SPLIT, QWEN2_SPLIT};

/// llama.cpp's token types.
const NORMAL: u32 = 1;
const CONTROL: u32 = 3;
const USER_DEFINED: u32 = 4;
const UNUSED: u32 = 5;

/// What to do instead, in every refusal.
const CONVERT: &str = "export it with --format hf and convert that folder with llama.cpp's convert_hf_to_gguf.py";

/// The metadata of the GGUF of `hf` (`name` names the folder), `general.architecture` first.
pub fn hf_metadata(cfg: &ModelConfig, hf: &HfModel, name: &str) -> Result<Vec<(String, MetaValue)>> {
    let refuse = |what: String| Error::invalid("--format gguf", format!("{name}: {what}; {CONVERT}"));
    if cfg.arch == Arch::Gemma3 {
        return Err(refuse("a Gemma 3 vocabulary (SentencePiece, with the scores of tokenizer.model) is not rebuilt here".into()));
    }
    let a = cfg.arch.name();
    let u = |v: usize| MetaValue::U32(v as u32);
    // The model's name: config.json's `_name_or_path` where transformers saved one, else the source's.
    let config_json: Value = serde_json::from_str(&hf.config_json).unwrap_or(Value::Null);
    let model_name = config_json["_name_or_path"].as_str().filter(|n| !n.is_empty()).unwrap_or(name);
    let mut meta = vec![
        ("general.architecture".to_string(), MetaValue::String(a.into())),
        ("general.name".to_string(), MetaValue::String(model_name.into())),
        (format!("{a}.block_count"), u(cfg.n_layers)),
        (format!("{a}.context_length"), u(cfg.max_seq_len)),
        (format!("{a}.embedding_length"), u(cfg.dim)),
        (format!("{a}.feed_forward_length"), u(cfg.ffn_dim)),
        (format!("{a}.attention.head_count"), u(cfg.n_heads)),
        (format!("{a}.attention.head_count_kv"), u(cfg.n_kv_heads)),
        (format!("{a}.attention.key_length"), u(cfg.head_dim)),
        (format!("{a}.attention.value_length"), u(cfg.head_dim)),
        (format!("{a}.rope.dimension_count"), u(cfg.head_dim)),
        (format!("{a}.rope.freq_base"), MetaValue::F32(cfg.rope_theta)),
        (format!("{a}.attention.layer_norm_rms_epsilon"), MetaValue::F32(cfg.norm_eps)),
        (format!("{a}.vocab_size"), u(cfg.vocab_size)),
    ];
    match &cfg.rope_scaling {
        None => {}
        Some(s) if s.rope_type == RopeType::Linear => {
            meta.push((format!("{a}.rope.scaling.type"), MetaValue::String("linear".into())));
            meta.push((format!("{a}.rope.scaling.factor"), MetaValue::F32(s.factor)));
        }
        Some(s) => return Err(refuse(format!("{:?} RoPE scaling is written as a rope_freqs tensor, not rebuilt here", s.rope_type))),
    }
    let tokenizer = hf.tokenizer_json.as_deref().ok_or_else(|| refuse("the folder has no tokenizer.json".into()))?;
    let tokenizer: Value = serde_json::from_str(tokenizer).map_err(|e| refuse(format!("tokenizer.json is not JSON: {e}")))?;
    let config: Value = match hf.tokenizer_config_json.as_deref() {
        Some(text) => serde_json::from_str(text).map_err(|e| refuse(format!("tokenizer_config.json is not JSON: {e}")))?,
        None => Value::Null,
    };
    meta.extend(tokenizer_meta(&tokenizer, &config, cfg.vocab_size).map_err(refuse)?);
    Ok(meta)
}

/// `tokenizer.ggml.*` from `tokenizer.json` and `tokenizer_config.json`, the vocabulary padded
/// to the embedding's `vocab_size` rows with unused `[PAD<id>]` tokens.
fn tokenizer_meta(tokenizer: &Value, config: &Value, vocab_size: usize) -> std::result::Result<Vec<(String, MetaValue)>, String> {
    let model = &tokenizer["model"];
    if model["type"] != "BPE" {
        return Err(format!("tokenizer.json's model is {}, not byte-level BPE", model["type"]));
    }
    let pre = pre_tokenizer_name(&tokenizer["pre_tokenizer"])?;
    let mut tokens: Vec<Option<String>> = vec![None; vocab_size];
    let mut types = vec![NORMAL; vocab_size];
    let mut place = |id: &Value, text: &str, ty: u32| -> std::result::Result<(), String> {
        let id = id.as_u64().map(|i| i as usize).filter(|&i| i < vocab_size);
        let id = id.ok_or_else(|| format!("token {text:?} has id {id:?}, outside the embedding's {vocab_size} rows"))?;
        tokens[id] = Some(text.to_string());
        types[id] = ty;
        Ok(())
    };
    let vocab = model["vocab"].as_object().ok_or("tokenizer.json has no model.vocab object")?;
    for (text, id) in vocab {
        place(id, text, NORMAL)?;
    }
    for t in tokenizer["added_tokens"].as_array().into_iter().flatten() {
        let text = t["content"].as_str().ok_or("an added token has no content")?;
        place(&t["id"], text, if t["special"] == true { CONTROL } else { USER_DEFINED })?;
    }
    let tokens: Vec<MetaValue> = tokens
        .into_iter()
        .enumerate()
        .map(|(id, t)| {
            t.unwrap_or_else(|| {
                types[id] = UNUSED;
                format!("[PAD{id}]")
            })
        })
        .map(MetaValue::String)
        .collect();
    let merges = model["merges"].as_array().ok_or("tokenizer.json has no model.merges")?;
    let merges = merges
        .iter()
        .map(|m| match m {
            Value::String(s) => Ok(s.clone()),
            Value::Array(pair) if pair.len() == 2 => Ok(format!("{} {}", pair[0].as_str().unwrap_or_default(), pair[1].as_str().unwrap_or_default())),
            other => Err(format!("merge {other} is neither \"a b\" nor [\"a\", \"b\"]")),
        })
        .map(|m| m.map(MetaValue::String))
        .collect::<std::result::Result<Vec<_>, String>>()?;
    let id_of = |key: &str| -> Option<u32> {
        let text = match &config[key] {
            Value::String(s) => s.as_str(),
            Value::Object(o) => o.get("content")?.as_str()?,
            _ => return None,
        };
        tokens.iter().position(|t| t.as_str() == Some(text)).map(|i| i as u32)
    };
    let mut meta = vec![
        ("tokenizer.ggml.model".to_string(), MetaValue::String("gpt2".into())),
        ("tokenizer.ggml.pre".to_string(), MetaValue::String(pre.into())),
    ];
    for (key, special) in [("bos_token", "bos"), ("eos_token", "eos"), ("pad_token", "padding"), ("unk_token", "unknown")] {
        if let Some(id) = id_of(key) {
            meta.push((format!("tokenizer.ggml.{special}_token_id"), MetaValue::U32(id)));
        }
    }
    meta.push(("tokenizer.ggml.add_bos_token".to_string(), MetaValue::Bool(config["add_bos_token"] == true)));
    if let Some(template) = config["chat_template"].as_str() {
        meta.push(("tokenizer.chat_template".to_string(), MetaValue::String(template.into())));
    }
    meta.push(("tokenizer.ggml.tokens".to_string(), MetaValue::Array(tokens)));
    meta.push(("tokenizer.ggml.token_type".to_string(), MetaValue::Array(types.into_iter().map(MetaValue::U32).collect())));
    meta.push(("tokenizer.ggml.merges".to_string(), MetaValue::Array(merges)));
    Ok(meta)
}

/// llama.cpp's name (`tokenizer.ggml.pre`) of the pre-tokenizer `pre` of a tokenizer.json,
/// as the GGUF loader (`tokenizer::gguf_vocab::byte_level_pre_tokenizer`) reads it back.
fn pre_tokenizer_name(pre: &Value) -> std::result::Result<&'static str, String> {
    let byte_level = |v: &Value, regex: bool| v["type"] == "ByteLevel" && v["use_regex"].as_bool().unwrap_or(true) == regex;
    let parts: Vec<&Value> = match pre["type"].as_str() {
        Some("Sequence") => pre["pretokenizers"].as_array().map(|a| a.iter().collect()).unwrap_or_default(),
        _ => vec![pre],
    };
    fn split_regex(v: &Value) -> Option<&str> {
        if v["type"] == "Split" { v["pattern"]["Regex"].as_str() } else { None }
    }
    match parts.as_slice() {
        [b] if byte_level(b, true) => Ok("gpt2"),
        [d, b] if d["type"] == "Digits" && d["individual_digits"] == true && byte_level(b, true) => Ok("smollm"),
        [s, b] if split_regex(s) == Some(LLAMA3_SPLIT) && byte_level(b, false) => Ok("llama-bpe"),
        [s, b] if split_regex(s) == Some(QWEN2_SPLIT) && byte_level(b, false) => Ok("qwen2"),
        _ => Err(format!("tokenizer.json's pre-tokenizer {pre} is not one llama.cpp names (gpt2, smollm, llama-bpe, qwen2)")),
    }
}
