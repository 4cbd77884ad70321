//! A whole training run, shared by `anytune train` and the web page's worker: options →
//! [`RunPlan`] (prepared data, LoRA layout, step count, memory estimate; nothing big on the
//! GPU yet) → [`TrainRun`] (one optimizer step per [`TrainRun::step`], validation, early
//! stopping, checkpoint bytes, adapter files). The callers only add their I/O: files and a
//! progress line natively, messages to the page in the browser.

use super::checkpoint::{CheckpointInfo, RunIdentity};
use super::cpu_schedule::software_schedule;
use super::model_preset::{apply_preset, model_preset, validation_interval};
use super::gpu_batch::gpu_batch;
use super::memory::{MemoryEstimate, training_memory};
use super::schedule::Schedule;
use super::step::{ActivationStore, EvalReport};
use super::trainer::{Optimizer, StepReport, TrainConfig, Trainer};
use crate::chat::Message;
use crate::data::{Batch, Batcher, DataConfig, DataFile, DataPosition, DataSummary, Dataset, Example, Padding, prepare};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::lora::{Layers, LoraConfig, LoraWeights, Target};
use crate::lora::LoraParams;
use crate::head::data::HeadTargets;
use crate::model::Model;
use serde::Serialize;
pub use super::options::RunOptions;

impl RunOptions {
    /// The LoRA layout these options ask for.
    pub fn lora_config(&self) -> Result<LoraConfig> {
        let cfg = LoraConfig {
            r: self.rank,
            alpha: self.alpha,
            dropout: self.lora_dropout,
            targets: Target::parse_list(&self.targets).map_err(|e| as_option(e, "targets"))?,
            layers: Layers::parse(&self.layers).map_err(|e| as_option(e, "layers"))?,
            use_rslora: self.rslora,
            use_dora: self.dora,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The optimizer settings these options ask for.
    pub fn train_config(&self) -> Result<TrainConfig> {
        Ok(TrainConfig {
            lr: self.lr,
            schedule: Schedule::parse(&self.schedule)?,
            warmup_steps: self.warmup,
            weight_decay: self.weight_decay,
            max_grad_norm: self.max_grad_norm,
            grad_accum: self.grad_accum,
            optimizer: Optimizer::parse(&self.optimizer, self.momentum)?,
            recompute: self.recompute,
            saved_activations: ActivationStore::parse(&self.saved_activations)?,
            seed: self.seed,
        })
    }

    /// The data options (how the rows become sequences and the validation split).
    pub fn data_config(&self) -> DataConfig {
        DataConfig {
            max_seq_len: self.max_seq_len,
            train_on_everything: self.train_on_everything,
            pack: self.pack,
            val_split: self.val_split,
            skip_bad_rows: self.skip_bad_rows,
            seed: self.seed,
            require_labels: self.task == "classify",
            labels: None,
        }
    }
}

/// A LoRA config error (named by its PEFT key) renamed after the run option that set it.
fn as_option(e: Error, option: &str) -> Error {
    match e {
        Error::Invalid { what, .. } => Error::invalid(format!("{option} (--{option})"), what),
        other => other,
    }
}

/// The run option behind each PEFT key a LoRA config error may name.
const PEFT_OPTIONS: [(&str, &str); 5] =
    [("r", "rank"), ("lora_alpha", "alpha"), ("lora_dropout", "lora_dropout"), ("target_modules", "targets"), ("layers_to_transform", "layers")];

/// An error of the LoRA layout checked against the model ("LoRA option layers_to_transform:
/// layer 40 does not exist"), renamed after the run option the user set (`layers (--layers)`).
fn as_run_option(e: Error) -> Error {
    match &e {
        Error::Invalid { name, .. } => match PEFT_OPTIONS.iter().find(|(peft, _)| name.strip_prefix("LoRA option ") == Some(*peft)) {
            Some((_, option)) => as_option(e, option),
            None => e,
        },
        _ => e,
    }
}

/// Refuses a rank above the width of the narrowest adapted module (a low-rank update wider
/// than its matrix).
fn check_rank(cfg: &LoraConfig, model: &crate::model::ModelConfig) -> Result<()> {
    let narrowest = cfg.modules(model).map_err(as_run_option)?.into_iter().min_by_key(|m| m.in_features.min(m.out_features));
    match narrowest {
        Some(m) if cfg.r > m.in_features.min(m.out_features) => Err(Error::invalid(
            "rank (--rank)",
            format!(
                "{} is larger than {} ({} × {}) of this model: at most {}",
                cfg.r,
                m.target.peft_name(),
                m.out_features,
                m.in_features,
                m.in_features.min(m.out_features)
            ),
        )),
        _ => Ok(()),
    }
}

/// Reads and tokenizes a training file (and a validation file) for `model`, rendering chat rows
/// with its chat template.
pub fn prepare_data(model: &Model, train: DataFile, val: Option<DataFile>, cfg: &DataConfig) -> Result<Dataset> {
    let render = |m: &[Message], g: bool| model.render_chat(m, g);
    let render = model.chat_template.as_ref().map(|_| &render as &dyn Fn(&[Message], bool) -> _);
    prepare(train, val, &model.tokenizer, render, cfg)
}

/// The options a run on `gpu` trains with, and notes saying what was chosen for the user: the
/// preset's options first ([`apply_preset`]); then on a software adapter without `steps` (and
/// not the `model` preset, a full run asked for), the short schedule ([`software_schedule`]);
/// on a real GPU with the default batch, the batch that fills it ([`gpu_batch`], by the memory
/// estimate of the options' adapter).
pub fn planned_options(gpu: &Gpu, model: &Model, dataset: &Dataset, options: &RunOptions) -> Result<(RunOptions, Vec<String>)> {
    let rows = dataset.train.len();
    let (options, note) = apply_preset(&options.preset, options, &model.config, rows, dataset.val.len())?;
    let mut notes: Vec<String> = note.into_iter().collect();
    if gpu.report.device_type == "Cpu" {
        if options.preset == "model" {
            return Ok((options, notes));
        }
        let (o, note) = software_schedule(&options, model.config.n_layers, rows, model_preset(model.config.arch).short_lr);
        notes.extend(note.map(|n| format!("software GPU adapter {}, {n}", gpu.report.label())));
        return Ok((o, notes));
    }
    let t = sequence_len(dataset, options.max_seq_len);
    let lora_config = options.lora_config()?;
    check_rank(&lora_config, &model.config)?;
    let lora = LoraParams::from_weights(gpu, model, &LoraWeights::init(&lora_config, &model.config, options.seed)?)?;
    let saved = options.train_config()?.saved(gpu)?;
    let memory = |b| training_memory(gpu, model, &lora, b, t, saved).total;
    let (mut o, note) = gpu_batch(&options, rows, t, memory);
    if o.preset == "model" {
        o.eval_every = validation_interval(&o, rows, dataset.val.len()); // at the batch chosen
    }
    notes.extend(note);
    Ok((o, notes))
}

/// The padded sequence length of every batch: the longest prepared row, at most `max_seq_len`.
pub fn sequence_len(dataset: &Dataset, max_seq_len: usize) -> usize {
    dataset.summary.longest.min(max_seq_len).max(2)
}

/// The id padding rows are filled with (EOS).
pub fn pad_id(model: &Model) -> u32 {
    model.tokenizer.eos.as_ref().map_or(0, |e| e.id)
}

/// Every batch of one unshuffled pass over `rows` (validation and evaluation); none for no rows.
pub fn all_batches(rows: &[Example], batch: usize, t: usize, pad: u32) -> Result<Vec<Batch>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut batcher = Batcher::new(rows, batch, Padding::Fixed(t), pad, 0, false)?;
    Ok((0..batcher.batches_per_epoch()).map(|_| batcher.next_batch()).collect())
}

/// What a run will do, decided before anything large is allocated (`--dry-run` stops here).
pub struct RunPlan {
    pub options: RunOptions,
    pub lora_config: LoraConfig,
    pub dataset: Dataset,
    /// Initial adapter (A Kaiming-uniform from the seed, B zero), on the GPU.
    pub lora: LoraParams,
    /// Padded sequence length and optimizer steps.
    pub t: usize,
    pub total_steps: usize,
    pub memory: MemoryEstimate,
    /// `adapter_config.json` of the run (also the checkpoints' identity).
    pub adapter_config: String,
    /// Things the caller should tell the user (e.g. the short schedule on a software adapter).
    pub notes: Vec<String>,
    /// The options and data the result depends on (kept in checkpoints, checked on resume).
    pub identity: RunIdentity,
}

impl RunPlan {
    /// Prepares `train` (and `val`) for `model` with `options`; `base_name` is the base model's
    /// name written into `adapter_config.json`.
    pub fn new(gpu: &Gpu, model: &Model, train: DataFile, val: Option<DataFile>, options: &RunOptions, base_name: &str) -> Result<RunPlan> {
        let dataset = prepare_data(model, train, val, &options.data_config())?;
        Self::from_dataset(gpu, model, dataset, (train, val), options, base_name)
    }

    /// [`RunPlan::new`] on a `dataset` already prepared from these files with the data options of
    /// `options` ([`RunOptions::data_config`]): the trials of a sweep share one.
    pub fn from_dataset(
        gpu: &Gpu,
        model: &Model,
        dataset: Dataset,
        (train, val): (DataFile, Option<DataFile>),
        options: &RunOptions,
        base_name: &str,
    ) -> Result<RunPlan> {
        let (options, notes) = planned_options(gpu, model, &dataset, options)?;
        Self::from_planned(gpu, model, dataset, (train, val), &options, notes, base_name)
    }

    /// [`RunPlan::from_dataset`] with `options` already planned ([`planned_options`], then
    /// changed as the caller needs: a sweep sets its searched values again) and their `notes`.
    pub fn from_planned(
        gpu: &Gpu,
        model: &Model,
        dataset: Dataset,
        (train, val): (DataFile, Option<DataFile>),
        options: &RunOptions,
        notes: Vec<String>,
        base_name: &str,
    ) -> Result<RunPlan> {
        if options.grad_accum == 0 || options.batch == 0 {
            return Err(Error::invalid("batch", "batch and grad_accum must be at least 1"));
        }
        if dataset.train.is_empty() {
            return Err(Error::invalid("dataset", format!("nothing to train: {} has no training rows", train.name)));
        }
        let options = options.clone();
        let mut dataset = dataset;
        if options.head {
            crate::head::data::check_head_options(&options, &dataset.summary)?;
            dataset.train = crate::head::data::head_rows(std::mem::take(&mut dataset.train), train.name)?;
            let val_name = val.map_or(train.name, |v| v.name);
            dataset.val = crate::head::data::head_rows(std::mem::take(&mut dataset.val), val_name)?;
        }
        let lora_config = options.lora_config()?;
        check_rank(&lora_config, &model.config)?;
        options.train_config()?;
        let weights = LoraWeights::init(&lora_config, &model.config, options.seed)?;
        let lora = LoraParams::from_weights(gpu, model, &weights)?;
        let t = sequence_len(&dataset, options.max_seq_len);
        let per_epoch = dataset.train.len().div_ceil(options.batch).div_ceil(options.grad_accum);
        let total_steps = options.steps.unwrap_or(per_epoch * options.epochs);
        if total_steps == 0 {
            return Err(Error::invalid("steps", "must be at least 1"));
        }
        let mut memory = training_memory(gpu, model, &lora, options.batch, t, options.train_config()?.saved(gpu)?);
        if options.head {
            memory = crate::head::state::head_memory(memory, dataset.summary.labels.len(), model.config.dim, options.batch);
        }
        let adapter_config = weights.peft_config_json(base_name);
        let identity = RunIdentity::new(&options, train.bytes, val.map(|v| v.bytes));
        Ok(RunPlan { options, lora_config, dataset, lora, t, total_steps, memory, adapter_config, notes, identity })
    }

    /// The data summary (format, rows, tokens, truncations, bad rows).
    pub fn summary(&self) -> &DataSummary {
        &self.dataset.summary
    }
}

/// What one [`TrainRun::step`] did.
#[derive(Clone, Debug, Serialize)]
pub struct StepOutcome {
    pub report: StepReport,
    /// The validation result when this step evaluated.
    pub val: Option<EvalReport>,
    /// This step's validation loss is the best so far (save the adapter as the best).
    pub new_best: bool,
    /// Early stopping: no improvement in `patience` evaluations.
    pub early_stop: bool,
    /// A checkpoint is due (every `checkpoint_every` steps, at the end and at an early stop).
    pub checkpoint_due: bool,
    /// The run is over (last step or early stop).
    pub done: bool,
}

/// A run in progress: the trainer, its data and the scalar state a checkpoint keeps.
pub struct TrainRun {
    pub options: RunOptions,
    pub lora_config: LoraConfig,
    pub trainer: Trainer,
    pub total_steps: usize,
    pub info: CheckpointInfo,
    train: Vec<Example>,
    val: Vec<Batch>,
    /// With a classification head: the validation batches' targets.
    val_heads: Vec<HeadTargets>,
    t: usize,
    pad: u32,
}

impl TrainRun {
    /// Allocates the training buffers of `plan` (fails clearly when they exceed the adapter).
    pub fn start(gpu: &Gpu, model: &Model, plan: RunPlan) -> Result<TrainRun> {
        let o = &plan.options;
        let pad = pad_id(model);
        let val = all_batches(&plan.dataset.val, o.batch, plan.t, pad)?;
        let mut trainer = Trainer::new(gpu, model, plan.lora, o.train_config()?, o.batch, plan.t)?;
        if o.full {
            // Every parameter ([`Trainer::full`]): the model must be f32 ([`crate::full::to_f32`]).
            trainer = trainer.full(gpu, model)?;
        }
        let val_heads = if o.head {
            trainer = trainer.with_head(gpu, model, plan.dataset.summary.labels.len(), o.seed);
            val.iter().map(|b| HeadTargets::of(b, &plan.dataset.val)).collect()
        } else {
            Vec::new()
        };
        let info = CheckpointInfo {
            step: 0,
            data: DataPosition::default(),
            best_val_loss: None,
            evals_since_best: 0,
            adapter_config: plan.adapter_config,
            run: Some(plan.identity),
        };
        let run = TrainRun {
            options: plan.options,
            lora_config: plan.lora_config,
            trainer,
            total_steps: plan.total_steps,
            info,
            train: plan.dataset.train,
            val,
            val_heads,
            t: plan.t,
            pad,
        };
        // Validates the rows against the batch shape once; later batchers cannot fail.
        run.batcher()?;
        Ok(run)
    }

    /// The training batcher, at the start of epoch 0 (seek it to the run's position).
    fn batcher(&self) -> Result<Batcher<'_>> {
        let o = &self.options;
        Batcher::new(&self.train, o.batch, Padding::Fixed(self.t), self.pad, o.seed, true)
    }

    /// Optimizer steps taken.
    pub fn step_count(&self) -> usize {
        self.trainer.step
    }

    /// Whether there is a validation set.
    pub fn has_validation(&self) -> bool {
        !self.val.is_empty()
    }

    /// The next `grad_accum` micro-batches, advancing the data position.
    fn next_micro_batches(&mut self) -> Result<Vec<Batch>> {
        let mut batcher = self.batcher()?;
        batcher.seek(self.info.data)?;
        let micro = (0..self.options.grad_accum).map(|_| batcher.next_batch()).collect();
        self.info.data = batcher.position();
        Ok(micro)
    }

    /// One optimizer step, then validation when due (every `eval_every` steps and at the end).
    pub async fn step(&mut self, gpu: &Gpu, model: &Model) -> Result<StepOutcome> {
        let micro = self.next_micro_batches()?;
        let heads: Vec<HeadTargets> = match self.trainer.head() {
            Some(_) => micro.iter().map(|b| HeadTargets::of(b, &self.train)).collect(),
            None => Vec::new(),
        };
        let report = self.trainer.train_step_with(gpu, model, &micro, &heads, self.total_steps).await?;
        let (eval_every, patience, checkpoint_every) =
            (self.options.eval_every, self.options.patience, self.options.checkpoint_every);
        let last = report.step >= self.total_steps;
        let due = (eval_every > 0 && report.step % eval_every == 0) || last;
        let (mut val, mut new_best, mut early_stop) = (None, false, false);
        if self.has_validation() && due {
            let e = self.validate(gpu, model).await?;
            if self.info.best_val_loss.is_none_or(|b| e.loss < b) {
                self.info.best_val_loss = Some(e.loss);
                self.info.evals_since_best = 0;
                new_best = true;
            } else {
                self.info.evals_since_best += 1;
                early_stop = patience > 0 && self.info.evals_since_best >= patience;
            }
            val = Some(e);
        }
        let checkpoint_due = last || early_stop || (checkpoint_every > 0 && report.step % checkpoint_every == 0);
        Ok(StepOutcome { report, val, new_best, early_stop, checkpoint_due, done: last || early_stop })
    }

    /// Validation loss, perplexity (and accuracy) with the current adapter.
    pub async fn validate(&mut self, gpu: &Gpu, model: &Model) -> Result<EvalReport> {
        let val = std::mem::take(&mut self.val);
        let result = match self.trainer.head() {
            Some(_) => self.trainer.evaluate_head(gpu, model, &val, &self.val_heads).await,
            None => self.trainer.evaluate(gpu, model, &val, true).await,
        };
        self.val = val;
        result
    }

    /// The whole state (adapter, optimizer moments, step, data position, best loss) as bytes.
    pub async fn checkpoint(&self, gpu: &Gpu) -> Result<Vec<u8>> {
        self.trainer.checkpoint_bytes(gpu, self.info.clone()).await
    }

    /// Continues from a checkpoint of the same run (same model, data and options); `file`
    /// names it in errors.
    pub fn resume(&mut self, gpu: &Gpu, bytes: &[u8], file: &str) -> Result<()> {
        let restored = self.trainer.restore_checkpoint(gpu, bytes, file)?;
        if restored.adapter_config != self.info.adapter_config {
            return Err(Error::invalid(
                "resume",
                format!("{file}: the checkpoint was made with other LoRA options or another base model"),
            ));
        }
        if let (Some(now), Some(saved)) = (&self.info.run, &restored.run)
            && let Some(why) = now.mismatch(saved)
        {
            return Err(Error::invalid(
                "resume",
                format!("{file} belongs to another run: {why}. Resume with the data and options of that run, or start a new run in another --out folder"),
            ));
        }
        self.batcher()?.seek(restored.data)?; // checks the position against this dataset
        self.info = restored;
        Ok(())
    }

    /// The current adapter, read back from the GPU.
    pub async fn adapter_weights(&self, gpu: &Gpu) -> Result<LoraWeights> {
        if self.trainer.full_params().is_some() {
            return Err(Error::invalid("full", "a --full run trains the model itself and has no adapter: write the model (full::FullParams::to_host, export::merge::MergeSource::with_trained)"));
        }
        if self.trainer.head().is_some() {
            return Err(Error::invalid("head", "a --head run's adapter is the LoRA and the score weight: take both with TrainRun::head_adapter (written by head::seqcls_files::write_seqcls)"));
        }
        self.trainer.lora.to_weights(gpu, &self.lora_config).await
    }

    /// A --head run's adapter, read back: the LoRA and the score weight `(labels, dim)`;
    /// `None` for a run without a head.
    pub async fn head_adapter(&self, gpu: &Gpu) -> Result<Option<(LoraWeights, Vec<f32>)>> {
        match self.trainer.head() {
            Some(h) => {
                let lora = self.trainer.lora.to_weights(gpu, &self.lora_config).await?;
                Ok(Some((lora, h.score.read(crate::gpu::Recorder::new(gpu)).await?)))
            }
            None => Ok(None),
        }
    }

    /// The current adapter on the GPU (to generate with it).
    pub fn adapter(&self) -> &LoraParams {
        &self.trainer.lora
    }

    /// Ends the run, keeping the trained adapter.
    pub fn into_adapter(self) -> LoraParams {
        self.trainer.into_lora()
    }
}

/// The three files of an adapter: PEFT's `adapter_config.json` and `adapter_model.safetensors`,
/// and a GGUF LoRA for llama.cpp (none for DoRA, which llama.cpp cannot apply).
pub struct AdapterFiles {
    pub config_json: String,
    pub safetensors: Vec<u8>,
    pub gguf: Option<Vec<u8>>,
}

impl AdapterFiles {
    /// Serialises `weights` for `model`; `base_name` goes into `adapter_config.json`.
    pub fn new(weights: &LoraWeights, model: &Model, base_name: &str) -> Result<AdapterFiles> {
        Ok(AdapterFiles {
            config_json: weights.peft_config_json(base_name),
            safetensors: weights.peft_safetensors()?,
            gguf: if weights.config.use_dora { None } else { Some(weights.to_gguf(&model.config)?) },
        })
    }
}
