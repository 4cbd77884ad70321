//! Evaluation of a dataset file: loss, perplexity and token accuracy under a model (with or
//! without an adapter), through the same data pipeline and loss masks as training. `anytune
//! eval` (through [`crate::eval`]) and the web page's Engine both call [`evaluate_file`].

use super::options::RunOptions;
use super::run::{all_batches, pad_id, prepare_data, sequence_len};
use super::step::{EvalReport, StepBuffers, evaluate};
use crate::data::{DataConfig, DataFile, DataSummary};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::model::{AdapterWeights, Model};

/// What [`evaluate_file`] measured, with the data it measured it on.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileEval {
    #[serde(flatten)]
    pub report: EvalReport,
    /// Sequences evaluated.
    pub sequences: usize,
    /// Format, rows, truncations and bad rows of the file.
    pub summary: DataSummary,
}

/// Evaluates every row of `file` with `adapter` (or the base alone) in batches of
/// `options.batch` sequences of at most `options.max_seq_len` tokens; `train_on_everything`
/// scores every token instead of completions / assistant turns only.
pub async fn evaluate_file(gpu: &Gpu, model: &Model, adapter: Option<&dyn AdapterWeights>, file: DataFile<'_>, options: &RunOptions) -> Result<FileEval> {
    evaluate_prepared(gpu, model, adapter, file, &eval_data_config(options, None), options.batch).await
}

/// The data options of an evaluation: `options`' shaping flags, and `labels` (a trained run's
/// label set) for classification prompts.
pub fn eval_data_config(options: &RunOptions, labels: Option<Vec<String>>) -> DataConfig {
    DataConfig {
        max_seq_len: options.max_seq_len,
        train_on_everything: options.train_on_everything,
        skip_bad_rows: options.skip_bad_rows,
        labels,
        ..DataConfig::default()
    }
}

/// [`evaluate_file`] with the data options `cfg` (e.g. a run's label set, [`eval_data_config`]),
/// in batches of `batch` sequences.
pub async fn evaluate_prepared(gpu: &Gpu, model: &Model, adapter: Option<&dyn AdapterWeights>, file: DataFile<'_>, cfg: &DataConfig, batch: usize) -> Result<FileEval> {
    let dataset = prepare_data(model, file, None, cfg)?;
    if dataset.train.is_empty() {
        return Err(Error::invalid("data", format!("{}: no rows to evaluate", file.name)));
    }
    let t = sequence_len(&dataset, cfg.max_seq_len);
    let batches = all_batches(&dataset.train, batch, t, pad_id(model))?;
    let mut buf = StepBuffers::new(gpu, model, batch, t)?;
    let pass = adapter.map(|a| a.inference(gpu, batch * t));
    let report = evaluate(gpu, model, pass.as_deref(), &mut buf, &batches).await?;
    Ok(FileEval { report, sequences: dataset.train.len(), summary: dataset.summary })
}
