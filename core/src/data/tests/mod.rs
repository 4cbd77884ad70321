//! Data pipeline tests on small inline samples, with the tiny test tokenizer (BOS `<|im_start|>`
//! 318, EOS `<|im_end|>` 319, no BOS added) and, for the real chat template, SmolLM2's.

mod bad_rows;
mod chat;
mod formats;
mod labels;
mod shaping;

use std::sync::OnceLock;

use super::*;
use crate::chat::{ChatTemplate, Message};
use crate::formats::GgufFile;

const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tiny-llama/");

/// The tiny test tokenizer.
pub(crate) fn tiny() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let json = std::fs::read(format!("{TINY}tokenizer.json")).unwrap();
        let config = std::fs::read(format!("{TINY}tokenizer_config.json")).unwrap();
        Tokenizer::from_json(&json, Some(&config)).unwrap()
    })
}

/// A ChatML template like SmolLM2's, without the default system prompt.
pub(crate) fn chatml() -> ChatTemplate {
    ChatTemplate::new(
        "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}{% endfor %}\
         {% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    )
    .unwrap()
}

/// SmolLM2-135M-Instruct's tokenizer and chat template, or `None` (reason printed) when absent.
fn smollm() -> Option<&'static (Tokenizer, ChatTemplate)> {
    static S: OnceLock<Option<(Tokenizer, ChatTemplate)>> = OnceLock::new();
    S.get_or_init(|| {
        const MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
        let path =
            std::path::Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/anytune/models").join(MODEL);
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("SKIPPED: {} not found", path.display());
            return None;
        };
        let gguf = GgufFile::parse(&bytes, MODEL).unwrap();
        let tok = Tokenizer::from_gguf(&gguf.metadata, MODEL).unwrap();
        let t = ChatTemplate::from_source(tok.chat_template.as_ref().unwrap()).unwrap();
        Some((tok, t))
    })
    .as_ref()
}

/// Prepares `text` as file `name` with the tiny tokenizer and no chat template.
fn prep(name: &str, text: &str, cfg: &DataConfig) -> Result<Dataset> {
    prepare(DataFile { bytes: text.as_bytes(), name }, None, tiny(), None, cfg)
}

fn enc(text: &str) -> Vec<u32> {
    tiny().encode(text, false).unwrap()
}

/// The trained tokens of `ex` as runs of consecutive positions, decoded (special tokens kept).
fn trained_runs(tok: &Tokenizer, ex: &Example) -> Vec<String> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for (i, (&id, &m)) in ex.ids.iter().zip(&ex.loss_mask).enumerate() {
        if m && i > 0 {
            run.push(id);
        } else if !run.is_empty() {
            runs.push(tok.decode(&std::mem::take(&mut run), false).unwrap());
        }
    }
    if !run.is_empty() {
        runs.push(tok.decode(&run, false).unwrap());
    }
    runs
}
