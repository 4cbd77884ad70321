//! The search space of a sweep: which run options vary and the values they take, parsed from
//! `--grid` (lists, searched as their cartesian product) or `--space` (lists, uniform and
//! log-uniform ranges, sampled `--random N` times from a seed). Every value is checked by the
//! option schema ([`RunOptions::set`]) when it is parsed, so a bad one is refused before any
//! model is loaded.
//!
//! ```
//! use anytune_core::sweep::space::Space;
//! let grid = Space::parse("lr=1e-4,1e-3 rank=8,16", "--grid").unwrap();
//! let trials = grid.grid("--grid").unwrap();
//! assert_eq!(trials.len(), 4);
//! assert_eq!(trials[1], vec![("lr", "1e-4".to_string()), ("rank", "16".to_string())]);
//! let space = Space::parse("lr=log:1e-4..1e-2 dropout=0..0.1 targets=q_proj,v_proj|all-linear", "--space").unwrap();
//! assert_eq!(space.sample(3, 7), space.sample(3, 7));
//! ```

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::train::RunOptions;
use crate::train::options::{Origin, Range, RawValue};

/// The most trials one sweep may have (a grid's product, or `--random N`).
pub const MAX_TRIALS: usize = 1000;

/// Options that cannot vary between trials, and why: all trials share one prepared dataset and
/// one validation set, and the sweep itself decides when to validate.
pub const NOT_SEARCHED: &[(&str, &str)] = &[
    ("max_seq_len", "it shapes the data all trials share"),
    ("train_on_everything", "it shapes the data all trials share"),
    ("pack", "it shapes the data all trials share"),
    ("skip_bad_rows", "it shapes the data all trials share"),
    ("val_split", "all trials are compared on the same validation rows"),
    ("seed", "all trials are compared on the same validation rows (it seeds the split); it also seeds --random"),
    ("eval_every", "the sweep validates at its rungs (--eta, --rungs)"),
    ("patience", "the sweep stops trials at its rungs (--eta, --rungs)"),
    ("checkpoint_every", "it does not change what is trained"),
];

/// Short names a user may type for an option (`dropout` for `lora_dropout`).
const ALIASES: &[(&str, &str)] = &[("dropout", "lora_dropout"), ("wd", "weight_decay")];

/// The values of one searched option.
#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// These values, as the schema reads them (`1e-4`, `q_proj,v_proj`).
    Choice(Vec<String>),
    /// Uniform in `[lo, hi]` (`0..0.1`); whole numbers for a count option.
    Uniform { lo: f64, hi: f64 },
    /// Log-uniform in `[lo, hi]`, `lo > 0` (`log:1e-4..1e-2`).
    LogUniform { lo: f64, hi: f64 },
}

/// One searched option: its schema name, whether it takes whole numbers, and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub whole: bool,
    pub domain: Domain,
}

/// The searched options, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    pub params: Vec<Param>,
}

/// One trial's values: `(option, value as text)`, in the space's order.
pub type Assignment = Vec<(&'static str, String)>;

impl Space {
    /// Parses `key=values` items separated by spaces; `flag` (`--grid`, `--space`) names the
    /// text in errors. Values: `a,b,c` (choices; `|` separates them for `targets` and `layers`,
    /// whose values hold commas), `lo..hi` (uniform) or `log:lo..hi` (log-uniform).
    pub fn parse(text: &str, flag: &str) -> Result<Space> {
        let mut params: Vec<Param> = Vec::new();
        for item in text.split_whitespace() {
            let Some((key, values)) = item.split_once('=') else {
                return Err(Error::invalid(flag, format!("{item:?} is not key=values (e.g. lr=1e-4,3e-4)")));
            };
            let param = parse_param(key, values, flag)?;
            if params.iter().any(|p| p.name == param.name) {
                return Err(Error::invalid(flag, format!("{} is given twice", param.name)));
            }
            params.push(param);
        }
        if params.is_empty() {
            return Err(Error::invalid(flag, "no options to search: give key=values items, e.g. 'lr=1e-4,3e-4 rank=8,16'"));
        }
        Ok(Space { params })
    }

    /// Every combination of the choices (the last option varies fastest); refuses ranges and
    /// more than [`MAX_TRIALS`] trials.
    pub fn grid(&self, flag: &str) -> Result<Vec<Assignment>> {
        let mut lists = Vec::new();
        for p in &self.params {
            let Domain::Choice(values) = &p.domain else {
                return Err(Error::invalid(
                    flag,
                    format!("{}: a grid takes lists of values (lr=1e-4,3e-4); ranges go in --space with --random N", p.name),
                ));
            };
            lists.push((p.name, values));
        }
        let count = lists.iter().try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()).filter(|&n| n <= MAX_TRIALS));
        let Some(count) = count else {
            return Err(Error::invalid(flag, format!("the grid has more than {MAX_TRIALS} combinations")));
        };
        Ok((0..count)
            .map(|mut i| {
                let mut trial: Assignment = Vec::with_capacity(lists.len());
                for (name, values) in lists.iter().rev() {
                    trial.push((name, values[i % values.len()].clone()));
                    i /= values.len();
                }
                trial.reverse();
                trial
            })
            .collect())
    }

    /// `n` trials drawn from `seed`: choices uniformly, ranges uniformly or log-uniformly;
    /// real numbers rounded to 3 significant digits (kept inside the range), counts to whole
    /// numbers.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<Assignment> {
        let mut rng = Rng::new(seed ^ 0x5EED_5EED_5EED_5EED);
        (0..n)
            .map(|_| self.params.iter().map(|p| (p.name, draw(p, &mut rng))).collect())
            .collect()
    }

    /// The space as text, one `key=values` item per option (stored in `sweep.json`: a rerun
    /// with another space is refused by it).
    pub fn describe(&self) -> String {
        let items = self.params.iter().map(|p| match &p.domain {
            Domain::Choice(v) => format!("{}={}", p.name, v.join("|")),
            Domain::Uniform { lo, hi } => format!("{}={lo}..{hi}", p.name),
            Domain::LogUniform { lo, hi } => format!("{}=log:{lo}..{hi}", p.name),
        });
        items.collect::<Vec<_>>().join(" ")
    }
}

/// Checks `--random N`: 1 to [`MAX_TRIALS`].
pub fn check_trial_count(n: usize) -> Result<usize> {
    match n {
        1..=MAX_TRIALS => Ok(n),
        _ => Err(Error::invalid("--random", format!("{n} trials (allowed: 1 to {MAX_TRIALS})"))),
    }
}

/// The schema name of `key` (`weight-decay`, `--lr`, `dropout`), refused when it is no option
/// or one that must not vary.
fn option_name(key: &str, flag: &str) -> Result<&'static str> {
    let key = key.trim_start_matches("--").replace('-', "_");
    let key = ALIASES.iter().find(|(a, _)| *a == key).map_or(key.as_str(), |(_, name)| name);
    let Some(spec) = RunOptions::spec(key) else {
        let names: Vec<&str> = RunOptions::schema().iter().map(|s| s.name).filter(|n| !NOT_SEARCHED.iter().any(|(x, _)| x == n)).collect();
        return Err(Error::invalid(flag, format!("{key:?} is not an option (searchable: {}; dropout is lora_dropout)", names.join(", "))));
    };
    if let Some((_, why)) = NOT_SEARCHED.iter().find(|(n, _)| *n == spec.name) {
        return Err(Error::invalid(flag, format!("{} cannot vary between trials: {why}; set it with {}", spec.name, spec.flag())));
    }
    Ok(spec.name)
}

fn parse_param(key: &str, values: &str, flag: &str) -> Result<Param> {
    let name = option_name(key, flag)?;
    let spec = RunOptions::spec(name).ok_or_else(|| Error::invalid(flag, format!("{name} is not an option")))?;
    let whole = matches!(spec.range, Range::Count { .. });
    // Each value is set on a default RunOptions: the schema's check, named after this text.
    let check = |v: &str| -> Result<()> {
        RunOptions::default().set(name, &RawValue::Text(v), &Origin::Api).map_err(|e| match e {
            Error::Invalid { what, .. } => Error::invalid(flag, format!("{name}={v}: {what}")),
            other => other,
        })
    };
    let (log, range) = match values.strip_prefix("log:") {
        Some(rest) => (true, Some(rest)),
        None => (false, values.contains("..").then_some(values)),
    };
    let domain = match range {
        Some(range) => {
            if !matches!(spec.range, Range::Count { .. } | Range::Real { .. }) {
                return Err(Error::invalid(flag, format!("{name}: a range needs a numeric option; give a list of values")));
            }
            let Some((lo_text, hi_text)) = range.split_once("..") else {
                return Err(Error::invalid(flag, format!("{name}={values}: a range is lo..hi (e.g. 0..0.1, log:1e-4..1e-2)")));
            };
            check(lo_text)?;
            check(hi_text)?;
            let number = |t: &str| t.trim().parse::<f64>().map_err(|_| Error::invalid(flag, format!("{name}: {t:?} is not a number")));
            let (lo, hi) = (number(lo_text)?, number(hi_text)?);
            if lo >= hi {
                return Err(Error::invalid(flag, format!("{name}={values}: the low end must be below the high end")));
            }
            if log && lo <= 0.0 {
                return Err(Error::invalid(flag, format!("{name}={values}: a log range needs a low end above 0")));
            }
            if log { Domain::LogUniform { lo, hi } } else { Domain::Uniform { lo, hi } }
        }
        None => {
            let text_option = matches!(spec.range, Range::Text(..));
            let choices: Vec<&str> = if values.contains('|') || text_option { values.split('|').collect() } else { values.split(',').collect() };
            if choices.iter().any(|c| c.is_empty()) {
                return Err(Error::invalid(flag, format!("{name}={values}: an empty value (values are separated by {})", if text_option { "|" } else { ", or |" })));
            }
            for c in &choices {
                check(c)?;
            }
            Domain::Choice(choices.into_iter().map(String::from).collect())
        }
    };
    Ok(Param { name, whole, domain })
}

/// One value of `p` drawn from `rng`, as text.
fn draw(p: &Param, rng: &mut Rng) -> String {
    let u = rng.uniform() as f64;
    let (x, lo, hi) = match &p.domain {
        Domain::Choice(values) => return values[rng_index(u, values.len())].clone(),
        Domain::Uniform { lo, hi } => (lo + u * (hi - lo), *lo, *hi),
        Domain::LogUniform { lo, hi } => ((lo.ln() + u * (hi.ln() - lo.ln())).exp(), *lo, *hi),
    };
    if p.whole {
        return format!("{}", x.round().clamp(lo.ceil(), hi.floor()));
    }
    let rounded: f64 = format!("{x:.2e}").parse().unwrap_or(x);
    format!("{}", rounded.clamp(lo, hi))
}

/// `u` in [0, 1) to an index below `n`.
fn rng_index(u: f64, n: usize) -> usize {
    ((u * n as f64) as usize).min(n.saturating_sub(1))
}
