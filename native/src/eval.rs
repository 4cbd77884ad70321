//! `anytune eval`: loss and perplexity of a dataset under the base model, or base + adapter —
//! the same data pipeline and loss masks as training.

use anyhow::{Result, bail};
use anytune_core::chat::Message;
use anytune_core::data::{Batcher, DataConfig, DataFile, Padding, prepare, read_dataset_path};
use anytune_core::train::step::{StepBuffers, evaluate};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: crate::ModelArg,
    /// Data to evaluate, in any format `anytune train` reads.
    #[arg(long)]
    data: PathBuf,
    /// Longest sequence in tokens; longer rows are truncated (and reported).
    #[arg(long, default_value_t = 256)]
    max_seq_len: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Score every token, not only completions / assistant turns.
    #[arg(long)]
    train_on_everything: bool,
}

/// Prints `{"loss", "perplexity", "targets", "sequences"}` as JSON.
pub fn run(args: EvalArgs) -> Result<()> {
    let (gpu, model) = args.model.load()?;
    let cfg = DataConfig { max_seq_len: args.max_seq_len, train_on_everything: args.train_on_everything, ..DataConfig::default() };
    let (bytes, name) = read_dataset_path(&args.data)?;
    let dataset = {
        let render = |m: &[Message], g: bool| model.render_chat(m, g);
        let render = model.chat_template.as_ref().map(|_| &render as &dyn Fn(&[Message], bool) -> _);
        prepare(DataFile { bytes: &bytes, name: &name }, None, &model.tokenizer, render, &cfg)?
    };
    eprintln!("{}", dataset.summary);
    if dataset.train.is_empty() {
        bail!("{name}: no rows to evaluate");
    }
    let t = dataset.summary.longest.min(args.max_seq_len).max(2);
    let pad = model.tokenizer.eos.as_ref().map_or(0, |e| e.id);
    let mut batcher = Batcher::new(&dataset.train, args.batch, Padding::Fixed(t), pad, 0, false)?;
    let batches: Vec<_> = (0..batcher.batches_per_epoch()).map(|_| batcher.next_batch()).collect();
    let mut buf = StepBuffers::new(&gpu, &model, model.adapter.as_ref(), args.batch, t)?;
    let (loss, targets) = pollster::block_on(evaluate(&gpu, &model, model.adapter.as_ref(), &mut buf, &batches))?;
    let out = serde_json::json!({ "loss": loss, "perplexity": loss.exp(), "targets": targets, "sequences": dataset.train.len() });
    println!("{out}");
    Ok(())
}
