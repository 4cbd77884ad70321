//! Command-line flags made from core's option schema ([`RunOptions::schema`]): one `--name`
//! per option, with its doc, allowed range and default in `--help`. Nothing is declared here
//! twice: a flag's value is kept as the text the user typed and checked by
//! [`RunOptions::set`], like a TOML key or the web page's field.

use anytune_core::train::RunOptions;
use anytune_core::train::options::{Origin, OptionSpec, Range, RawValue};
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use std::marker::PhantomData;

/// Which options a command takes as flags.
pub trait FlagSet {
    /// The options' names; `None` for every option.
    const NAMES: Option<&'static [&'static str]>;
}

/// Every run option (`anytune train`).
pub struct AllOptions;
impl FlagSet for AllOptions {
    const NAMES: Option<&'static [&'static str]> = None;
}

/// The options that shape evaluation data (`anytune eval`).
pub struct EvalOptions;
impl FlagSet for EvalOptions {
    const NAMES: Option<&'static [&'static str]> = Some(&["max_seq_len", "batch", "train_on_everything", "skip_bad_rows"]);
}

/// The flags of `S` that were given, in schema order, as typed.
pub struct OptionFlags<S: FlagSet> {
    pub given: Vec<(&'static str, String)>,
    set: PhantomData<S>,
}

impl<S: FlagSet> OptionFlags<S> {
    fn specs() -> impl Iterator<Item = &'static OptionSpec> {
        RunOptions::schema().iter().filter(|s| S::NAMES.is_none_or(|names| names.contains(&s.name)))
    }

    /// Applies the given flags to `options`; an error names the flag and its range.
    pub fn apply(&self, options: &mut RunOptions) -> anytune_core::Result<()> {
        for (name, text) in &self.given {
            options.set(name, &RawValue::Text(text), &Origin::Flag)?;
        }
        Ok(())
    }

    /// The defaults with the given flags applied.
    pub fn options(&self) -> anytune_core::Result<RunOptions> {
        let mut options = RunOptions::default();
        self.apply(&mut options)?;
        Ok(options)
    }
}

/// `--name` for a spec, with help "doc (allowed: …) [default: …]".
fn arg(spec: &'static OptionSpec) -> Arg {
    let arg = Arg::new(spec.name).long(spec.flag().trim_start_matches('-').to_string());
    match spec.range {
        Range::Flag => arg.action(ArgAction::SetTrue).help(spec.help()),
        _ => {
            let default = spec.default_value();
            let default = match default {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => format!(" [default: {s}]"),
                other => format!(" [default: {other}]"),
            };
            arg.action(ArgAction::Set)
                .allow_hyphen_values(true)
                .value_name(spec.name.to_uppercase())
                .help(format!("{} Allowed: {}.{default}", spec.help(), spec.range.describe()))
        }
    }
}

impl<S: FlagSet> FromArgMatches for OptionFlags<S> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for spec in Self::specs() {
            match spec.range {
                Range::Flag if m.get_flag(spec.name) => given.push((spec.name, "true".to_string())),
                Range::Flag => {}
                _ => {
                    if let Some(v) = m.get_one::<String>(spec.name) {
                        given.push((spec.name, v.clone()));
                    }
                }
            }
        }
        Ok(OptionFlags { given, set: PhantomData })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<S: FlagSet> Args for OptionFlags<S> {
    fn augment_args(cmd: Command) -> Command {
        cmd.args(Self::specs().map(arg))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}
