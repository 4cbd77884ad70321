//! The batch of a run on a real GPU. Four sequences of a few hundred tokens (the default) keep
//! a laptop GPU busy but leave a desktop or datacenter one mostly idle: each product is then
//! only ~2,000 rows tall. When `batch` has its default, a run on a GPU adapter (not a CPU one:
//! those take [`super::cpu_schedule`]) takes more sequences per micro-batch:
//!
//! - enough for [`GPU_TOKENS`] tokens per micro-batch (`GPU_TOKENS / t` sequences of `t` tokens);
//! - no more than keeps [`MIN_STEPS_PER_EPOCH`] optimizer steps per epoch (a small dataset keeps
//!   the default batch: a bigger one would leave too few steps to learn from);
//! - within [`GPU_MEMORY_BUDGET`] of training memory by the estimate (wgpu does not say how much
//!   memory an adapter has; the budget fits every discrete GPU of recent years and most
//!   integrated ones; `--batch` gives any other value).
//!
//! Never below the default; an explicit `batch` is kept as given.

use super::options::RunOptions;

/// Tokens per micro-batch the GPU batch aims for.
pub const GPU_TOKENS: usize = 16_384;
/// Optimizer steps per epoch the GPU batch keeps at least.
pub const MIN_STEPS_PER_EPOCH: usize = 16;
/// Training memory (the estimate's total) the GPU batch stays within.
pub const GPU_MEMORY_BUDGET: u64 = 2 << 30;

/// `options` with the GPU batch for `rows` training rows of up to `t` tokens, and a note saying
/// what it chose; `memory(batch)` is the training memory estimate in bytes at `batch`.
pub fn gpu_batch(options: &RunOptions, rows: usize, t: usize, memory: impl Fn(usize) -> u64) -> (RunOptions, Option<String>) {
    let default = RunOptions::default().batch;
    if options.batch != default {
        return (options.clone(), None);
    }
    let by_tokens = GPU_TOKENS / t.max(1);
    let by_rows = rows / (MIN_STEPS_PER_EPOCH * options.grad_accum.max(1));
    let mut batch = by_tokens.min(by_rows).max(default);
    while batch > default && memory(batch) > GPU_MEMORY_BUDGET {
        batch = (batch * 3 / 4).max(default);
    }
    if batch == default {
        return (options.clone(), None);
    }
    let mut o = options.clone();
    o.batch = batch;
    let note = format!(
        "GPU adapter: batch {batch} ({} tokens per micro-batch, {:.0} MiB estimated; give --batch to choose)",
        batch * t,
        memory(batch) as f64 / 1048576.0
    );
    (o, Some(note))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_large_dataset_gets_the_token_target() {
        let (o, note) = gpu_batch(&RunOptions::default(), 10_000, 512, |b| b as u64 * 50 * MIB);
        assert_eq!(o.batch, GPU_TOKENS / 512);
        assert!(note.unwrap().contains("batch 32"));
    }

    #[test]
    fn memory_and_rows_bound_it_and_an_explicit_batch_stays() {
        let (o, _) = gpu_batch(&RunOptions::default(), 10_000, 512, |b| b as u64 * 200 * MIB);
        assert!(o.batch >= 4 && o.batch as u64 * 200 * MIB <= GPU_MEMORY_BUDGET, "batch {}", o.batch);
        let (o, note) = gpu_batch(&RunOptions::default(), 40, 64, |_| MIB);
        assert_eq!((o.batch, note), (4, None), "40 rows keep the default (16 steps per epoch would need batch 2)");
        let (o, _) = gpu_batch(&RunOptions::default(), 800, 64, |_| MIB);
        assert_eq!(o.batch, 50, "800 rows / 16 steps");
        let given = RunOptions { batch: 2, ..RunOptions::default() };
        assert_eq!(gpu_batch(&given, 10_000, 64, |_| MIB).0.batch, 2);
    }
}
