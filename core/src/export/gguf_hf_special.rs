//! The special-token part of `tokenizer.ggml.*` for a GGUF built from a Hugging Face folder, as
//! gguf-py's `SpecialVocab` finds it (both vocabulary kinds use it, [`super::gguf_hf_meta`] and
//! [`super::gguf_hf_spm`]):
//!
//! 1. `add_bos` / `add_eos` from `tokenizer.json`'s `TemplateProcessing` (a special token first
//!    or last in the single-sequence template);
//! 2. `tokenizer_config.json`: `add_{bos,eos,sep}_token` booleans (overriding 1), the chat
//!    template, and each `{bos,eos,unk,sep,pad,mask}_token` text resolved to the id of the
//!    first entry of `tokenizer.json`'s `added_tokens` with that content;
//! 3. `config.json`'s `{typ}_token_id` for the types still unset.
//!
//! An id at or above the vocabulary size is skipped, as gguf-py does.

use serde_json::Value;

use crate::formats::MetaValue;

/// gguf-py's special token types in its order, with the GGUF key of each one's id (`cls` has
/// none) and whether an `add_{typ}_token` flag is written for it.
const TYPES: [(&str, Option<&str>, bool); 7] = [
    ("bos", Some("bos_token_id"), true),
    ("eos", Some("eos_token_id"), true),
    ("unk", Some("unknown_token_id"), false),
    ("sep", Some("seperator_token_id"), true),
    ("pad", Some("padding_token_id"), false),
    ("cls", None, false),
    ("mask", Some("mask_token_id"), false),
];

/// The special ids, add flags and chat template of the folder whose `tokenizer.json`,
/// `tokenizer_config.json` and `config.json` are given (`Value::Null` when absent), for a
/// vocabulary of `n_vocab` tokens.
pub(super) fn special_vocab_meta(tokenizer: &Value, tokenizer_config: &Value, config_json: &Value, n_vocab: usize) -> Vec<(String, MetaValue)> {
    let text_of = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let special_text = |typ: &str| text_of(&tokenizer_config[format!("{typ}_token")]);
    let mut add: Vec<(&'static str, bool)> = Vec::new();
    // 1. The post-processor's template.
    let post = &tokenizer["post_processor"];
    let processors: Vec<&Value> = match post["processors"].as_array() {
        Some(list) => list.iter().collect(),
        None => vec![post],
    };
    for p in processors.into_iter().filter(|p| p["type"] == "TemplateProcessing") {
        let single = p["single"].as_array().map(Vec::as_slice).unwrap_or_default();
        if single.len() > 1 {
            let special = |v: &Value| v["SpecialToken"]["id"].as_str().map(str::to_string);
            let bos = special_text("bos").or_else(|| special_text("cls"));
            if let Some(first) = single.first().and_then(special) {
                set_add(&mut add, "bos", tokenizer_config.is_null() || Some(&first) == bos.as_ref());
            }
            if let Some(last) = single.last().and_then(special) {
                set_add(&mut add, "eos", tokenizer_config.is_null() || Some(&last) == special_text("eos").as_ref());
            }
        }
    }
    // 2. tokenizer_config.json.
    let added: &[Value] = tokenizer["added_tokens"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut ids: Vec<(&'static str, u64)> = Vec::new();
    let set_id = |ids: &mut Vec<(&'static str, u64)>, typ: &'static str, id: Option<u64>| {
        if let Some(id) = id.filter(|&id| id < n_vocab as u64)
            && !ids.iter().any(|(t, _)| *t == typ)
        {
            ids.push((typ, id));
        }
    };
    for (typ, _, _) in TYPES {
        if let Some(flag) = tokenizer_config[format!("add_{typ}_token")].as_bool() {
            set_add(&mut add, typ, flag);
        }
        if let Some(text) = special_text(typ) {
            let id = added.iter().find(|t| t["content"].as_str() == Some(text.as_str())).and_then(|t| t["id"].as_u64());
            set_id(&mut ids, typ, id);
        }
    }
    // 3. config.json.
    for (typ, _, _) in TYPES {
        set_id(&mut ids, typ, config_json[format!("{typ}_token_id")].as_u64());
    }
    let mut meta = Vec::new();
    for (typ, id) in ids {
        if let Some((_, Some(key), _)) = TYPES.iter().find(|(t, _, _)| *t == typ) {
            meta.push((format!("tokenizer.ggml.{key}"), MetaValue::U32(id as u32)));
        }
    }
    for (typ, flag) in add {
        if TYPES.iter().any(|(t, _, written)| *t == typ && *written) {
            meta.push((format!("tokenizer.ggml.add_{typ}_token"), MetaValue::Bool(flag)));
        }
    }
    if let Some(template) = tokenizer_config["chat_template"].as_str() {
        meta.push(("tokenizer.chat_template".to_string(), MetaValue::String(template.into())));
    }
    meta
}

/// Sets flag `typ` of `add`, keeping its first position.
fn set_add(add: &mut Vec<(&'static str, bool)>, typ: &'static str, value: bool) {
    match add.iter_mut().find(|(t, _)| *t == typ) {
        Some(entry) => entry.1 = value,
        None => add.push((typ, value)),
    }
}
