//! The run's options as TRL `SFTConfig` and PEFT `LoraConfig` keyword arguments, with a line per
//! option saying where it went ([`Carried`]) and the ones TRL cannot reproduce exactly
//! ([`Note`]), so the CLI and the recipe's README say so by option, never silently.

use crate::error::{Error, Result};
use crate::lora::{Layers, Target};
use crate::train::RunOptions;
use serde_json::{Map, Value, json};

/// Where one option went in the recipe: `("lr", "0.001", "learning_rate")`.
#[derive(Clone, Debug, PartialEq)]
pub struct Carried {
    pub option: &'static str,
    pub value: String,
    pub setting: String,
}

/// An option whose effect TRL does not reproduce exactly, and how it differs.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub option: &'static str,
    pub what: String,
}

/// The keyword arguments of the recipe and what was done with each option.
#[derive(Clone, Debug)]
pub struct Settings {
    /// PEFT `LoraConfig(**lora)`.
    pub lora: Map<String, Value>,
    /// TRL `SFTConfig(**sft)`.
    pub sft: Map<String, Value>,
    /// `EarlyStoppingCallback(early_stopping_patience)` when the run stops early.
    pub patience: Option<usize>,
    pub carried: Vec<Carried>,
    pub notes: Vec<Note>,
}

/// The settings of `o` for a model of `n_layers` blocks; `validation`: a validation set is written.
pub fn settings(o: &RunOptions, n_layers: usize, validation: bool) -> Result<Settings> {
    let mut s = Settings { lora: Map::new(), sft: Map::new(), patience: None, carried: Vec::new(), notes: Vec::new() };
    let value = |name: &str| o.get(name).map_or(String::new(), |v| v.to_string());
    let carry = |s: &mut Settings, option: &'static str, setting: String| {
        s.carried.push(Carried { option, value: value(option), setting });
    };
    // LoRA.
    let targets: Vec<&str> = Target::parse_list(&o.targets)?.into_iter().map(Target::peft_name).collect();
    let layers = match Layers::parse(&o.layers)? {
        Layers::All => Value::Null,
        only => json!(only.resolve(n_layers).map_err(|e| match e {
            Error::Invalid { what, .. } => Error::invalid("layers (--layers)", what),
            other => other,
        })?),
    };
    s.lora.insert("r".into(), json!(o.rank));
    s.lora.insert("lora_alpha".into(), o.get("alpha").unwrap_or_default());
    s.lora.insert("lora_dropout".into(), o.get("lora_dropout").unwrap_or_default());
    s.lora.insert("use_rslora".into(), json!(o.rslora));
    s.lora.insert("target_modules".into(), json!(targets));
    s.lora.insert("layers_to_transform".into(), layers);
    s.lora.insert("bias".into(), json!("none"));
    for (option, setting) in [
        ("rank", "LoraConfig r"),
        ("alpha", "LoraConfig lora_alpha"),
        ("lora_dropout", "LoraConfig lora_dropout"),
        ("rslora", "LoraConfig use_rslora"),
        ("targets", "LoraConfig target_modules"),
        ("layers", "LoraConfig layers_to_transform (None: every layer)"),
    ] {
        carry(&mut s, option, setting.into());
    }
    // The schedule and the optimizer.
    match o.steps {
        Some(steps) => {
            s.sft.insert("max_steps".into(), json!(steps));
            carry(&mut s, "steps", "SFTConfig max_steps".into());
        }
        None => {
            s.sft.insert("num_train_epochs".into(), json!(o.epochs));
            carry(&mut s, "epochs", "SFTConfig num_train_epochs".into());
        }
    }
    s.sft.insert("per_device_train_batch_size".into(), json!(o.batch));
    s.sft.insert("per_device_eval_batch_size".into(), json!(o.batch));
    carry(&mut s, "batch", "SFTConfig per_device_train_batch_size (per GPU: N GPUs step on N× the rows)".into());
    s.sft.insert("gradient_accumulation_steps".into(), json!(o.grad_accum));
    carry(&mut s, "grad_accum", "SFTConfig gradient_accumulation_steps".into());
    s.sft.insert("learning_rate".into(), json!(o.lr));
    carry(&mut s, "lr", "SFTConfig learning_rate".into());
    let schedule = if o.schedule == "constant" { "constant_with_warmup" } else { o.schedule.as_str() };
    s.sft.insert("lr_scheduler_type".into(), json!(schedule));
    carry(&mut s, "schedule", format!("SFTConfig lr_scheduler_type {schedule:?}"));
    s.sft.insert("warmup_steps".into(), json!(o.warmup));
    carry(&mut s, "warmup", "SFTConfig warmup_steps".into());
    if o.optimizer == "sgd" {
        s.sft.insert("optim".into(), json!("sgd"));
        s.sft.insert("optim_args".into(), json!(format!("momentum={}", value("momentum"))));
        carry(&mut s, "optimizer", "SFTConfig optim \"sgd\"".into());
        carry(&mut s, "momentum", "SFTConfig optim_args \"momentum=…\"".into());
    } else {
        s.sft.insert("optim".into(), json!("adamw_torch"));
        s.sft.insert("adam_beta1".into(), json!(0.9));
        s.sft.insert("adam_beta2".into(), json!(0.999));
        s.sft.insert("adam_epsilon".into(), json!(1e-8));
        carry(&mut s, "optimizer", "SFTConfig optim \"adamw_torch\" (betas 0.9, 0.999; eps 1e-8, as anytune's)".into());
    }
    s.sft.insert("weight_decay".into(), json!(o.weight_decay));
    carry(&mut s, "weight_decay", "SFTConfig weight_decay".into());
    s.sft.insert("max_grad_norm".into(), o.get("max_grad_norm").unwrap_or_default());
    carry(&mut s, "max_grad_norm", "SFTConfig max_grad_norm (0: no clipping, in both)".into());
    s.sft.insert("gradient_checkpointing".into(), json!(o.recompute));
    carry(&mut s, "recompute", "SFTConfig gradient_checkpointing".into());
    s.sft.insert("seed".into(), json!(o.seed));
    carry(&mut s, "seed", "SFTConfig seed".into());
    // The data: already prepared into train.jsonl, so TRL only keeps it as it is.
    s.sft.insert("max_length".into(), json!(o.max_seq_len));
    s.sft.insert("packing".into(), json!(false));
    s.sft.insert("completion_only_loss".into(), json!(true));
    carry(&mut s, "max_seq_len", "rows cut to it in train.jsonl; SFTConfig max_length".into());
    carry(&mut s, "train_on_everything", "the completion_mask column (all ones)".into());
    carry(&mut s, "pack", "rows packed in train.jsonl as anytune packs them; SFTConfig packing=False (no repacking)".into());
    carry(&mut s, "task", "the rows of train.jsonl (classification rows as prompt → label)".into());
    carry(&mut s, "skip_bad_rows", "bad rows left out of train.jsonl".into());
    carry(&mut s, "val_split", "validation.jsonl (anytune's seeded split)".into());
    // Evaluation, checkpoints, early stopping.
    if validation && o.eval_every > 0 {
        s.sft.insert("eval_strategy".into(), json!("steps"));
        s.sft.insert("eval_steps".into(), json!(o.eval_every));
    }
    carry(&mut s, "eval_every", "SFTConfig eval_strategy \"steps\", eval_steps (0: evaluated once at the end)".into());
    let save_every = if validation && o.patience > 0 && o.eval_every > 0 { o.eval_every } else { o.checkpoint_every };
    if save_every > 0 {
        s.sft.insert("save_strategy".into(), json!("steps"));
        s.sft.insert("save_steps".into(), json!(save_every));
    } else {
        s.sft.insert("save_strategy".into(), json!("no"));
    }
    carry(&mut s, "checkpoint_every", "SFTConfig save_steps (0: save_strategy \"no\")".into());
    if validation && o.patience > 0 && o.eval_every > 0 {
        s.patience = Some(o.patience);
        s.sft.insert("load_best_model_at_end".into(), json!(true));
        s.sft.insert("metric_for_best_model".into(), json!("eval_loss"));
        s.sft.insert("greater_is_better".into(), json!(false));
        carry(&mut s, "patience", "EarlyStoppingCallback(early_stopping_patience); checkpoints every eval_every steps".into());
        if o.checkpoint_every != o.eval_every {
            s.notes.push(Note {
                option: "checkpoint_every",
                what: format!("checkpoints every {} steps (eval_every), not {}: early stopping in the Trainer saves at each evaluation", o.eval_every, o.checkpoint_every),
            });
        }
    } else if o.patience > 0 {
        s.notes.push(Note { option: "patience", what: "has no effect without periodic validation (eval_every and a validation set), in anytune as in TRL".into() });
    }
    // What TRL cannot do as anytune does.
    s.notes.push(Note {
        option: "seed",
        what: "PEFT's adapter initialisation and the Trainer's shuffle come from torch's generator: the same seed gives another \
               initial A and another row order than anytune's (--resume-from-adapter starts from anytune's adapter)"
            .into(),
    });
    if o.lora_dropout > 0.0 {
        s.notes.push(Note { option: "lora_dropout", what: "same rate, but the dropout masks come from torch's generator".into() });
    }
    if o.task == "classify" {
        s.notes.push(Note {
            option: "task",
            what: "TRL trains the same prompt → label rows; anytune eval's label-set accuracy and confusion matrix are not part of it".into(),
        });
    }
    Ok(s)
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
