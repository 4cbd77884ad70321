//! `anytune eval`: loss, perplexity and token accuracy of a dataset under the base model, or base + adapter —
//! the same data pipeline and loss masks as training.

use anyhow::{Result, bail};
use crate::dataset::prepare_file;
use anytune_core::train::run::{all_batches, pad_id, sequence_len};
use anytune_core::data::DataConfig;
use anytune_core::train::step::{StepBuffers, evaluate};
use crate::option_flags::{EvalOptions, OptionFlags};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: crate::ModelArg,
    /// Data to evaluate, in any format `anytune train` reads.
    #[arg(long)]
    data: PathBuf,
    /// --max-seq-len, --batch and --train-on-everything, as `anytune train` takes them.
    #[command(flatten)]
    options: OptionFlags<EvalOptions>,
}

/// Prints `{"loss", "perplexity", "accuracy", "targets", "sequences"}` as JSON (accuracy: the
/// fraction of targets whose argmax logit is the target).
pub fn run(args: EvalArgs) -> Result<()> {
    let (gpu, model) = args.model.load()?;
    let o = args.options.options()?;
    let cfg = DataConfig { max_seq_len: o.max_seq_len, train_on_everything: o.train_on_everything, ..DataConfig::default() };
    let dataset = prepare_file(&model, &args.data, &cfg)?;
    if dataset.train.is_empty() {
        bail!("{}: no rows to evaluate", args.data.display());
    }
    let t = sequence_len(&dataset, o.max_seq_len);
    let batches = all_batches(&dataset.train, o.batch, t, pad_id(&model))?;
    let mut buf = StepBuffers::new(&gpu, &model, model.adapter.as_ref(), o.batch, t)?;
    let r = pollster::block_on(evaluate(&gpu, &model, model.adapter.as_ref(), &mut buf, &batches))?;
    let out = serde_json::json!({ "loss": r.loss, "perplexity": r.perplexity, "accuracy": r.accuracy, "targets": r.targets, "sequences": dataset.train.len() });
    println!("{out}");
    Ok(())
}
