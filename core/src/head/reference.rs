//! Plain-loop CPU reference of the classification head, forward and backward, the yardstick
//! for the GPU kernels and the golden test.
//!
//! # Shapes
//! - `hidden` (N, C): the final-norm output of every token of the batch, rows flattened;
//! - `last` (B): the index into N of each sequence's last real token (transformers pools the
//!   rightmost token that is not the pad token; our rows are unpadded, so the last token);
//! - `score` (L, C): the head's weight, L = number of labels;
//! - `logits` (B, L), `labels` (B) with values in 0..L.
//!
//! Forward: `pooled[b] = hidden[last[b]]`, `logits = pooled · scoreᵀ`,
//! `loss = mean_b (logsumexp(logits[b]) − logits[b, labels[b]])`.
//! Backward (the base is frozen; the head needs d_score, and d_hidden for the LoRA below):
//! `dlogits[b] = (softmax(logits[b]) − onehot(labels[b])) / B`, `d_score = dlogitsᵀ · pooled`,
//! `dpooled = dlogits · score`, `d_hidden[last[b]] += dpooled[b]` (zero elsewhere).

use crate::error::{Error, Result};

/// `pooled[b] = hidden[last[b]]`: (B, C) from (N, C). Refuses an index past the N rows.
pub fn gather_last(hidden: &[f32], c: usize, last: &[usize]) -> Result<Vec<f32>> {
    let n = hidden.len() / c.max(1);
    let mut out = Vec::with_capacity(last.len() * c);
    for (b, &i) in last.iter().enumerate() {
        if i >= n {
            return Err(Error::invalid("head", format!("sequence {b}'s last token {i} is past the batch's {n} tokens")));
        }
        out.extend_from_slice(&hidden[i * c..(i + 1) * c]);
    }
    Ok(out)
}

/// The backward of [`gather_last`]: (N, C) zeros with `dpooled[b]` added at row `last[b]`.
pub fn scatter_last(dpooled: &[f32], n: usize, c: usize, last: &[usize]) -> Result<Vec<f32>> {
    let mut out = vec![0.0; n * c];
    for (b, &i) in last.iter().enumerate() {
        if i >= n {
            return Err(Error::invalid("head", format!("sequence {b}'s last token {i} is past the batch's {n} tokens")));
        }
        for k in 0..c {
            out[i * c + k] += dpooled[b * c + k];
        }
    }
    Ok(out)
}

/// `logits[b, l] = Σ_k pooled[b, k] · score[l, k]`: (B, L).
pub fn score_forward(pooled: &[f32], score: &[f32], c: usize) -> Vec<f32> {
    let (b, l) = (pooled.len() / c, score.len() / c);
    let mut out = vec![0.0; b * l];
    for i in 0..b {
        for j in 0..l {
            out[i * l + j] = (0..c).map(|k| pooled[i * c + k] * score[j * c + k]).sum();
        }
    }
    out
}

/// The backward of [`score_forward`]: `(dpooled (B, C), d_score (L, C))`.
pub fn score_backward(pooled: &[f32], score: &[f32], dlogits: &[f32], c: usize) -> (Vec<f32>, Vec<f32>) {
    let (b, l) = (pooled.len() / c, score.len() / c);
    let mut dpooled = vec![0.0; b * c];
    let mut dscore = vec![0.0; l * c];
    for i in 0..b {
        for j in 0..l {
            let g = dlogits[i * l + j];
            for k in 0..c {
                dpooled[i * c + k] += g * score[j * c + k];
                dscore[j * c + k] += g * pooled[i * c + k];
            }
        }
    }
    (dpooled, dscore)
}

/// Mean cross-entropy of `logits` (B, L) with `labels`, and `dlogits` (B, L) of that mean;
/// max-subtracted. Refuses a label ≥ L.
pub fn cross_entropy(logits: &[f32], labels: &[usize], l: usize) -> Result<(f32, Vec<f32>)> {
    let b = labels.len();
    let mut dlogits = vec![0.0; b * l];
    let mut total = 0.0f64;
    for (i, &y) in labels.iter().enumerate() {
        if y >= l {
            return Err(Error::invalid("label", format!("label index {y} of sequence {i} is not below the {l} labels")));
        }
        let row = &logits[i * l..(i + 1) * l];
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|&x| (x - max).exp()).sum();
        total += (max + sum.ln() - row[y]) as f64;
        for j in 0..l {
            let p = (row[j] - max).exp() / sum;
            dlogits[i * l + j] = (p - if j == y { 1.0 } else { 0.0 }) / b as f32;
        }
    }
    Ok(((total / b.max(1) as f64) as f32, dlogits))
}

/// The predicted label of each row of `logits` (B, L): the argmax, the first on a tie.
pub fn predict(logits: &[f32], l: usize) -> Vec<usize> {
    logits
        .chunks(l.max(1))
        .map(|row| row.iter().enumerate().fold(0, |best, (j, &x)| if x > row[best] { j } else { best }))
        .collect()
}

/// What [`head_step`] returns.
#[derive(Debug)]
pub struct HeadStep {
    /// The mean cross-entropy over the B sequences.
    pub loss: f32,
    /// `(N, C)`: the loss's gradient with respect to `hidden`.
    pub d_hidden: Vec<f32>,
    /// `(L, C)`: the loss's gradient with respect to `score`.
    pub d_score: Vec<f32>,
    /// `(B, L)`: the head's logits.
    pub logits: Vec<f32>,
}

/// The head's whole step, forward and backward.
pub fn head_step(hidden: &[f32], c: usize, last: &[usize], score: &[f32], labels: &[usize]) -> Result<HeadStep> {
    let pooled = gather_last(hidden, c, last)?;
    let logits = score_forward(&pooled, score, c);
    let (loss, dlogits) = cross_entropy(&logits, labels, score.len() / c)?;
    let (dpooled, dscore) = score_backward(&pooled, score, &dlogits, c);
    let dhidden = scatter_last(&dpooled, hidden.len() / c, c, last)?;
    Ok(HeadStep { loss, d_hidden: dhidden, d_score: dscore, logits })
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
