//! The generation flags `anytune generate` and `anytune compare` share, and the core
//! options they make.

use anyhow::Result;
use anytune_core::generate::GenerateOptions;
use anytune_core::sample::SamplingConfig;
use clap::Args;

#[derive(Args)]
pub(crate) struct SamplingFlags {
    /// Maximum number of new tokens.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus sampling: keep the most likely tokens up to this total probability.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Random seed for sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl SamplingFlags {
    /// The options (stopping at end-of-turn tokens), with the sampling settings checked now, before
    /// a model loads (generation checks everything again).
    pub(crate) fn options(&self) -> Result<GenerateOptions> {
        let sampling = SamplingConfig { temperature: self.temperature, top_k: self.top_k, top_p: self.top_p, seed: self.seed };
        sampling.validate()?;
        Ok(GenerateOptions { max_tokens: self.max_tokens, sampling, stop_at_eos: true })
    }
}
