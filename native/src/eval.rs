//! `anytune eval`: loss, perplexity and token accuracy of a dataset under the base model, or base + adapter —
//! the same data pipeline and loss masks as training (core's `train::eval`, which the web page calls too).

use crate::option_flags::{EvalOptions, OptionFlags};
use anyhow::Result;
use anytune_core::data::{DataFile, read_dataset_path};
use anytune_core::train::evaluate_file;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: crate::ModelArg,
    /// Data to evaluate, in any format `anytune train` reads.
    #[arg(long)]
    data: PathBuf,
    /// --max-seq-len, --batch, --train-on-everything and --skip-bad-rows, as `anytune train` takes them.
    #[command(flatten)]
    options: OptionFlags<EvalOptions>,
}

/// Prints `{"loss", "perplexity", "accuracy", "targets", "sequences"}` as JSON (accuracy: the
/// fraction of targets whose argmax logit is the target), from core's [`evaluate_file`].
pub fn run(args: EvalArgs) -> Result<()> {
    let (gpu, model) = args.model.load()?;
    let options = args.options.options()?;
    let (bytes, name) = read_dataset_path(&args.data)?;
    let r = pollster::block_on(evaluate_file(&gpu, &model, model.adapter.as_deref(), DataFile { bytes: &bytes, name: &name }, &options))?;
    eprintln!("{}", r.summary);
    let out = serde_json::json!({ "loss": r.report.loss, "perplexity": r.report.perplexity, "accuracy": r.report.accuracy, "targets": r.report.targets, "sequences": r.sequences });
    println!("{out}");
    Ok(())
}
