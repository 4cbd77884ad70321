//! Token sampling on the CPU from one row of logits: greedy, temperature, top-k, top-p, seeded.
//!
//! ```
//! use anytune_core::sample::{Sampler, SamplingConfig};
//! let mut s = Sampler::new(SamplingConfig::greedy());
//! assert_eq!(s.sample(&[0.1, 2.0, -1.0]), 1);
//! ```

use crate::error::{Error, Result};
use crate::rng::Rng;

/// The largest temperature [`SamplingConfig::validate`] accepts (beyond it sampling is uniform
/// noise for any model).
pub const MAX_TEMPERATURE: f32 = 100.0;

/// How to pick the next token. Defaults: greedy (temperature 0), no top-k, top-p 1, seed 0.
/// [`SamplingConfig::validate`] states the allowed ranges.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingConfig {
    /// 0 = greedy (argmax); otherwise logits are divided by it before the softmax. Finite,
    /// 0 ..= [`MAX_TEMPERATURE`].
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = all; any value).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p` (1 = all); in (0, 1].
    pub top_p: f32,
    pub seed: u64,
}

impl SamplingConfig {
    pub fn greedy() -> Self {
        SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0, seed: 0 }
    }

    /// Refuses a temperature that is not a finite number in 0 ..= [`MAX_TEMPERATURE`] and a
    /// top-p outside (0, 1], naming the option (`--temperature`, `--top-p`) and its range.
    pub fn validate(&self) -> Result<()> {
        let t = self.temperature;
        if !(0.0..=MAX_TEMPERATURE).contains(&t) {
            return Err(Error::invalid("--temperature", format!("{t} is not a number from 0 (greedy) to {MAX_TEMPERATURE}")));
        }
        let p = self.top_p;
        if !(p > 0.0 && p <= 1.0) {
            return Err(Error::invalid("--top-p", format!("{p} is not a probability in (0, 1] (1 keeps every token)")));
        }
        Ok(())
    }
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self::greedy()
    }
}

/// A sampler with its own RNG state.
pub struct Sampler {
    pub config: SamplingConfig,
    rng: Rng,
}

impl Sampler {
    pub fn new(config: SamplingConfig) -> Self {
        let rng = Rng::new(config.seed);
        Sampler { config, rng }
    }

    /// Picks a token id from `logits` (one row, length V).
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.config.temperature <= 0.0 {
            return argmax(logits);
        }
        let mut cands: Vec<(u32, f32)> = logits.iter().enumerate().map(|(i, &l)| (i as u32, l)).collect();
        cands.sort_by(|a, b| b.1.total_cmp(&a.1));
        if self.config.top_k > 0 {
            cands.truncate(self.config.top_k);
        }
        let max = cands[0].1;
        let mut probs: Vec<f32> = cands.iter().map(|c| ((c.1 - max) / self.config.temperature).exp()).collect();
        let total: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if self.config.top_p < 1.0 {
            let mut acc = 0.0;
            let keep = probs
                .iter()
                .position(|p| {
                    acc += p;
                    acc >= self.config.top_p
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
        }
        let total: f32 = probs.iter().sum();
        let mut r = self.rng.uniform() * total;
        for (i, p) in probs.iter().enumerate() {
            r -= p;
            if r <= 0.0 {
                return cands[i].0;
            }
        }
        cands[probs.len() - 1].0
    }
}

/// Index of the largest value (the first one on ties).
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Refuses a row of logits holding NaN or an infinity, naming `model` (its file) and the
/// sequence `position` the row predicts from: the forward pass overflowed f32, and no sampled
/// token or log-probability may come from it.
pub fn check_finite(logits: &[f32], position: usize, model: &str) -> Result<()> {
    match logits.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::format(
            model,
            format!(
                "the model produced non-finite logits at position {position} ({} for token id {i}): \
                 its weights (or the adapter's) overflow f32",
                logits[i]
            ),
        )),
    }
}

/// `log_softmax(row)[i]` computed stably.
pub fn log_softmax_at(row: &[f32], i: usize) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max + row.iter().map(|v| ((v - max) as f64).exp()).sum::<f64>().ln() as f32;
    row[i] - lse
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_is_argmax() {
        let mut s = Sampler::new(SamplingConfig::greedy());
        assert_eq!(s.sample(&[0.0, 3.0, 1.0, 3.0]), 1);
    }

    #[test]
    fn top_k_one_is_greedy_whatever_the_temperature() {
        let mut s = Sampler::new(SamplingConfig { temperature: 5.0, top_k: 1, top_p: 1.0, seed: 7 });
        for _ in 0..20 {
            assert_eq!(s.sample(&[0.0, 0.5, 0.4]), 1);
        }
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        // p ≈ [0.88, 0.12, 0.00…]: top_p 0.5 keeps only token 0.
        let mut s = Sampler::new(SamplingConfig { temperature: 1.0, top_k: 0, top_p: 0.5, seed: 3 });
        for _ in 0..50 {
            assert_eq!(s.sample(&[2.0, 0.0, -5.0, -6.0]), 0);
        }
    }

    #[test]
    fn same_seed_same_tokens_and_sampling_follows_probabilities() {
        let cfg = SamplingConfig { temperature: 1.0, top_k: 0, top_p: 1.0, seed: 42 };
        let logits = [0.0f32, (3.0f32).ln()]; // p = [0.25, 0.75]
        let run = |cfg: SamplingConfig| {
            let mut s = Sampler::new(cfg);
            (0..4000).map(|_| s.sample(&logits)).collect::<Vec<_>>()
        };
        let a = run(cfg.clone());
        assert_eq!(a, run(cfg));
        let ones = a.iter().filter(|&&t| t == 1).count() as f32 / a.len() as f32;
        assert!((ones - 0.75).abs() < 0.03, "frequency of token 1: {ones}");
    }

    #[test]
    fn sampling_options_outside_their_range_are_refused_by_name() {
        let with = |temperature: f32, top_p: f32| SamplingConfig { temperature, top_p, ..SamplingConfig::greedy() }.validate();
        for t in [f32::NAN, -1.0, -0.001, f32::INFINITY, 100.5] {
            let msg = with(t, 1.0).unwrap_err().to_string();
            assert!(msg.contains("--temperature") && msg.contains("0 (greedy) to 100"), "{t}: {msg}");
        }
        for p in [f32::NAN, 0.0, -0.5, 1.01, f32::INFINITY] {
            let msg = with(0.7, p).unwrap_err().to_string();
            assert!(msg.contains("--top-p") && msg.contains("(0, 1]"), "{p}: {msg}");
        }
        for (t, p) in [(0.0, 1.0), (100.0, 0.01), (0.8, 0.9)] {
            with(t, p).unwrap();
        }
    }

    #[test]
    fn non_finite_logits_are_an_error_naming_the_position() {
        check_finite(&[0.0, -3.0, 1e30], 4, "m.gguf").unwrap();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let msg = check_finite(&[0.0, bad, 1.0], 4, "m.gguf").unwrap_err().to_string();
            assert!(msg.starts_with("m.gguf: ") && msg.contains("non-finite logits at position 4") && msg.contains("token id 1"), "{msg}");
        }
    }

    #[test]
    fn log_softmax_is_normalised() {
        let row = [1.0f32, 2.0, 3.0];
        let total: f32 = (0..3).map(|i| log_softmax_at(&row, i).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
}
