//! One LoRA training step of a loaded model, timed: what `anytune bench --train` prints natively
//! and `Engine.benchTrain` returns in the browser, so the two are the same measurement (same
//! shapes, same synthetic batch, same warm-up) on two adapters. Platform-neutral: the caller
//! passes its clock (`Instant` natively, `performance.now()` in the browser), since wasm has
//! no `Instant`.

use super::{ActivationStore, MemoryEstimate, TrainConfig, Trainer, training_flops_per_token, training_memory};
use crate::data::{Batch, DataPosition};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, KernelTime};
use crate::lora::{Layers, LoraConfig, LoraParams, LoraWeights, Target};
use crate::model::Model;
use serde::Serialize;

/// What to time: a step of `batch` × `tokens` on LoRA rank `rank` over `targets` of `layers`.
#[derive(Clone, Debug)]
pub struct StepBench {
    pub batch: usize,
    pub tokens: usize,
    pub rank: usize,
    /// Comma-separated module names, or all-linear.
    pub targets: String,
    /// all, or layer indices and ranges like 22-29.
    pub layers: String,
    pub recompute: bool,
    /// How activations are saved without recomputation.
    pub saved_activations: ActivationStore,
    /// Timed steps after one warm-up step.
    pub iters: usize,
    /// One more step with GPU time per kernel (timestamp queries).
    pub profile: bool,
}

/// The measurement.
#[derive(Clone, Debug, Serialize)]
pub struct StepTiming {
    /// Each timed step's wall time, in seconds (record, submit, wait for the loss).
    pub seconds: Vec<f64>,
    /// The fastest of `seconds`.
    pub best: f64,
    pub tokens_per_s: f64,
    pub flops_per_token: f64,
    pub gflops: f64,
    /// Kernel dispatches of one step (one submission).
    pub dispatches: u32,
    pub memory: MemoryEstimate,
    /// How the step kept its activations ([`crate::model::Saved::describe`]).
    pub saved: &'static str,
    /// GPU time per kernel of one more step, most first (empty unless profiled).
    pub profile: Vec<KernelProfile>,
    /// Sum of `profile`'s times: the step's GPU time, to hold against its wall time.
    pub profiled_gpu_seconds: f64,
    /// The profiled step's wall time (timestamps cost a little).
    pub profiled_wall_seconds: f64,
}

/// One kernel's share of a profiled step.
#[derive(Clone, Debug, Serialize)]
pub struct KernelProfile {
    pub kernel: &'static str,
    pub dispatches: usize,
    pub seconds: f64,
}

impl From<&KernelTime> for KernelProfile {
    fn from(t: &KernelTime) -> Self {
        KernelProfile { kernel: t.kernel, dispatches: t.dispatches, seconds: t.seconds }
    }
}

/// Times [`StepBench`]'s steps of `model` on `gpu`; `now()` is a clock in seconds.
pub async fn bench_step(gpu: &Gpu, model: &Model, setup: &StepBench, now: &dyn Fn() -> f64) -> Result<StepTiming> {
    let (b, t) = (setup.batch, setup.tokens);
    for (name, value, least) in [("batch", b, 1), ("tokens", t, 2), ("iters", setup.iters, 1)] {
        if value < least {
            return Err(Error::invalid(name, format!("{value} is below {least}")));
        }
    }
    if setup.profile {
        gpu.can_profile()?; // before the timed steps, not after them
    }
    let cfg = LoraConfig {
        r: setup.rank,
        targets: Target::parse_list(&setup.targets)?,
        layers: Layers::parse(&setup.layers)?,
        ..LoraConfig::default()
    };
    let lora = LoraParams::from_weights(gpu, model, &LoraWeights::init(&cfg, &model.config, 0)?)?;
    let config = TrainConfig { recompute: setup.recompute, saved_activations: setup.saved_activations, ..TrainConfig::default() };
    let saved = config.saved(gpu)?;
    let memory = training_memory(gpu, model, &lora, b, t, saved);
    let flops_per_token = training_flops_per_token(model, &lora, t);
    let batch = synthetic_batch(model, b, t);
    let mut trainer = Trainer::new(gpu, model, lora, config, b, t)?;
    let total = setup.iters + 1 + setup.profile as usize;
    let micro = std::slice::from_ref(&batch);
    let dispatches = trainer.train_step(gpu, model, micro, total).await?.dispatches; // warm-up
    let mut seconds = Vec::with_capacity(setup.iters);
    for _ in 0..setup.iters {
        let start = now();
        trainer.train_step(gpu, model, micro, total).await?;
        seconds.push(now() - start);
    }
    let best = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let tokens = (b * t) as f64;
    let (mut profile, mut profiled_wall_seconds) = (Vec::new(), 0.0);
    if setup.profile {
        gpu.start_profile()?;
        let start = now();
        trainer.train_step(gpu, model, micro, total).await?;
        profiled_wall_seconds = now() - start;
        profile = gpu.take_profile().await?.iter().map(KernelProfile::from).collect();
    }
    let profiled_gpu_seconds = profile.iter().map(|k| k.seconds).sum();
    Ok(StepTiming {
        seconds,
        best,
        tokens_per_s: tokens / best,
        flops_per_token,
        gflops: flops_per_token * tokens / best / 1e9,
        dispatches,
        memory,
        saved: saved.describe(),
        profile,
        profiled_gpu_seconds,
        profiled_wall_seconds,
    })
}

/// Token ids spread over the vocabulary, every position a target (the same batch on every
/// adapter, so the work is the same).
fn synthetic_batch(model: &Model, b: usize, t: usize) -> Batch {
    let v = model.config.vocab_size as u32;
    let inputs = (0..b * t).map(|i| (i as u32).wrapping_mul(7919) % v).collect();
    let targets = (0..b * t).map(|i| (i as u32).wrapping_mul(104_729).wrapping_add(13) % v).collect();
    Batch { b, t, inputs, targets, n_targets: b * t, rows: (0..b).collect(), position: DataPosition { epoch: 0, index: 0 } }
}
