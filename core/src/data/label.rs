//! Classification rows (`{"text": ..., "label": ...}`) trained by the label-as-text recipe: the
//! text and the label set make the prompt, the label is the completion (loss on its tokens only).
//!
//! - With a chat template: one user turn [`label_question`] (`"{text}\n\nAnswer with one of: a,
//!   b, c."`) and the label as the assistant turn.
//! - Without: the prompt [`label_prompt`] (`"{text}\nLabel:"`) and the completion `" {label}"`.
//!
//! The label set is the sorted distinct labels of the training file ([`label_set`]); a run
//! records it (`anytune train` writes `labels.json` beside the adapter) so that evaluation builds
//! the same prompts. At most [`MAX_LABELS`] labels of at most [`MAX_LABEL_CHARS`] characters:
//! evaluation scores every label for every row, and the prompt lists them all.
//!
//! ```
//! use anytune_core::data::label::{label_question, label_set};
//! let labels = label_set(["pos", "neg", "pos"]);
//! assert_eq!(labels, ["neg", "pos"]);
//! assert_eq!(label_question("Great film.", &labels), "Great film.\n\nAnswer with one of: neg, pos.");
//! ```

use serde_json::{Map, Value};

use super::parse::kind;
use crate::error::{Error, Result};

/// The most distinct labels a classification file may have.
pub const MAX_LABELS: usize = 100;

/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// The user turn of a classification row (with a chat template).
pub fn label_question(text: &str, labels: &[String]) -> String {
    format!("{text}\n\nAnswer with one of: {}.", labels.join(", "))
}

/// The prompt of a classification row without a chat template; the completion is `" {label}"`.
pub fn label_prompt(text: &str) -> String {
    format!("{text}\nLabel:")
}

/// The sorted distinct labels.
pub fn label_set<'a>(labels: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = labels.into_iter().collect();
    set.into_iter().map(str::to_string).collect()
}

/// Refuses a label set of fewer than two or more than [`MAX_LABELS`] labels, naming `file`.
pub(crate) fn check_label_set(labels: &[String], file: &str) -> Result<()> {
    if labels.len() < 2 {
        return Err(Error::format(
            file,
            format!(
                "classification needs at least two distinct labels, found {} ({}); give rows of another label",
                labels.len(),
                labels.join(", ")
            ),
        ));
    }
    if labels.len() > MAX_LABELS {
        return Err(Error::format(
            file,
            format!(
                "{} distinct labels; classification takes at most {MAX_LABELS} (each one is scored for every row). \
                 For free-text answers use prompt/completion rows",
                labels.len()
            ),
        ));
    }
    Ok(())
}

/// The `"label"` field of a row: a string, or a whole number / boolean taken as its text;
/// trimmed; non-empty, one line, at most [`MAX_LABEL_CHARS`] characters.
pub(crate) fn label_field(obj: &Map<String, Value>) -> std::result::Result<String, String> {
    let label = match obj.get("label") {
        None => return Err("missing field \"label\"".into()),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(v) => return Err(format!("\"label\" must be a string or a whole number, found {}", kind(v))),
    };
    if label.is_empty() {
        return Err("empty \"label\"".into());
    }
    if label.contains(['\n', '\r']) {
        return Err("\"label\" spans several lines; a label is one short line".into());
    }
    let chars = label.chars().count();
    if chars > MAX_LABEL_CHARS {
        return Err(format!("\"label\" has {chars} characters, more than {MAX_LABEL_CHARS}"));
    }
    Ok(label)
}
