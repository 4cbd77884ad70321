//! Evaluating a model (the base alone, or base + adapter) on a dataset file: what `anytune
//! eval` prints, in one call.
//!
//! - loss, perplexity and token accuracy over the trained tokens ([`crate::train::eval`]);
//! - generation metrics on prompt → answer rows ([`answers`]): exact match, contains and
//!   starts-with of the greedy answer after normalisation ([`metrics::normalize`]);
//! - classification metrics on text/label rows ([`labels`]): the label with the highest summed
//!   log-probability is the prediction; accuracy, per-label precision/recall/F1, macro F1 and
//!   the confusion matrix ([`metrics::Classification`]);
//! - every token of a few rows with its loss before and after training ([`token_losses`]).

pub mod answers;
pub mod labels;
pub mod metrics;
pub mod token_losses;

use crate::data::DataFile;
use crate::data::tasks::eval_tasks;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::model::{AdapterWeights, Model};
use crate::train::RunOptions;
use crate::train::eval::{FileEval, eval_data_config, evaluate_prepared};
use answers::{Generation, answer_metrics};
use metrics::Classification;
use serde::Serialize;

/// What to evaluate.
#[derive(Clone, Debug, Default)]
pub struct EvalConfig {
    /// `max_seq_len`, `batch`, `train_on_everything` and `skip_bad_rows`, as training takes them.
    pub options: RunOptions,
    /// The label set of classification prompts (a trained run's `labels.json`); `None`: the
    /// file's own sorted distinct labels.
    pub labels: Option<Vec<String>>,
    /// Generate answers for prompt → answer rows (slow: one greedy generation per row).
    pub generate: bool,
    /// Tokens generated per answer at most; `None`: the reference's length plus
    /// [`answers::ANSWER_MARGIN`]. From 1 to the model's context.
    pub max_tokens: Option<usize>,
    /// A classification head's score weight `(labels, dim)` (a SEQ_CLS adapter, `--head`):
    /// with an adapter, label rows are predicted by the head ([`labels::classify_head`]).
    pub head: Option<Vec<f32>>,
}

/// Everything measured for one model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelEval {
    /// Loss, perplexity, token accuracy, targets, sequences and the data summary.
    #[serde(flatten)]
    pub file: FileEval,
    /// Generation metrics (`None`: no answer rows, or generation not asked for).
    pub generation: Option<Generation>,
    /// Classification metrics (`None`: no label rows).
    pub classification: Option<Classification>,
    /// Answer and label rows left out (longer than `max_seq_len`, or no answer span found).
    pub left_out_rows: usize,
}

/// Evaluates `file` under `model` with `adapter` (`None`: the base alone).
pub async fn evaluate(
    gpu: &Gpu,
    model: &Model,
    adapter: Option<&dyn AdapterWeights>,
    file: DataFile<'_>,
    cfg: &EvalConfig,
) -> Result<ModelEval> {
    let context = model.config.max_seq_len;
    if let Some(m) = cfg.max_tokens
        && !(1..=context).contains(&m)
    {
        return Err(Error::invalid("--max-tokens", format!("{m} is not from 1 to the model's context length {context}")));
    }
    let data = eval_data_config(&cfg.options, cfg.labels.clone());
    let loss = evaluate_prepared(gpu, model, adapter, file, &data, cfg.options.batch).await?;
    let render = |m: &[crate::chat::Message], g: bool| model.render_chat(m, g);
    let render = model.chat_template.as_ref().map(|_| &render as &dyn Fn(&[crate::chat::Message], bool) -> _);
    let tasks = eval_tasks(file, &model.tokenizer, render, &data)?;
    let generation = match cfg.generate && !tasks.answers.is_empty() {
        true => Some(answer_metrics(gpu, model, adapter, &tasks.answers, cfg.max_tokens).await?),
        false => None,
    };
    let classification = match (tasks.label_rows.is_empty(), adapter, &cfg.head) {
        (true, _, _) => None,
        (false, Some(a), Some(score)) => Some(labels::classify_head(gpu, model, a, score, &tasks.labels, &tasks.label_rows, cfg.options.batch).await?),
        (false, _, _) => Some(labels::classify(gpu, model, adapter, &tasks.labels, &tasks.label_rows, cfg.options.batch).await?),
    };
    Ok(ModelEval { file: loss, generation, classification, left_out_rows: tasks.left_out })
}
