//! Dataset formats: what a file holds ([`Container`]) and the shape of its rows ([`Shape`]),
//! detected from the file name and the first non-empty rows, and reported as [`DatasetFormat`].

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the rows are stored in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Container {
    /// One JSON object per line (`.jsonl`, `.ndjson`, or a `.json` file whose first row is `{`).
    Jsonl,
    /// One JSON array of objects (a file whose first non-blank character is `[`).
    JsonArray,
    /// Plain text (`.txt`, `.md`, `.text`): paragraphs separated by blank lines are the rows; a file
    /// without blank lines is one document.
    PlainText,
    /// CSV (RFC 4180) with a header row naming the columns.
    Csv,
}

/// The shape of one row, and so how it is turned into tokens and a loss mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// `{"text": ...}`: trained on every token.
    Text,
    /// `{"prompt": ..., "completion": ...}`: the two strings are concatenated as they are (put
    /// any separator, e.g. a trailing space or newline, in the prompt); loss on the completion.
    PromptCompletion,
    /// `{"messages": [{"role": ..., "content": ...}, ...]}`: rendered with the model's chat
    /// template; loss on the assistant turns.
    Messages,
    /// Alpaca `{"instruction", "input" (optional), "output"}`: one user turn (instruction, then
    /// the input after a blank line) and one assistant turn, through the chat template when the
    /// model has one, else through the Alpaca prompt ([`super::encode::ALPACA_PROMPT`]).
    Alpaca,
    /// ShareGPT `{"conversations": [{"from": ..., "value": ...}, ...]}` with `from` one of
    /// human/user, gpt/assistant, system: read as chat messages and trained like them.
    ShareGpt,
    /// `{"text": ..., "label": ...}` (classification): trained by the label-as-text recipe, the
    /// text and the label set as the prompt and the label as the completion
    /// ([`super::label::label_prompt`]).
    Label,
}

/// The detected format of a dataset file: container and row shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetFormat {
    pub container: Container,
    pub shape: Shape,
}

impl Container {
    /// e.g. "JSONL".
    pub fn name(self) -> &'static str {
        match self {
            Container::Jsonl => "JSONL",
            Container::JsonArray => "JSON array",
            Container::PlainText => "plain text",
            Container::Csv => "CSV",
        }
    }
}

impl Shape {
    /// e.g. "prompt/completion".
    pub fn name(self) -> &'static str {
        match self {
            Shape::Text => "text",
            Shape::PromptCompletion => "prompt/completion",
            Shape::Messages => "chat messages",
            Shape::Alpaca => "alpaca instruction/input/output",
            Shape::ShareGpt => "ShareGPT conversations",
            Shape::Label => "text/label (classification)",
        }
    }

    /// The fields that identify the shape, as the error messages list them.
    pub fn fields(self) -> &'static str {
        match self {
            Shape::Text => "\"text\"",
            Shape::PromptCompletion => "\"prompt\" and \"completion\"",
            Shape::Messages => "\"messages\"",
            Shape::Alpaca => "\"instruction\" and \"output\"",
            Shape::ShareGpt => "\"conversations\"",
            Shape::Label => "\"text\" and \"label\"",
        }
    }
}

impl DatasetFormat {
    /// A human name, e.g. "JSONL, prompt/completion rows" or "plain text".
    pub fn name(self) -> String {
        match self.container {
            Container::PlainText => "plain text (paragraphs separated by blank lines)".to_string(),
            c => format!("{}, {} rows", c.name(), self.shape.name()),
        }
    }
}

impl std::fmt::Display for DatasetFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// The extensions a dataset file may have (lower case, without the dot). Other files are
/// refused, not guessed at: a `.parquet` or `.xlsx` read as text would train on its bytes.
pub const DATASET_EXTENSIONS: [&str; 7] = ["jsonl", "ndjson", "json", "csv", "txt", "md", "text"];

/// The extension of `file` (lower case), or an error naming the supported ones.
pub(crate) fn extension(file: &str) -> Result<String> {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let ext = base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext {
        Some(e) if DATASET_EXTENSIONS.contains(&e.as_str()) => Ok(e),
        _ => {
            let found =
                ext.map_or("the name has no extension".to_string(), |e| format!("\".{e}\" is not a dataset format"));
            let supported: Vec<String> = DATASET_EXTENSIONS.iter().map(|e| format!(".{e}")).collect();
            Err(Error::format(
                file,
                format!(
                    "{found}; supported: {} (convert other formats, e.g. Parquet or a spreadsheet, to JSONL or CSV)",
                    supported.join(" ")
                ),
            ))
        }
    }
}

/// The container a file is in, from its extension (see [`extension`]) and its first non-blank
/// character; `None` for an empty file.
pub(crate) fn detect_container(text: &str, ext: &str) -> Option<Container> {
    let first = text.trim_start().chars().next()?;
    Some(match (ext, first) {
        ("csv", _) => Container::Csv,
        ("txt" | "md" | "text", _) => Container::PlainText,
        (_, '[') => Container::JsonArray,
        _ => Container::Jsonl, // .jsonl, .ndjson, .json: rows will say what is wrong
    })
}
