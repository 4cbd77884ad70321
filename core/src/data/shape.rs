//! Fitting examples to `max_seq_len`: truncation (prompt/completion and chat rows keep their
//! first `max_seq_len` tokens), splitting long text rows into windows (nothing is lost: a text
//! row has no prompt), the seeded train/validation split, and packing.
//!
//! Packing concatenates consecutive examples into rows of at most `max_seq_len` tokens, with EOS
//! between examples (unless one already ends with it). Our attention kernels do not yet stop at
//! example boundaries, so a packed example attends to the ones before it in its row: plain causal
//! attention over the packed row, as Hugging Face's simple packing (`ConstantLengthDataset`,
//! `packing=True` without position-id resets) does. Loss masks are kept per token, so only
//! completion/assistant tokens are trained; the EOS separator is not.

use super::Example;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// What fitting changed, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FitCounts {
    pub truncated_rows: usize,
    pub truncated_tokens: usize,
    /// Extra rows made by splitting long text rows.
    pub split_rows: usize,
    /// Rows with no trained token left after truncation (the prompt filled `max_seq_len`).
    pub dropped_rows: usize,
}

/// Truncates (or, for `splittable` text rows, splits) each example to `max_seq_len` tokens and
/// drops those left without a trained target. Returns the examples and the source index of each.
pub(crate) fn fit(examples: Vec<(Example, bool)>, max_seq_len: usize, counts: &mut FitCounts) -> Vec<(usize, Example)> {
    let mut out = Vec::with_capacity(examples.len());
    for (i, (mut ex, splittable)) in examples.into_iter().enumerate() {
        if ex.ids.len() > max_seq_len && splittable && max_seq_len >= 2 {
            // Windows overlap by one token so every token is a target exactly once.
            let step = max_seq_len - 1;
            let mut start = 0;
            let before = out.len();
            while start + 1 < ex.ids.len() {
                let end = (start + max_seq_len).min(ex.ids.len());
                // Position 0 of a window is never a target (it was the previous window's last).
                out.push((
                    i,
                    Example { ids: ex.ids[start..end].to_vec(), loss_mask: ex.loss_mask[start..end].to_vec(), label: ex.label },
                ));
                start += step;
            }
            counts.split_rows += out.len() - before - 1;
            continue;
        }
        if ex.ids.len() > max_seq_len {
            counts.truncated_rows += 1;
            counts.truncated_tokens += ex.ids.len() - max_seq_len;
            ex.ids.truncate(max_seq_len);
            ex.loss_mask.truncate(max_seq_len);
        }
        if ex.loss_mask.iter().skip(1).any(|&m| m) {
            out.push((i, ex));
        } else {
            counts.dropped_rows += 1;
        }
    }
    out
}

/// Splits off `round(n * fraction)` examples (at least one) chosen by a seeded shuffle; both
/// parts keep file order. Returns (train, val).
pub(crate) fn split(examples: Vec<Example>, fraction: f32, seed: u64) -> Result<(Vec<Example>, Vec<Example>)> {
    let max = crate::train::options::MAX_VAL_SPLIT;
    if !(0.0..=max).contains(&fraction) {
        return Err(Error::invalid("val_split", format!("{fraction} is not in [0, {max}]: validation rows may not outnumber training rows")));
    }
    if fraction == 0.0 {
        return Ok((examples, Vec::new()));
    }
    let n = examples.len();
    let n_val = ((n as f64 * fraction as f64).round() as usize).max(1);
    if n_val > n - n_val.min(n) {
        return Err(Error::invalid(
            "val_split",
            format!(
                "{fraction} of {n} examples holds out {n_val} for validation and leaves {} for training; \
                 validation rows may not outnumber training rows: use a smaller fraction or more data",
                n - n_val.min(n)
            ),
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, &mut Rng::new(seed));
    let mut is_val = vec![false; n];
    order[..n_val].iter().for_each(|&i| is_val[i] = true);
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (ex, v) in examples.into_iter().zip(is_val) {
        if v { val.push(ex) } else { train.push(ex) }
    }
    Ok((train, val))
}

/// Fisher–Yates shuffle.
pub(crate) fn shuffle(v: &mut [usize], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// Packs consecutive examples greedily into rows of at most `max_seq_len` tokens, inserting
/// `eos` (untrained) between examples unless the earlier one already ends with it.
pub(crate) fn pack(examples: Vec<Example>, max_seq_len: usize, eos: Option<u32>) -> Vec<Example> {
    let mut rows: Vec<Example> = Vec::new();
    let mut row = Example { ids: Vec::new(), loss_mask: Vec::new(), label: None };
    for ex in examples {
        let sep = match (row.ids.last(), eos) {
            (Some(&last), Some(e)) if last != e => 1,
            _ => 0,
        };
        if !row.ids.is_empty() && row.ids.len() + sep + ex.ids.len() > max_seq_len {
            rows.push(std::mem::replace(&mut row, Example { ids: Vec::new(), loss_mask: Vec::new(), label: None }));
        } else if sep == 1
            && let Some(e) = eos
        {
            row.ids.push(e);
            row.loss_mask.push(false);
        }
        row.ids.extend_from_slice(&ex.ids);
        // An example's first token is never a target in a row of its own; in a packed row it
        // follows the previous example, so keep it untrained too.
        row.loss_mask.push(false);
        row.loss_mask.extend(ex.loss_mask.iter().skip(1));
    }
    if !row.ids.is_empty() {
        rows.push(row);
    }
    rows
}
