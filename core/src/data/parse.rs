//! Reading a dataset file into rows: UTF-8 decoding, the container (JSONL, JSON array, plain
//! text, CSV), the row shape (detected from the first good row), and per-row validation. Every
//! bad row is either an error `file:line: what is wrong` or, with `skip_bad_rows`, a [`BadRow`]
//! in the report — never dropped silently.

use serde_json::{Map, Value};

use super::csv::parse_csv;
use super::format::{Container, DatasetFormat, Shape, detect_container, extension};
use super::summary::BadRow;
use crate::chat::Message;
use crate::error::{Error, Result};

/// One row's content, validated.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Content {
    Text(String),
    Pair { prompt: String, completion: String },
    Chat(Vec<Message>),
    Alpaca { instruction: String, input: String, output: String },
    /// A classification row: its text and its label (trimmed).
    Label { text: String, label: String },
}

/// A row and the 1-based line where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    pub line: usize,
    pub content: Content,
}

/// A parsed file.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub format: DatasetFormat,
    pub records: Vec<Record>,
    /// Rows skipped (only with `skip_bad_rows`).
    pub bad: Vec<BadRow>,
}

/// Collects bad rows: an error at once, or a [`BadRow`] when skipping.
pub(crate) struct BadRows<'a> {
    pub file: &'a str,
    pub skip: bool,
    pub rows: Vec<BadRow>,
}

impl BadRows<'_> {
    pub fn bad(&mut self, line: usize, reason: impl Into<String>) -> Result<()> {
        let reason = reason.into();
        if !self.skip {
            return Err(Error::format(format!("{}:{line}", self.file), reason));
        }
        self.rows.push(BadRow { file: self.file.to_string(), line, reason });
        Ok(())
    }
}

/// Parses `bytes` (named `file`) into validated rows. `require_assistant`: chat rows without an
/// assistant message are bad rows (they would train nothing). `require_labels` (`--task
/// classify`): every row must be a text/label row.
pub(crate) fn parse(
    bytes: &[u8],
    file: &str,
    skip_bad_rows: bool,
    require_assistant: bool,
    require_labels: bool,
) -> Result<Parsed> {
    let mut bad = BadRows { file, skip: skip_bad_rows, rows: Vec::new() };
    let mut rows = Rows::new(require_assistant, require_labels);
    let container = read_rows(bytes, file, &mut |line, raw| match raw {
        Ok(v) => rows.add(v, line, &mut bad),
        Err(reason) => bad.bad(line, reason),
    })?;
    let shape = rows.shape.unwrap_or(Shape::Text);
    if rows.records.is_empty() {
        return Err(Error::format(file, format!("no usable rows ({} bad rows skipped)", bad.rows.len())));
    }
    Ok(Parsed { format: DatasetFormat { container, shape }, records: rows.records, bad: bad.rows })
}

/// A row as its container holds it, before its shape is checked: a JSON value (CSV rows and
/// text paragraphs become objects), or what is wrong with it (invalid JSON, a CSV row with the
/// wrong number of fields).
pub(crate) type RawRow = std::result::Result<Value, String>;

/// Reads the container of `bytes` (named `file`), handing each row and the 1-based line where
/// it starts to `row`, and returns the container. Problems of the whole file (not UTF-8, empty,
/// invalid JSON array, CSV header without known columns) are errors.
pub(crate) fn read_rows(
    bytes: &[u8],
    file: &str,
    row: &mut dyn FnMut(usize, RawRow) -> Result<()>,
) -> Result<Container> {
    let ext = extension(file)?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        Error::format(format!("{file}:{line}"), "the file is not UTF-8 text")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let container = detect_container(text, &ext).ok_or_else(|| Error::format(file, "the file is empty"))?;
    match container {
        Container::Jsonl => {
            one_object_hint(text, file)?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                row(i + 1, serde_json::from_str::<Value>(line).map_err(|e| format!("invalid JSON: {e}")))?;
            }
        }
        Container::JsonArray => {
            let all: Value = serde_json::from_str(text)
                .map_err(|e| Error::format(format!("{file}:{}", e.line()), format!("invalid JSON: {e}")))?;
            let Value::Array(items) = all else {
                return Err(Error::format(file, "expected a JSON array of objects"));
            };
            let lines = element_lines(text);
            for (i, item) in items.into_iter().enumerate() {
                row(lines.get(i).copied().unwrap_or(1), Ok(item))?;
            }
        }
        Container::PlainText => {
            for (line, paragraph) in paragraphs(text) {
                row(line, Ok(Value::Object(Map::from_iter([("text".to_string(), Value::String(paragraph))]))))?;
            }
        }
        Container::Csv => {
            let mut records = parse_csv(text, file)?.into_iter();
            let Some((_, header)) = records.next() else { return Err(Error::format(file, "the file is empty")) };
            let header: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
            let has = |c: &str| header.iter().any(|h| h == c);
            if !(has("text") || (has("prompt") && has("completion")) || (has("instruction") && has("output"))) {
                return Err(Error::format(
                    format!("{file}:1"),
                    format!(
                        "the CSV header must name a \"text\" column (and a \"label\" column for classification), \
                         or \"prompt\" and \"completion\" columns (or \"instruction\" and \"output\"); found: {}",
                        header.join(", ")
                    ),
                ));
            }
            for (line, fields) in records {
                if fields.len() != header.len() {
                    row(line, Err(format!("{} fields, but the header has {}", fields.len(), header.len())))?;
                    continue;
                }
                let obj = header.iter().cloned().zip(fields.into_iter().map(Value::String)).collect();
                row(line, Ok(Value::Object(obj)))?;
            }
        }
    }
    Ok(container)
}

/// The sorted distinct labels of classification `records`.
pub(crate) fn labels_of(records: &[Record]) -> Vec<String> {
    super::label::label_set(records.iter().filter_map(|r| match &r.content {
        Content::Label { label, .. } => Some(label.as_str()),
        _ => None,
    }))
}

/// Rows read so far and the shape detected from the first good one.
pub(crate) struct Rows {
    pub shape: Option<Shape>,
    pub records: Vec<Record>,
    require_assistant: bool,
    require_labels: bool,
}

impl Rows {
    pub fn new(require_assistant: bool, require_labels: bool) -> Rows {
        Rows { shape: None, records: Vec::new(), require_assistant, require_labels }
    }

    /// Validates row `v` (starting on `line`): a [`Record`] when good, else a bad row.
    pub fn add(&mut self, v: Value, line: usize, bad: &mut BadRows) -> Result<()> {
        let Value::Object(obj) = v else {
            return bad.bad(line, format!("expected a JSON object, found {}", kind(&v)));
        };
        let Some(shape) = shape_of(&obj) else {
            let keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
            return bad.bad(
                line,
                format!(
                    "no known fields: a row needs \"text\", \"text\"/\"label\", \"prompt\"/\"completion\", \
                     \"messages\", \"conversations\" or \"instruction\"/\"output\"; found {{{}}}",
                    keys.join(", ")
                ),
            );
        };
        if self.require_labels && shape != Shape::Label {
            return bad.bad(
                line,
                format!(
                    "--task classify needs {} rows (classification), but this is a {} row",
                    Shape::Label.fields(),
                    shape.name()
                ),
            );
        }
        if let Some(first) = self.shape
            && first != shape
        {
            return bad.bad(
                line,
                format!(
                    "a {} row in a file of {} rows (mixed shapes; the shape was detected from the first row)",
                    shape.name(),
                    first.name()
                ),
            );
        }
        match content(&obj, shape, self.require_assistant) {
            Ok(content) => {
                self.shape = Some(shape);
                self.records.push(Record { line, content });
                Ok(())
            }
            Err(reason) => bad.bad(line, reason),
        }
    }
}

/// The shape a row's keys identify (the most specific first).
fn shape_of(obj: &Map<String, Value>) -> Option<Shape> {
    if obj.contains_key("messages") {
        Some(Shape::Messages)
    } else if obj.contains_key("conversations") {
        Some(Shape::ShareGpt)
    } else if obj.contains_key("instruction") || obj.contains_key("output") {
        Some(Shape::Alpaca)
    } else if obj.contains_key("prompt") || obj.contains_key("completion") {
        Some(Shape::PromptCompletion)
    } else if obj.contains_key("label") {
        Some(Shape::Label)
    } else if obj.contains_key("text") {
        Some(Shape::Text)
    } else {
        None
    }
}

/// The row's validated content, or what is wrong with it.
fn content(obj: &Map<String, Value>, shape: Shape, require_assistant: bool) -> std::result::Result<Content, String> {
    Ok(match shape {
        Shape::Text => Content::Text(string(obj, "text", true)?),
        Shape::Label => Content::Label { text: string(obj, "text", true)?, label: super::label::label_field(obj)? },
        Shape::PromptCompletion => {
            Content::Pair { prompt: string(obj, "prompt", false)?, completion: string(obj, "completion", true)? }
        }
        Shape::Alpaca => Content::Alpaca {
            instruction: string(obj, "instruction", true)?,
            input: match obj.get("input") {
                None | Some(Value::Null) => String::new(),
                Some(_) => string(obj, "input", false)?,
            },
            output: string(obj, "output", true)?,
        },
        Shape::Messages => Content::Chat(chat(obj, &MESSAGES, require_assistant)?),
        Shape::ShareGpt => Content::Chat(chat(obj, &SHAREGPT, require_assistant)?),
    })
}

/// How a conversation is spelled: the list's key, each turn's role and text keys, and the
/// roles it may name with the chat role each stands for.
struct ChatKeys {
    list: &'static str,
    role: &'static str,
    text: &'static str,
    roles: &'static [(&'static str, &'static str)],
}

/// `{"messages": [{"role", "content"}]}`.
const MESSAGES: ChatKeys = ChatKeys {
    list: "messages",
    role: "role",
    text: "content",
    roles: &[("system", "system"), ("user", "user"), ("assistant", "assistant")],
};

/// ShareGPT `{"conversations": [{"from", "value"}]}`.
const SHAREGPT: ChatKeys = ChatKeys {
    list: "conversations",
    role: "from",
    text: "value",
    roles: &[
        ("system", "system"),
        ("human", "user"),
        ("user", "user"),
        ("gpt", "assistant"),
        ("assistant", "assistant"),
    ],
};

/// A conversation's messages (roles mapped to system/user/assistant), or what is wrong.
fn chat(obj: &Map<String, Value>, keys: &ChatKeys, require_assistant: bool) -> std::result::Result<Vec<Message>, String> {
    let ChatKeys { list: key, role: role_key, text: text_key, roles } = keys;
    let Some(list) = obj.get(*key) else { return Err(format!("missing field \"{key}\"")) };
    let Value::Array(list) = list else {
        return Err(format!("\"{key}\" must be a list of {{\"{role_key}\", \"{text_key}\"}}, found {}", kind(list)));
    };
    if list.is_empty() {
        return Err(format!("\"{key}\" is empty"));
    }
    let mut messages = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let Value::Object(m) = m else {
            return Err(format!("message {}: expected an object, found {}", i + 1, kind(m)));
        };
        let name = string(m, role_key, true).map_err(|e| format!("message {}: {e}", i + 1))?;
        let Some(&(_, role)) = roles.iter().find(|(n, _)| *n == name) else {
            let known: Vec<String> = roles.iter().map(|(n, _)| format!("{n:?}")).collect();
            return Err(format!("message {}: unknown {role_key} {name:?} (expected {})", i + 1, known.join(", ")));
        };
        let content = string(m, text_key, role == "assistant").map_err(|e| format!("message {}: {e}", i + 1))?;
        messages.push(Message::new(role, content));
    }
    if require_assistant && !messages.iter().any(|m| m.role == "assistant") {
        return Err("no assistant message: nothing to learn from this conversation".into());
    }
    Ok(messages)
}

/// The string field `key`; `non_empty`: an empty (or all-blank) string is an error.
pub(super) fn string(obj: &Map<String, Value>, key: &str, non_empty: bool) -> std::result::Result<String, String> {
    match obj.get(key) {
        None => Err(format!("missing field \"{key}\"")),
        Some(Value::String(s)) if non_empty && s.trim().is_empty() => Err(format!("empty \"{key}\"")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => Err(format!("\"{key}\" must be a string, found {}", kind(v))),
    }
}

/// The JSON type of `v`, as error messages name it ("a number").
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A `.json`/`.jsonl` file holding one object pretty-printed over several lines is a common
/// mistake; say so rather than "invalid JSON" on line 1.
fn one_object_hint(text: &str, file: &str) -> Result<()> {
    if text.trim().lines().nth(1).is_some()
        && serde_json::from_str::<Value>(text.lines().next().unwrap_or("")).is_err()
        && matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)))
    {
        return Err(Error::format(
            file,
            "one JSON object spread over several lines; write one object per line (JSONL) or a JSON array of objects",
        ));
    }
    Ok(())
}

/// The 1-based line where each top-level element of a JSON array starts (the text is valid JSON).
fn element_lines(text: &str) -> Vec<usize> {
    let (mut depth, mut in_str, mut escaped, mut line, mut expect) = (0usize, false, false, 1usize, false);
    let mut lines = Vec::new();
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        if expect && !c.is_whitespace() && c != ']' {
            lines.push(line);
            expect = false;
        }
        match c {
            '"' => in_str = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expect = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expect = true,
            _ => {}
        }
    }
    lines
}

/// Paragraphs (runs of non-blank lines) and the line each starts on.
fn paragraphs(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut current, line.trim().is_empty()) {
            (Some(_), true) => out.extend(current.take().map(|(l, ls)| (l, ls.join("\n")))),
            (Some((_, ls)), false) => ls.push(line),
            (None, false) => current = Some((i + 1, vec![line])),
            (None, true) => {}
        }
    }
    out.extend(current.map(|(l, ls)| (l, ls.join("\n"))));
    out
}
