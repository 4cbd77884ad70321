//! `tokenizer.ggml.*` of a SentencePiece vocabulary (Gemma 3, Llama 2 style) from a Hugging Face
//! folder's `tokenizer.model`, as llama.cpp's `convert_hf_to_gguf.py` writes it
//! (`_set_vocab_sentencepiece` / `_create_vocab_sentencepiece`):
//!
//! - `tokenizer.ggml.model = "llama"`, `pre = "default"`;
//! - one token per embedding row: the pieces in id order with their scores and llama.cpp types
//!   (unknown 2, control 3, unused 5, byte 6; normal and user-defined pieces 1), the rows past
//!   the pieces `[PAD<id>]` with score -10000 and type unused;
//! - added tokens override: `added_tokens.json` (user-defined, score -1000), then
//!   `tokenizer_config.json`'s `added_tokens_decoder` (or, when the folder has none,
//!   `tokenizer.json`'s `added_tokens`): special or special-looking texts are control tokens,
//!   the others user-defined with `▁` written as a space; score -1000;
//! - the special ids, add flags and chat template of [`super::gguf_hf_special`].

use serde_json::Value;

use crate::formats::MetaValue;
use crate::tokenizer::sentencepiece_model::{self, PieceType};

/// What the folder gives: `tokenizer.model`'s bytes and the JSON files (`Value::Null` when absent).
pub(super) struct SpmFolder<'a> {
    pub tokenizer_model: &'a [u8],
    pub tokenizer: &'a Value,
    pub tokenizer_config: &'a Value,
    pub added_tokens: &'a Value,
    pub config_json: &'a Value,
}

/// llama.cpp's token types (the numbers of SentencePiece's [`PieceType`]).
pub(super) const NORMAL: u32 = PieceType::Normal as u32;
pub(super) const CONTROL: u32 = PieceType::Control as u32;
pub(super) const USER_DEFINED: u32 = PieceType::UserDefined as u32;
pub(super) const UNUSED: u32 = PieceType::Unused as u32;

/// The `tokenizer.ggml.*` metadata for an embedding of `vocab_size` rows.
pub(super) fn sentencepiece_meta(f: &SpmFolder, vocab_size: usize) -> Result<Vec<(String, MetaValue)>, String> {
    let pieces = sentencepiece_model::parse(f.tokenizer_model, "tokenizer.model").map_err(|e| e.to_string())?;
    if pieces.len() > vocab_size {
        return Err(format!("tokenizer.model has {} pieces, more than the embedding's {vocab_size} rows", pieces.len()));
    }
    let mut tokens: Vec<String> = (0..vocab_size).map(|i| format!("[PAD{i}]")).collect();
    let mut scores = vec![-10000.0f32; vocab_size];
    let mut types = vec![UNUSED; vocab_size];
    for (i, p) in pieces.iter().enumerate() {
        tokens[i] = p.piece.clone();
        scores[i] = p.score;
        types[i] = match p.ty {
            PieceType::Normal | PieceType::UserDefined => NORMAL,
            other => other as u32,
        };
    }
    let mut place = |id: usize, text: String, ty: u32, what: &str| -> Result<(), String> {
        if id >= vocab_size {
            return Err(format!("{what} {text:?} has id {id}, outside the embedding's {vocab_size} rows"));
        }
        (tokens[id], scores[id], types[id]) = (text, -1000.0, ty);
        Ok(())
    };
    for (text, id) in f.added_tokens.as_object().into_iter().flatten() {
        let id = id.as_u64().ok_or_else(|| format!("added_tokens.json: {text:?} has id {id}, not a number"))?;
        place(id as usize, text.clone(), USER_DEFINED, "added_tokens.json:")?;
    }
    for (id, text, special) in added_tokens(f)? {
        if special || looks_special(&text) {
            place(id, text, CONTROL, "added token")?;
        } else {
            place(id, text.replace('▁', " "), USER_DEFINED, "added token")?;
        }
    }
    let mut meta = vec![
        ("tokenizer.ggml.model".to_string(), MetaValue::String("llama".into())),
        ("tokenizer.ggml.pre".to_string(), MetaValue::String("default".into())),
        ("tokenizer.ggml.tokens".to_string(), MetaValue::Array(tokens.into_iter().map(MetaValue::String).collect())),
        ("tokenizer.ggml.scores".to_string(), MetaValue::Array(scores.into_iter().map(MetaValue::F32).collect())),
        ("tokenizer.ggml.token_type".to_string(), MetaValue::Array(types.into_iter().map(MetaValue::U32).collect())),
    ];
    meta.extend(super::gguf_hf_special::special_vocab_meta(f.tokenizer, f.tokenizer_config, f.config_json, vocab_size));
    Ok(meta)
}

/// `(id, content, special)` of `tokenizer_config.json`'s `added_tokens_decoder`, or else of
/// `tokenizer.json`'s `added_tokens` (transformers 5 writes only the latter).
fn added_tokens(f: &SpmFolder) -> Result<Vec<(usize, String, bool)>, String> {
    let entry = |id: Option<u64>, t: &Value, file: &str| -> Result<(usize, String, bool), String> {
        let text = t["content"].as_str().ok_or_else(|| format!("{file}: an added token has no content: {t}"))?;
        let id = id.ok_or_else(|| format!("{file}: added token {text:?} has no numeric id"))?;
        Ok((id as usize, text.to_string(), t["special"] == true))
    };
    if let Some(decoder) = f.tokenizer_config["added_tokens_decoder"].as_object() {
        return decoder.iter().map(|(id, t)| entry(id.parse().ok(), t, "tokenizer_config.json")).collect();
    }
    let list = f.tokenizer["added_tokens"].as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter().map(|t| entry(t["id"].as_u64(), t, "tokenizer.json")).collect()
}

/// convert_hf_to_gguf.py's `does_token_look_special`: texts some models mark as not special
/// that are control tokens (`<pad>`, `<mask>`, `<|…|>`, `<unused…>`, …).
fn looks_special(t: &str) -> bool {
    matches!(t, "<pad>" | "<mask>" | "<2mass>" | "[@BOS@]")
        || (t.starts_with("<|") && t.ends_with("|>"))
        || (t.starts_with("<｜") && t.ends_with("｜>"))
        || (t.starts_with("<unused") && t.ends_with('>'))
}
