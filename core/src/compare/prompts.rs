//! The prompts file of `anytune compare`: one prompt per line (`.txt`), or JSONL rows with
//! `prompt` (a raw prompt, continued as is) or `messages` (a chat; the last user turn is
//! answered), each with an optional `expected` answer (`completion` is read as `expected` too,
//! so a prompt/completion dataset works as it is). Errors name the file and the line.
//!
//! ```
//! use anytune_core::compare::prompts::{read_prompts, PromptInput};
//! let p = read_prompts(b"Name a colour.\n\nName a fruit.\n", "q.txt", false).unwrap();
//! assert_eq!(p.len(), 2);
//! assert_eq!(p[1].line, 3);
//! assert!(matches!(&p[1].input, PromptInput::Chat(m) if m[0].content == "Name a fruit."));
//! ```

use crate::chat::Message;
use crate::error::{Error, Result};
use crate::model::Model;
use serde_json::Value;

/// Prompts one file may hold (each is answered once per system).
pub const MAX_PROMPTS: usize = 10_000;

/// What the model continues: a raw text, or a conversation rendered with its chat template.
#[derive(Clone, Debug, PartialEq)]
pub enum PromptInput {
    Raw(String),
    /// Ends with the user turn to answer.
    Chat(Vec<Message>),
}

/// One prompt of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    /// 1-based line in the prompts file.
    pub line: usize,
    pub input: PromptInput,
    /// A reference answer, shown to the rater after they rate.
    pub expected: Option<String>,
}

impl Prompt {
    /// The prompt as the rater reads it: the raw text, or one `role: content` block per message.
    pub fn display(&self) -> String {
        match &self.input {
            PromptInput::Raw(text) => text.clone(),
            PromptInput::Chat(messages) if messages.len() == 1 => messages[0].content.clone(),
            PromptInput::Chat(messages) => {
                messages.iter().map(|m| format!("{}: {}", m.role, m.content)).collect::<Vec<_>>().join("\n\n")
            }
        }
    }

    /// The token ids to generate after (a chat rendered with `model`'s template and its
    /// generation prompt); errors name `file` and the line.
    pub fn ids(&self, model: &Model, file: &str) -> Result<Vec<u32>> {
        let ids = match &self.input {
            PromptInput::Raw(text) => model.tokenizer.encode(text, true),
            PromptInput::Chat(messages) => match model.chat_template {
                None => Err(Error::invalid(
                    "prompts",
                    format!("{} has no chat template: give --raw to continue the prompts as they are", model.name),
                )),
                Some(_) => model.render_chat(messages, true).and_then(|t| model.tokenizer.encode_rendered(&t)),
            },
        };
        ids.map_err(|e| self.error(file, e))
    }

    /// `e` as an error of this prompt's line of `file`.
    pub fn error(&self, file: &str, e: impl std::fmt::Display) -> Error {
        Error::format(file, format!("line {}: {e}", self.line))
    }
}

/// Reads a prompts file named `file` (its extension picks the format: `.txt` or `.jsonl`).
/// `.txt` lines are user messages for the chat template, or raw prompts with `raw`; blank lines
/// are skipped. `raw` is refused for `.jsonl`, whose rows say it themselves.
pub fn read_prompts(bytes: &[u8], file: &str, raw: bool) -> Result<Vec<Prompt>> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::format(file, format!("is not UTF-8 text ({e})")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lower = file.to_ascii_lowercase();
    let jsonl = if lower.ends_with(".jsonl") {
        if raw {
            return Err(Error::invalid("--raw", format!("applies to .txt prompts; the rows of {file} say it themselves (`prompt`: raw, `messages`: chat)")));
        }
        true
    } else if lower.ends_with(".txt") {
        false
    } else {
        return Err(Error::format(file, "is neither .txt (one prompt per line) nor .jsonl (rows with `prompt` or `messages`)"));
    };
    let mut prompts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if prompts.len() == MAX_PROMPTS {
            return Err(Error::format(file, format!("line {}: more than {MAX_PROMPTS} prompts; split the file", i + 1)));
        }
        let prompt = if jsonl {
            json_row(line, i + 1).map_err(|what| Error::format(file, format!("line {}: {what}", i + 1)))?
        } else {
            let input = if raw { PromptInput::Raw(line.to_string()) } else { PromptInput::Chat(vec![Message::user(line)]) };
            Prompt { line: i + 1, input, expected: None }
        };
        prompts.push(prompt);
    }
    if prompts.is_empty() {
        return Err(Error::format(file, "holds no prompts (every line is blank)"));
    }
    Ok(prompts)
}

/// One JSONL row; the error says what is wrong with it.
fn json_row(line: &str, number: usize) -> std::result::Result<Prompt, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Object(row) = value else { return Err("not a JSON object".into()) };
    if let Some(key) = row.keys().find(|k| !["prompt", "messages", "expected", "completion"].contains(&k.as_str())) {
        return Err(format!("unknown key `{key}` (a row has `prompt` or `messages`, and optionally `expected`)"));
    }
    let text = |key: &str| -> std::result::Result<Option<String>, String> {
        match row.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` is not a string")),
        }
    };
    let mut expected = match (text("expected")?, text("completion")?) {
        (Some(_), Some(_)) => return Err("has both `expected` and `completion`; keep one".into()),
        (e, c) => e.or(c),
    };
    let input = match (text("prompt")?, row.get("messages")) {
        (Some(_), Some(_)) => return Err("has both `prompt` and `messages`; keep one".into()),
        (None, None) => return Err("has neither `prompt` (raw) nor `messages` (chat)".into()),
        (Some(p), None) if p.trim().is_empty() => return Err("`prompt` is empty".into()),
        (Some(p), None) => PromptInput::Raw(p),
        (None, Some(messages)) => {
            let (turns, reply) = chat_turns(messages)?;
            expected = expected.or(reply);
            PromptInput::Chat(turns)
        }
    };
    Ok(Prompt { line: number, input, expected })
}

/// The messages up to the last user turn, and the assistant reply after it (if any), which is
/// the expected answer when the row gives none.
fn chat_turns(messages: &Value) -> std::result::Result<(Vec<Message>, Option<String>), String> {
    let Value::Array(items) = messages else { return Err("`messages` is not a list".into()) };
    let mut turns = Vec::new();
    for (i, m) in items.iter().enumerate() {
        let field = |key: &str| m.get(key).and_then(Value::as_str).ok_or_else(|| format!("messages[{i}] has no string `{key}`"));
        let role = field("role")?;
        if !["system", "user", "assistant"].contains(&role) {
            return Err(format!("messages[{i}]: role `{role}` is not system, user or assistant"));
        }
        turns.push(Message::new(role, field("content")?));
    }
    let last_user = turns.iter().rposition(|m| m.role == "user").ok_or("`messages` has no user turn to answer")?;
    if turns[last_user].content.trim().is_empty() {
        return Err(format!("messages[{last_user}], the user turn to answer, is empty"));
    }
    let reply = turns.get(last_user + 1).filter(|m| m.role == "assistant").map(|m| m.content.clone());
    turns.truncate(last_user + 1);
    Ok((turns, reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(bytes: &str, file: &str, raw: bool) -> String {
        read_prompts(bytes.as_bytes(), file, raw).unwrap_err().to_string()
    }

    #[test]
    fn jsonl_rows_raw_chat_and_expected() {
        let rows = concat!(
            r#"{"prompt": "Q: 2+2?\nA:", "completion": " 4"}"#,
            "\n\n",
            r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], "expected": null}"#,
        );
        let p = read_prompts(rows.as_bytes(), "p.jsonl", false).unwrap();
        assert_eq!(p[0], Prompt { line: 1, input: PromptInput::Raw("Q: 2+2?\nA:".into()), expected: Some(" 4".into()) });
        assert_eq!(p[1].line, 3);
        assert_eq!(p[1].input, PromptInput::Chat(vec![Message::system("Be brief."), Message::user("Hi")]));
        assert_eq!(p[1].expected.as_deref(), Some("Hello!"));
        assert_eq!(p[1].display(), "system: Be brief.\n\nuser: Hi");
    }

    #[test]
    fn bad_files_and_rows_are_refused_naming_the_file_and_line() {
        for (bytes, file, raw, expect) in [
            ("a\n", "p.csv", false, "p.csv: is neither .txt"),
            ("\n \n", "p.txt", false, "p.txt: holds no prompts"),
            ("{\"prompt\": \"a\"}\n", "p.jsonl", true, "invalid --raw: applies to .txt prompts"),
            ("{\"prompt\": \"a\"}\n[1]\n", "p.jsonl", false, "p.jsonl: line 2: not a JSON object"),
            ("{\"prompt\": \"a\"\n", "p.jsonl", false, "p.jsonl: line 1: not JSON"),
            ("{\"prompt\": \"a\", \"id\": 3}\n", "p.jsonl", false, "p.jsonl: line 1: unknown key `id`"),
            ("{\"prompt\": 3}\n", "p.jsonl", false, "p.jsonl: line 1: `prompt` is not a string"),
            ("{\"prompt\": \"  \"}\n", "p.jsonl", false, "p.jsonl: line 1: `prompt` is empty"),
            ("{\"expected\": \"a\"}\n", "p.jsonl", false, "p.jsonl: line 1: has neither `prompt`"),
            ("{\"prompt\": \"a\", \"messages\": []}\n", "p.jsonl", false, "line 1: has both `prompt` and `messages`"),
            ("{\"prompt\": \"a\", \"expected\": \"b\", \"completion\": \"c\"}\n", "p.jsonl", false, "has both `expected` and `completion`"),
            ("{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}\n", "p.jsonl", false, "line 1: `messages` has no user turn"),
            ("{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}\n", "p.jsonl", false, "messages[0]: role `bot`"),
            ("{\"messages\": [{\"role\": \"user\"}]}\n", "p.jsonl", false, "messages[0] has no string `content`"),
        ] {
            let msg = err(bytes, file, raw);
            assert!(msg.contains(expect), "{bytes:?}: {msg}");
        }
        assert!(read_prompts(&[0xff, b'\n'], "p.txt", false).unwrap_err().to_string().starts_with("p.txt: is not UTF-8"));
        let many = "a\n".repeat(MAX_PROMPTS + 1);
        assert!(err(&many, "p.txt", true).contains(&format!("line {}: more than {MAX_PROMPTS} prompts", MAX_PROMPTS + 1)));
    }
}
