//! The parts of a Hugging Face `tokenizer_config.json` generation needs: `bos_token`,
//! `eos_token`, `add_bos_token` and `chat_template` (a string, or a list of `{name, template}`
//! of which we take `"default"`).

use serde_json::Value;

use super::TemplateSource;
use crate::error::{Error, Result};

const FILE: &str = "tokenizer_config.json";

#[derive(Debug, Default)]
pub(super) struct TokenizerConfig {
    pub bos: Option<String>,
    pub eos: Option<String>,
    pub add_bos_token: Option<bool>,
    pub chat_template: Option<TemplateSource>,
}

impl TokenizerConfig {
    /// Parses the file's bytes; `None` (no file) gives an empty config.
    pub fn parse(bytes: Option<&[u8]>) -> Result<TokenizerConfig> {
        let Some(bytes) = bytes else { return Ok(TokenizerConfig::default()) };
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| Error::format(FILE, format!("not valid JSON: {e}")))?;
        if !v.is_object() {
            return Err(Error::format(FILE, "expected a JSON object at the top level"));
        }
        let add_bos_token = match v.get("add_bos_token") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                return Err(Error::format(FILE, format!("add_bos_token is {other}, expected true or false")));
            }
        };
        Ok(TokenizerConfig {
            bos: token_text(&v, "bos_token")?,
            eos: token_text(&v, "eos_token")?,
            add_bos_token,
            chat_template: chat_template(&v)?,
        })
    }
}

/// A special token given as a string or as an AddedToken object `{"content": ...}`.
fn token_text(v: &Value, key: &str) -> Result<Option<String>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Object(o)) => match o.get("content") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => Err(Error::format(FILE, format!("{key} is an object without a \"content\" string"))),
        },
        Some(other) => Err(Error::format(FILE, format!("{key} is {other}, expected a string"))),
    }
}

fn chat_template(v: &Value) -> Result<Option<TemplateSource>> {
    let source = match v.get("chat_template") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(list)) => {
            let named = list.iter().find(|t| t.get("name").and_then(Value::as_str) == Some("default"));
            match named.and_then(|t| t.get("template")).and_then(Value::as_str) {
                Some(s) => s.to_string(),
                None => {
                    return Err(Error::format(
                        FILE,
                        "chat_template is a list without an entry {\"name\": \"default\", \"template\": ...}",
                    ));
                }
            }
        }
        Some(other) => {
            return Err(Error::format(FILE, format!("chat_template is {other}, expected a string or a list")));
        }
    };
    Ok(Some(TemplateSource { source, origin: format!("{FILE}: chat_template") }))
}
