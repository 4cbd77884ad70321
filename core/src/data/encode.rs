//! Rows → token ids and loss masks ([`Example`]).
//!
//! Text is tokenized in segments, each marked trained or not, and the ids concatenated:
//! - text rows: all tokens trained, EOS appended (trained: the model learns where text ends);
//! - prompt/completion: `prompt` untrained, `completion` trained, EOS appended (trained) unless
//!   the completion already ends with a stop token;
//! - chat: the conversation rendered with the chat template; assistant spans found by rendering
//!   prefixes: for assistant message i, `render(messages[..i], add_generation_prompt=true)` and
//!   `render(messages[..=i], false)` must both be prefixes of the full rendering; the text
//!   between them is the assistant's turn. It is trained up to and including its last stop token
//!   (`<|im_end|>`, `<|eot_id|>`, EOS...); what follows (ChatML's "\n") is not. A turn without a
//!   stop token gets EOS appended (trained). When the prefixes do not line up (templates that
//!   render earlier turns differently, e.g. dropping past reasoning), the row is trained on all
//!   its tokens and counted in the summary's `mask_fallback_rows`.
//! - alpaca: one user + one assistant message through the chat template when there is one,
//!   else [`alpaca_prompt`] as the prompt and `output` as the completion.
//! - label (classification): like alpaca, with [`super::label::label_question`] as the user
//!   turn and the label as the assistant turn, else [`super::label::label_prompt`] and
//!   `" {label}"` as prompt and completion.
//!
//! Long rows are bounded before tokenizing (see [`super::cut`]): truncated rows keep at most
//! `budget` bytes of text, and text is tokenized in pieces of at most 64 KiB.
//!
//! Tokenizing segment by segment means the prompt is tokenized exactly as at inference time
//! (where it is encoded alone and the completion is generated after it). BOS is put first when
//! the tokenizer adds one (`add_bos`) and the text does not already start with it (a template
//! that writes `{{ bos_token }}` itself is not doubled).

use super::Example;
use super::cut::{PIECE_BYTES, cut_to_budget, pieces};
use super::parse::Content;
use crate::chat::Message;
use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// Renders a conversation with a chat template: `(messages, add_generation_prompt) → text`, e.g.
/// `&|m, g| model.render_chat(m, g)` or [`template_renderer`].
pub type RenderChat<'a> = &'a dyn Fn(&[Message], bool) -> Result<String>;

/// The Alpaca prompt (Taori et al. 2023) for models without a chat template; `input` may be empty.
pub fn alpaca_prompt(instruction: &str, input: &str) -> String {
    if input.trim().is_empty() {
        format!(
            "Below is an instruction that describes a task. Write a response that appropriately completes the \
             request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
        )
    } else {
        format!(
            "Below is an instruction that describes a task, paired with an input that provides further context. \
             Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n\
             ### Input:\n{input}\n\n### Response:\n"
        )
    }
}

/// A renderer over a compiled [`crate::chat::ChatTemplate`] with the tokenizer's BOS/EOS texts.
pub fn template_renderer<'a>(
    template: &'a crate::chat::ChatTemplate,
    tok: &'a Tokenizer,
) -> impl Fn(&[Message], bool) -> Result<String> + 'a {
    move |messages, generation_prompt| {
        let bos = tok.bos.as_ref().map_or("", |t| t.text.as_str());
        let eos = tok.eos.as_ref().map_or("", |t| t.text.as_str());
        template.render(messages, generation_prompt, bos, eos)
    }
}

/// Turns validated rows into examples.
pub(crate) struct Encoder<'a> {
    pub tok: &'a Tokenizer,
    pub render: Option<RenderChat<'a>>,
    pub train_on_everything: bool,
    /// Bytes of text a truncated (not text) row keeps ([`super::cut::text_budget`]).
    pub budget: usize,
    /// The label set that classification prompts list (empty until a label file sets it).
    pub labels: Vec<String>,
}

/// One row's example and what encoding it changed.
pub(crate) struct Encoded {
    pub example: Example,
    /// The chat mask fell back to all tokens.
    pub mask_fallback: bool,
    /// Bytes of text cut before tokenizing (past [`Encoder::budget`]).
    pub cut_bytes: usize,
}

/// How a segment of text is trained.
#[derive(Clone, Copy, PartialEq)]
enum Seg {
    Prompt,
    /// Trained; EOS appended unless it already ends with a stop token.
    Completion,
    /// An assistant turn: trained up to its last stop token (EOS appended if none).
    Turn,
}

impl Encoder<'_> {
    /// The example for one row; `Err` is the reason the row is bad (e.g. the chat template
    /// rejected it).
    pub fn encode(&self, content: &Content) -> std::result::Result<Encoded, String> {
        let mut fallback = false;
        let mut cut_bytes = 0;
        let mut segs: Vec<(String, Seg)> = match content {
            Content::Text(t) => vec![(t.clone(), Seg::Completion)],
            Content::Pair { prompt, completion } => {
                vec![(prompt.clone(), Seg::Prompt), (completion.clone(), Seg::Completion)]
            }
            Content::Alpaca { instruction, input, output } if self.render.is_none() => {
                vec![(alpaca_prompt(instruction, input), Seg::Prompt), (output.clone(), Seg::Completion)]
            }
            Content::Alpaca { instruction, input, output } => {
                let user =
                    if input.trim().is_empty() { instruction.clone() } else { format!("{instruction}\n\n{input}") };
                let (segs, fb) = self.chat_segments(&[Message::user(user), Message::assistant(output.clone())])?;
                fallback = fb;
                segs
            }
            Content::Label { text, label } if self.render.is_none() => {
                vec![(super::label::label_prompt(text), Seg::Prompt), (format!(" {label}"), Seg::Completion)]
            }
            Content::Label { text, label } => {
                let question = super::label::label_question(text, &self.labels);
                let (segs, fb) = self.chat_segments(&[Message::user(question), Message::assistant(label.clone())])?;
                fallback = fb;
                segs
            }
            Content::Chat(messages) => {
                let mut messages = messages.clone();
                cut_bytes += cut_to_budget(messages.iter_mut().map(|m| &mut m.content), self.budget);
                let (segs, fb) = self.chat_segments(&messages)?;
                fallback = fb;
                segs
            }
        };
        if !matches!(content, Content::Text(_)) {
            cut_bytes += cut_to_budget(segs.iter_mut().map(|(t, _)| t), self.budget);
        }
        let mut ex = Example { ids: Vec::new(), loss_mask: Vec::new(), label: None };
        for (text, seg) in &segs {
            if text.is_empty() {
                continue;
            }
            let ids = self.encode_text(text)?;
            if ids.is_empty() {
                continue;
            }
            let last_stop = ids.iter().rposition(|&id| self.tok.is_stop(id));
            let (trained, needs_eos) = match seg {
                Seg::Prompt => (0, false),
                Seg::Completion => (ids.len(), last_stop != Some(ids.len() - 1)),
                Seg::Turn => last_stop.map_or((ids.len(), true), |p| (p + 1, false)),
            };
            ex.loss_mask.extend((0..ids.len()).map(|i| i < trained));
            ex.ids.extend_from_slice(&ids);
            if needs_eos && let Some(eos) = &self.tok.eos {
                ex.ids.push(eos.id);
                ex.loss_mask.push(true);
            }
        }
        if self.tok.add_bos
            && let Some(bos) = &self.tok.bos
            && ex.ids.first() != Some(&bos.id)
        {
            ex.ids.insert(0, bos.id);
            ex.loss_mask.insert(0, false);
        }
        if self.train_on_everything || fallback {
            ex.loss_mask.iter_mut().for_each(|m| *m = true);
        }
        if let Content::Label { label, .. } = content {
            ex.label = self.labels.iter().position(|l| l == label).map(|i| i as u32);
        }
        Ok(Encoded { example: ex, mask_fallback: fallback, cut_bytes })
    }

    /// The ids of `text`, tokenized in pieces of at most [`PIECE_BYTES`].
    fn encode_text(&self, text: &str) -> std::result::Result<Vec<u32>, String> {
        let mut ids = Vec::new();
        for piece in pieces(text, PIECE_BYTES) {
            ids.extend(self.tok.encode(piece, false).map_err(|e| e.to_string())?);
        }
        Ok(ids)
    }

    /// The conversation as segments (assistant turns marked), and whether the spans could not be
    /// found (then one untrained segment, which `encode` turns into all-trained).
    fn chat_segments(&self, messages: &[Message]) -> std::result::Result<(Vec<(String, Seg)>, bool), String> {
        let Some(render) = self.render else {
            return Err("chat rows need a chat template and the model has none; use prompt/completion rows".into());
        };
        let full = render(messages, false).map_err(|e| e.to_string())?;
        if self.train_on_everything {
            return Ok((vec![(full, Seg::Prompt)], false));
        }
        let mut segs = Vec::new();
        let mut done = 0; // bytes of `full` already in segments
        for i in (0..messages.len()).filter(|&i| messages[i].role == "assistant") {
            let (Ok(start), Ok(end)) = (render(&messages[..i], true), render(&messages[..=i], false)) else {
                return Ok((vec![(full, Seg::Prompt)], true));
            };
            if !(full.starts_with(&start) && full.starts_with(&end) && done <= start.len() && start.len() < end.len()) {
                return Ok((vec![(full, Seg::Prompt)], true));
            }
            segs.push((full[done..start.len()].to_string(), Seg::Prompt));
            segs.push((full[start.len()..end.len()].to_string(), Seg::Turn));
            done = end.len();
        }
        segs.push((full[done..].to_string(), Seg::Prompt));
        Ok((segs, false))
    }
}
