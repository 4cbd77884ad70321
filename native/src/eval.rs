//! `anytune eval`: loss, perplexity and token accuracy of a dataset, plus generation metrics on
//! prompt → answer rows and classification metrics on text/label rows, under the base model and
//! (with --adapter) base + adapter side by side — core's [`anytune_core::eval::evaluate`], the
//! same data pipeline and loss masks as training.

use crate::option_flags::{EvalOptions, OptionFlags};
use anyhow::{Context, Result};
use anytune_core::data::{DataFile, read_dataset_path};
use anytune_core::eval::{EvalConfig, ModelEval, evaluate};
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The file beside an adapter that records its run's label set (written by `anytune train`).
pub const LABELS_FILE: &str = "labels.json";

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: crate::ModelArg,
    /// Data to evaluate, in any format `anytune train` reads.
    #[arg(long)]
    data: PathBuf,
    /// Skip the generation metrics (one greedy answer per prompt → answer row: slow).
    #[arg(long)]
    no_generate: bool,
    /// Tokens per generated answer at most [default: the reference answer's tokens + 8].
    #[arg(long)]
    max_tokens: Option<usize>,
    /// With --adapter, evaluate base + adapter only (by default the base alone is evaluated
    /// too, side by side).
    #[arg(long)]
    adapter_only: bool,
    /// Print everything as one JSON object (the evaluated model's loss, perplexity, accuracy,
    /// targets and sequences at top level; the base's under "base" when compared).
    #[arg(long)]
    json: bool,
    /// --max-seq-len, --batch, --train-on-everything and --skip-bad-rows, as `anytune train` takes them.
    #[command(flatten)]
    options: OptionFlags<EvalOptions>,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let options = args.options.options()?;
    let labels = args.model.adapter.as_deref().map(read_labels).transpose()?.flatten();
    let head_dir = args.model.adapter.as_deref().filter(|a| anytune::load::is_head_adapter(a));
    let (gpu, mut model, head) = match (head_dir, &labels) {
        (Some(dir), Some(labels)) => {
            let (gpu, mut model) = args.model.load_base()?;
            let (lora, score) = anytune::load::read_head_adapter(dir, &model.config, labels.len())?;
            model.adapter = Some(Box::new(anytune_core::lora::LoraParams::from_weights(&gpu, &model, &lora)?));
            (gpu, model, Some(score))
        }
        (Some(dir), None) => anyhow::bail!("{}: a classification-head adapter (task_type SEQ_CLS) needs its labels.json beside it (anytune train --head writes one)", dir.display()),
        (None, _) => {
            let (gpu, model) = args.model.load()?;
            (gpu, model, None)
        }
    };
    let model = &mut model;
    let (bytes, name) = read_dataset_path(&args.data)?;
    let file = DataFile { bytes: &bytes, name: &name };
    let cfg = EvalConfig { options, labels, generate: !args.no_generate, max_tokens: args.max_tokens, head };
    let main = pollster::block_on(evaluate(&gpu, model, model.adapter.as_deref(), file, &cfg))?;
    let base = match model.adapter.is_some() && !args.adapter_only {
        true => Some(pollster::block_on(evaluate(&gpu, model, None, file, &cfg))?),
        false => None,
    };
    eprintln!("{}", main.file.summary);
    if args.json {
        let mut out = model_json(&main);
        if let Some(b) = &base {
            out["base"] = model_json(b);
        }
        println!("{out}");
    } else {
        let columns: Vec<(&str, &ModelEval)> = match &base {
            Some(b) => vec![("base", b), ("adapter", &main)],
            None if model.adapter.is_some() => vec![("adapter", &main)],
            None => vec![("base", &main)],
        };
        print!("{}", crate::eval_table::table(&columns));
    }
    Ok(())
}

/// The JSON of one model's evaluation: the keys `anytune eval` has always printed, then the
/// generation and classification metrics.
fn model_json(e: &ModelEval) -> Value {
    let r = &e.file.report;
    json!({
        "loss": r.loss, "perplexity": r.perplexity, "accuracy": r.accuracy, "targets": r.targets,
        "sequences": e.file.sequences, "generation": e.generation, "classification": e.classification,
        "left_out_rows": e.left_out_rows,
    })
}

/// The label set recorded beside an adapter (`labels.json` in its folder, or beside its file);
/// `None` when there is none.
pub fn read_labels(adapter: &Path) -> Result<Option<Vec<String>>> {
    let dir = if adapter.is_dir() { adapter } else { adapter.parent().unwrap_or(Path::new(".")) };
    let path = dir.join(LABELS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let labels = v["labels"].as_array().and_then(|a| a.iter().map(|l| l.as_str().map(str::to_string)).collect::<Option<Vec<_>>>());
    match labels {
        Some(l) if !l.is_empty() => Ok(Some(l)),
        _ => anyhow::bail!("{}: expected {{\"labels\": [\"a\", \"b\", ...]}} (a non-empty list of strings)", path.display()),
    }
}

/// Writes `labels.json` (the run's label set and its recipe) into `dir`.
pub fn labels_json(labels: &[String]) -> String {
    json!({ "labels": labels, "recipe": "label-as-text" }).to_string()
}
