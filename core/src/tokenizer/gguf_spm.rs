//! A GGUF SentencePiece vocabulary (`tokenizer.ggml.model = "llama"`: Llama 2, TinyLlama) as the
//! BPE that transformers builds from it (`LlamaTokenizer` fed by `generate_merges`):
//!
//! - merges: every split of every token into two tokens of the vocabulary, ordered by the token's
//!   score (best first), then by longer left and right parts; ties keep vocabulary order;
//! - BPE with byte fallback (`<0x0A>` tokens) and fused unknowns;
//! - pre-tokenizer `Metaspace(▁, prepend to the first piece, no split)` (`Never` when
//!   `tokenizer.ggml.add_space_prefix` is false);
//! - decoder `Replace(▁ → space), ByteFallback, Fuse, Strip(one leading space)`.

use std::cmp::Ordering;
use std::collections::HashMap;

use tokenizers::DecoderWrapper;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};

use crate::error::{Error, Result};

/// Builds the tokenizer (without added tokens or post-processor; the caller adds those).
pub(super) fn sentencepiece_bpe(
    tokens: &[String],
    scores: &[f32],
    unk: Option<String>,
    add_prefix_space: bool,
    file: &str,
) -> Result<tokenizers::Tokenizer> {
    if scores.len() != tokens.len() {
        return Err(Error::format(
            file,
            format!("tokenizer.ggml.scores has {} values for {} tokens", scores.len(), tokens.len()),
        ));
    }
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let merges = merges_from_scores(tokens, scores, &vocab);
    let mut builder = BPE::builder().vocab_and_merges(vocab, merges).byte_fallback(true).fuse_unk(true);
    if let Some(unk) = unk {
        builder = builder.unk_token(unk);
    }
    let bpe = builder.build().map_err(|e| Error::format(file, format!("cannot build the SentencePiece BPE: {e}")))?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    let scheme = if add_prefix_space { PrependScheme::First } else { PrependScheme::Never };
    tok.with_pre_tokenizer(Some(Metaspace::new('▁', scheme, false)));
    let replace = Replace::new("▁", " ").map_err(|e| Error::format(file, format!("decoder: {e}")))?;
    let mut decoders = vec![
        DecoderWrapper::Replace(replace),
        DecoderWrapper::ByteFallback(ByteFallback::new()),
        DecoderWrapper::Fuse(Fuse::new()),
    ];
    if add_prefix_space {
        decoders.push(DecoderWrapper::Strip(Strip::new(' ', 1, 0)));
    }
    tok.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tok)
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
