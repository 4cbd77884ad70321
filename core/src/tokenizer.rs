//! [`Tokenizer`]: text ↔ token ids, plus what generation needs (BOS/EOS, stop tokens, the chat
//! template's source), built from a Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) or
//! from a GGUF file's `tokenizer.ggml.*` metadata (see [`gguf_vocab`]).
//!
//! The work is done by the `tokenizers` crate (the engine behind transformers' fast tokenizers),
//! so encodings match transformers id for id.
//!
//! ```no_run
//! # fn demo(meta: &anytune_core::formats::Metadata) -> anytune_core::Result<()> {
//! use anytune_core::tokenizer::Tokenizer;
//! let tok = Tokenizer::from_gguf(meta, "SmolLM2-135M-Instruct.Q4_1.gguf")?;
//! let ids = tok.encode("<|im_start|>user\nhi<|im_end|>", true)?; // [1, 4093, 198, 6004, 2]
//! let mut stream = tok.stream_decoder(true);
//! let mut text = String::new();
//! for &id in &ids {
//!     text += &stream.step(id)?;
//! }
//! assert_eq!(text, "user\nhi");
//! # Ok(()) }
//! ```

pub mod gguf_sentencepiece;
mod gguf_spm;
pub mod gguf_vocab;
mod hf_config;
pub mod sentencepiece_model;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gemma;
#[cfg(test)]
mod tests_sentencepiece;

use std::sync::Arc;

use crate::error::{Error, Result};

/// Token texts that end a turn or the text in the model families anytune supports. Those present
/// in the vocabulary are stop tokens, besides EOS.
pub const STOP_TOKEN_TEXTS: &[&str] =
    &["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|endoftext|>", "</s>", "<end_of_turn>"];

/// A special token: its id and its text (as the chat template's `bos_token` / `eos_token`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecialToken {
    pub id: u32,
    pub text: String,
}

/// A chat template's Jinja source and where it came from (for error messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateSource {
    pub source: String,
    /// e.g. "model.gguf: tokenizer.chat_template" or "tokenizer_config.json: chat_template".
    pub origin: String,
}

/// A tokenizer with the facts generation needs. Cloning is cheap (the vocabulary is shared).
#[derive(Clone)]
pub struct Tokenizer {
    inner: Arc<tokenizers::Tokenizer>,
    /// Where it was loaded from, for error messages.
    pub origin: String,
    pub bos: Option<SpecialToken>,
    pub eos: Option<SpecialToken>,
    /// Whether `encode(text, true)` puts BOS first.
    pub add_bos: bool,
    /// EOS and every [`STOP_TOKEN_TEXTS`] entry in the vocabulary (and GGUF's eot/eom ids), sorted.
    pub stop_ids: Vec<u32>,
    /// The chat template shipped with the tokenizer, if any.
    pub chat_template: Option<TemplateSource>,
    /// 1 + the largest id (model vocabulary and added tokens).
    vocab_size: usize,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("origin", &self.origin)
            .field("vocab_size", &self.vocab_size)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("add_bos", &self.add_bos)
            .field("stop_ids", &self.stop_ids)
            .finish_non_exhaustive()
    }
}

/// Every entry of `tokenizer.json`'s `added_tokens` must have the id the tokenizer gives its
/// text (the `tokenizers` crate keeps a vocabulary entry's id and ignores a conflicting one).
fn check_added_tokens(inner: &tokenizers::Tokenizer, tokenizer_json: &[u8]) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Added {
        id: u32,
        content: String,
    }
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        added_tokens: Vec<Added>,
    }
    let file: File = serde_json::from_slice(tokenizer_json)
        .map_err(|e| Error::format("tokenizer.json", format!("added_tokens: {e}")))?;
    for t in file.added_tokens {
        let got = inner.token_to_id(&t.content);
        if got != Some(t.id) {
            let got = got.map_or("none".to_string(), |g| g.to_string());
            return Err(Error::format(
                "tokenizer.json",
                format!("added token {:?} has id {} in added_tokens, but the vocabulary gives it id {got}", t.content, t.id),
            ));
        }
    }
    Ok(())
}

impl Tokenizer {
    /// From a Hugging Face folder's `tokenizer.json` and, if present, `tokenizer_config.json`
    /// (`bos_token`, `eos_token`, `add_bos_token`, `chat_template`).
    pub fn from_json(tokenizer_json: &[u8], tokenizer_config_json: Option<&[u8]>) -> Result<Tokenizer> {
        let inner = tokenizers::Tokenizer::from_bytes(tokenizer_json)
            .map_err(|e| Error::format("tokenizer.json", format!("cannot load the tokenizer: {e}")))?;
        check_added_tokens(&inner, tokenizer_json)?;
        let config = hf_config::TokenizerConfig::parse(tokenizer_config_json)?;
        let specials = "tokenizer_config.json";
        let mut tok = Tokenizer::assemble(inner, "tokenizer.json".into(), specials, &config.bos, &config.eos, &[])?;
        tok.chat_template = config.chat_template;
        if let Some(add_bos) = config.add_bos_token
            && add_bos != tok.add_bos
        {
            tok.set_add_bos(add_bos)?;
        }
        Ok(tok)
    }

    /// From a GGUF file's metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`); `file` names
    /// the file in errors. See [`gguf_vocab`] for the vocabularies and pre-tokenizers supported.
    pub fn from_gguf(meta: &crate::formats::Metadata, file: &str) -> Result<Tokenizer> {
        let v = gguf_vocab::build(meta, file)?;
        let mut tok = Tokenizer::assemble(v.tokenizer, file.to_string(), file, &v.bos, &v.eos, &v.extra_stop_ids)?;
        tok.add_bos = v.add_bos && tok.bos.is_some();
        tok.chat_template = meta
            .get("tokenizer.chat_template")
            .and_then(|t| t.as_str())
            .map(|s| TemplateSource { source: s.to_string(), origin: format!("{file}: tokenizer.chat_template") });
        Ok(tok)
    }

    /// Wraps a built `tokenizers::Tokenizer`, resolving BOS/EOS texts to ids and finding stop ids;
    /// `specials` names the file the BOS/EOS texts come from.
    fn assemble(
        inner: tokenizers::Tokenizer,
        origin: String,
        specials: &str,
        bos: &Option<String>,
        eos: &Option<String>,
        extra_stop_ids: &[u32],
    ) -> Result<Tokenizer> {
        let vocab_size = inner.get_vocab(true).values().map(|&id| id as usize + 1).max().unwrap_or(0);
        let resolve = |text: &Option<String>, what: &str| -> Result<Option<SpecialToken>> {
            match text {
                None => Ok(None),
                Some(t) => match inner.token_to_id(t) {
                    Some(id) => Ok(Some(SpecialToken { id, text: t.clone() })),
                    None => Err(Error::format(specials, format!("{what} {t:?} is not in the vocabulary of {origin}"))),
                },
            }
        };
        let bos = resolve(bos, "bos_token")?;
        let eos = resolve(eos, "eos_token")?;
        let mut stop_ids: Vec<u32> = STOP_TOKEN_TEXTS.iter().filter_map(|t| inner.token_to_id(t)).collect();
        stop_ids.extend(eos.as_ref().map(|t| t.id));
        stop_ids.extend(extra_stop_ids.iter().copied().filter(|&id| (id as usize) < vocab_size));
        stop_ids.sort_unstable();
        stop_ids.dedup();
        let mut tok = Tokenizer {
            inner: Arc::new(inner),
            origin,
            bos,
            eos,
            add_bos: false,
            stop_ids,
            chat_template: None,
            vocab_size,
        };
        tok.add_bos = tok.detect_add_bos()?;
        Ok(tok)
    }

    /// The tokenizer as `tokenizer.json` text (the `tokenizers` crate's own serialization, which
    /// transformers' fast tokenizers load): how an exported Hugging Face folder gets the
    /// vocabulary a GGUF rebuilt.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(true).map_err(|e| Error::invalid("tokenizer", format!("{}: cannot be written as JSON: {e}", self.origin)))
    }

    /// Whether the post-processor puts BOS before the text.
    fn detect_add_bos(&self) -> Result<bool> {
        let Some(bos) = &self.bos else { return Ok(false) };
        let with = self.encode("a", true)?;
        let without = self.encode("a", false)?;
        Ok(with.len() > without.len() && with.first() == Some(&bos.id))
    }

    /// Makes `encode(text, true)` put BOS first (or not), as `add_bos_token` in the config says.
    fn set_add_bos(&mut self, add_bos: bool) -> Result<()> {
        let bos = if add_bos { self.bos.clone() } else { None };
        let mut inner = (*self.inner).clone();
        inner.with_post_processor(Some(gguf_vocab::bos_eos_processor(bos.as_ref(), None, &self.origin)?));
        self.inner = Arc::new(inner);
        self.add_bos = self.detect_add_bos()?;
        Ok(())
    }

    /// Token ids of `text`; `add_special` adds BOS (and whatever else the post-processor adds).
    /// Special-token texts such as `<|im_start|>` in `text` are always recognised.
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, add_special)
            .map_err(|e| Error::Tokenizer(format!("{}: cannot encode text: {e}", self.origin)))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Token ids of a prompt rendered by a chat template: as `encode(text, true)`, except that BOS
    /// is not put first a second time when the template already wrote it (Gemma's and Llama 3's
    /// templates start with `{{ bos_token }}`); the same rule the dataset pipeline applies.
    pub fn encode_rendered(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode(text, false)?;
        if self.add_bos
            && let Some(bos) = &self.bos
            && ids.first() != Some(&bos.id)
        {
            ids.insert(0, bos.id);
        }
        Ok(ids)
    }

    /// The text of `ids`; `skip_special` leaves special tokens out. Unknown ids are an error.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        for &id in ids {
            self.check_id(id)?;
        }
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| Error::Tokenizer(format!("{}: cannot decode ids: {e}", self.origin)))
    }

    /// 1 + the largest token id (the model's embedding rows must cover it).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The token's text as stored in the vocabulary (byte-level BPE spells a space `Ġ`).
    pub fn id_to_token(&self, id: u32) -> Result<String> {
        self.check_id(id)?;
        self.inner
            .id_to_token(id)
            .ok_or_else(|| Error::Tokenizer(format!("{}: token id {id} has no text in the vocabulary", self.origin)))
    }

    /// The id of a token text, if it is one token.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Whether generation should stop at `id`.
    pub fn is_stop(&self, id: u32) -> bool {
        self.stop_ids.binary_search(&id).is_ok()
    }

    /// An error unless `id` is a token of this vocabulary.
    pub fn check_id(&self, id: u32) -> Result<()> {
        if (id as usize) < self.vocab_size && self.inner.id_to_token(id).is_some() {
            Ok(())
        } else {
            Err(Error::Tokenizer(format!(
                "{}: token id {id} is not in the vocabulary ({} tokens)",
                self.origin, self.vocab_size
            )))
        }
    }

    /// A decoder for generated ids, one at a time; see [`StreamDecoder`].
    pub fn stream_decoder(&self, skip_special: bool) -> StreamDecoder {
        StreamDecoder { tok: self.clone(), skip_special, ids: Vec::new(), prefix: String::new(), prefix_index: 0 }
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

/// Decodes generated ids one at a time, returning only text that is complete: a character whose
/// UTF-8 bytes are split over several byte-level tokens (an emoji) comes out once its last byte
/// arrives, and decoders that depend on neighbours (SentencePiece's leading space) stay right.
pub struct StreamDecoder {
    tok: Tokenizer,
    skip_special: bool,
    ids: Vec<u32>,
    prefix: String,
    prefix_index: usize,
}

impl StreamDecoder {
    /// Adds `id`; returns the new text that became complete ("" if none yet).
    pub fn step(&mut self, id: u32) -> Result<String> {
        self.tok.check_id(id)?;
        let out = tokenizers::tokenizer::step_decode_stream(
            &self.tok.inner,
            vec![id],
            self.skip_special,
            &mut self.ids,
            &mut self.prefix,
            &mut self.prefix_index,
        )
        .map_err(|e| Error::Tokenizer(format!("{}: stream decoding failed at token {id}: {e}", self.tok.origin)))?;
        Ok(out.unwrap_or_default())
    }
}
