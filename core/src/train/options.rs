//! The one option schema of a training run: every option declared once, with its doc, its
//! default and the values it accepts. The CLI's flags (`--max-seq-len`), the keys of a TOML
//! config file (`max_seq_len = 512`) and the web page's options object all go through
//! [`RunOptions::set`], so a value is checked in one place and a refusal names the option as
//! the user wrote it and its allowed range: `invalid --lr: NaN is not a finite number (allowed:
//! a number in (0, 10])`.
//!
//! ```
//! use anytune_core::train::options::{Origin, RawValue, RunOptions};
//! let mut o = RunOptions::default();
//! o.set("lr", &RawValue::Text("2e-4"), &Origin::Flag).unwrap();
//! assert_eq!(o.lr, 2e-4);
//! let err = o.set("lr", &RawValue::Text("NaN"), &Origin::Flag).unwrap_err().to_string();
//! assert!(err.contains("--lr") && err.contains("(0, 10]"), "{err}");
//! ```

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;

/// The values an option accepts.
#[derive(Clone, Copy, Debug)]
pub enum Range {
    /// A whole number in `min..=max`.
    Count { min: u64, max: u64 },
    /// A finite number between `min` and `max`; `min_open` / `max_open` exclude the bound.
    Real { min: f64, max: f64, min_open: bool, max_open: bool },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// Text checked by its own parser (`targets`, `layers`): what it is, and the check.
    Text(&'static str, fn(&str) -> Result<()>),
    /// On or off (a flag without a value on the command line).
    Flag,
}

impl Range {
    const fn count(min: u64, max: u64) -> Range {
        Range::Count { min, max }
    }
    /// `[min, max]`.
    const fn closed(min: f64, max: f64) -> Range {
        Range::Real { min, max, min_open: false, max_open: false }
    }
    /// `(min, max]`.
    const fn above(min: f64, max: f64) -> Range {
        Range::Real { min, max, min_open: true, max_open: false }
    }
    /// `[min, max)`.
    const fn below(min: f64, max: f64) -> Range {
        Range::Real { min, max, min_open: false, max_open: true }
    }

    /// What the range allows, in words: `a number in (0, 10]`.
    pub fn describe(&self) -> String {
        match *self {
            Range::Count { min, max } => format!("a whole number from {min} to {max}"),
            Range::Real { min, max, min_open, max_open } => format!(
                "a number in {}{min}, {max}{}",
                if min_open { "(" } else { "[" },
                if max_open { ")" } else { "]" }
            ),
            Range::Choice(words) => format!("one of {}", words.join(", ")),
            Range::Text(what, _) => what.to_string(),
            Range::Flag => "true or false".to_string(),
        }
    }

    fn check_real(&self, x: f64) -> std::result::Result<f64, String> {
        let Range::Real { min, max, min_open, max_open } = *self else { return Ok(x) };
        let low = if min_open { x > min } else { x >= min };
        let high = if max_open { x < max } else { x <= max };
        if !x.is_finite() {
            Err(format!("{x} is not a finite number"))
        } else if low && high {
            Ok(x)
        } else {
            Err(format!("{x} is out of range"))
        }
    }

    fn check_count(&self, n: u64) -> std::result::Result<u64, String> {
        match *self {
            Range::Count { min, max } if !(min..=max).contains(&n) => Err(format!("{n} is out of range")),
            _ => Ok(n),
        }
    }
}

/// One declared option.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// The TOML key and the page's field; the flag is `--` and the name with `-` for `_`.
    pub name: &'static str,
    /// The doc comment of the field.
    pub doc: &'static str,
    pub range: Range,
}

impl OptionSpec {
    /// `--max-seq-len` for `max_seq_len`.
    pub fn flag(&self) -> String {
        format!("--{}", self.name.replace('_', "-"))
    }

    /// The doc as one line.
    pub fn help(&self) -> String {
        self.doc.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
    }

    /// The option's default value as JSON (`null` for "not set").
    pub fn default_value(&self) -> Value {
        RunOptions::default().get(self.name).unwrap_or(Value::Null)
    }
}

/// Where a value came from: names the option the way the user wrote it.
#[derive(Clone, Debug)]
pub enum Origin {
    /// A command-line flag (`--lr`).
    Flag,
    /// A key of this config file (`run.toml: lr`).
    File(String),
    /// The web page's options object, or any other caller (`lr`).
    Api,
}

impl Origin {
    fn label(&self, spec_name: &str) -> String {
        match self {
            Origin::Flag => format!("--{}", spec_name.replace('_', "-")),
            Origin::File(file) => format!("{file}: {spec_name}"),
            Origin::Api => spec_name.to_string(),
        }
    }
}

/// A value as it arrives, before it is checked: the text of a flag, or a TOML/JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue<'a> {
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Something no option takes (an array, a table, null…), by its type name.
    Other(&'static str),
}

impl<'a> RawValue<'a> {
    /// A JSON value (the web page's options, a saved run).
    pub fn from_json(v: &'a Value) -> RawValue<'a> {
        match v {
            Value::String(s) => RawValue::Text(s),
            Value::Bool(b) => RawValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => RawValue::Int(i),
                None => n.as_u64().map_or(RawValue::Float(n.as_f64().unwrap_or(f64::NAN)), |_| RawValue::Other("integer beyond 2^63")),
            },
            Value::Null => RawValue::Other("null"),
            Value::Array(_) => RawValue::Other("array"),
            Value::Object(_) => RawValue::Other("object"),
        }
    }

    fn number(&self) -> std::result::Result<f64, String> {
        match *self {
            RawValue::Text(t) => t.trim().parse::<f64>().map_err(|_| format!("{t:?} is not a number")),
            RawValue::Int(i) => Ok(i as f64),
            RawValue::Float(x) => Ok(x),
            RawValue::Bool(b) => Err(format!("{b} is not a number")),
            RawValue::Other(t) => Err(format!("a {t} is not a number")),
        }
    }

    fn whole(&self) -> std::result::Result<u64, String> {
        match *self {
            RawValue::Text(t) => t.trim().parse::<u64>().map_err(|_| format!("{t:?} is not a whole number")),
            RawValue::Int(i) => u64::try_from(i).map_err(|_| format!("{i} is negative")),
            RawValue::Float(x) => Err(format!("{x} is not a whole number")),
            RawValue::Bool(b) => Err(format!("{b} is not a whole number")),
            RawValue::Other(t) => Err(format!("a {t} is not a whole number")),
        }
    }
}

/// A field type of [`RunOptions`]: parsed from a [`RawValue`] within its [`Range`].
trait OptionValue: Sized {
    fn parse(raw: &RawValue, range: &Range) -> std::result::Result<Self, String>;
    fn json(&self) -> Value;
}

impl OptionValue for usize {
    fn parse(raw: &RawValue, range: &Range) -> std::result::Result<Self, String> {
        let n = range.check_count(raw.whole()?)?;
        usize::try_from(n).map_err(|_| format!("{n} is too large for this machine"))
    }
    fn json(&self) -> Value {
        Value::from(*self)
    }
}

impl OptionValue for Option<usize> {
    fn parse(raw: &RawValue, range: &Range) -> std::result::Result<Self, String> {
        usize::parse(raw, range).map(Some)
    }
    fn json(&self) -> Value {
        self.map_or(Value::Null, Value::from)
    }
}

impl OptionValue for u64 {
    fn parse(raw: &RawValue, range: &Range) -> std::result::Result<Self, String> {
        range.check_count(raw.whole()?)
    }
    fn json(&self) -> Value {
        Value::from(*self)
    }
}

impl OptionValue for f64 {
    fn parse(raw: &RawValue, range: &Range) -> std::result::Result<Self, String> {
        range.check_real(raw.number()?)
    }
    fn json(&self) -> Value {
        Value::from(*self)
    }
}

impl OptionValue for f32 {
    fn parse(raw: &RawValue, range: &Range) -> std::result::Result<Self, String> {
        f64::parse(raw, range).map(|x| x as f32)
    }
    fn json(&self) -> Value {
        // Through the shortest decimal of the f32 (0.1, not 0.10000000149011612).
        self.to_string().parse::<f64>().map_or(Value::Null, Value::from)
    }
}

impl OptionValue for bool {
    fn parse(raw: &RawValue, _: &Range) -> std::result::Result<Self, String> {
        match *raw {
            RawValue::Bool(b) => Ok(b),
            RawValue::Text("true") => Ok(true),
            RawValue::Text("false") => Ok(false),
            ref other => Err(format!("{other:?} is not true or false")),
        }
    }
    fn json(&self) -> Value {
        Value::from(*self)
    }
}

impl OptionValue for String {
    fn parse(raw: &RawValue, range: &Range) -> std::result::Result<Self, String> {
        let RawValue::Text(t) = *raw else { return Err(format!("{raw:?} is not text")) };
        match range {
            Range::Choice(words) if !words.contains(&t) => Err(format!("{t:?} is not a choice")),
            Range::Text(_, check) => check(t).map(|_| t.to_string()).map_err(|e| match e {
                Error::Invalid { what, .. } => what,
                other => other.to_string(),
            }),
            _ => Ok(t.to_string()),
        }
    }
    fn json(&self) -> Value {
        Value::from(self.as_str())
    }
}

/// Declares [`RunOptions`], its `Default` and [`SCHEMA`] from one list of
/// `/// doc  name: type = default, range;`.
macro_rules! run_options {
    ($( $(#[doc = $doc:literal])+ $name:ident: $ty:ty = $default:expr, $range:expr; )+) => {
        /// Every option of a run. The field names are the TOML keys and the web page's keys;
        /// the flags are the names with `-` (`max_seq_len` ↔ `--max-seq-len`).
        #[derive(Clone, Debug, PartialEq, Serialize)]
        pub struct RunOptions {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        impl Default for RunOptions {
            fn default() -> Self {
                RunOptions { $( $name: $default, )+ }
            }
        }

        /// Every option, in declaration order.
        pub const SCHEMA: &[OptionSpec] = &[
            $( OptionSpec { name: stringify!($name), doc: concat!($($doc, "\n"),+), range: $range }, )+
        ];

        impl RunOptions {
            fn set_field(&mut self, spec: &OptionSpec, raw: &RawValue) -> std::result::Result<(), String> {
                match spec.name {
                    $( stringify!($name) => self.$name = OptionValue::parse(raw, &spec.range)?, )+
                    _ => return Err("not an option".to_string()),
                }
                Ok(())
            }

            /// The current value of option `name` as JSON; `None` for no such option.
            pub fn get(&self, name: &str) -> Option<Value> {
                match name {
                    $( stringify!($name) => Some(self.$name.json()), )+
                    _ => None,
                }
            }
        }
    };
}

/// The largest validation split: validation rows may not outnumber training rows.
pub const MAX_VAL_SPLIT: f32 = 0.5;

/// The largest count most options accept (steps, warmup, intervals).
const MANY: u64 = 10_000_000;

run_options! {
    /// Starting point: custom (the options as given), quick (the short schedule on any adapter:
    /// a demo in minutes) or model (the recommended full run for the model: epochs, its
    /// family's lr, all-linear, validation ten times); a preset resets and sets only its options.
    preset: String = "custom".into(), Range::Choice(&crate::train::model_preset::PRESETS);
    /// Optimizer steps [default: one epoch; on a software adapter a short schedule that also
    /// sets batch, lr, targets and layers unless given].
    steps: Option<usize> = None, Range::count(1, MANY);
    /// Epochs, when steps is not given.
    epochs: usize = 1, Range::count(1, 100_000);
    /// Sequences per micro-batch.
    batch: usize = 4, Range::count(1, 4096);
    /// Micro-batches per optimizer step (gradient accumulation).
    grad_accum: usize = 1, Range::count(1, 4096);
    /// Peak learning rate.
    lr: f64 = 1e-3, Range::above(0.0, 10.0);
    /// Learning-rate schedule after warmup.
    schedule: String = "cosine".into(), Range::Choice(&["constant", "linear", "cosine"]);
    /// Linear warmup steps from 0.
    warmup: usize = 0, Range::count(0, MANY);
    /// Optimizer (sgd uses momentum).
    optimizer: String = "adamw".into(), Range::Choice(&["adamw", "sgd"]);
    /// Momentum of the sgd optimizer.
    momentum: f64 = 0.9, Range::below(0.0, 1.0);
    /// Weight decay (AdamW: decoupled; SGD: L2 on the gradient).
    weight_decay: f64 = 0.0, Range::closed(0.0, 10.0);
    /// Clip the global gradient norm to this (0 = off).
    max_grad_norm: f32 = 1.0, Range::closed(0.0, 1e6);
    /// LoRA rank r (at most the width of the smallest adapted module).
    rank: usize = 8, Range::count(1, 4096);
    /// LoRA alpha (scale = alpha / r).
    alpha: f32 = 16.0, Range::above(0.0, 65536.0);
    /// LoRA dropout on each adapted module's input during training (PEFT's lora_dropout).
    lora_dropout: f32 = 0.0, Range::below(0.0, 1.0);
    /// rsLoRA: scale = alpha / √r instead of alpha / r (PEFT's use_rslora), steadier at high rank.
    rslora: bool = false, Range::Flag;
    /// DoRA: also train a magnitude per output row of each adapted linear (PEFT's use_dora);
    /// the adapter is saved as PEFT files only (llama.cpp has no DoRA).
    dora: bool = false, Range::Flag;
    /// Adapted modules: comma-separated q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj,
    /// or all-linear.
    targets: String = "q_proj,v_proj".into(), Range::Text("module names separated by commas, or all-linear", |s| crate::lora::Target::parse_list(s).map(drop));
    /// Adapted layers: all, or indices and ranges like 0-11,20.
    layers: String = "all".into(), Range::Text("all, or layer indices and ranges like 0-11,20", |s| crate::lora::Layers::parse(s).map(drop));
    /// Longest sequence in tokens; longer rows are truncated (and reported).
    max_seq_len: usize = 256, Range::count(2, 1 << 20);
    /// Train on every token, not only completions / assistant turns.
    train_on_everything: bool = false, Range::Flag;
    /// Pack short examples together into sequences of up to max_seq_len tokens.
    pack: bool = false, Range::Flag;
    /// What the rows are: auto (detected from the first row), or classify (every row must be
    /// {"text", "label"}; trained by the label-as-text recipe, as detection also does).
    task: String = "auto".into(), Range::Choice(&["auto", "classify"]);
    /// Skip malformed rows (reported by line) instead of stopping.
    skip_bad_rows: bool = false, Range::Flag;
    /// Fraction of the training rows held out for validation: at most half, so validation
    /// rows never outnumber training rows.
    val_split: f32 = 0.0, Range::closed(0.0, MAX_VAL_SPLIT as f64);
    /// Validate every N steps (0 = only at the end).
    eval_every: usize = 0, Range::count(0, MANY);
    /// Full fine-tuning: train every parameter (embedding, norms, linears, lm_head) in f32
    /// instead of a LoRA adapter (a quantized base is dequantized at load); AdamW only.
    full: bool = false, Range::Flag;
    /// Classification head (PEFT SEQ_CLS): train a LoRA adapter plus a score layer
    /// (labels × hidden) on each row's last token, for {"text", "label"} rows only; saved as
    /// PEFT files for AutoModelForSequenceClassification (no GGUF: llama.cpp has no such head).
    head: bool = false, Range::Flag;
    /// Recompute activations in the backward pass (gradient checkpointing): less GPU memory,
    /// about a third more compute.
    recompute: bool = false, Range::Flag;
    /// How every layer's activations are kept for the backward pass (without --recompute):
    /// 16bit (f16 matmul operands, keys and values, bf16 residuals: about half the memory,
    /// gradients within a few 1e-3 of f32's), f32, or auto (16bit with the GPU kernel family,
    /// f32 on CPU adapters).
    saved_activations: String = "auto".into(), Range::Choice(&["auto", "f32", "16bit"]);
    /// Seed of the adapter initialisation, data order, validation split and dropout masks.
    seed: u64 = 0, Range::count(0, u64::MAX);
    /// Write a checkpoint every N steps (0 = only at the end).
    checkpoint_every: usize = 10, Range::count(0, MANY);
    /// Stop when the validation loss has not improved for this many evaluations (0 = never).
    patience: usize = 0, Range::count(0, MANY);
}

impl RunOptions {
    /// The declared options.
    pub fn schema() -> &'static [OptionSpec] {
        SCHEMA
    }

    /// The option called `name`.
    pub fn spec(name: &str) -> Option<&'static OptionSpec> {
        SCHEMA.iter().find(|s| s.name == name)
    }

    /// Sets option `name` from `raw`, checked against its range; the error names the option as
    /// `origin` says the user wrote it, and what it allows.
    pub fn set(&mut self, name: &str, raw: &RawValue, origin: &Origin) -> Result<()> {
        let Some(spec) = Self::spec(name) else {
            let known: Vec<&str> = SCHEMA.iter().map(|s| s.name).collect();
            return Err(Error::invalid(
                origin.label(name),
                format!("there is no such option (the options are {})", known.join(", ")),
            ));
        };
        self.set_field(spec, raw)
            .map_err(|what| Error::invalid(origin.label(name), format!("{what} (allowed: {})", spec.range.describe())))
    }

    /// The defaults with the keys of a JSON object applied (the web page's options); `null`
    /// leaves an option that may be unset (`steps`) unset and is refused for the others.
    pub fn from_json(text: &str) -> Result<RunOptions> {
        let value: Value = serde_json::from_str(text).map_err(|e| Error::invalid("options", format!("not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// [`RunOptions::from_json`] of an already parsed JSON value (a checkpoint's options).
    pub fn from_value(value: &Value) -> Result<RunOptions> {
        let Some(obj) = value.as_object() else {
            return Err(Error::invalid("options", format!("not a JSON object: {value}")));
        };
        let mut options = RunOptions::default();
        for (key, value) in obj {
            if value.is_null() && options.get(key) == Some(Value::Null) {
                continue;
            }
            options.set(key, &RawValue::from_json(value), &Origin::Api)?;
        }
        Ok(options)
    }

    /// The schema as JSON for the web page: `[{name, flag, doc, default, range, min, max,
    /// choices, kind}]`, so its form takes defaults and bounds from here.
    pub fn schema_json() -> Value {
        let items = SCHEMA.iter().map(|s| {
            let mut o = serde_json::json!({
                "name": s.name, "flag": s.flag(), "doc": s.help(), "default": s.default_value(),
                "range": s.range.describe(),
            });
            match s.range {
                Range::Count { min, max } => {
                    o["kind"] = "count".into();
                    o["min"] = min.into();
                    o["max"] = max.into();
                }
                Range::Real { min, max, min_open, max_open } => {
                    o["kind"] = "real".into();
                    o["min"] = min.into();
                    o["max"] = max.into();
                    o["min_open"] = min_open.into();
                    o["max_open"] = max_open.into();
                }
                Range::Choice(words) => {
                    o["kind"] = "choice".into();
                    o["choices"] = words.into();
                }
                Range::Text(..) => o["kind"] = "text".into(),
                Range::Flag => o["kind"] = "flag".into(),
            }
            o
        });
        Value::Array(items.collect())
    }

    /// The options whose values differ between `self` and `other`, as `name: a → b` (for a
    /// resume that does not match its checkpoint), leaving out those in `ignore`.
    pub fn differences(&self, other: &RunOptions, ignore: &[&str]) -> Vec<String> {
        SCHEMA
            .iter()
            .filter(|s| !ignore.contains(&s.name))
            .filter_map(|s| {
                let (a, b) = (self.get(s.name)?, other.get(s.name)?);
                (a != b).then(|| format!("{}: {a} → {b}", s.name))
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
