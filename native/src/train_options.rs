//! The options of `anytune train`: core's [`RunOptions`] from its defaults, then a TOML config
//! file (`--config`), then the flags given on the command line, in that order of precedence.
//! Flags and config keys share their names (`--max-seq-len` ↔ `max_seq_len`).

use crate::train::TrainArgs;
use anyhow::{Context, Result, bail};
use anytune_core::train::RunOptions;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The run options as flags; a flag not given leaves the config file's value or the default.
#[derive(Args, Serialize, Default)]
pub struct RunFlags {
    /// Optimizer steps [default: one epoch; on a software adapter a short schedule that also
    /// sets --batch, --lr, --targets and --layers unless given].
    #[arg(long)]
    steps: Option<usize>,
    /// Epochs, when --steps is not given [default: 1].
    #[arg(long)]
    epochs: Option<usize>,
    /// Sequences per micro-batch [default: 4].
    #[arg(long)]
    batch: Option<usize>,
    /// Micro-batches per optimizer step [default: 1].
    #[arg(long)]
    grad_accum: Option<usize>,
    /// Peak learning rate [default: 1e-3].
    #[arg(long)]
    lr: Option<f64>,
    /// Learning-rate schedule: constant, linear or cosine [default: cosine].
    #[arg(long)]
    schedule: Option<String>,
    /// Linear warmup steps [default: 0].
    #[arg(long)]
    warmup: Option<usize>,
    /// Optimizer: adamw or sgd [default: adamw].
    #[arg(long)]
    optimizer: Option<String>,
    /// Momentum for --optimizer sgd [default: 0.9].
    #[arg(long)]
    momentum: Option<f64>,
    /// Weight decay (AdamW: decoupled; SGD: L2 on the gradient) [default: 0].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Clip the global gradient norm to this (0 = off) [default: 1].
    #[arg(long)]
    max_grad_norm: Option<f32>,
    /// LoRA rank r [default: 8].
    #[arg(long)]
    rank: Option<usize>,
    /// LoRA alpha (scale = alpha / r) [default: 16].
    #[arg(long)]
    alpha: Option<f32>,
    /// LoRA dropout on each adapted module's input during training (PEFT's lora_dropout), in
    /// [0, 1) [default: 0].
    #[arg(long)]
    lora_dropout: Option<f32>,
    /// Recompute activations in the backward pass (gradient checkpointing): less GPU memory,
    /// about a third more compute.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    recompute: bool,
    /// Adapted modules: comma-separated q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj,
    /// or all-linear [default: q_proj,v_proj].
    #[arg(long)]
    targets: Option<String>,
    /// Adapted layers: "all" or a list like "0-11,20" [default: all].
    #[arg(long)]
    layers: Option<String>,
    /// Longest sequence in tokens; longer rows are truncated (and reported) [default: 256].
    #[arg(long)]
    max_seq_len: Option<usize>,
    /// Train on every token, not only completions / assistant turns.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    train_on_everything: bool,
    /// Pack short examples together into sequences of up to --max-seq-len tokens.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pack: bool,
    /// Skip malformed rows (reported by line) instead of stopping.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    skip_bad_rows: bool,
    /// Fraction of the training rows held out for validation [default: 0].
    #[arg(long)]
    val_split: Option<f32>,
    /// Evaluate on the validation set every N steps (0 = only at the end) [default: 0].
    #[arg(long)]
    eval_every: Option<usize>,
    /// Seed of the adapter initialisation, data order, validation split and dropout masks [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Write a checkpoint every N steps (0 = only at the end) [default: 10].
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Stop when the validation loss has not improved for this many evaluations (0 = never) [default: 0].
    #[arg(long)]
    patience: Option<usize>,
}

/// Everything a `anytune train` run needs, resolved.
pub struct Job {
    pub model: PathBuf,
    pub data: PathBuf,
    pub val_file: Option<PathBuf>,
    pub out: PathBuf,
    pub question: Option<String>,
    pub options: RunOptions,
}

/// Merges the defaults, the config file and the flags of `args`.
pub fn resolve_options(args: &TrainArgs) -> Result<Job> {
    let (mut table, dir, file) = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading the config file {}", path.display()))?;
            let table: toml::Table = toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?;
            (table, path.parent().unwrap_or(Path::new("")).to_path_buf(), path.display().to_string())
        }
        None => (toml::Table::new(), PathBuf::new(), String::new()),
    };
    // Keys that are not run options: paths (relative to the config file) and the question.
    let mut path_of = |key: &str, flag: &Option<PathBuf>| -> Result<Option<PathBuf>> {
        let from_file = match table.remove(key) {
            Some(toml::Value::String(s)) => Some(dir.join(s)),
            Some(other) => bail!("config file {file}: {key} must be a string path, not {}", other.type_str()),
            None => None,
        };
        Ok(flag.clone().or(from_file))
    };
    let model = path_of("model", &args.model)?;
    let data = path_of("data", &args.data)?;
    let val_file = path_of("val_file", &args.val_file)?;
    let out = path_of("out", &args.out)?;
    let question = match table.remove("question") {
        Some(toml::Value::String(s)) => Some(s),
        Some(other) => bail!("config file {file}: question must be a string, not {}", other.type_str()),
        None => None,
    };
    let mut merged = serde_json::to_value(&table)?;
    if let serde_json::Value::Object(flags) = serde_json::to_value(&args.flags)? {
        for (key, value) in flags.into_iter().filter(|(_, v)| !v.is_null()) {
            merged[key] = value;
        }
    }
    let options: RunOptions = serde_json::from_value(merged).map_err(|e| match &args.config {
        Some(_) => anyhow::anyhow!("config file {file}: {e}"),
        None => anyhow::anyhow!("options: {e}"),
    })?;
    let Some(data) = data else { bail!("no training data: give --data FILE (or `data` in the --config file)") };
    let Some(out) = out else { bail!("no output folder: give --out DIR (or `out` in the --config file)") };
    let model = anytune::load::model_path(model.as_deref())?;
    Ok(Job { model, data, val_file, out, question: args.question.clone().or(question), options })
}
