//! A GGUF SentencePiece vocabulary (`tokenizer.ggml.model = "llama"`) as the BPE that
//! transformers builds from it (`LlamaTokenizer` / `GemmaTokenizer` fed by `generate_merges`):
//!
//! - merges: every split of every token into two tokens of the vocabulary, ordered by a rank
//!   (best first), then by longer left and right parts; ties keep vocabulary order. The rank is
//!   the token's score for Llama 2 / TinyLlama, and its position in the file for Gemma (Gemma's
//!   scores do not follow its merge order; transformers' `gemma_tokenizer`);
//! - BPE with byte fallback (`<0x0A>` tokens) and fused unknowns;
//! - [`SpmStyle::Llama`]: pre-tokenizer `Metaspace(▁, prepend to the first piece, no split)`
//!   (`Never` when `tokenizer.ggml.add_space_prefix` is false); decoder `Replace(▁ → space),
//!   ByteFallback, Fuse, Strip(one leading space)` (no strip without the prefix);
//! - [`SpmStyle::Gemma`]: normalizer `Replace(space → ▁)`, pre-tokenizer `Split(space, merged with
//!   previous)`, decoder `Replace(▁ → space), ByteFallback, Fuse`; tokens of spaces only, which
//!   llama.cpp's converter stores as real spaces (`"  "`), are spelled with `▁` again.

use std::cmp::Ordering;
use std::collections::HashMap;

use tokenizers::DecoderWrapper;
use tokenizers::SplitDelimiterBehavior;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};

use crate::error::{Error, Result};

/// The two layouts of a SentencePiece vocabulary in GGUF files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SpmStyle {
    /// Llama 2, TinyLlama, Mistral: merges by score, `Metaspace` pre-tokenizer.
    Llama { add_prefix_space: bool },
    /// Gemma 1–3 (`general.architecture` gemma, gemma2, gemma3): merges by file position,
    /// spaces replaced by a normalizer, no prefix space.
    Gemma,
}

impl SpmStyle {
    /// The style transformers picks for a file of architecture `arch` (`general.architecture`).
    pub(super) fn for_arch(arch: Option<&str>, add_prefix_space: bool) -> SpmStyle {
        match arch {
            Some("gemma" | "gemma2" | "gemma3") => SpmStyle::Gemma,
            _ => SpmStyle::Llama { add_prefix_space },
        }
    }
}

/// Builds the tokenizer (without added tokens or post-processor; the caller adds those).
pub(super) fn sentencepiece_bpe(
    tokens: &[String],
    scores: &[f32],
    unk: Option<String>,
    style: SpmStyle,
    file: &str,
) -> Result<tokenizers::Tokenizer> {
    if scores.len() != tokens.len() {
        return Err(Error::format(
            file,
            format!("tokenizer.ggml.scores has {} values for {} tokens", scores.len(), tokens.len()),
        ));
    }
    let (tokens, ranks): (Vec<String>, Vec<f32>) = match style {
        SpmStyle::Llama { .. } => (tokens.to_vec(), scores.to_vec()),
        // Rank = -position, exact in f32 below 2^24 tokens (Gemma has 262,144).
        SpmStyle::Gemma => (
            tokens.iter().map(|t| respell_spaces(t)).collect(),
            (0..tokens.len()).map(|i| -(i as f32)).collect(),
        ),
    };
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let merges = merges_from_scores(&tokens, &ranks, &vocab);
    let mut builder = BPE::builder().vocab_and_merges(vocab, merges).byte_fallback(true).fuse_unk(true);
    if let Some(unk) = unk {
        builder = builder.unk_token(unk);
    }
    let bpe = builder.build().map_err(|e| Error::format(file, format!("cannot build the SentencePiece BPE: {e}")))?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    let replace = Replace::new("▁", " ").map_err(|e| Error::format(file, format!("decoder: {e}")))?;
    let mut decoders = vec![
        DecoderWrapper::Replace(replace),
        DecoderWrapper::ByteFallback(ByteFallback::new()),
        DecoderWrapper::Fuse(Fuse::new()),
    ];
    match style {
        SpmStyle::Llama { add_prefix_space } => {
            let scheme = if add_prefix_space { PrependScheme::First } else { PrependScheme::Never };
            tok.with_pre_tokenizer(Some(Metaspace::new('▁', scheme, false)));
            if add_prefix_space {
                decoders.push(DecoderWrapper::Strip(Strip::new(' ', 1, 0)));
            }
        }
        SpmStyle::Gemma => {
            let spaces = Replace::new(" ", "▁").map_err(|e| Error::format(file, format!("normalizer: {e}")))?;
            tok.with_normalizer(Some(spaces));
            let split = Split::new(SplitPattern::String(" ".into()), SplitDelimiterBehavior::MergedWithPrevious, false)
                .map_err(|e| Error::format(file, format!("pre-tokenizer: {e}")))?;
            tok.with_pre_tokenizer(Some(split));
        }
    }
    tok.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tok)
}

/// A token of whitespace that contains a space, spelled with one `▁` per character, as
/// transformers' `gemma_tokenizer` renames it (`" " in t and not t.strip()`); any other token
/// unchanged.
pub(super) fn respell_spaces(t: &str) -> String {
    // Python's `str.strip` also strips U+001C..U+001F, which are not Unicode White_Space.
    let py_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    if t.contains(' ') && t.chars().all(py_space) {
        "▁".repeat(t.chars().count())
    } else {
        t.to_string()
    }
}

/// transformers' `generate_merges(vocab, vocab_scores)`: for each token (in vocabulary order) its
/// splits `(left, right)` with both halves in the vocabulary, sorted by the halves' ids; then all
/// of them sorted, stably, by `(score, len(left), len(right))` descending (lengths in characters).
pub(super) fn merges_from_scores(tokens: &[String], scores: &[f32], vocab: &Vocab) -> Vec<(String, String)> {
    // A Python dict keeps a repeated key at its first position, with its last value.
    let mut last_score: HashMap<&str, f32> = HashMap::new();
    for (t, &s) in tokens.iter().zip(scores) {
        last_score.insert(t, s);
    }
    let mut seen = std::collections::HashSet::new();
    let mut merges: Vec<(&str, &str, f32, usize, usize)> = Vec::new();
    for t in tokens {
        if !seen.insert(t.as_str()) {
            continue;
        }
        let score = last_score.get(t.as_str()).copied().unwrap_or(0.0);
        let mut local: Vec<(&str, &str, u32, u32)> = t
            .char_indices()
            .skip(1)
            .filter_map(|(at, _)| {
                let (l, r) = t.split_at(at);
                Some((l, r, *vocab.get(l)?, *vocab.get(r)?))
            })
            .collect();
        local.sort_by_key(|&(_, _, il, ir)| (il, ir));
        merges.extend(local.into_iter().map(|(l, r, _, _)| (l, r, score, l.chars().count(), r.chars().count())));
    }
    merges.sort_by(|a, b| b.2.partial_cmp(&a.2).unwrap_or(Ordering::Equal).then(b.3.cmp(&a.3)).then(b.4.cmp(&a.4)));
    merges.into_iter().map(|(l, r, ..)| (l.to_string(), r.to_string())).collect()
}
