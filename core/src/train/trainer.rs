//! [`Trainer`]: LoRA (and DoRA) fine-tuning with AdamW (or SGD), a learning-rate schedule, gradient accumulation,
//! global-norm clipping, LoRA dropout and optional activation recomputation. One optimizer step records every micro-batch's forward/backward, the
//! gradient norm, the clip scale and the updates into one submission, and reads back one buffer:
//! the per-token losses and the gradient norm.

use super::schedule::Schedule;
use super::step::{ActivationStore, EvalReport, StepBuffers, evaluate, record_step};
use crate::data::Batch;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::full::{FullGrads, FullParams};
use crate::lora::{LoraBuffers, LoraDropout, LoraParams, LoraPass};
use crate::full::Slot;
use crate::model::{Adapter, Model};
use crate::ops::adamw::{AdamW, adamw_update};
use crate::ops::sgd::{Sgd, sgd_update};
use crate::ops::grad_norm::GradNorm;
use crate::head::data::HeadTargets;
use crate::head::state::HeadState;

/// The optimizer of the LoRA weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `torch.optim.AdamW` (betas 0.9, 0.999, eps 1e-8).
    AdamW,
    /// `torch.optim.SGD` with this momentum (0 = plain SGD); weight decay as L2 on the gradient.
    Sgd { momentum: f64 },
}

impl Optimizer {
    /// `adamw` or `sgd` (momentum from `momentum`).
    pub fn parse(name: &str, momentum: f64) -> Result<Optimizer> {
        match name {
            "adamw" => Ok(Optimizer::AdamW),
            "sgd" => Ok(Optimizer::Sgd { momentum }),
            other => Err(Error::invalid("optimizer", format!("{other:?} (choose adamw or sgd)"))),
        }
    }
}

/// Training options, with the defaults `anytune train` uses.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Peak learning rate (default 1e-3, a common LoRA choice for small models).
    pub lr: f64,
    /// Schedule after warmup (default cosine).
    pub schedule: Schedule,
    /// Linear warmup steps from 0 (default 0).
    pub warmup_steps: usize,
    /// AdamW decoupled weight decay (default 0.0, as PEFT recipes).
    pub weight_decay: f64,
    /// Global gradient-norm clipping; ≤ 0 turns it off (default 1.0).
    pub max_grad_norm: f32,
    /// Micro-batches per optimizer step (default 1).
    pub grad_accum: usize,
    /// Default AdamW.
    pub optimizer: Optimizer,
    /// Activation recomputation (gradient checkpointing): keep only each layer's input during
    /// the forward pass and recompute a block's activations just before its backward — saved
    /// activations shrink from every layer's to about one layer's, for ~1/3 more compute.
    /// Same gradients. Default off.
    pub recompute: bool,
    /// How the activations are saved without recomputation: f32, 16 bits, or by the kernel
    /// family (default [`ActivationStore::Auto`]).
    pub saved_activations: ActivationStore,
    /// Seed of the LoRA dropout masks (with the adapter's `dropout` p > 0): the mask of each
    /// module is a hash of (seed, micro-batch number, layer, module), so runs with the same
    /// seed — and resumed runs — draw the same masks. Default 0.
    pub seed: u64,
}

impl TrainConfig {
    /// What the training forward keeps on `gpu` ([`ActivationStore::saved`]).
    pub fn saved(&self, gpu: &Gpu) -> Result<crate::model::Saved> {
        self.saved_activations.saved(gpu, self.recompute)
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lr: 1e-3,
            schedule: Schedule::Cosine,
            warmup_steps: 0,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            grad_accum: 1,
            optimizer: Optimizer::AdamW,
            recompute: false,
            saved_activations: ActivationStore::Auto,
            seed: 0,
        }
    }
}

/// What one optimizer step did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StepReport {
    /// 1-based optimizer step.
    pub step: usize,
    /// Mean loss over the step's targets.
    pub loss: f32,
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
    /// Tokens processed (padding included) and trained (targets).
    pub tokens: usize,
    pub targets: usize,
    /// Kernel dispatches recorded for the step (one submission).
    pub dispatches: u32,
}

/// LoRA training state on the GPU (the model is passed to each call, so a trainer can live
/// next to the model it trains, as in the web worker).
pub struct Trainer {
    pub lora: LoraParams,
    pub config: TrainConfig,
    /// AdamW moments `[m, v]` (SGD: `[momentum buffer, unused]`) of each trained tensor, in
    /// [`Trainer::params_of`] order.
    moments: Vec<[GpuTensor; 2]>,
    bufs: StepBuffers,
    /// LoRA's buffers for the step's passes.
    lora_bufs: LoraBuffers,
    norm: GradNorm,
    /// The norm of the parameters after the update: a step that makes the adapter non-finite
    /// (or so large that its norm overflows) is refused even when the gradients were finite.
    param_norm: GradNorm,
    /// Optimizer steps taken.
    pub step: usize,
    /// Full fine-tuning (every parameter) instead of the LoRA weights; see [`Trainer::full`].
    full: Option<(FullGrads, FullParams)>,
    /// The classification head (`--head`), trained beside the LoRA; see [`Trainer::with_head`].
    head: Option<HeadState>,
}

impl Trainer {
    /// Switches to full fine-tuning: every parameter of `model` (made f32 by
    /// [`crate::full::to_f32`]) is trained with AdamW, decoupled weight decay on all of them;
    /// the LoRA weights are left untouched. Before the first step.
    pub fn full(mut self, gpu: &Gpu, model: &Model) -> Result<Self> {
        if self.config.optimizer != Optimizer::AdamW {
            return Err(Error::invalid("optimizer", "--full trains with adamw only"));
        }
        let (grads, params) = (FullGrads::new(gpu, model), FullParams::new(gpu, model)?);
        let lens: Vec<usize> = Slot::all(model).into_iter().map(|s| grads.get(s).map(|g| g.len())).collect::<Result<_>>()?;
        self.norm = GradNorm::new(gpu, &lens);
        self.param_norm = GradNorm::new(gpu, &lens);
        self.moments.clear();
        self.full = Some((grads, params));
        Ok(self)
    }

    /// Adds a classification head of `labels` labels (score seeded by `seed`): each step then
    /// takes [`HeadTargets`] per micro-batch ([`Trainer::train_step_with`]), and the score
    /// weight is trained with AdamW beside the LoRA, inside the same gradient clipping. Before
    /// the first step.
    pub fn with_head(mut self, gpu: &Gpu, model: &Model, labels: usize, seed: u64) -> Self {
        let head = HeadState::new(gpu, model, labels, seed);
        let lens: Vec<usize> = Self::params_of(&self.lora).iter().map(|(_, g)| g.len()).chain([head.d_score.len()]).collect();
        self.norm = GradNorm::new(gpu, &lens);
        self.param_norm = GradNorm::new(gpu, &lens);
        self.head = Some(head);
        self
    }

    /// The classification head, when [`Trainer::with_head`] added one.
    pub fn head(&self) -> Option<&HeadState> {
        self.head.as_ref()
    }

    /// The full fine-tuning state, when [`Trainer::full`] switched to it.
    pub fn full_params(&self) -> Option<&FullParams> {
        self.full.as_ref().map(|(_, p)| p)
    }

    /// Every trained tensor with its gradient: LoRA's A and B, or every parameter (full).
    fn pairs(&self) -> Vec<(&GpuTensor, &GpuTensor)> {
        match &self.full {
            Some((grads, params)) => params.with_grads(grads),
            None => Self::params_of(&self.lora).into_iter().chain(self.head.as_ref().map(|h| (&h.score, &h.d_score))).collect(),
        }
    }
    /// A trainer for batches of `batch × t` tokens.
    pub fn new(gpu: &Gpu, model: &Model, lora: LoraParams, config: TrainConfig, batch: usize, t: usize) -> Result<Self> {
        if config.grad_accum == 0 {
            return Err(Error::invalid("grad_accum", "must be at least 1"));
        }
        let saved = config.saved(gpu)?;
        super::memory::check_fits(gpu, &super::memory::training_memory(gpu, model, &lora, batch, t, saved))?;
        let bufs = StepBuffers::saving(gpu, model, batch, t, saved)?;
        let lora_bufs = LoraBuffers::new(gpu, &lora, batch * t, saved.per_layer(), true);
        let lens: Vec<usize> = Self::params_of(&lora).iter().map(|(_, g)| g.len()).collect();
        let moments = Self::params_of(&lora)
            .iter()
            .map(|(p, _)| [GpuTensor::zeros(gpu, &p.shape), GpuTensor::zeros(gpu, &p.shape)])
            .collect();
        let norm = GradNorm::new(gpu, &lens);
        let param_norm = GradNorm::new(gpu, &lens);
        Ok(Trainer { lora, config, moments, bufs, lora_bufs, norm, param_norm, step: 0, full: None, head: None })
    }

    /// Every tensor a checkpoint holds, named `<layer>.<module>.<A|B>.<param|m|v>`.
    pub(crate) fn state_tensors(&self) -> Vec<(String, &GpuTensor)> {
        if let Some((_, params)) = &self.full {
            // Every parameter with its moments, by Hugging Face name.
            return params
                .iter()
                .flat_map(|(name, p, m, v)| [(format!("{name}.param"), p), (format!("{name}.m"), m), (format!("{name}.v"), v)])
                .collect();
        }
        let names = self.lora.iter().flat_map(|(layer, t, s)| {
            let parts: &[&str] = if s.dora.is_some() { &["A", "B", "M"] } else { &["A", "B"] };
            parts.iter().map(move |ab| format!("{layer}.{}.{ab}", t.peft_name()))
        });
        names
            .zip(Self::params_of(&self.lora).into_iter().zip(&self.moments))
            .chain(self.head.as_ref().map(|h| ("head.score".to_string(), ((&h.score, &h.d_score), &h.moments))))
            .flat_map(|(name, ((p, _), [m, v]))| {
                [(format!("{name}.param"), p), (format!("{name}.m"), m), (format!("{name}.v"), v)]
            })
            .collect()
    }

    /// Every trained tensor with its gradient: A, B (and DoRA's magnitude) of each adapted
    /// linear.
    fn params_of(lora: &LoraParams) -> Vec<(&GpuTensor, &GpuTensor)> {
        lora.iter()
            .flat_map(|(_, _, s)| {
                [(&s.a, &s.grad_a), (&s.b, &s.grad_b)].into_iter().chain(s.dora.as_ref().map(|d| (&d.magnitude, &d.grad_m)))
            })
            .collect()
    }

    /// One optimizer step over `micro` (up to `grad_accum` batches) at step `self.step` of
    /// `total_steps` (for the schedule). Fails clearly on a non-finite loss or gradient.
    pub async fn train_step(&mut self, gpu: &Gpu, model: &Model, micro: &[Batch], total_steps: usize) -> Result<StepReport> {
        self.train_step_with(gpu, model, micro, &[], total_steps).await
    }

    /// [`Trainer::train_step`]; with a head ([`Trainer::with_head`]) `heads` holds each
    /// micro-batch's [`HeadTargets`] and the loss is the head's (mean over the rows).
    pub async fn train_step_with(&mut self, gpu: &Gpu, model: &Model, micro: &[Batch], heads: &[HeadTargets], total_steps: usize) -> Result<StepReport> {
        let v = model.config.vocab_size;
        if self.head.is_some() != (heads.len() == micro.len()) {
            return Err(Error::invalid("head", "a step with a classification head takes one HeadTargets per micro-batch (and none without)"));
        }
        let targets: usize = match &self.head {
            Some(_) => heads.iter().map(|h| h.labels.len()).sum(),
            None => micro.iter().map(|b| crate::ops::cross_entropy::count_targets(&b.targets, v)).sum(),
        };
        let rows = self.bufs.batch * self.bufs.t;
        // Per-token losses of every micro-batch, then [norm, clip scale], then the parameters'
        // [norm, _]: one readback.
        let report = GpuTensor::zeros(gpu, &[micro.len() * rows + 4]);
        let mut rec = Recorder::new(gpu);
        for (_, g) in self.pairs() {
            rec.clear(g);
        }
        let scale = 1.0 / targets.max(1) as f32;
        let seed = (self.config.seed ^ (self.config.seed >> 32)) as u32;
        for (i, batch) in micro.iter().enumerate() {
            // The mask key counts micro-batches: a function of the (checkpointed) step.
            let micro_step = (self.step * self.config.grad_accum + i) as u32;
            let dropout = LoraDropout { p: self.lora.dropout, seed, step: micro_step };
            let pass = LoraPass::new(&self.lora, &self.lora_bufs, Some(dropout));
            let adapter: &dyn Adapter = match &self.full {
                Some((grads, _)) => grads,
                None => &pass,
            };
            if let (Some(head), Some(h)) = (&self.head, heads.get(i)) {
                // The head's loss is its mean over the batch's rows: the report keeps the sum.
                let hb = head.record_step(&mut rec, model, adapter, &mut self.bufs, &batch.inputs, h)?;
                rec.copy(&hb.loss.buffer, 0, &report.buffer, (i * rows * 4) as u64, (h.last.len() * 4) as u64);
                continue;
            }
            record_step(&mut rec, model, adapter, &mut self.bufs, &batch.inputs, &batch.targets, scale)?;
            rec.copy(&self.bufs.head.loss.buffer, 0, &report.buffer, (i * rows * 4) as u64, (rows * 4) as u64);
        }
        let grads: Vec<&GpuTensor> = self.pairs().iter().map(|(_, g)| *g).collect();
        self.norm.record(&mut rec, &grads, self.config.max_grad_norm)?;
        let lr = self.config.lr * self.config.schedule.factor(self.step, self.config.warmup_steps, total_steps);
        let (step, clip) = (self.step as u32 + 1, Some(self.norm.clip_scale()));
        if let Some((grads, params)) = &self.full {
            let opt = AdamW { lr, weight_decay: self.config.weight_decay, ..AdamW::default() };
            params.update(&mut rec, &opt, step, 1.0, clip, grads)?;
        }
        for ((p, g), [m, v2]) in Self::params_of(&self.lora).into_iter().zip(&self.moments) {
            match self.config.optimizer {
                Optimizer::AdamW => {
                    let opt = AdamW { lr, weight_decay: self.config.weight_decay, ..AdamW::default() };
                    adamw_update(&mut rec, &opt, step, 1.0, clip, g, p, m, v2)?;
                }
                Optimizer::Sgd { momentum } => {
                    let opt = Sgd { lr, momentum, dampening: 0.0, weight_decay: self.config.weight_decay, nesterov: false };
                    sgd_update(&mut rec, &opt, step, 1.0, clip, g, p, m)?;
                }
            }
        }
        if let Some(h) = &self.head {
            let opt = AdamW { lr, weight_decay: self.config.weight_decay, ..AdamW::default() };
            adamw_update(&mut rec, &opt, step, 1.0, clip, &h.d_score, &h.score, &h.moments[0], &h.moments[1])?;
        }
        rec.copy(&self.norm.out.buffer, 0, &report.buffer, (micro.len() * rows * 4) as u64, 8);
        let params: Vec<&GpuTensor> = self.pairs().iter().map(|(p, _)| *p).collect();
        self.param_norm.record(&mut rec, &params, 0.0)?;
        rec.copy(&self.param_norm.out.buffer, 0, &report.buffer, (micro.len() * rows * 4 + 8) as u64, 8);
        let dispatches = rec.dispatches;
        let values = report.read(rec).await?;
        let loss = values[..micro.len() * rows].iter().map(|&l| l as f64).sum::<f64>() / targets.max(1) as f64;
        let grad_norm = values[micro.len() * rows];
        let param_norm = values[micro.len() * rows + 2];
        self.step += 1;
        if !loss.is_finite() || !grad_norm.is_finite() || !param_norm.is_finite() {
            // Saved in 16 bits, an activation past f16's ±65504 is saved as ±inf.
            let sixteen = self.bufs.acts.store16.is_some() && loss.is_finite();
            let hint = if sixteen { " or save activations in f32 (--saved-activations f32: saved in 16 bits, a value past ±65504 becomes inf)" } else { "" };
            return Err(Error::invalid(
                "training",
                format!(
                    "diverged at step {}: loss {loss}, gradient norm {grad_norm}, adapter norm {param_norm}; lower the learning rate (now {lr:.2e}){hint}",
                    self.step
                ),
            ));
        }
        Ok(StepReport { step: self.step, loss: loss as f32, lr, grad_norm, tokens: micro.len() * rows, targets, dispatches })
    }

    /// The trained adapter (ends training).
    pub fn into_lora(self) -> LoraParams {
        self.lora
    }

    /// Mean loss, perplexity and token accuracy of `batches` with the current adapter
    /// (`with_adapter = false`: the base model alone); never with dropout.
    pub async fn evaluate(&mut self, gpu: &Gpu, model: &Model, batches: &[Batch], with_adapter: bool) -> Result<EvalReport> {
        // Full fine-tuning: the model's own weights are the trained ones.
        let pass = (with_adapter && self.full.is_none()).then(|| LoraPass::new(&self.lora, &self.lora_bufs, None));
        evaluate(gpu, model, pass.as_ref().map(|p| p as &dyn Adapter), &mut self.bufs, batches).await
    }

    /// The head's mean loss and label accuracy on `batches` with their `heads` targets
    /// ([`HeadState::evaluate`]), through the current adapter without dropout.
    pub async fn evaluate_head(&mut self, gpu: &Gpu, model: &Model, batches: &[Batch], heads: &[HeadTargets]) -> Result<EvalReport> {
        let Some(head) = &self.head else {
            return Err(Error::invalid("head", "this run has no classification head"));
        };
        let pass = LoraPass::new(&self.lora, &self.lora_bufs, None);
        let pairs: Vec<(&[u32], &HeadTargets)> = batches.iter().map(|b| b.inputs.as_slice()).zip(heads).collect();
        head.evaluate(gpu, model, Some(&pass), &mut self.bufs, &pairs).await
    }
}
