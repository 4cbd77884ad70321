//! `convert`: rows of any shape the training pipeline reads (text, prompt/completion, alpaca,
//! ShareGPT, messages; JSONL, JSON array, CSV or plain text) into chat rows
//! `{"messages": [{"role", "content"}, ...]}`, optionally with a system prompt.
//!
//! - prompt/completion → user: prompt, assistant: completion (each trimmed: the chat template
//!   writes its own separators);
//! - alpaca → user: instruction (and the input after a blank line), assistant: output;
//! - text → one assistant message (trained on all of it, as a text row is);
//! - ShareGPT → the same turns (human → user, gpt → assistant);
//! - CSV: `--prompt-column` and `--completion-column`, or `--text-column`, name the columns
//!   (default: the header's `prompt`/`completion`/`text`/`instruction`/`output`); a label
//!   column is kept as the row's `label` and, with a text column and no completion column,
//!   is also the assistant's answer (text → label classification).
//!
//! A row's `label` field is carried over. Bad rows are skipped and each is listed in the report.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::rows::{label, read};
use crate::chat::Message;
use crate::data::csv::parse_csv;
use crate::data::parse::{BadRows, Content, Rows};
use crate::data::{BadRow, DataFile};
use crate::error::{Error, Result};

/// Which CSV columns hold what, and the system prompt to add.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConvertOptions {
    pub prompt_column: Option<String>,
    pub completion_column: Option<String>,
    pub text_column: Option<String>,
    pub label_column: Option<String>,
    /// A system message put first in every conversation that has none.
    pub system: Option<String>,
}

/// What `convert` did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvertReport {
    pub file: String,
    /// The detected input format, e.g. "CSV, prompt/completion rows".
    pub from: String,
    /// Rows written.
    pub rows: usize,
    /// Conversations that got the system prompt.
    pub system_added: usize,
    /// Every row skipped, with its line and reason.
    pub bad_rows: Vec<BadRow>,
}

/// The chat rows (JSONL) and the report.
#[derive(Debug)]
pub struct Converted {
    pub jsonl: Vec<u8>,
    pub report: ConvertReport,
}

/// Converts `file` into chat rows (see the module doc).
pub fn convert(file: DataFile, opts: &ConvertOptions) -> Result<Converted> {
    let columns = opts.prompt_column.is_some()
        || opts.completion_column.is_some()
        || opts.text_column.is_some()
        || opts.label_column.is_some();
    let mut parser = Rows::new(false, false);
    let mut bad = BadRows { file: file.name, skip: true, rows: Vec::new() };
    let mut labels = Vec::new();
    let mut add = |line: usize, raw: std::result::Result<Value, String>, bad: &mut BadRows| match raw {
        Ok(v) => {
            let n = parser.records.len();
            parser.add(v.clone(), line, bad)?;
            if parser.records.len() > n {
                labels.push(label(&v));
            }
            Ok(())
        }
        Err(reason) => bad.bad(line, reason),
    };
    let from = if columns {
        for (line, raw) in csv_rows(file, opts)? {
            add(line, raw, &mut bad)?;
        }
        "CSV (columns chosen)".to_string()
    } else {
        let (container, rows) = read(file)?;
        for row in rows {
            let raw = if row.invalid_utf8 { Err("bytes that are not UTF-8 text".into()) } else { row.raw };
            add(row.line, raw, &mut bad)?;
        }
        let shape = parser.shape.unwrap_or(crate::data::Shape::Text);
        crate::data::DatasetFormat { container, shape }.name()
    };
    if parser.records.is_empty() {
        return Err(Error::format(file.name, format!("no rows to convert ({} bad rows)", bad.rows.len())));
    }
    let mut jsonl = Vec::new();
    let mut system_added = 0;
    let label_set = crate::data::parse::labels_of(&parser.records);
    for (record, label) in parser.records.iter().zip(labels) {
        let mut messages = chat_messages(&record.content, &label_set);
        if let Some(system) = &opts.system
            && !messages.iter().any(|m| m.role == "system")
        {
            messages.insert(0, Message::system(system.clone()));
            system_added += 1;
        }
        let mut row = Map::new();
        row.insert("messages".into(), json!(messages));
        if let Some(l) = label {
            row.insert("label".into(), Value::String(l));
        }
        jsonl.extend(serde_json::to_vec(&row).map_err(|e| Error::format(file.name, e.to_string()))?);
        jsonl.push(b'\n');
    }
    let report =
        ConvertReport { file: file.name.to_string(), from, rows: parser.records.len(), system_added, bad_rows: bad.rows };
    Ok(Converted { jsonl, report })
}

/// A row's content as chat messages (see the module doc); a text/label row as the question
/// classification training asks (the text and the file's `label_set`) and the label as the answer.
fn chat_messages(c: &Content, label_set: &[String]) -> Vec<Message> {
    match c {
        Content::Label { text, label } => {
            vec![Message::user(crate::data::label::label_question(text.trim(), label_set)), Message::assistant(label)]
        }
        Content::Text(t) => vec![Message::assistant(t.trim())],
        Content::Pair { prompt, completion } => vec![Message::user(prompt.trim()), Message::assistant(completion.trim())],
        Content::Alpaca { instruction, input, output } => {
            let user = if input.trim().is_empty() {
                instruction.trim().to_string()
            } else {
                format!("{}\n\n{}", instruction.trim(), input.trim())
            };
            vec![Message::user(user), Message::assistant(output.trim())]
        }
        Content::Chat(messages) => messages.clone(),
    }
}

/// The rows of a CSV file with the columns named in `opts`, as objects with the keys the
/// parser knows (`prompt`, `completion`, `text`, `label`).
fn csv_rows(file: DataFile, opts: &ConvertOptions) -> Result<Vec<(usize, std::result::Result<Value, String>)>> {
    if crate::data::format::extension(file.name)? != "csv" {
        return Err(Error::invalid(
            "prompt_column",
            format!("{}: the column options are for CSV files; other files are converted by their fields", file.name),
        ));
    }
    let pair = opts.prompt_column.is_some() || opts.completion_column.is_some();
    if opts.prompt_column.is_some() != opts.completion_column.is_some() {
        return Err(Error::invalid("prompt_column", "give --prompt-column and --completion-column together"));
    }
    if pair == opts.text_column.is_some() {
        return Err(Error::invalid(
            "text_column",
            "give either --prompt-column and --completion-column, or --text-column (with --label-column)",
        ));
    }
    let text = std::str::from_utf8(file.bytes).map_err(|e| {
        let line = file.bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        Error::format(format!("{}:{line}", file.name), "the file is not UTF-8 text")
    })?;
    let mut records = parse_csv(text.strip_prefix('\u{feff}').unwrap_or(text), file.name)?.into_iter();
    let Some((_, header)) = records.next() else { return Err(Error::format(file.name, "the file is empty")) };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let column = |option: &str, name: &Option<String>| -> Result<Option<usize>> {
        let Some(name) = name else { return Ok(None) };
        match header.iter().position(|h| h.eq_ignore_ascii_case(name.trim())) {
            Some(i) => Ok(Some(i)),
            None => Err(Error::invalid(
                option,
                format!("{}:1: no column {name:?}; the header has: {}", file.name, header.join(", ")),
            )),
        }
    };
    let prompt = column("prompt_column", &opts.prompt_column)?;
    let completion = column("completion_column", &opts.completion_column)?;
    let text_col = column("text_column", &opts.text_column)?;
    let label_col = column("label_column", &opts.label_column)?;
    // (key in the row, column); a text column with a label column is a prompt answered by the label.
    let mut keys: Vec<(&str, usize)> = Vec::new();
    match (prompt, completion, text_col, label_col) {
        (Some(p), Some(c), _, _) => keys.extend([("prompt", p), ("completion", c)]),
        (_, _, Some(t), Some(l)) => keys.extend([("prompt", t), ("completion", l)]),
        (_, _, Some(t), None) => keys.push(("text", t)),
        _ => {}
    }
    if let Some(l) = label_col {
        keys.push(("label", l));
    }
    Ok(records
        .map(|(line, fields)| {
            if fields.len() != header.len() {
                return (line, Err(format!("{} fields, but the header has {}", fields.len(), header.len())));
            }
            let obj: Map<String, Value> =
                keys.iter().map(|&(k, i)| (k.to_string(), Value::String(fields[i].clone()))).collect();
            (line, Ok(Value::Object(obj)))
        })
        .collect())
}

impl std::fmt::Display for ConvertReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} ({}): {} chat rows written, {} bad rows skipped", self.file, self.from, self.rows, self.bad_rows.len())?;
        if self.system_added > 0 {
            writeln!(f, "  system prompt added to {} conversations", self.system_added)?;
        }
        for b in &self.bad_rows {
            writeln!(f, "    skipped {b}")?;
        }
        Ok(())
    }
}
