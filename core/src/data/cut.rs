//! Bounding the text a row hands the tokenizer. The `tokenizers` crate keeps per-character
//! alignments while it encodes, about 180 bytes of memory per input byte (a 5 MB row peaked at
//! 0.97 GB, a 50 MB row aborted). Two bounds keep memory proportional to what is trained:
//!
//! - A row that is truncated to `max_seq_len` (prompt/completion, chat, alpaca) keeps at most
//!   [`text_budget`] bytes of text, cut before tokenizing (chat message contents before the
//!   template renders them, then the rendered segments). Text past that bound can never reach
//!   the first `max_seq_len` tokens; the cut is reported in the summary (`untokenized_bytes`),
//!   and the row still counts as truncated. Text rows are split into windows, not truncated, so
//!   they keep all their text.
//! - Text is tokenized in pieces of at most [`PIECE_BYTES`], each ending before a space that
//!   follows a non-space character, where byte-level BPE (GPT-2, Llama 3, Qwen) and Metaspace
//!   (SentencePiece from GGUF) pre-tokenizers split anyway: the ids are those of the whole text.
//!   (A tokenizer whose normalizer prepends "▁" to every text, as old Llama `tokenizer.json`
//!   files do, sees one more "▁" at each piece start; a piece without such a space ends at a
//!   character boundary.)
//!
//! Tokenizing then peaks at about 180 × [`PIECE_BYTES`] (12 MB) whatever the row's length; the
//! row's ids and loss mask take 5 bytes per token.

use crate::tokenizer::Tokenizer;

/// The most bytes tokenized in one call (64 KiB).
pub const PIECE_BYTES: usize = 64 << 10;

/// The text (bytes) a truncated row keeps: 2 × `max_seq_len` × the longest vocabulary entry in
/// bytes (at least 4, an unknown character). A token spells at most that many bytes of text
/// (byte-level BPE writes a byte as one character of one or two bytes, SentencePiece a space as
/// the 3-byte "▁"), so `max_seq_len` tokens cover at most `max_seq_len` × longest bytes; the
/// factor 2 leaves room for normalizers that shorten text (NFC composes "e" + "◌́" into "é").
/// Tokenizers that drop text (whitespace-splitting pre-tokenizers) are not covered.
pub(crate) fn text_budget(tok: &Tokenizer, max_seq_len: usize) -> usize {
    let longest = tok.inner().get_vocab(true).keys().map(String::len).max().unwrap_or(0).max(4);
    max_seq_len.saturating_mul(longest).saturating_mul(2)
}

/// Cuts `texts` (at character boundaries) so that together they hold at most `budget` bytes,
/// keeping the first ones whole; returns the number of bytes cut.
pub(crate) fn cut_to_budget<'a>(texts: impl Iterator<Item = &'a mut String>, budget: usize) -> usize {
    let (mut left, mut cut) = (budget, 0);
    for t in texts {
        if t.len() > left {
            let keep = floor_char_boundary(t, left);
            cut += t.len() - keep;
            t.truncate(keep);
        }
        left -= t.len();
    }
    cut
}

/// `text` as consecutive pieces of at most `max` bytes (see the module doc for where they end).
pub(crate) fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len() / max.max(1) + 1);
    let mut rest = text;
    while rest.len() > max {
        let limit = floor_char_boundary(rest, max);
        let bytes = rest.as_bytes();
        let at_word = (1..limit).rev().find(|&i| bytes[i] == b' ' && !bytes[i - 1].is_ascii_whitespace());
        let end = match at_word {
            Some(i) => i,
            None if limit > 0 => limit,
            None => rest.chars().next().map_or(rest.len(), char::len_utf8), // max < one character
        };
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The largest character boundary of `s` at or below `i`.
fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    (0..=i).rev().find(|&j| s.is_char_boundary(j)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_before_a_word_and_cover_the_text() {
        let text = "one two  three four five ".repeat(1000);
        for max in [7, 16, 100, 4096] {
            let p = pieces(&text, max);
            assert_eq!(p.concat(), text);
            assert!(p.iter().all(|s| s.len() <= max), "max {max}");
            assert!(p.windows(2).all(|w| w[1].starts_with(' ') && !w[0].ends_with(' ')), "max {max}: {p:?}");
        }
        let text = "é".repeat(300); // no space: pieces end at character boundaries
        for max in [1, 7, 100] {
            let p = pieces(&text, max);
            assert_eq!(p.concat(), text);
            assert!(p.iter().all(|s| s.len() <= max.max(2)), "max {max}");
        }
    }

    #[test]
    fn cut_keeps_the_first_texts_and_character_boundaries() {
        let mut t = vec!["ab".to_string(), "cdé".to_string(), "fgh".to_string()];
        assert_eq!(cut_to_budget(t.iter_mut(), 5), 4);
        assert_eq!(t, ["ab", "cd", "f"]);
        let mut t = ["x".repeat(10)];
        assert_eq!(cut_to_budget(t.iter_mut(), 100), 0);
    }
}
