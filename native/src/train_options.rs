//! The options of `anytune train`: core's [`RunOptions`] from its defaults, then a TOML config
//! file (`--config`), then the flags given on the command line, in that order of precedence.
//! Flags and config keys share their names (`--max-seq-len` ↔ `max_seq_len`).

use crate::option_flags::{AllOptions, OptionFlags};
use anyhow::{Context, Result, bail};
use anytune_core::data::{DataFile, read_dataset_path};
use anytune_core::train::RunOptions;
use anytune_core::train::options::{Origin, RawValue};
use clap::Args;
use std::path::{Path, PathBuf};

/// The run options as flags (from core's schema); a flag not given leaves the config file's
/// value or the default.
pub type RunFlags = OptionFlags<AllOptions>;

#[derive(Args)]
pub struct TrainArgs {
    /// Base model: a path or a name from `anytune models` (default: smollm2-135m).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Training data: .jsonl / .json ({"text"}, {"prompt","completion"}, {"messages"}, alpaca), .txt or .csv.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Validation data in the same formats (or use --val-split).
    #[arg(long)]
    pub val_file: Option<PathBuf>,
    /// Output folder for the adapter files, the checkpoint and the log.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A TOML file of options: any flag's long name with underscores (`lr = 2e-4`,
    /// `max_seq_len = 512`, `data = "train.jsonl"`); flags given on the command line win.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub flags: RunFlags,
    /// Continue the run in --out from its last checkpoint (same data and options).
    #[arg(long)]
    pub resume: bool,
    /// Print token counts, trainable parameters and the GPU memory needed, then stop.
    #[arg(long)]
    pub dry_run: bool,
    /// A question answered (greedy chat) before and after training.
    #[arg(long)]
    pub question: Option<String>,
}

/// Everything a `anytune train` run needs, resolved.
pub struct Job {
    pub model: PathBuf,
    pub data: PathBuf,
    pub val_file: Option<PathBuf>,
    pub out: PathBuf,
    pub question: Option<String>,
    pub options: RunOptions,
}

/// The bytes and names of a job's training file and validation file.
pub struct JobData {
    pub train: (Vec<u8>, String),
    pub val: Option<(Vec<u8>, String)>,
}

impl JobData {
    /// The files as core takes them.
    pub fn files(&self) -> (DataFile<'_>, Option<DataFile<'_>>) {
        (data_file(&self.train), self.val.as_ref().map(data_file))
    }
}

fn data_file((bytes, name): &(Vec<u8>, String)) -> DataFile<'_> {
    DataFile { bytes, name }
}

impl Job {
    /// Reads `data` (and `val_file`).
    pub fn read_data(&self) -> Result<JobData> {
        Ok(JobData { train: read_dataset_path(&self.data)?, val: self.val_file.as_deref().map(read_dataset_path).transpose()? })
    }

    /// The base model's name written into `adapter_config.json`: the name `model` is known by
    /// (its GGUF metadata's Hugging Face id, core's `known_name`), else its file or folder name.
    pub fn base_name(&self, model: &anytune_core::model::Model) -> String {
        model.known_as.clone().unwrap_or_else(|| {
            self.model.file_name().map_or(self.model.display().to_string(), |n| n.to_string_lossy().into_owned())
        })
    }
}

/// Merges the defaults, the config file and the flags of `args`.
pub fn resolve_options(args: &TrainArgs) -> Result<Job> {
    let (mut table, dir, file) = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading the config file {}", path.display()))?;
            let table: toml::Table = toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?;
            (table, path.parent().unwrap_or(Path::new("")).to_path_buf(), path.display().to_string())
        }
        None => (toml::Table::new(), PathBuf::new(), String::new()),
    };
    // Keys that are not run options: paths (relative to the config file) and the question.
    let mut path_of = |key: &str, flag: &Option<PathBuf>| -> Result<Option<PathBuf>> {
        let from_file = match table.remove(key) {
            // A model name (`model = "gemma3-270m"`) stays a name unless such a path exists.
            Some(toml::Value::String(s))
                if key == "model" && anytune::named_models::find(&s).is_some() && !dir.join(&s).exists() =>
            {
                Some(PathBuf::from(s))
            }
            Some(toml::Value::String(s)) => Some(dir.join(s)),
            Some(other) => bail!("config file {file}: {key} must be a string path, not {}", other.type_str()),
            None => None,
        };
        Ok(flag.clone().or(from_file))
    };
    let model = path_of("model", &args.model)?;
    let data = path_of("data", &args.data)?;
    let val_file = path_of("val_file", &args.val_file)?;
    let out = path_of("out", &args.out)?;
    let question = match table.remove("question") {
        Some(toml::Value::String(s)) => Some(s),
        Some(other) => bail!("config file {file}: question must be a string, not {}", other.type_str()),
        None => None,
    };
    // The defaults, then the file's keys, then the flags: each value checked by the schema.
    let mut options = RunOptions::default();
    for (key, value) in &table {
        options.set(key, &raw_toml(value), &Origin::File(file.clone()))?;
    }
    args.flags.apply(&mut options)?;
    let Some(data) = data else { bail!("no training data: give --data FILE (or `data` in the --config file)") };
    let Some(out) = out else { bail!("no output folder: give --out DIR (or `out` in the --config file)") };
    let model = anytune::load::model_path(model.as_deref())?;
    Ok(Job { model, data, val_file, out, question: args.question.clone().or(question), options })
}

/// A TOML value as the schema takes it (TOML's `nan` and `inf` arrive as floats and are refused
/// there by name, not turned into "not given").
fn raw_toml(v: &toml::Value) -> RawValue<'_> {
    match v {
        toml::Value::String(s) => RawValue::Text(s),
        toml::Value::Integer(i) => RawValue::Int(*i),
        toml::Value::Float(x) => RawValue::Float(*x),
        toml::Value::Boolean(b) => RawValue::Bool(*b),
        other => RawValue::Other(other.type_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainArgs,
    }

    /// Paths in the config file are relative to it; a model name is a name (the cached model;
    /// CI fetches the default one first) unless a file of that name sits beside the config.
    #[test]
    fn config_paths_are_relative_and_model_names_resolve() {
        let dir = std::env::temp_dir().join(format!("anytune-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("run.toml");
        std::fs::write(&config, "model = \"smollm2-135m\"\ndata = \"train.jsonl\"\nout = \"run\"\nlr = 3e-3\n").unwrap();
        let cli = Cli::parse_from(["train", "--config", config.to_str().unwrap()]);
        let job = resolve_options(&cli.args).unwrap();
        assert_eq!(job.model, anytune::named_models::find("smollm2-135m").unwrap().cached_path());
        assert_eq!(job.data, dir.join("train.jsonl"));
        assert_eq!(job.options.lr, 3e-3);
        std::fs::write(dir.join("smollm2-135m"), "").unwrap();
        assert_eq!(resolve_options(&cli.args).unwrap().model, dir.join("smollm2-135m"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
