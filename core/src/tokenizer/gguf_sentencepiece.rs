//! A GGUF SentencePiece vocabulary (`tokenizer.ggml.model = "llama"`: Gemma 3, Llama 2 style) as
//! the files of a Hugging Face folder that llama.cpp's `convert_hf_to_gguf.py`, `sentencepiece`
//! and transformers' slow tokenizers read: `tokenizer.model` (the tokens as pieces with their
//! scores and types, and the family's trainer / normalizer settings, [`SpmSpec`]) and the
//! `added_tokens_decoder` of `tokenizer_config.json` (every control and user-defined token).
//!
//! Spelling: whitespace tokens that llama.cpp's converter stored with real spaces (`"  "`) are
//! pieces of `▁` again, as in the original model (the converter turns them back into spaces).
//! The unknown token (`tokenizer.ggml.unknown_token_id`) is a piece of type unknown, which
//! SentencePiece requires, even where the GGUF types it as control.

use serde_json::{Map, Value, json};

use super::gguf_spm::{SpmStyle, respell_spaces};
use super::gguf_vocab::{float_array, int_array, string_array};
use super::sentencepiece_model::{Piece, PieceType, SpmSpec, write};
use crate::error::{Error, Result};
use crate::formats::{MetaValue, Metadata};

/// The pieces of a GGUF SentencePiece vocabulary, or `None` for another vocabulary kind.
pub fn gguf_pieces(meta: &Metadata, file: &str) -> Result<Option<Vec<Piece>>> {
    if meta.get("tokenizer.ggml.model").and_then(MetaValue::as_str) != Some("llama") {
        return Ok(None);
    }
    let missing = |key: &str| Error::format(file, format!("{key} is missing (a llama vocabulary needs it)"));
    let tokens = string_array(meta, "tokenizer.ggml.tokens", file)?.ok_or_else(|| missing("tokenizer.ggml.tokens"))?;
    let scores = float_array(meta, "tokenizer.ggml.scores", file)?.ok_or_else(|| missing("tokenizer.ggml.scores"))?;
    let types = int_array(meta, "tokenizer.ggml.token_type", file)?.unwrap_or_else(|| vec![PieceType::Normal as u64; tokens.len()]);
    if scores.len() != tokens.len() || types.len() != tokens.len() {
        let what = format!("{} tokens, {} scores and {} token types: one of each per token is needed", tokens.len(), scores.len(), types.len());
        return Err(Error::format(file, what));
    }
    let unk = meta.get("tokenizer.ggml.unknown_token_id").and_then(MetaValue::as_u64);
    let mut pieces = Vec::with_capacity(tokens.len());
    for (i, ((t, &score), &ty)) in tokens.iter().zip(&scores).zip(&types).enumerate() {
        let ty = match PieceType::from_number(ty) {
            _ if unk == Some(i as u64) => PieceType::Unknown,
            Some(ty) => ty,
            None => {
                return Err(Error::format(file, format!("tokenizer.ggml.token_type[{i}] = {ty} is no SentencePiece type (1 to 6)")));
            }
        };
        pieces.push(Piece { piece: respell_spaces(t), score, ty });
    }
    if !pieces.iter().any(|p| p.ty == PieceType::Unknown) {
        return Err(Error::format(file, "no unknown token (tokenizer.ggml.unknown_token_id), which a SentencePiece tokenizer.model must have"));
    }
    Ok(Some(pieces))
}

/// `tokenizer.model` of the GGUF's SentencePiece vocabulary, with the settings of its model
/// family (`general.architecture` gemma*: [`SpmSpec::gemma`], else [`SpmSpec::llama`]), or
/// `None` for another vocabulary kind.
pub fn tokenizer_model(meta: &Metadata, file: &str) -> Result<Option<Vec<u8>>> {
    let Some(pieces) = gguf_pieces(meta, file)? else {
        return Ok(None);
    };
    let special = |key: &str| {
        let id = meta.get(&format!("tokenizer.ggml.{key}")).and_then(MetaValue::as_u64)?;
        pieces.get(id as usize).map(|p| (id as u32, p.piece.clone()))
    };
    let (bos, eos, pad) = (special("bos_token_id"), special("eos_token_id"), special("padding_token_id"));
    let prefix = meta.get("tokenizer.ggml.add_space_prefix").and_then(MetaValue::as_bool).unwrap_or(true);
    let arch = meta.get("general.architecture").and_then(MetaValue::as_str);
    let spec = match SpmStyle::for_arch(arch, prefix) {
        SpmStyle::Gemma => SpmSpec::gemma(bos, eos, pad),
        SpmStyle::Llama { add_prefix_space } => SpmSpec::llama(add_prefix_space, bos, eos, pad),
    };
    Ok(Some(write(&pieces, &spec)))
}

/// `tokenizer_config.json`'s `added_tokens_decoder` for the GGUF's SentencePiece vocabulary: id →
/// the user-defined tokens and the control (special) tokens of score -1000, as transformers
/// writes them; `None` for another vocabulary kind. (llama.cpp's converter gives every token it
/// lists score -1000, so a control token scored otherwise, as Llama 2's `<s>`, is left to
/// tokenizer.model's piece type.)
pub fn added_tokens_decoder(meta: &Metadata, file: &str) -> Result<Option<Value>> {
    let Some(pieces) = gguf_pieces(meta, file)? else {
        return Ok(None);
    };
    let types = int_array(meta, "tokenizer.ggml.token_type", file)?.unwrap_or_default();
    let mut decoder = Map::new();
    for (i, p) in pieces.iter().enumerate() {
        let special = match types.get(i).copied() {
            Some(3) if p.score == -1000.0 => true,
            Some(4) => false,
            _ => continue,
        };
        let entry = json!({"content": p.piece, "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": special});
        decoder.insert(i.to_string(), entry);
    }
    Ok(Some(Value::Object(decoder)))
}
