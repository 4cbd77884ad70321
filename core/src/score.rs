//! Scoring a token sequence: per-token log-probabilities `log p(ids[i+1] | ids[..=i])`, their
//! sum and perplexity, and the top-5 logits of the last position. One forward pass; logits are
//! projected in row blocks small enough for one storage binding.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Recorder};
use crate::model::{KvCache, Model};
use crate::sample::log_softmax_at;

/// The result of [`score`]; serialises to the JSON `anytune score` prints.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Score {
    pub ids: Vec<u32>,
    /// `logprobs[i] = log p(ids[i+1] | ids[..=i])` (length T − 1).
    pub logprobs: Vec<f32>,
    pub sum_logprob: f64,
    /// `exp(−mean logprob)`.
    pub perplexity: f64,
    pub last_top5_ids: Vec<u32>,
    pub last_top5_logits: Vec<f32>,
}

/// Scores `ids` (at least one token) with `model`.
pub async fn score(gpu: &Gpu, model: &Model, ids: &[u32]) -> Result<Score> {
    if ids.is_empty() {
        return Err(Error::invalid("text", "nothing to score: it has no tokens"));
    }
    let v = model.config.vocab_size;
    let mut cache = KvCache::new(gpu, &model.config, ids.len())?;
    let mut rec = Recorder::new(gpu);
    let hidden = model.forward(&mut rec, ids, &mut cache)?;
    let block = ((gpu.max_binding() as usize / (v * 4)).max(1)).min(ids.len());
    let mut logits = Vec::with_capacity(ids.len() * v);
    let mut start = 0;
    while start < ids.len() {
        let n = block.min(ids.len() - start);
        let part = model.logits(&mut rec, &hidden, start, n)?;
        logits.extend(part.read(rec).await?);
        rec = Recorder::new(gpu);
        start += n;
    }
    let logprobs: Vec<f32> =
        (0..ids.len() - 1).map(|i| log_softmax_at(&logits[i * v..(i + 1) * v], ids[i + 1] as usize)).collect();
    let sum_logprob: f64 = logprobs.iter().map(|&l| l as f64).sum();
    let perplexity = if logprobs.is_empty() { 1.0 } else { (-sum_logprob / logprobs.len() as f64).exp() };
    let last = &logits[(ids.len() - 1) * v..];
    let mut order: Vec<u32> = (0..v as u32).collect();
    order.sort_by(|&a, &b| last[b as usize].total_cmp(&last[a as usize]));
    order.truncate(5);
    Ok(Score {
        ids: ids.to_vec(),
        logprobs,
        sum_logprob,
        perplexity,
        last_top5_logits: order.iter().map(|&i| last[i as usize]).collect(),
        last_top5_ids: order,
    })
}
