//! `anytune train`: LoRA fine-tuning of a model on a dataset, writing a PEFT adapter
//! (`adapter_config.json` + `adapter_model.safetensors`) and a GGUF LoRA (`adapter.gguf`).

use anyhow::{Context, Result, bail};
use anytune::load::{load_model, model_path, open_gpu};
use anytune_core::chat::Message;
use crate::dataset::{all_batches, pad_id, prepare_files, sequence_len};
use anytune_core::data::{Batcher, DataConfig, Padding};
use anytune_core::generate::{GenerateOptions, generate};
use anytune_core::lora::{Layers, LoraConfig, LoraWeights, Target};
use anytune_core::model::{LoraParams, Model};
use anytune_core::train::{CheckpointInfo, Optimizer, Schedule, TrainConfig, Trainer};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// The checkpoint file inside --out.
const CHECKPOINT: &str = "checkpoint.safetensors";

/// Steps picked on a software (CPU) adapter when --steps is not given.
const CPU_STEPS: usize = 24;

#[derive(Args)]
pub struct TrainArgs {
    /// Base model (default: SmolLM2-135M-Instruct).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Training data: .jsonl / .json ({"text"}, {"prompt","completion"}, {"messages"}, alpaca), .txt or .csv.
    #[arg(long)]
    data: PathBuf,
    /// Validation data in the same formats (or use --val-split).
    #[arg(long)]
    val_file: Option<PathBuf>,
    /// Fraction of the training rows held out for validation.
    #[arg(long, default_value_t = 0.0)]
    val_split: f32,
    /// Output folder for the adapter files and the log.
    #[arg(long)]
    out: PathBuf,
    /// Optimizer steps (default: one epoch; on a software adapter a short schedule of 24 steps).
    #[arg(long)]
    steps: Option<usize>,
    /// Epochs, when --steps is not given.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Sequences per micro-batch.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Learning-rate schedule: constant, linear or cosine.
    #[arg(long, default_value = "cosine")]
    schedule: String,
    /// Linear warmup steps.
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Optimizer: adamw or sgd.
    #[arg(long, default_value = "adamw")]
    optimizer: String,
    /// Momentum for --optimizer sgd.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// Weight decay (AdamW: decoupled; SGD: L2 on the gradient).
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Clip the global gradient norm to this (0 = off).
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f32,
    /// LoRA rank r.
    #[arg(long, default_value_t = 8)]
    rank: usize,
    /// LoRA alpha (scale = alpha / r).
    #[arg(long, default_value_t = 16.0)]
    alpha: f32,
    /// LoRA dropout on each adapted module's input during training (PEFT's lora_dropout), in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    lora_dropout: f32,
    /// Recompute activations in the backward pass (gradient checkpointing): less GPU memory, ~1/3 more compute.
    #[arg(long)]
    recompute: bool,
    /// Adapted modules: comma-separated q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj, or all-linear.
    #[arg(long, default_value = "q_proj,v_proj")]
    targets: String,
    /// Adapted layers: "all" or a list like "0-11,20".
    #[arg(long, default_value = "all")]
    layers: String,
    /// Longest sequence in tokens; longer rows are truncated (and reported).
    #[arg(long, default_value_t = 256)]
    max_seq_len: usize,
    /// Train on every token, not only completions / assistant turns.
    #[arg(long)]
    train_on_everything: bool,
    /// Skip malformed rows (reported by line) instead of stopping.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Evaluate on the validation set every N steps (0 = only at the end).
    #[arg(long, default_value_t = 0)]
    eval_every: usize,
    /// Seed of the adapter initialisation, data order, validation split and LoRA dropout masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write a checkpoint (adapter, optimizer state, data position) every N steps (0 = only at the end).
    #[arg(long, default_value_t = 10)]
    checkpoint_every: usize,
    /// Continue the run in --out from its last checkpoint (same data and options).
    #[arg(long)]
    resume: bool,
    /// Stop when the validation loss has not improved for this many evaluations (0 = never).
    #[arg(long, default_value_t = 0)]
    patience: usize,
    /// Print token counts, trainable parameters and the GPU memory needed, then stop.
    #[arg(long)]
    dry_run: bool,
    /// A question answered (greedy chat) before and after training.
    #[arg(long)]
    question: Option<String>,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let gpu = open_gpu()?;
    let path = model_path(args.model.as_deref())?;
    let mut model = load_model(&gpu, &path)?;
    let data_cfg = DataConfig {
        max_seq_len: args.max_seq_len,
        train_on_everything: args.train_on_everything,
        val_split: args.val_split,
        skip_bad_rows: args.skip_bad_rows,
        seed: args.seed,
        ..DataConfig::default()
    };
    let dataset = prepare_files(&model, &args.data, args.val_file.as_deref(), &data_cfg)?;

    let lora_cfg = LoraConfig {
        r: args.rank,
        alpha: args.alpha,
        dropout: args.lora_dropout,
        targets: Target::parse_list(&args.targets)?,
        layers: Layers::parse(&args.layers)?,
        use_rslora: false,
    };
    lora_cfg.validate()?;
    let weights = LoraWeights::init(&lora_cfg, &model.config, args.seed)?;
    let lora = LoraParams::from_weights(&gpu, &model.config, &weights)?;
    eprintln!(
        "LoRA: r {}, alpha {}, {} on layers {}: {} trainable parameters ({:.2}% of {:.1} M)",
        lora_cfg.r,
        lora_cfg.alpha,
        args.targets,
        args.layers,
        lora.parameter_count(),
        100.0 * lora.parameter_count() as f64 / model.config.parameter_count() as f64,
        model.config.parameter_count() as f64 / 1e6
    );

    let t = sequence_len(&dataset, args.max_seq_len);
    let pad = pad_id(&model);
    let mut batcher = Batcher::new(&dataset.train, args.batch, Padding::Fixed(t), pad, args.seed, true)?;
    let per_epoch = batcher.batches_per_epoch().div_ceil(args.grad_accum);
    let software = gpu.report.device_type == "Cpu";
    let total = match args.steps {
        Some(s) => s,
        None if software => {
            let s = CPU_STEPS.min(per_epoch * args.epochs);
            eprintln!("anytune: software GPU adapter ({}): a short schedule of {s} steps (use --steps to change)", gpu.report.name);
            s
        }
        None => per_epoch * args.epochs,
    };
    if total == 0 {
        bail!("nothing to train: {} has no training rows", args.data.display());
    }
    let memory = anytune_core::train::training_memory(&gpu, &model, &lora, args.batch, t, args.recompute);
    eprintln!("{memory}; {total} steps of {} × {t} tokens", args.batch);
    anytune_core::train::check_fits(&gpu, &memory)?;
    if args.dry_run {
        return Ok(());
    }
    let val_batches = all_batches(&dataset.val, args.batch, t, pad)?;

    if let Some(q) = &args.question {
        println!("before: {}", answer(&gpu, &model, q)?);
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let config = TrainConfig {
        lr: args.lr,
        schedule: Schedule::parse(&args.schedule)?,
        warmup_steps: args.warmup,
        weight_decay: args.weight_decay,
        max_grad_norm: args.max_grad_norm,
        grad_accum: args.grad_accum,
        optimizer: Optimizer::parse(&args.optimizer, args.momentum)?,
        recompute: args.recompute,
        seed: args.seed,
    };
    let base_name = path.file_name().map_or(path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let adapter_config = weights.peft_config_json(&base_name);
    let mut trainer = Trainer::new(&gpu, &model, lora, config, args.batch, t)?;
    let checkpoint_path = args.out.join(CHECKPOINT);
    let mut info = CheckpointInfo { step: 0, data: batcher.position(), best_val_loss: None, evals_since_best: 0, adapter_config };
    if args.resume {
        let bytes = std::fs::read(&checkpoint_path)
            .with_context(|| format!("--resume: reading the checkpoint {}", checkpoint_path.display()))?;
        let restored = trainer.restore_checkpoint(&gpu, &bytes, &checkpoint_path.display().to_string())?;
        if restored.adapter_config != info.adapter_config {
            bail!("{}: the checkpoint was made with other LoRA options or another base model", checkpoint_path.display());
        }
        batcher.seek(restored.data)?;
        eprintln!("anytune: resuming from step {} of {total}", restored.step);
        info = restored;
    }
    let mut log = std::fs::OpenOptions::new().create(true).append(args.resume).write(true).truncate(!args.resume).open(args.out.join("log.jsonl"))?;
    let start = Instant::now();
    let mut tokens = 0usize;
    let first = trainer.step;
    while trainer.step < total {
        let micro: Vec<_> = (0..args.grad_accum).map(|_| batcher.next_batch()).collect();
        let r = pollster::block_on(trainer.train_step(&gpu, &model, &micro, total))?;
        tokens += r.tokens;
        let secs = start.elapsed().as_secs_f64();
        let eta = secs / (r.step - first) as f64 * (total - r.step) as f64;
        eprintln!(
            "step {:>4}/{total}  loss {:.4}  lr {:.2e}  grad-norm {:.3}  {:.0} tokens/s  ETA {}",
            r.step,
            r.loss,
            r.lr,
            r.grad_norm,
            tokens as f64 / secs,
            duration(eta)
        );
        writeln!(log, "{}", serde_json::json!({ "kind": "train", "step": r.step, "loss": r.loss, "lr": r.lr, "grad_norm": r.grad_norm, "seconds": secs }))?;
        let last = r.step == total;
        let mut stop = false;
        if !val_batches.is_empty() && ((args.eval_every > 0 && r.step % args.eval_every == 0) || last) {
            let e = pollster::block_on(trainer.evaluate(&gpu, &model, &val_batches, true))?;
            eprintln!("step {:>4}  validation loss {:.4}  perplexity {:.2}  accuracy {:.4}", r.step, e.loss, e.perplexity, e.accuracy);
            writeln!(log, "{}", serde_json::json!({ "kind": "val", "step": r.step, "loss": e.loss, "perplexity": e.perplexity, "accuracy": e.accuracy }))?;
            if info.best_val_loss.is_none_or(|b| e.loss < b) {
                info.best_val_loss = Some(e.loss);
                info.evals_since_best = 0;
                let best = pollster::block_on(trainer.lora.to_weights(&gpu, &lora_cfg))?;
                write_adapter(&args.out.join("best"), &best, &base_name, &model)?;
            } else {
                info.evals_since_best += 1;
                stop = args.patience > 0 && info.evals_since_best >= args.patience;
            }
        }
        if last || stop || (args.checkpoint_every > 0 && r.step % args.checkpoint_every == 0) {
            info.data = batcher.position();
            let bytes = pollster::block_on(trainer.checkpoint_bytes(&gpu, info.clone()))?;
            write_atomically(&checkpoint_path, &bytes)?;
        }
        if stop {
            eprintln!("anytune: early stop: no validation improvement in {} evaluations", args.patience);
            break;
        }
    }
    drop(log);
    let log_text = std::fs::read_to_string(args.out.join("log.jsonl"))?;
    let (train_points, val_points) = crate::plot::read_log(&log_text);
    std::fs::write(args.out.join("loss.svg"), crate::plot::loss_svg(&train_points, &val_points))?;
    let lora = trainer.into_lora();
    let trained = pollster::block_on(lora.to_weights(&gpu, &lora_cfg))?;
    write_adapter(&args.out, &trained, &base_name, &model)?;
    eprintln!(
        "anytune: wrote {} (adapter_config.json, adapter_model.safetensors, adapter.gguf, log.jsonl, loss.svg, {CHECKPOINT}{})",
        args.out.display(),
        if info.best_val_loss.is_some() { ", best/" } else { "" }
    );
    model.adapter = Some(lora);
    if let Some(q) = &args.question {
        println!("after:  {}", answer(&gpu, &model, q)?);
    }
    Ok(())
}

/// Writes the PEFT files and the GGUF LoRA of `weights` into `dir`.
fn write_adapter(dir: &std::path::Path, weights: &LoraWeights, base_name: &str, model: &Model) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomically(&dir.join("adapter_config.json"), weights.peft_config_json(base_name).as_bytes())?;
    write_atomically(&dir.join("adapter_model.safetensors"), &weights.peft_safetensors()?)?;
    write_atomically(&dir.join("adapter.gguf"), &weights.to_gguf(&model.config)?)
}

/// Writes `bytes` to a temporary file next to `path`, flushes it to disk and renames it over
/// `path`: a reader (or a killed run) sees the old file or the new one, never a partial one.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// The greedy chat answer of `model` (with its adapter, if set) to `question`.
fn answer(gpu: &anytune_core::gpu::Gpu, model: &Model, question: &str) -> Result<String> {
    let prompt = model.render_chat(&[Message::user(question)], true)?;
    let ids = model.tokenizer.encode(&prompt, true)?;
    let out = pollster::block_on(generate(gpu, model, &ids, &GenerateOptions { max_tokens: 48, ..Default::default() }, |_| {}))?;
    Ok(out.text.trim().to_string())
}

fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{s}s") }
}
