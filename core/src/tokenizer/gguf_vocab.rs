//! Builds a `tokenizers::Tokenizer` from a GGUF file's `tokenizer.ggml.*` metadata, the way
//! transformers' GGUF loader (`integrations/gguf/gguf_tokenizer_mapping.py`) does, so ids match.
//!
//! - `tokenizer.ggml.model = "gpt2"`: byte-level BPE from `tokens` + `merges`, with the
//!   pre-tokenizer named by `tokenizer.ggml.pre` (see [`byte_level_pre_tokenizer`]).
//! - `tokenizer.ggml.model = "llama"`: SentencePiece as BPE with byte fallback, merges recovered
//!   from the token scores (transformers' `generate_merges`), `Metaspace` ▁ prepended to the first
//!   piece, decoder `Replace ▁→space, ByteFallback, Fuse, Strip one leading space`; Gemma files
//!   (`general.architecture` gemma/gemma2/gemma3) as transformers' `gemma_tokenizer` builds them
//!   (see [`super::gguf_spm`]).
//!
//! Tokens of type 3 (control) become special added tokens, type 4 (user-defined) plain added
//! tokens; both are matched whole in the text.

use std::collections::HashSet;

use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior};

use crate::error::{Error, Result};
use crate::formats::{MetaValue, Metadata};

const TOKEN_TYPE_CONTROL: u64 = 3;
const TOKEN_TYPE_USER_DEFINED: u64 = 4;

/// Llama 3's split regex (llama.cpp `LLAMA_VOCAB_PRE_TYPE_LLAMA3`, HF Llama-3 tokenizer.json).
pub const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's split regex: as Llama 3 but one digit per piece.
pub const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// What [`build`] returns: the tokenizer and the facts `Tokenizer` keeps.
pub struct GgufVocab {
    pub tokenizer: tokenizers::Tokenizer,
    pub bos: Option<String>,
    pub eos: Option<String>,
    pub add_bos: bool,
    /// `tokenizer.ggml.eot_token_id` / `eom_token_id`, when given.
    pub extra_stop_ids: Vec<u32>,
}

/// Builds the tokenizer described by `meta`; `file` names the GGUF in errors.
pub fn build(meta: &Metadata, file: &str) -> Result<GgufVocab> {
    let get_str = |key: &str| meta.get(key).and_then(MetaValue::as_str);
    let model = get_str("tokenizer.ggml.model").ok_or_else(|| {
        Error::format(file, "metadata key tokenizer.ggml.model is missing (the file has no tokenizer)")
    })?;
    let tokens = string_array(meta, "tokenizer.ggml.tokens", file)?
        .ok_or_else(|| Error::format(file, "metadata key tokenizer.ggml.tokens is missing"))?;
    if tokens.len() > u32::MAX as usize {
        return Err(Error::format(file, format!("tokenizer.ggml.tokens has {} tokens, more than ids can number", tokens.len())));
    }
    let types = int_array(meta, "tokenizer.ggml.token_type", file)?.unwrap_or_default();
    // Per-token arrays: one entry per token, or the ids they describe are wrong.
    let scores = float_array(meta, "tokenizer.ggml.scores", file)?;
    for (key, len) in [("token_type", meta.get("tokenizer.ggml.token_type").map(|_| types.len())), ("scores", scores.as_ref().map(Vec::len))] {
        if let Some(len) = len.filter(|&n| n != tokens.len()) {
            let what = format!("tokenizer.ggml.{key} has {len} entries for {} tokens (one per token is needed)", tokens.len());
            return Err(Error::format(file, what));
        }
    }
    if let Some((i, x)) = scores.iter().flatten().enumerate().find(|(_, x)| x.is_nan()) {
        return Err(Error::format(file, format!("tokenizer.ggml.scores[{i}] is {x}")));
    }
    let token_id = |key: &str| -> Result<Option<u32>> {
        match meta.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64().filter(|&id| id < tokens.len() as u64) {
                Some(id) => Ok(Some(id as u32)),
                None => Err(Error::format(file, format!("{key} = {v:?} is not a token id below {}", tokens.len()))),
            },
        }
    };
    let bos_id = token_id("tokenizer.ggml.bos_token_id")?;
    let eos_id = token_id("tokenizer.ggml.eos_token_id")?;
    let unk_id = token_id("tokenizer.ggml.unknown_token_id")?;
    let pad_id = token_id("tokenizer.ggml.padding_token_id")?;
    let extra_stop_ids = [token_id("tokenizer.ggml.eot_token_id")?, token_id("tokenizer.ggml.eom_token_id")?];
    let flag = |key: &str| meta.get(key).and_then(MetaValue::as_bool);

    let (mut tokenizer, byte_level, add_bos_default) = match model {
        "gpt2" => {
            let merges = string_array(meta, "tokenizer.ggml.merges", file)?
                .ok_or_else(|| Error::format(file, "tokenizer.ggml.merges is missing (needed by a gpt2 vocabulary)"))?;
            let pre = get_str("tokenizer.ggml.pre").unwrap_or("default");
            (byte_level_bpe(&tokens, &merges, pre, file)?, true, false)
        }
        "llama" => {
            let scores = scores.ok_or_else(|| {
                Error::format(file, "tokenizer.ggml.scores is missing (needed by a llama vocabulary)")
            })?;
            let unk = unk_id.map(|id| tokens[id as usize].clone());
            let prefix = flag("tokenizer.ggml.add_space_prefix").unwrap_or(true);
            let style = super::gguf_spm::SpmStyle::for_arch(get_str("general.architecture"), prefix);
            (super::gguf_spm::sentencepiece_bpe(&tokens, &scores, unk, style, file)?, false, true)
        }
        other => {
            return Err(Error::format(
                file,
                format!("tokenizer.ggml.model = {other:?} is not supported (supported: \"gpt2\", \"llama\")"),
            ));
        }
    };

    // Control tokens (and BOS/EOS/UNK/PAD) are special; user-defined ones are plain added tokens.
    let alphabet = byte_alphabet();
    let spelled = |t: &str| !byte_level || t.chars().all(|c| alphabet.contains(&c));
    let mut special: Vec<AddedToken> = Vec::new();
    let mut user: Vec<AddedToken> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match types.get(i).copied() {
            Some(TOKEN_TYPE_CONTROL) if spelled(t) => special.push(AddedToken::from(t.clone(), true).normalized(false)),
            // As transformers: only a text the vocabulary has (Gemma's "  " is respelled "▁▁").
            Some(TOKEN_TYPE_USER_DEFINED) if spelled(t) && tokenizer.token_to_id(t).is_some() => {
                user.push(AddedToken::from(t.clone(), false).normalized(false))
            }
            _ => {}
        }
    }
    for id in [bos_id, eos_id, unk_id, pad_id].into_iter().flatten().filter(|&id| spelled(&tokens[id as usize])) {
        special.push(AddedToken::from(tokens[id as usize].clone(), true).normalized(false));
    }
    tokenizer.add_special_tokens(&special);
    tokenizer.add_tokens(&user);

    let text = |id: Option<u32>| id.map(|id| tokens[id as usize].clone());
    let add_bos = flag("tokenizer.ggml.add_bos_token").unwrap_or(add_bos_default);
    let add_eos = flag("tokenizer.ggml.add_eos_token").unwrap_or(false);
    let bos_tok = if add_bos { bos_id.map(|id| (id, tokens[id as usize].clone())) } else { None };
    let eos_tok = if add_eos { eos_id.map(|id| (id, tokens[id as usize].clone())) } else { None };
    let bos_special = bos_tok.map(|(id, text)| super::SpecialToken { id, text });
    let eos_special = eos_tok.map(|(id, text)| super::SpecialToken { id, text });
    tokenizer.with_post_processor(Some(bos_eos_processor(bos_special.as_ref(), eos_special.as_ref(), file)?));
    Ok(GgufVocab {
        tokenizer,
        bos: text(bos_id),
        eos: text(eos_id),
        add_bos,
        extra_stop_ids: extra_stop_ids.into_iter().flatten().collect(),
    })
}

/// Byte-level BPE (GPT-2 style) with the pre-tokenizer llama.cpp calls `pre`.
fn byte_level_bpe(tokens: &[String], merges: &[String], pre: &str, file: &str) -> Result<tokenizers::Tokenizer> {
    let alphabet = byte_alphabet();
    let table = bytes_to_unicode();
    // Tokens stored with characters outside the byte alphabet are respelled byte by byte.
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let t = if t.chars().all(|c| alphabet.contains(&c)) { t.clone() } else { respell(t, &table) };
            (t, i as u32)
        })
        .collect();
    let merges = merges
        .iter()
        .enumerate()
        .map(|(i, m)| match m.split_once(' ') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains(' ') => Ok((a.to_string(), b.to_string())),
            _ => Err(Error::format(
                file,
                format!("tokenizer.ggml.merges[{i}] = {m:?} is not two tokens separated by one space"),
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| Error::format(file, format!("cannot build the BPE vocabulary: {e}")))?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    if matches!(pre, "qwen2" | "deepseek-r1-qwen") {
        tok.with_normalizer(Some(NFC));
    }
    tok.with_pre_tokenizer(Some(byte_level_pre_tokenizer(pre, file)?));
    tok.with_decoder(Some(ByteLevel::default()));
    Ok(tok)
}

/// The pre-tokenizer for llama.cpp's `tokenizer.ggml.pre` value, as in the model's tokenizer.json:
/// - `smollm`, `starcoder`, `refact`: `Digits(individual) + ByteLevel(GPT-2 regex)` (SmolLM2);
/// - `gpt2`, `default`: `ByteLevel` with the GPT-2 regex;
/// - `llama-bpe` / `llama3` / `llama-v3` / `falcon3` / `smaug-bpe` / `dbrx`: Llama 3's regex;
/// - `qwen2`, `deepseek-r1-qwen`: Qwen2's regex (plus an NFC normalizer, set by the caller).
pub fn byte_level_pre_tokenizer(pre: &str, file: &str) -> Result<PreTokenizerWrapper> {
    let bytes = |use_regex| PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, use_regex));
    let split = |pattern: &str| -> Result<PreTokenizerWrapper> {
        let split = Split::new(SplitPattern::Regex(pattern.to_string()), SplitDelimiterBehavior::Isolated, false)
            .map_err(|e| Error::format(file, format!("pre-tokenizer regex for {pre:?}: {e}")))?;
        Ok(Sequence::new(vec![PreTokenizerWrapper::Split(split), bytes(false)]).into())
    };
    match pre {
        "smollm" | "starcoder" | "refact" => {
            Ok(Sequence::new(vec![PreTokenizerWrapper::Digits(Digits::new(true)), bytes(true)]).into())
        }
        "gpt2" | "default" => Ok(bytes(true)),
        "llama-bpe" | "llama3" | "llama-v3" | "falcon3" | "smaug-bpe" | "dbrx" => split(LLAMA3_SPLIT),
        "qwen2" | "deepseek-r1-qwen" => split(QWEN2_SPLIT),
        other => Err(Error::format(
            file,
            format!(
                "tokenizer.ggml.pre = {other:?} is not supported (supported: smollm, starcoder, refact, gpt2, default, \
                 llama-bpe, llama3, llama-v3, falcon3, smaug-bpe, dbrx, qwen2, deepseek-r1-qwen)"
            ),
        )),
    }
}

/// Post-processor adding `bos` before and `eos` after the text (either may be absent).
pub fn bos_eos_processor(
    bos: Option<&super::SpecialToken>,
    eos: Option<&super::SpecialToken>,
    origin: &str,
) -> Result<TemplateProcessing> {
    let b = bos.map(|t| format!("{}:0 ", t.text)).unwrap_or_default();
    let e = eos.map(|t| format!(" {}:0", t.text)).unwrap_or_default();
    let b1 = bos.map(|t| format!("{}:1 ", t.text)).unwrap_or_default();
    let e1 = eos.map(|t| format!(" {}:1", t.text)).unwrap_or_default();
    let specials: Vec<(String, u32)> = bos.into_iter().chain(eos).map(|t| (t.text.clone(), t.id)).collect();
    TemplateProcessing::builder()
        .try_single(format!("{b}$A:0{e}"))
        .and_then(|builder| builder.try_pair(format!("{b}$A:0{e} {b1}$B:1{e1}")))
        .map_err(|e| Error::format(origin, format!("cannot build the BOS/EOS template: {e}")))?
        .special_tokens(specials)
        .build()
        .map_err(|e| Error::format(origin, format!("cannot build the BOS/EOS template: {e}")))
}

/// GPT-2's byte → printable character table (`bytes_to_unicode`): printable Latin-1 bytes map to
/// themselves, the other 68 to U+0100.. in byte order.
pub fn bytes_to_unicode() -> [char; 256] {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        table[b as usize] = if printable(b) {
            char::from(b)
        } else {
            n += 1;
            char::from_u32(255 + n).unwrap_or('\u{fffd}')
        };
    }
    table
}

/// The characters of GPT-2's byte alphabet.
fn byte_alphabet() -> HashSet<char> {
    bytes_to_unicode().into_iter().collect()
}

/// `t`'s UTF-8 bytes spelled in GPT-2's byte alphabet.
fn respell(t: &str, table: &[char; 256]) -> String {
    t.bytes().map(|b| table[b as usize]).collect()
}

pub(super) fn string_array(meta: &Metadata, key: &str, file: &str) -> Result<Option<Vec<String>>> {
    array(meta, key, file, "strings", |v| v.as_str().map(str::to_string))
}

pub(super) fn int_array(meta: &Metadata, key: &str, file: &str) -> Result<Option<Vec<u64>>> {
    array(meta, key, file, "non-negative integers", MetaValue::as_u64)
}

pub(super) fn float_array(meta: &Metadata, key: &str, file: &str) -> Result<Option<Vec<f32>>> {
    array(meta, key, file, "numbers", |v| v.as_f64().map(|x| x as f32))
}

fn array<T>(
    meta: &Metadata,
    key: &str,
    file: &str,
    what: &str,
    f: impl Fn(&MetaValue) -> Option<T>,
) -> Result<Option<Vec<T>>> {
    let Some(v) = meta.get(key) else { return Ok(None) };
    let items = v.as_array().ok_or_else(|| Error::format(file, format!("{key} is not an array")))?;
    items
        .iter()
        .enumerate()
        .map(|(i, x)| f(x).ok_or_else(|| Error::format(file, format!("{key}[{i}] = {x:?}: expected {what}"))))
        .collect::<Result<Vec<T>>>()
        .map(Some)
}
