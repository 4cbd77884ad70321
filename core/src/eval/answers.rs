//! Generation metrics on prompt → answer rows: the greedy answer to each prompt (stopping at a
//! stop token, or after the reference's length plus [`ANSWER_MARGIN`] tokens unless
//! `max_tokens` is given), compared with the reference by [`AnswerMatch`].

use super::metrics::AnswerMatch;
use crate::data::tasks::AnswerRow;
use crate::error::Result;
use crate::generate::{GenerateOptions, generate_with};
use crate::gpu::Gpu;
use crate::model::{AdapterWeights, Model};
use serde::Serialize;

/// Tokens generated beyond the reference's length when no `max_tokens` is given.
pub const ANSWER_MARGIN: usize = 8;

/// One row's answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    pub line: usize,
    pub answer: String,
    #[serde(flatten)]
    pub matched: AnswerMatch,
}

/// Generation metrics over the answer rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Generation {
    pub rows: usize,
    /// Fractions of rows whose normalised answer is, contains, or starts with the reference.
    pub exact_match: f64,
    pub contains: f64,
    pub starts_with: f64,
    pub answers: Vec<Answer>,
}

/// Generates the answer of every row with `adapter` (or the base) and compares it.
pub async fn answer_metrics(
    gpu: &Gpu,
    model: &Model,
    adapter: Option<&dyn AdapterWeights>,
    rows: &[AnswerRow],
    max_tokens: Option<usize>,
) -> Result<Generation> {
    let context = model.config.max_seq_len;
    let mut answers = Vec::with_capacity(rows.len());
    for r in rows.iter().filter(|r| r.prompt.len() < context) {
        let max_tokens = max_tokens.unwrap_or(r.reference_tokens + ANSWER_MARGIN).clamp(1, context);
        let options = GenerateOptions { max_tokens, ..Default::default() };
        let answer = generate_with(gpu, model, adapter, &r.prompt, &options, |_| {}).await?.text;
        let matched = AnswerMatch::of(&answer, &r.reference);
        answers.push(Answer { line: r.line, answer, matched });
    }
    let n = answers.len();
    let rate = |f: fn(&AnswerMatch) -> bool| {
        if n == 0 { 0.0 } else { answers.iter().filter(|a| f(&a.matched)).count() as f64 / n as f64 }
    };
    Ok(Generation {
        rows: n,
        exact_match: rate(|m| m.exact),
        contains: rate(|m| m.contains),
        starts_with: rate(|m| m.starts_with),
        answers,
    })
}
