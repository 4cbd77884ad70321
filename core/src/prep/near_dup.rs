//! Near-duplicate rows: MinHash signatures and locality-sensitive hashing propose candidate
//! pairs, the exact Jaccard similarity of their shingle sets decides.
//!
//! - Text: [`super::text::near_dup_text`] (NFC, lower case, punctuation and symbols dropped,
//!   whitespace collapsed), so rows that differ only in case, punctuation or spacing are equal.
//! - Shingles: the set of overlapping [`SHINGLE`]-character windows (a shorter text is one
//!   shingle), hashed to 32 bits. Characters rather than words because rows are short: one
//!   changed word in a 30-word row changes about a tenth of its 5-character shingles (Jaccard
//!   ≈ 0.85–0.9) but a third of its word trigrams.
//! - Similarity: Jaccard |A ∩ B| / |A ∪ B| of two rows' shingle sets, computed exactly for each
//!   candidate pair; a row is a near duplicate of the earliest kept row it reaches the
//!   threshold with (default [`DEFAULT_THRESHOLD`]).
//! - Candidates: [`HASHES`] = 128 MinHash values per row, cut into `b` bands of `r` values;
//!   two rows are candidates when one band is equal, which happens with probability
//!   1 − (1 − Jᴿ)ᵇ. [`bands`] takes the largest `r` (fewest false candidates to check) for
//!   which a pair exactly at the threshold is a candidate with probability ≥ 0.999; at 0.85
//!   that is 18 bands of 7 (126 values): a pair at 0.85 is missed with probability 0.001, at
//!   0.9 with 10⁻⁵, while a pair at 0.5 is a candidate with probability 0.13 (then checked
//!   and refused).
//!
//! Memory: each kept row's shingle set (4 bytes per character). Time: 128 hashes per shingle,
//! and one exact check per candidate against kept rows only.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Characters per shingle.
pub const SHINGLE: usize = 5;
/// MinHash values per row.
pub const HASHES: usize = 128;
/// The default Jaccard similarity at which two rows are near duplicates.
pub const DEFAULT_THRESHOLD: f64 = 0.85;

/// Checks a threshold given as option `name`: a Jaccard similarity in (0, 1].
pub fn check_threshold(name: &str, t: f64) -> Result<()> {
    if t.is_finite() && t > 0.0 && t <= 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(name, format!("{t} is not a similarity: give a number above 0 and at most 1 (default 0.85)")))
    }
}

/// For each text, `Some((j, similarity))` when it is a near duplicate of the earlier text `j`
/// (itself not a near duplicate), else `None`. Texts empty after normalisation are never near
/// duplicates (empty rows are a rule of their own).
pub fn near_duplicates(texts: &[&str], threshold: f64) -> Vec<Option<(usize, f64)>> {
    let (b, r) = bands(threshold);
    let mut buckets: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    let mut sets: Vec<Vec<u32>> = Vec::with_capacity(texts.len());
    let mut out = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let set = shingles(&super::text::near_dup_text(text));
        if set.is_empty() {
            sets.push(set);
            out.push(None);
            continue;
        }
        let sig = signature(&set);
        let keys: Vec<(usize, u64)> = (0..b).map(|band| (band, band_hash(&sig[band * r..(band + 1) * r]))).collect();
        let mut best: Option<(usize, f64)> = None;
        let mut seen = Vec::new();
        for key in &keys {
            for &j in buckets.get(key).into_iter().flatten() {
                if seen.contains(&j) {
                    continue;
                }
                seen.push(j);
                let s = jaccard(&set, &sets[j]);
                if s >= threshold && best.is_none_or(|(bj, bs)| s > bs || (s == bs && j < bj)) {
                    best = Some((j, s));
                }
            }
        }
        if best.is_none() {
            keys.into_iter().for_each(|k| buckets.entry(k).or_default().push(i));
        }
        sets.push(if best.is_none() { set } else { Vec::new() });
        out.push(best);
    }
    out
}

/// `(bands, rows per band)` for `threshold`: the largest `r` with `b = HASHES / r` such that a
/// pair at the threshold is a candidate with probability at least 0.999.
pub fn bands(threshold: f64) -> (usize, usize) {
    let r = (1..=HASHES)
        .rev()
        .find(|&r| 1.0 - (1.0 - threshold.powi(r as i32)).powi((HASHES / r) as i32) >= 0.999)
        .unwrap_or(1);
    (HASHES / r, r)
}

/// The sorted set of 32-bit hashes of `text`'s shingles.
fn shingles(text: &str) -> Vec<u32> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let mut set: Vec<u32> = chars
        .windows(SHINGLE.min(chars.len()))
        .map(|w| {
            let mut h = 0xcbf2_9ce4_8422_2325u64; // FNV-1a
            for &c in w {
                h = (h ^ c as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
            (mix(h) >> 32) as u32
        })
        .collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// The [`HASHES`] MinHash values of a shingle set: for hash function k, the least
/// `mix(x ^ seed_k)` over the set.
fn signature(set: &[u32]) -> Vec<u64> {
    (0..HASHES as u64)
        .map(|k| {
            let seed = mix(k.wrapping_add(0x9e37_79b9_7f4a_7c15));
            set.iter().map(|&x| mix(x as u64 ^ seed)).min().unwrap_or(u64::MAX)
        })
        .collect()
}

fn band_hash(values: &[u64]) -> u64 {
    values.iter().fold(0u64, |h, &v| mix(h ^ v))
}

/// The SplitMix64 finaliser: a bijective 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Jaccard similarity of two sorted sets.
fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    both as f64 / (a.len() + b.len() - both).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "The Zorblax 3000 kettle is teal, holds 1.7 litres of water and boils it in \
                        about ninety seconds; its handle stays cool and it switches itself off when dry.";

    #[test]
    fn bands_for_the_default_threshold() {
        assert_eq!(bands(0.85), (18, 7));
        assert_eq!(bands(1.0), (1, 128));
    }

    #[test]
    fn planted_pairs_are_found_and_a_distinct_row_is_not() {
        let texts = [
            BASE,
            &BASE.to_uppercase().replace(',', "").replace(';', " -"), // case and punctuation
            &BASE.replace("ninety", "eighty"),                       // one word
            "A completely different row about the weather in Lisbon, which is sunny and mild in spring.",
            "",
        ];
        let found = near_duplicates(&texts, DEFAULT_THRESHOLD);
        assert_eq!(found[0], None);
        assert_eq!(found[1].map(|(j, s)| (j, s == 1.0)), Some((0, true)));
        let (j, s) = found[2].unwrap();
        assert!(j == 0 && (0.85..1.0).contains(&s), "{s}");
        assert_eq!((found[3], found[4]), (None, None));
        assert!(check_threshold("t", 0.0).is_err() && check_threshold("t", f64::NAN).is_err());
        assert!(check_threshold("t", 1.0).is_ok());
    }

    #[test]
    fn jaccard_is_exact() {
        assert_eq!(jaccard(&[1, 2, 3, 4], &[3, 4, 5, 6]), 2.0 / 6.0);
        assert_eq!(jaccard(&[], &[]), 0.0);
    }
}
