//! The GGUF metadata of a model exported from a Hugging Face folder, as llama.cpp's
//! `convert_hf_to_gguf.py` writes it for these models: the architecture keys from its
//! [`ModelConfig`] (Gemma 3: those of the converter's `Gemma3Model`), and `tokenizer.ggml.*`
//! rebuilt from the folder's tokenizer files: a SentencePiece vocabulary from `tokenizer.model`
//! ([`super::gguf_hf_spm`]), else byte-level BPE from `tokenizer.json` (the vocabulary in id
//! order, the merges, token types, the pre-tokenizer by its llama.cpp name); the special ids,
//! add flags and chat template as gguf-py finds them ([`super::gguf_hf_special`]). Llama 3 RoPE
//! scaling is no key but a `rope_freqs.weight` tensor ([`crate::ops::rope::llama3_rope_divisors`],
//! written by [`super::gguf`]).
//!
//! Refused by name, with what to do: a tokenizer.json that is neither byte-level BPE with a
//! pre-tokenizer llama.cpp names nor backed by a `tokenizer.model` (a SentencePiece folder
//! without its tokenizer.model), and Gemma 3 settings GGUF has no key for (a layer pattern other
//! than every sixth layer global, another local RoPE base, another query scale).

use serde_json::Value;

use super::gguf_hf_spm::{CONTROL, NORMAL, SpmFolder, UNUSED, USER_DEFINED, sentencepiece_meta};
use crate::error::{Error, Result};
use crate::formats::MetaValue;
use crate::formats::source::HfModel;
use crate::model::config::SlidingWindow;
use crate::model::{Arch, ModelConfig};
use crate::ops::rope::RopeType;
use crate::tokenizer::gguf_vocab::{LLAMA3_SPLIT, QWEN2_SPLIT};

/// What to do instead, in every refusal.
const CONVERT: &str = "export it with --format hf and convert that folder with llama.cpp's convert_hf_to_gguf.py";

/// The metadata of the GGUF of `hf` (`name` names the folder), `general.architecture` first.
pub fn hf_metadata(cfg: &ModelConfig, hf: &HfModel, name: &str) -> Result<Vec<(String, MetaValue)>> {
    let refuse = |what: String| Error::invalid("--format gguf", format!("{name}: {what}; {CONVERT}"));
    let json = |text: Option<&str>, file: &str| -> Result<Value> {
        match text {
            Some(t) => serde_json::from_str(t).map_err(|e| refuse(format!("{file} is not JSON: {e}"))),
            None => Ok(Value::Null),
        }
    };
    let config_json = json(Some(&hf.config_json), "config.json")?;
    let tokenizer = json(hf.tokenizer_json.as_deref(), "tokenizer.json")?;
    let tokenizer_config = json(hf.tokenizer_config_json.as_deref(), "tokenizer_config.json")?;
    let added_tokens = json(hf.added_tokens_json.as_deref(), "added_tokens.json")?;
    // The model's name: config.json's `_name_or_path` where transformers saved one, else the source's.
    let model_name = config_json["_name_or_path"].as_str().filter(|n| !n.is_empty()).unwrap_or(name);
    let mut meta = vec![
        ("general.architecture".to_string(), MetaValue::String(cfg.arch.name().into())),
        ("general.name".to_string(), MetaValue::String(model_name.into())),
    ];
    meta.extend(architecture_meta(cfg).map_err(refuse)?);
    let tokenizer_meta = match &hf.tokenizer_model {
        Some(model) => {
            let folder = SpmFolder {
                tokenizer_model: model,
                tokenizer: &tokenizer,
                tokenizer_config: &tokenizer_config,
                added_tokens: &added_tokens,
                config_json: &config_json,
            };
            let mut m = sentencepiece_meta(&folder, cfg.vocab_size).map_err(refuse)?;
            if cfg.arch == Arch::Gemma3 {
                m.push(("tokenizer.ggml.add_space_prefix".to_string(), MetaValue::Bool(false)));
            }
            m.extend(llama_space_prefix(cfg, &tokenizer_config));
            m
        }
        None if tokenizer.is_null() => {
            return Err(refuse("the folder has neither tokenizer.model nor tokenizer.json".into()));
        }
        None => {
            let mut m = byte_level_meta(&tokenizer, &tokenizer_config, &config_json, cfg.vocab_size).map_err(refuse)?;
            m.extend(llama_space_prefix(cfg, &tokenizer_config));
            m
        }
    };
    meta.extend(tokenizer_meta);
    Ok(meta)
}

/// `LlamaModel.set_vocab`'s `tokenizer.ggml.add_space_prefix`: tokenizer_config.json's
/// `add_prefix_space`, where a Llama folder has one.
fn llama_space_prefix(cfg: &ModelConfig, tokenizer_config: &Value) -> Option<(String, MetaValue)> {
    let flag = tokenizer_config["add_prefix_space"].as_bool().filter(|_| cfg.arch == Arch::Llama)?;
    Some(("tokenizer.ggml.add_space_prefix".to_string(), MetaValue::Bool(flag)))
}

/// The `{arch}.*` keys of `cfg` (Gemma 3: `Gemma3Model`'s set, without vocab size or RoPE
/// dimension count; the others `LlamaModel`'s / `Qwen2Model`'s).
fn architecture_meta(cfg: &ModelConfig) -> std::result::Result<Vec<(String, MetaValue)>, String> {
    let a = cfg.arch.name();
    let u = |v: usize| MetaValue::U32(v as u32);
    let mut meta = vec![
        (format!("{a}.block_count"), u(cfg.n_layers)),
        (format!("{a}.context_length"), u(cfg.max_seq_len)),
        (format!("{a}.embedding_length"), u(cfg.dim)),
        (format!("{a}.feed_forward_length"), u(cfg.ffn_dim)),
        (format!("{a}.attention.head_count"), u(cfg.n_heads)),
        (format!("{a}.attention.head_count_kv"), u(cfg.n_kv_heads)),
        (format!("{a}.attention.key_length"), u(cfg.head_dim)),
        (format!("{a}.attention.value_length"), u(cfg.head_dim)),
        (format!("{a}.rope.freq_base"), MetaValue::F32(cfg.rope_theta)),
        (format!("{a}.attention.layer_norm_rms_epsilon"), MetaValue::F32(cfg.norm_eps)),
    ];
    if cfg.arch == Arch::Gemma3 {
        meta.extend(gemma3_meta(cfg)?);
    } else {
        meta.push((format!("{a}.rope.dimension_count"), u(cfg.head_dim)));
        meta.push((format!("{a}.vocab_size"), u(cfg.vocab_size)));
    }
    match &cfg.rope_scaling {
        None => {}
        Some(s) if s.rope_type == RopeType::Linear => {
            meta.push((format!("{a}.rope.scaling.type"), MetaValue::String("linear".into())));
            meta.push((format!("{a}.rope.scaling.factor"), MetaValue::F32(s.factor)));
        }
        // Written as the rope_freqs.weight tensor.
        Some(s) if s.rope_type == RopeType::Llama3 => {}
        Some(s) => {
            return Err(format!("{:?} RoPE scaling has no GGUF form anytune writes", s.rope_type));
        }
    }
    Ok(meta)
}

/// Gemma 3's sliding window, where llama.cpp can read it back: every sixth layer global, the
/// sliding layers at RoPE base 10000, queries scaled by `1/√key_length`.
fn gemma3_meta(cfg: &ModelConfig) -> std::result::Result<Vec<(String, MetaValue)>, String> {
    let scale = cfg.query_pre_attn_scalar.unwrap_or(cfg.head_dim as f32);
    if scale != cfg.head_dim as f32 {
        return Err(format!("query_pre_attn_scalar {scale} is not head_dim {} (llama.cpp scales Gemma 3 queries by 1/√key_length)", cfg.head_dim));
    }
    let Some(sw) = &cfg.sliding_window else {
        return Ok(vec![]);
    };
    let llama_cpp = SlidingWindow::every_sixth_global(sw.window, cfg.n_layers, 10000.0);
    if sw.sliding != llama_cpp.sliding {
        return Err("layer_types is not every sixth layer global, the pattern llama.cpp hard-codes for Gemma 3".into());
    }
    if sw.local_rope_theta != llama_cpp.local_rope_theta {
        return Err(format!("the sliding layers' RoPE base {} is not 10000, which llama.cpp hard-codes for Gemma 3", sw.local_rope_theta));
    }
    Ok(vec![("gemma3.attention.sliding_window".to_string(), MetaValue::U32(sw.window as u32))])
}

/// `tokenizer.ggml.*` of a byte-level BPE from `tokenizer.json` (with `tokenizer_config.json`
/// and `config.json` for the specials), the vocabulary padded to the embedding's `vocab_size`
/// rows with unused `[PAD<id>]` tokens.
fn byte_level_meta(
    tokenizer: &Value,
    config: &Value,
    config_json: &Value,
    vocab_size: usize,
) -> std::result::Result<Vec<(String, MetaValue)>, String> {
    let model = &tokenizer["model"];
    if sentencepiece_style(tokenizer) {
        return Err(format!(
            "tokenizer.json holds a SentencePiece vocabulary ({} model{}), which is rebuilt from the folder's tokenizer.model, and the folder has none",
            model["type"].as_str().unwrap_or("?"),
            if model["byte_fallback"] == true { " with byte fallback" } else { "" }
        ));
    }
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
    let n_vocab = tokens.len();
    let mut meta = vec![
        ("tokenizer.ggml.model".to_string(), MetaValue::String("gpt2".into())),
        ("tokenizer.ggml.pre".to_string(), MetaValue::String(pre.into())),
    ];
    meta.push(("tokenizer.ggml.tokens".to_string(), MetaValue::Array(tokens)));
    meta.push(("tokenizer.ggml.token_type".to_string(), MetaValue::Array(types.into_iter().map(MetaValue::U32).collect())));
    meta.push(("tokenizer.ggml.merges".to_string(), MetaValue::Array(merges)));
    meta.extend(super::gguf_hf_special::special_vocab_meta(tokenizer, config, config_json, n_vocab));
    Ok(meta)
}

/// Whether `tokenizer.json` is a SentencePiece vocabulary as transformers converts one: a
/// Unigram model, BPE with byte fallback, or a `Metaspace` pre-tokenizer.
fn sentencepiece_style(tokenizer: &Value) -> bool {
    let model = &tokenizer["model"];
    let pre = &tokenizer["pre_tokenizer"];
    let metaspace = pre["type"] == "Metaspace" || pre["pretokenizers"].as_array().is_some_and(|a| a.iter().any(|p| p["type"] == "Metaspace"));
    model["type"] == "Unigram" || model["byte_fallback"] == true || metaspace
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
