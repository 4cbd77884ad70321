//! Presets: named starting points for a run's options, the same on the page (its Preset field)
//! and in the CLI (`anytune train --preset`). Each sets only the options it names, reset to their
//! defaults first (so values a previous plan wrote into the page's fields do not stick), and
//! says what it set.
//!
//! - `quick`: core's short schedule ([`software_schedule`]) on any adapter — a demo in minutes.
//! - `model`: the recommended full run for the loaded model ([`ModelPreset`]): a few epochs,
//!   LoRA on every linear module, the model family's learning rate, validation ten times a run.
//! - `custom`: the options as given (the adapter's own choices still apply: the short schedule
//!   on a software adapter without `steps`, the batch that fills a GPU).
//!
//! ```
//! use anytune_core::model::Arch;
//! use anytune_core::train::model_preset::model_preset;
//! assert!(model_preset(Arch::Gemma3).short_lr < model_preset(Arch::Llama).short_lr);
//! ```

use super::cpu_schedule::software_schedule;
use super::options::RunOptions;
use crate::error::{Error, Result};
use crate::model::{Arch, ModelConfig};

/// The presets, as the page and `--preset` name them.
pub const PRESETS: [&str; 3] = ["custom", "quick", "model"];

/// What depends on the model family, each value with the measurement or fact behind it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelPreset {
    /// The family, as notes name it.
    pub family: &'static str,
    /// Peak lr of the short schedule (16 steps of one row).
    pub short_lr: f64,
    /// Peak lr of a full LoRA run on every linear module.
    pub lr: f64,
    /// Why `lr`.
    pub why: &'static str,
}

/// Llama-family blocks (SmolLM2, Llama, Qwen2/2.5/3): the README demo learns its fact in the
/// short schedule at lr 1e-2; a full run takes core's default 1e-3.
const LLAMA: ModelPreset = ModelPreset {
    family: "Llama-style (SmolLM2, Llama, Qwen)",
    short_lr: 1e-2,
    lr: 1e-3,
    why: "core's default; the short schedule's 1e-2 is for 16 steps: SmolLM2-135M learns the README demo's fact in them, measured here",
};

/// Gemma 3: at the short schedule's 1e-2 its loss jumped (gradient norms up to 30, measured on
/// Gemma 3 270M on lavapipe); 3e-3 trains smoothly, and a full run takes the same factor.
const GEMMA3: ModelPreset = ModelPreset {
    family: "Gemma 3",
    short_lr: 3e-3,
    lr: 3e-4,
    why: "the Llama family's 1e-3 cut as its short schedule is: Gemma 3 270M's loss jumped at 1e-2 (gradient norms up to 30, measured here) and trained smoothly at 3e-3",
};

/// The preset of a model family.
pub fn model_preset(arch: Arch) -> ModelPreset {
    match arch {
        Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => LLAMA,
        Arch::Gemma3 => GEMMA3,
    }
}

/// Epochs of the `model` preset: small datasets take three passes, larger ones one.
const SMALL_DATASET_ROWS: usize = 1000;

/// How often the `model` preset validates: this many times a run.
const VALIDATIONS_PER_RUN: usize = 10;

/// The `model` preset's validation interval: [`VALIDATIONS_PER_RUN`] validations over the run
/// `options` make of `train_rows` rows (0, only at the end, without validation rows).
pub fn validation_interval(options: &RunOptions, train_rows: usize, val_rows: usize) -> usize {
    if val_rows == 0 {
        return 0;
    }
    let steps = options.steps.unwrap_or(train_rows.div_ceil(options.batch.max(1)).div_ceil(options.grad_accum.max(1)) * options.epochs);
    steps.div_ceil(VALIDATIONS_PER_RUN).max(1)
}

/// `options` with preset `name` applied for `model` with `train_rows` training rows and
/// `val_rows` validation rows, and a note of what it set (none for `custom`). An unknown name
/// is refused with the list.
pub fn apply_preset(name: &str, options: &RunOptions, model: &ModelConfig, train_rows: usize, val_rows: usize) -> Result<(RunOptions, Option<String>)> {
    let d = RunOptions::default();
    let family = model_preset(model.arch);
    match name {
        "custom" => Ok((options.clone(), None)),
        "quick" => {
            let reset = RunOptions { steps: None, batch: d.batch, lr: d.lr, targets: d.targets, layers: d.layers, ..options.clone() };
            let (o, note) = software_schedule(&reset, model.n_layers, train_rows, family.short_lr);
            Ok((o, note.map(|n| format!("preset quick: {n}"))))
        }
        "model" => {
            let epochs = if train_rows < SMALL_DATASET_ROWS { 3 } else { 1 };
            let mut o = RunOptions { steps: None, epochs, lr: family.lr, targets: "all-linear".into(), layers: d.layers, ..options.clone() };
            o.eval_every = validation_interval(&o, train_rows, val_rows);
            let note = format!(
                "preset model ({}): {epochs} epochs ({} rows{}), lr {:e} ({}), LoRA on every linear module (all-linear: closer to full fine-tuning than q_proj,v_proj at little cost){}",
                family.family,
                train_rows,
                if epochs > 1 { format!(", under {SMALL_DATASET_ROWS}") } else { String::new() },
                family.lr,
                family.why,
                if o.eval_every > 0 { format!(", validation every {} steps", o.eval_every) } else { String::new() },
            );
            Ok((o, Some(note)))
        }
        other => Err(Error::invalid("preset", format!("{other:?} is not a preset (allowed: {})", PRESETS.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lora::tests_support::tiny_model;

    fn config(arch: Arch, n_layers: usize) -> ModelConfig {
        ModelConfig { n_layers, ..tiny_model(arch) }
    }

    #[test]
    fn quick_is_the_short_schedule_at_the_family_lr_whatever_the_fields_held() {
        let held = RunOptions { steps: Some(200), batch: 8, lr: 5e-4, ..RunOptions::default() };
        let (o, note) = apply_preset("quick", &held, &config(Arch::Gemma3, 18), 40, 0).unwrap();
        assert_eq!((o.steps, o.batch, o.lr, o.layers.as_str()), (Some(16), 1, 3e-3, "10-17"));
        assert!(note.unwrap().starts_with("preset quick: short schedule: 16 steps"));
        let (o, _) = apply_preset("quick", &held, &config(Arch::Llama, 30), 40, 0).unwrap();
        assert_eq!(o.lr, 1e-2);
    }

    #[test]
    fn model_sets_epochs_lr_targets_and_validation_only() {
        let given = RunOptions { steps: Some(5), lr: 0.5, rank: 4, batch: 2, ..RunOptions::default() };
        let (o, note) = apply_preset("model", &given, &config(Arch::Llama, 30), 30, 10).unwrap();
        assert_eq!((o.steps, o.epochs, o.lr, o.targets.as_str()), (None, 3, 1e-3, "all-linear"));
        // 30 rows at batch 2: 15 steps an epoch, 45 in all, validated every 5.
        assert_eq!((o.eval_every, o.rank, o.batch), (5, 4, 2));
        let note = note.unwrap();
        assert!(note.contains("3 epochs (30 rows, under 1000)") && note.contains("validation every 5 steps"), "{note}");
        let (o, _) = apply_preset("model", &given, &config(Arch::Gemma3, 18), 5000, 0).unwrap();
        assert_eq!((o.epochs, o.lr, o.eval_every), (1, 3e-4, 0));
    }

    #[test]
    fn custom_keeps_everything_and_unknown_names_are_refused() {
        let given = RunOptions { lr: 0.5, ..RunOptions::default() };
        assert_eq!(apply_preset("custom", &given, &config(Arch::Llama, 30), 30, 0).unwrap(), (given.clone(), None));
        let e = apply_preset("fast", &given, &config(Arch::Llama, 30), 30, 0).unwrap_err().to_string();
        assert!(e.contains("preset") && e.contains("custom, quick, model"), "{e}");
    }
}
