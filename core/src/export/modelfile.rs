//! An Ollama `Modelfile` for the exported GGUF: `FROM ./model.gguf`, a `TEMPLATE` in Ollama's
//! Go-template syntax for the chat formats of the families anytune runs, and one
//! `PARAMETER stop` per stop token.
//!
//! Converted: ChatML (`<|im_start|>role\n…<|im_end|>`, SmolLM2 and Qwen), with the default
//! system message the Jinja template inserts when there is none (found by rendering it), and
//! Gemma's turns (`<start_of_turn>user\n…<end_of_turn>`, the system message joined to the first
//! user turn, as Gemma's template does). Any other template is not converted: the Modelfile says
//! so in a comment, and Ollama falls back to the template it derives from the GGUF's metadata.
//! Tools, images and per-message options of the Jinja templates are not converted.

use crate::chat::{ChatTemplate, Message};
use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// The chat formats converted to Ollama templates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatFormat {
    /// ChatML, with the system message the template adds when the conversation has none.
    ChatMl { default_system: Option<String> },
    /// Gemma's `<start_of_turn>` turns.
    Gemma,
}

/// Which chat format `template` writes, found by rendering one user message with it; `None`
/// when it is neither ChatML nor Gemma's.
pub fn chat_format(template: &ChatTemplate, tok: &Tokenizer) -> Result<Option<ChatFormat>> {
    let text = |t: &Option<crate::tokenizer::SpecialToken>| t.as_ref().map_or(String::new(), |t| t.text.clone());
    let rendered = template.render(&[Message::user("MARK")], true, &text(&tok.bos), &text(&tok.eos))?;
    if rendered.ends_with("<|im_start|>user\nMARK<|im_end|>\n<|im_start|>assistant\n") {
        let default_system = rendered
            .strip_prefix("<|im_start|>system\n")
            .and_then(|rest| rest.split_once("<|im_end|>\n"))
            .map(|(system, _)| system.to_string());
        return Ok(Some(ChatFormat::ChatMl { default_system }));
    }
    let unprefixed = rendered.strip_prefix(&text(&tok.bos)).unwrap_or(&rendered);
    if unprefixed == "<start_of_turn>user\nMARK<end_of_turn>\n<start_of_turn>model\n" {
        return Ok(Some(ChatFormat::Gemma));
    }
    Ok(None)
}

/// The Ollama template of `format` (Go `text/template`, Ollama's `.Messages`).
pub fn ollama_template(format: &ChatFormat) -> String {
    match format {
        ChatFormat::ChatMl { default_system } => {
            let system = match default_system {
                Some(s) => format!(
                    "{{{{- if not (eq (index .Messages 0).Role \"system\") }}}}<|im_start|>system\n{s}<|im_end|>\n{{{{ end }}}}\n"
                ),
                None => String::new(),
            };
            format!(
                "{system}{{{{- range .Messages }}}}<|im_start|>{{{{ .Role }}}}\n{{{{ .Content }}}}<|im_end|>\n{{{{ end }}}}<|im_start|>assistant\n"
            )
        }
        ChatFormat::Gemma => concat!(
            "{{- $system := \"\" }}\n",
            "{{- range .Messages }}\n",
            "{{- if eq .Role \"system\" }}{{ $system = .Content }}\n",
            "{{- else if eq .Role \"user\" }}<start_of_turn>user\n",
            "{{ if $system }}{{ $system }}\n\n{{ $system = \"\" }}{{ end }}{{ .Content }}<end_of_turn>\n",
            "{{- else }}<start_of_turn>model\n{{ .Content }}<end_of_turn>\n",
            "{{- end }}\n",
            "{{ end }}<start_of_turn>model\n",
        )
        .to_string(),
    }
}

/// The Modelfile for `gguf_name` with the tokenizer's chat template and stop tokens.
pub fn modelfile(gguf_name: &str, tok: &Tokenizer) -> Result<String> {
    let mut out = format!("FROM ./{gguf_name}\n");
    let format = match &tok.chat_template {
        Some(source) => chat_format(&ChatTemplate::from_source(source)?, tok)?,
        None => None,
    };
    match &format {
        Some(f) => out += &format!("TEMPLATE \"\"\"{}\"\"\"\n", ollama_template(f)),
        None => out += "# The chat template is not ChatML or Gemma's and was not converted: Ollama uses the GGUF's.\n",
    }
    for id in &tok.stop_ids {
        let text = tok.id_to_token(*id)?;
        out += &format!("PARAMETER stop \"{}\"\n", text.replace('\\', "\\\\").replace('"', "\\\""));
    }
    Ok(out)
}
