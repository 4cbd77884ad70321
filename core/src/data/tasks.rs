//! The rows of a dataset file as evaluation tasks, beside the loss that [`super::prepare`]'s
//! sequences give:
//!
//! - **answers**: prompt → answer rows (prompt/completion, alpaca, and chat rows whose last turn
//!   is the assistant's): the prompt ids are the row's tokens before its last trained span,
//!   exactly as training encodes them, and the reference is that answer's text;
//! - **labels**: each classification row encoded once per label of the label set (the same
//!   prompt, each label as the completion), for scoring every label.
//!
//! Rows that [`super::prepare`] reports as bad (or skips) are left out here without a second
//! report; so are rows whose prompt leaves no room for an answer in `max_seq_len`, and chat rows
//! whose assistant turns could not be located.

use super::cut::text_budget;
use super::encode::{Encoder, RenderChat};
use super::parse::{Content, labels_of, parse};
use super::{DataConfig, DataFile, Example};
use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// A prompt → answer row.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerRow {
    /// 1-based line where the row starts.
    pub line: usize,
    /// The prompt's token ids (BOS and chat template included).
    pub prompt: Vec<u32>,
    /// The answer's text as the file gives it.
    pub reference: String,
    /// The answer's trained tokens (its stop token included).
    pub reference_tokens: usize,
}

/// A classification row, encoded once per label.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelRow {
    pub line: usize,
    /// The row's own label.
    pub gold: String,
    /// `candidates[j]`: the row with label `j` of the label set as its completion (loss mask on
    /// the label's tokens).
    pub candidates: Vec<Example>,
}

/// A file's evaluation tasks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalTasks {
    pub answers: Vec<AnswerRow>,
    /// The label set the candidates use (empty without classification rows).
    pub labels: Vec<String>,
    pub label_rows: Vec<LabelRow>,
    /// Rows left out: longer than `max_seq_len`, or no answer span found.
    pub left_out: usize,
}

/// The tasks of `file` for a model with tokenizer `tok` and chat template `render`; `cfg` gives
/// `max_seq_len`, `skip_bad_rows` and the label set (else the file's own).
pub fn eval_tasks(file: DataFile, tok: &Tokenizer, render: Option<RenderChat>, cfg: &DataConfig) -> Result<EvalTasks> {
    let parsed = parse(file.bytes, file.name, true, true, false)?;
    let labels = cfg.labels.clone().unwrap_or_else(|| labels_of(&parsed.records));
    let budget = text_budget(tok, cfg.max_seq_len);
    let encoder = Encoder { tok, render, train_on_everything: false, budget, labels };
    let fits = |ex: &Example| ex.ids.len() <= cfg.max_seq_len;
    let mut tasks = EvalTasks::default();
    for r in &parsed.records {
        match &r.content {
            Content::Text(_) => {}
            Content::Label { text, label } => {
                let candidates: Option<Vec<Example>> = encoder
                    .labels
                    .iter()
                    .map(|l| encoder.encode(&Content::Label { text: text.clone(), label: l.clone() }).ok())
                    .map(|e| e.filter(|e| !e.mask_fallback).map(|e| e.example).filter(fits))
                    .collect();
                match candidates {
                    Some(candidates) if !candidates.is_empty() => {
                        tasks.label_rows.push(LabelRow { line: r.line, gold: label.clone(), candidates })
                    }
                    _ => tasks.left_out += 1,
                }
            }
            content => match answer_row(&encoder, content, r.line).filter(|a| a.prompt.len() < cfg.max_seq_len) {
                Some(a) => tasks.answers.push(a),
                None => tasks.left_out += 1,
            },
        }
    }
    if !tasks.label_rows.is_empty() {
        tasks.labels = encoder.labels;
    }
    Ok(tasks)
}

/// The answer row of a prompt/completion, alpaca or chat row (`None`: no final assistant turn,
/// or its span could not be found).
fn answer_row(encoder: &Encoder, content: &Content, line: usize) -> Option<AnswerRow> {
    let reference = match content {
        Content::Pair { completion, .. } => completion.clone(),
        Content::Alpaca { output, .. } => output.clone(),
        Content::Chat(messages) => match messages.last() {
            Some(m) if m.role == "assistant" => m.content.clone(),
            _ => return None,
        },
        Content::Text(_) | Content::Label { .. } => return None,
    };
    let encoded = encoder.encode(content).ok().filter(|e| !e.mask_fallback)?;
    let mask = &encoded.example.loss_mask;
    // The start of the last trained span.
    let start = (1..mask.len()).rev().find(|&i| mask[i] && !mask[i - 1])?;
    let ids = encoded.example.ids;
    Some(AnswerRow { line, reference, reference_tokens: mask[start..].iter().filter(|&&m| m).count(), prompt: ids[..start].to_vec() })
}
