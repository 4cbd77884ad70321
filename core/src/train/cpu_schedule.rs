//! The short schedule of a run on a software (CPU) GPU adapter such as lavapipe, where training
//! the 135M default model runs at a few tokens per second: few optimizer steps of one sequence
//! each, at a higher learning rate, with LoRA on every linear module of the top layers only (the
//! backward pass stops at the lowest adapted layer, so this saves most of the backward compute;
//! the extra modules cost little there and learn faster than q_proj,v_proj alone).
//!
//! It applies only when `steps` is not given; it changes `batch`, `lr`, `targets` and `layers`
//! only while they have their defaults, so an explicit value wins (give `steps` to turn it off
//! entirely).
//!
//! ```
//! use anytune_core::train::{RunOptions, cpu_schedule::{CPU_SCHEDULE, software_schedule}};
//! let (o, note) = software_schedule(&RunOptions::default(), 30, 40, 1e-2);
//! assert_eq!((o.steps, o.batch, o.layers.as_str()), (Some(CPU_SCHEDULE.steps), 1, "22-29"));
//! assert!(note.is_some());
//! ```

use super::options::RunOptions;

/// What the short schedule sets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShortSchedule {
    /// Optimizer steps (at most one pass over the data of `epochs` epochs).
    pub steps: usize,
    /// Sequences per micro-batch.
    pub batch: usize,
    /// Adapted modules.
    pub targets: &'static str,
    /// LoRA on this many of the model's last layers.
    pub top_layers: usize,
}

/// The short schedule on a software adapter (measured on lavapipe, see README.md); its peak
/// learning rate is the model family's ([`super::model_preset::ModelPreset::short_lr`]).
pub const CPU_SCHEDULE: ShortSchedule = ShortSchedule { steps: 16, batch: 1, targets: "all-linear", top_layers: 8 };

/// `options` with [`CPU_SCHEDULE`] at peak learning rate `lr` applied for a model of
/// `n_layers` layers and `rows` training rows, and a note saying what it set; `options`
/// unchanged and no note when `steps` is given.
pub fn software_schedule(options: &RunOptions, n_layers: usize, rows: usize, lr: f64) -> (RunOptions, Option<String>) {
    if options.steps.is_some() {
        return (options.clone(), None);
    }
    let (d, s) = (RunOptions::default(), CPU_SCHEDULE);
    let mut o = options.clone();
    let mut set = Vec::new();
    if o.batch == d.batch {
        o.batch = s.batch;
        set.push(format!("batch {}", o.batch));
    }
    // The higher lr and the LoRA placement are LoRA's: full fine-tuning keeps its own.
    if o.lr == d.lr && !o.full {
        o.lr = lr;
        set.push(format!("lr {:e}", o.lr));
    }
    if o.targets == d.targets && !o.full {
        o.targets = s.targets.into();
        set.push(format!("targets {}", o.targets));
    }
    if o.layers == d.layers && n_layers > s.top_layers && !o.full {
        o.layers = format!("{}-{}", n_layers - s.top_layers, n_layers - 1);
        set.push(format!("LoRA on the top {} layers ({})", s.top_layers, o.layers));
    }
    let per_epoch = rows.div_ceil(o.batch.max(1)).div_ceil(o.grad_accum.max(1));
    let steps = s.steps.min(per_epoch * o.epochs);
    o.steps = Some(steps);
    set.insert(0, format!("{steps} steps"));
    let note = format!(
        "short schedule: {} (set steps for the full schedule; batch, lr, targets and layers you set are kept)",
        set.join(", ")
    );
    (o, Some(note))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Llama family's short-schedule lr.
    const LR: f64 = 1e-2;

    #[test]
    fn defaults_get_the_short_schedule() {
        let (o, note) = software_schedule(&RunOptions::default(), 30, 40, LR);
        assert_eq!(o.steps, Some(CPU_SCHEDULE.steps));
        assert_eq!((o.batch, o.lr), (CPU_SCHEDULE.batch, LR));
        assert_eq!(o.layers, format!("{}-29", 30 - CPU_SCHEDULE.top_layers));
        assert_eq!(o.targets, CPU_SCHEDULE.targets);
        let note = note.unwrap();
        assert!(note.contains(&format!("{} steps", CPU_SCHEDULE.steps)) && note.contains("batch 1"), "{note}");
        // The rest is untouched.
        let back = RunOptions { steps: None, batch: 4, lr: 1e-3, targets: "q_proj,v_proj".into(), layers: "all".into(), ..o };
        assert_eq!(back, RunOptions::default());
    }

    /// `--full`: only the steps and the batch; the LoRA lr, targets and layers are not applied.
    #[test]
    fn full_fine_tuning_keeps_its_lr_and_every_layer() {
        let (o, note) = software_schedule(&RunOptions { full: true, ..RunOptions::default() }, 30, 40, LR);
        assert_eq!((o.steps, o.batch), (Some(CPU_SCHEDULE.steps), CPU_SCHEDULE.batch));
        let d = RunOptions::default();
        assert_eq!((o.lr, o.targets.as_str(), o.layers.as_str()), (d.lr, d.targets.as_str(), d.layers.as_str()));
        let note = note.unwrap();
        assert!(note.contains("16 steps, batch 1 (") && !note.contains("LoRA on"), "{note}");
    }

    #[test]
    fn explicit_values_win() {
        let given = RunOptions { batch: 2, lr: 2e-3, targets: "v_proj".into(), layers: "0-3".into(), ..RunOptions::default() };
        let (o, note) = software_schedule(&given, 30, 40, LR);
        assert_eq!((o.batch, o.lr, o.targets.as_str(), o.layers.as_str()), (2, 2e-3, "v_proj", "0-3"));
        assert_eq!(o.steps, Some(CPU_SCHEDULE.steps));
        let note = note.unwrap();
        assert!(!note.contains("batch 1") && !note.contains("top") && !note.contains("all-linear"), "{note}");
        // Giving steps turns the short schedule off.
        let given = RunOptions { steps: Some(100), ..RunOptions::default() };
        assert_eq!(software_schedule(&given, 30, 40, LR), (given, None));
    }

    #[test]
    fn small_data_and_small_models() {
        // Never more than the epochs ask for; all layers when the model has few.
        let (o, _) = software_schedule(&RunOptions::default(), 2, 5, LR);
        assert_eq!((o.steps, o.layers.as_str()), (Some(5), "all"));
        let (o, _) = software_schedule(&RunOptions { epochs: 2, grad_accum: 2, ..RunOptions::default() }, 30, 5, LR);
        assert_eq!(o.steps, Some(6));
    }
}
