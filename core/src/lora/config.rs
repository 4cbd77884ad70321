//! [`LoraConfig`]: which linear layers get a LoRA adapter, its rank and scale, with presets and
//! parsing from option strings (CLI flags). Option names are PEFT's `LoraConfig` fields
//! (`r`, `lora_alpha`, `lora_dropout`, `target_modules`, `layers_to_transform`, `use_rslora`),
//! so an error like "invalid LoRA option target_modules: …" maps onto both worlds.
//!
//! ```
//! use anytune_core::lora::{LoraConfig, Target};
//! let mut c = LoraConfig::default();
//! c.set("target_modules", "all-linear").unwrap();
//! c.set("layers_to_transform", "0-2,5").unwrap();
//! assert_eq!(c.targets.len(), 7);
//! assert_eq!(c.scale(), 2.0); // alpha 16 / r 8
//! ```

use crate::error::{Error, Result};
use crate::model::ModelConfig;

pub use crate::model::Target;

impl Target {
    /// Parses a comma-separated list of module names, or `all-linear` (all seven). Duplicates
    /// are dropped; the result is in block order.
    pub fn parse_list(s: &str) -> Result<Vec<Target>> {
        let err = |what: String| Error::invalid("LoRA option target_modules", what);
        if s.trim() == "all-linear" {
            return Ok(Target::ALL.to_vec());
        }
        let mut out = Vec::new();
        for name in s.split(',').map(str::trim) {
            let t = Target::from_peft_name(name).ok_or_else(|| {
                let known: Vec<&str> = Target::ALL.iter().map(|t| t.peft_name()).collect();
                err(format!(
                    "unknown module {name:?} (expected a list of {} or all-linear)",
                    known.join(", ")
                ))
            })?;
            out.push(t);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Layer indices at or above this are refused by [`Layers::parse`] before anything is built.
pub const MAX_LAYER_INDEX: usize = 1 << 16;

/// Which transformer blocks get adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layers {
    /// Every block (PEFT `layers_to_transform: null`).
    All,
    /// These blocks, sorted, without duplicates.
    Only(Vec<usize>),
}

impl Layers {
    /// Parses `all` or a list of indices and inclusive ranges: `"0-11,20"`.
    pub fn parse(s: &str) -> Result<Layers> {
        let err = |what: String| Error::invalid("LoRA option layers_to_transform", what);
        if s.trim() == "all" {
            return Ok(Layers::All);
        }
        // Checked before a range is expanded: `0-18446744073709551615` must not allocate.
        let num = |p: &str| match p.trim().parse::<usize>() {
            Ok(i) if i < MAX_LAYER_INDEX => Ok(i),
            Ok(i) => Err(err(format!("layer {i} in {s:?} is too large (models have fewer than {MAX_LAYER_INDEX} layers)"))),
            Err(_) => Err(err(format!("{p:?} in {s:?} is not a layer index"))),
        };
        let mut out = Vec::new();
        for part in s.split(',') {
            match part.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (num(lo)?, num(hi)?);
                    if lo > hi {
                        return Err(err(format!("range {lo}-{hi} in {s:?} is empty")));
                    }
                    out.extend(lo..=hi);
                }
                None => out.push(num(part)?),
            }
        }
        Ok(Layers::only(out))
    }

    /// [`Layers::Only`] from any list (sorted and deduplicated here).
    pub fn only(mut layers: Vec<usize>) -> Layers {
        layers.sort_unstable();
        layers.dedup();
        Layers::Only(layers)
    }

    /// The selected block indices of a model with `n_layers` blocks; an index out of range is
    /// an error.
    pub fn resolve(&self, n_layers: usize) -> Result<Vec<usize>> {
        match self {
            Layers::All => Ok((0..n_layers).collect()),
            Layers::Only(list) => match list.iter().find(|&&l| l >= n_layers) {
                Some(l) => Err(Error::invalid(
                    "LoRA option layers_to_transform",
                    format!(
                        "layer {l} does not exist (the model has {n_layers} layers: 0-{})",
                        n_layers.saturating_sub(1)
                    ),
                )),
                None => Ok(list.clone()),
            },
        }
    }
}

/// LoRA hyperparameters: `W' = W + s·B·A` on each targeted linear layer, with A `(r, in)`,
/// B `(out, r)` and scale `s = alpha / r` (`alpha / sqrt(r)` with rsLoRA).
#[derive(Clone, Debug, PartialEq)]
pub struct LoraConfig {
    /// Rank r. Default 8 (PEFT's default).
    pub r: usize,
    /// lora_alpha. Default 16, i.e. scale 2 at r = 8 (PEFT's default is 8, scale 1; 2·r is
    /// the usual choice in fine-tuning recipes).
    pub alpha: f32,
    /// Dropout on the adapter's input during training (`y = W·x + s·B·A·dropout(x)`, a fresh
    /// mask per step, module and micro-batch; never in evaluation or generation). Default 0.0
    /// (PEFT's default); `anytune train --lora-dropout`. Stored in adapter files.
    pub dropout: f32,
    /// Adapted modules, in block order. Default `q_proj, v_proj` (PEFT's default for Llama).
    pub targets: Vec<Target>,
    /// Adapted blocks. Default all.
    pub layers: Layers,
    /// Rank-stabilised LoRA: scale `alpha / sqrt(r)`. Default false.
    pub use_rslora: bool,
    /// DoRA (PEFT's `use_dora`): each adapted linear also trains a magnitude vector m (out),
    /// `W' = m ⊙ (W + s·B·A) / ‖W + s·B·A‖` row by row, the norm treated as a constant in the
    /// backward pass as PEFT does ([`crate::lora::dora`]). Default false.
    pub use_dora: bool,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            r: 8,
            alpha: 16.0,
            dropout: 0.0,
            targets: vec![Target::Q, Target::V],
            layers: Layers::All,
            use_rslora: false,
            use_dora: false,
        }
    }
}

impl LoraConfig {
    /// Named presets: `qv` (the default: q_proj, v_proj), `attention` (q, k, v, o) and
    /// `all-linear` (all seven projections, r 16, alpha 32: more capacity, the QLoRA recipe).
    pub fn preset(name: &str) -> Result<LoraConfig> {
        let base = LoraConfig::default();
        match name {
            "qv" | "default" => Ok(base),
            "attention" => Ok(LoraConfig {
                targets: vec![Target::Q, Target::K, Target::V, Target::O],
                ..base
            }),
            "all-linear" => Ok(LoraConfig {
                r: 16,
                alpha: 32.0,
                targets: Target::ALL.to_vec(),
                ..base
            }),
            other => Err(Error::invalid(
                "LoRA preset",
                format!("{other:?} is not one of qv, attention, all-linear"),
            )),
        }
    }

    /// The scale s multiplying `B·A`.
    pub fn scale(&self) -> f32 {
        if self.use_rslora {
            self.alpha / (self.r as f32).sqrt()
        } else {
            self.alpha / self.r as f32
        }
    }

    /// Sets one option from a string (a CLI flag's value): `r`, `lora_alpha`, `lora_dropout`,
    /// `target_modules`, `layers_to_transform`, `use_rslora`, `use_dora` (`true`/`false`). The value is
    /// checked as in [`LoraConfig::validate`]; on an error the config is left unchanged.
    pub fn set(&mut self, option: &str, value: &str) -> Result<()> {
        let mut next = self.clone();
        next.set_unchecked(option, value)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    fn set_unchecked(&mut self, option: &str, value: &str) -> Result<()> {
        let err = |what: String| Error::invalid(format!("LoRA option {option}"), what);
        let num = |v: &str| {
            v.trim()
                .parse::<f32>()
                .map_err(|_| err(format!("{v:?} is not a number")))
        };
        match option {
            "r" => {
                self.r = value
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("{value:?} is not a positive integer")))?
            }
            "lora_alpha" => self.alpha = num(value)?,
            "lora_dropout" => self.dropout = num(value)?,
            "target_modules" => self.targets = Target::parse_list(value)?,
            "layers_to_transform" => self.layers = Layers::parse(value)?,
            "use_rslora" | "use_dora" => {
                let flag = value
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("{value:?} is not true or false")))?;
                if option == "use_dora" { self.use_dora = flag } else { self.use_rslora = flag }
            }
            _ => {
                return Err(Error::invalid(
                    "LoRA option",
                    format!(
                        "{option:?} is unknown (options: r, lora_alpha, lora_dropout, target_modules, layers_to_transform, use_rslora, use_dora)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the values: r ≥ 1, alpha finite and > 0, dropout in [0, 1), some target.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |option: &str, what: String| Err(Error::invalid(format!("LoRA option {option}"), what));
        if self.r == 0 {
            return bad("r", "the rank must be at least 1".into());
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return bad(
                "lora_alpha",
                format!("{} is not a positive number", self.alpha),
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("lora_dropout", format!("{} is not in [0, 1)", self.dropout));
        }
        if self.targets.is_empty() {
            return bad("target_modules", "no module is targeted".into());
        }
        if matches!(&self.layers, Layers::Only(l) if l.is_empty()) {
            return bad("layers_to_transform", "no layer is selected".into());
        }
        Ok(())
    }

    /// Every adapted `(layer, target, in_features, out_features)` of `model`, layer by layer,
    /// targets in block order. Checks the config and the layer range.
    pub fn modules(&self, model: &ModelConfig) -> Result<Vec<ModuleShape>> {
        self.validate()?;
        let mut out = Vec::new();
        for layer in self.layers.resolve(model.n_layers)? {
            for &target in &self.targets {
                let (in_features, out_features) = target.features(model);
                out.push(ModuleShape {
                    layer,
                    target,
                    in_features,
                    out_features,
                });
            }
        }
        Ok(out)
    }
}

/// Where one adapter goes and its base layer's size: A is `(r, in_features)`, B
/// `(out_features, r)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleShape {
    pub layer: usize,
    pub target: Target,
    pub in_features: usize,
    pub out_features: usize,
}
