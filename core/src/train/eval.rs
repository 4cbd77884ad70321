//! Evaluation of a dataset file: loss, perplexity and token accuracy under a model (with or
//! without an adapter), through the same data pipeline and loss masks as training. `anytune
//! eval` and the web page's Engine both call [`evaluate_file`].

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
    let cfg = DataConfig {
        max_seq_len: options.max_seq_len,
        train_on_everything: options.train_on_everything,
        skip_bad_rows: options.skip_bad_rows,
        ..DataConfig::default()
    };
    let dataset = prepare_data(model, file, None, &cfg)?;
    if dataset.train.is_empty() {
        return Err(Error::invalid("data", format!("{}: no rows to evaluate", file.name)));
    }
    let t = sequence_len(&dataset, options.max_seq_len);
    let batches = all_batches(&dataset.train, options.batch, t, pad_id(model))?;
    let mut buf = StepBuffers::new(gpu, model, options.batch, t)?;
    let pass = adapter.map(|a| a.inference(gpu, options.batch * t));
    let report = evaluate(gpu, model, pass.as_deref(), &mut buf, &batches).await?;
    Ok(FileEval { report, sequences: dataset.train.len(), summary: dataset.summary })
}
