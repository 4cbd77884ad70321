//! A dataset file's rows as the training parser reads them, kept raw (the JSON value) so that
//! clean, split and convert can write them back, with the lines that held invalid UTF-8.

use serde_json::Value;

use crate::data::DataFile;
use crate::data::format::Container;
use crate::data::parse::{Content, RawRow, read_rows};
use crate::error::Result;

/// One row: where it starts, its JSON value or what is wrong with it, and whether its lines
/// held bytes that are not UTF-8 (replaced by U+FFFD in the value).
pub(crate) struct Row {
    pub line: usize,
    pub raw: RawRow,
    pub invalid_utf8: bool,
}

/// The rows of `file`. Invalid UTF-8 does not stop the reading (as it does for training): the
/// rows holding it are marked, for inspect to list and clean to drop.
pub(crate) fn read(file: DataFile) -> Result<(Container, Vec<Row>)> {
    let bad_lines = invalid_utf8_lines(file.bytes);
    let text = String::from_utf8_lossy(file.bytes);
    let mut rows = Vec::new();
    let container = read_rows(text.as_bytes(), file.name, &mut |line, raw| {
        rows.push(Row { line, raw, invalid_utf8: false });
        Ok(())
    })?;
    for i in 0..rows.len() {
        let end = rows.get(i + 1).map_or(usize::MAX, |r| r.line);
        let start = rows[i].line;
        rows[i].invalid_utf8 = bad_lines.iter().any(|&l| l >= start && l < end);
    }
    Ok((container, rows))
}

/// The 1-based lines that hold bytes that are not UTF-8.
pub(crate) fn invalid_utf8_lines(bytes: &[u8]) -> Vec<usize> {
    let mut line = 1;
    let mut out = Vec::new();
    for chunk in bytes.utf8_chunks() {
        line += chunk.valid().matches('\n').count();
        if !chunk.invalid().is_empty() && out.last() != Some(&line) {
            out.push(line);
        }
    }
    out
}

/// All the text of a row, its parts joined by newlines (what lengths and near duplicates see).
pub(crate) fn content_text(c: &Content) -> String {
    match c {
        Content::Text(t) => t.clone(),
        Content::Pair { prompt, completion } => format!("{prompt}\n{completion}"),
        Content::Chat(messages) => messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n"),
        Content::Alpaca { instruction, input, output } => format!("{instruction}\n{input}\n{output}"),
        Content::Label { text, label } => format!("{text}\n{label}"),
    }
}

/// A key equal for two rows exactly when their contents (roles included) are equal.
pub(crate) fn content_key(c: &Content) -> String {
    format!("{c:?}")
}

/// The row's `label` field as text (a string as is, other values as JSON), if it has one.
pub(crate) fn label(v: &Value) -> Option<String> {
    match v.get("label")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}
