//! Token sampling on the CPU from one row of logits: greedy, temperature, top-k, top-p, seeded.
//!
//! ```
//! use anytune_core::sample::{Sampler, SamplingConfig};
//! let mut s = Sampler::new(SamplingConfig::greedy());
//! assert_eq!(s.sample(&[0.1, 2.0, -1.0]), 1);
//! ```

use crate::rng::Rng;

/// How to pick the next token. Defaults: greedy (temperature 0), no top-k, top-p 1, seed 0.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingConfig {
    /// 0 = greedy (argmax); otherwise logits are divided by it before the softmax.
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p` (1 = all).
    pub top_p: f32,
    pub seed: u64,
}

impl SamplingConfig {
    pub fn greedy() -> Self {
        SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0, seed: 0 }
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
    fn log_softmax_is_normalised() {
        let row = [1.0f32, 2.0, 3.0];
        let total: f32 = (0..3).map(|i| log_softmax_at(&row, i).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
}
