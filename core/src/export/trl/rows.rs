//! Prepared examples as JSON lines that `datasets.load_dataset("json", …)` reads and TRL's
//! `SFTTrainer` trains on as they are: `input_ids` (anytune's tokens, BOS and the chat template
//! included) and `completion_mask` (1 where anytune trains the token: completions, assistant
//! turns, or everything), so TRL's `completion_only_loss` builds exactly anytune's labels. A
//! readable copy rides along: `prompt` + `completion` when every row trains one final span (the
//! prompt/completion and classification shapes, and single-answer chats), else `text`; train.py
//! drops it before training.
//!
//! ```
//! use anytune_core::data::Example;
//! use anytune_core::export::trl::rows::{Readable, readable_of};
//! let ex = Example { ids: vec![1, 5, 6, 7], loss_mask: vec![false, false, true, true], label: None };
//! assert_eq!(readable_of(&[ex]), Readable::PromptCompletion);
//! ```

use crate::data::Example;
use crate::error::Result;
use crate::tokenizer::Tokenizer;
use serde_json::json;

/// Which readable fields the lines carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readable {
    /// `prompt` (the untrained start) and `completion` (the trained rest).
    PromptCompletion,
    /// `text`: the whole sequence (several trained spans, or all trained).
    Text,
}

/// Where the trained span of `ex` starts when it is one final span after an untrained start.
fn completion_start(ex: &Example) -> Option<usize> {
    let start = ex.loss_mask.iter().skip(1).position(|&m| m)? + 1;
    (start > 1 && ex.loss_mask[start..].iter().all(|&m| m)).then_some(start)
}

/// [`Readable::PromptCompletion`] when every example trains one final span, else [`Readable::Text`].
pub fn readable_of(examples: &[Example]) -> Readable {
    if examples.iter().all(|e| completion_start(e).is_some()) { Readable::PromptCompletion } else { Readable::Text }
}

/// One JSON line per example (each ending in `\n`).
pub fn jsonl(examples: &[Example], readable: Readable, tok: &Tokenizer) -> Result<String> {
    let mut out = String::new();
    for ex in examples {
        let mask: Vec<u8> = ex.loss_mask.iter().map(|&m| m as u8).collect();
        let mut line = json!({ "input_ids": ex.ids, "completion_mask": mask });
        match (readable, completion_start(ex)) {
            (Readable::PromptCompletion, Some(start)) => {
                line["prompt"] = tok.decode(&ex.ids[..start], false)?.into();
                line["completion"] = tok.decode(&ex.ids[start..], false)?.into();
            }
            _ => line["text"] = tok.decode(&ex.ids, false)?.into(),
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
}
