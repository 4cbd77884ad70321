//! Text generation with a KV cache: one prefill pass over the prompt, then one decode pass per
//! token. Each step submits its work once and reads back only the last row of logits.

use crate::error::Result;
use crate::gpu::{Gpu, Recorder};
use crate::chat::Message;
use crate::model::{Activations, KvCache, LoraParams, Model};
use crate::sample::{Sampler, SamplingConfig};

/// Generation options. Defaults: 128 new tokens, greedy, stop at end-of-turn tokens.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    pub sampling: SamplingConfig,
    /// Stop at the tokenizer's EOS / end-of-turn tokens.
    pub stop_at_eos: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions { max_tokens: 128, sampling: SamplingConfig::greedy(), stop_at_eos: true }
    }
}

/// What a generation produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Generation {
    /// New token ids (without the prompt; a final stop token is not included).
    pub ids: Vec<u32>,
    pub text: String,
    /// Whether it ended on a stop token (rather than `max_tokens` or the context length).
    pub stopped: bool,
}

/// Generates after `prompt_ids` with the model's own adapter (if any), calling `on_text` with
/// each piece of text as soon as it is complete (multi-byte characters split across tokens are
/// held back until whole).
pub async fn generate(
    gpu: &Gpu,
    model: &Model,
    prompt_ids: &[u32],
    options: &GenerateOptions,
    on_text: impl FnMut(&str),
) -> Result<Generation> {
    generate_with(gpu, model, model.adapter.as_ref(), prompt_ids, options, on_text).await
}

/// The greedy answer to the user message `question` (prompt as [`chat_prompt_ids`]) with
/// `adapter` (None: the base model alone), trimmed;
/// at most `max_tokens` tokens.
pub async fn chat_answer(gpu: &Gpu, model: &Model, adapter: Option<&LoraParams>, question: &str, max_tokens: usize) -> Result<String> {
    let ids = chat_prompt_ids(model, question)?;
    let options = GenerateOptions { max_tokens, ..Default::default() };
    Ok(generate_with(gpu, model, adapter, &ids, &options, |_| {}).await?.text.trim().to_string())
}

/// The prompt for a user message `text`: rendered with the model's chat template (with the
/// generation prompt) when it has one, else `text` itself; then tokenized.
pub fn chat_prompt_ids(model: &Model, text: &str) -> Result<Vec<u32>> {
    let prompt = match model.chat_template {
        Some(_) => model.render_chat(&[Message::user(text)], true)?,
        None => text.to_string(),
    };
    model.tokenizer.encode(&prompt, true)
}

/// [`generate`] with `lora` instead of the model's own adapter (the web page tries the adapter
/// being trained next to the base model).
pub async fn generate_with(
    gpu: &Gpu,
    model: &Model,
    lora: Option<&LoraParams>,
    prompt_ids: &[u32],
    options: &GenerateOptions,
    mut on_text: impl FnMut(&str),
) -> Result<Generation> {
    model.check_ids(prompt_ids)?;
    let capacity = (prompt_ids.len() + options.max_tokens).min(model.config.max_seq_len.max(prompt_ids.len() + 1));
    let mut cache = KvCache::new(gpu, &model.config, capacity)?;
    let mut sampler = Sampler::new(options.sampling.clone());
    let mut decoder = model.tokenizer.stream_decoder(true);
    let mut out = Generation { ids: Vec::new(), text: String::new(), stopped: false };
    // Buffers for the prefill pass and one set reused by every decode step.
    let prefill = Activations::new(gpu, &model.config, 1, prompt_ids.len(), lora, false);
    let decode = Activations::new(gpu, &model.config, 1, 1, lora, false);
    let mut input: Vec<u32> = prompt_ids.to_vec();
    while out.ids.len() < options.max_tokens && cache.len + input.len() <= cache.capacity {
        let mut rec = Recorder::new(gpu);
        let acts = if cache.len == 0 { &prefill } else { &decode };
        model.forward_into(&mut rec, &input, &mut cache, lora, acts)?;
        let logits = model.logits(&mut rec, &acts.hidden, input.len() - 1, 1)?;
        let row = logits.read(rec).await?;
        let next = sampler.sample(&row);
        if options.stop_at_eos && model.tokenizer.is_stop(next) {
            out.stopped = true;
            break;
        }
        out.ids.push(next);
        let piece = decoder.step(next)?;
        if !piece.is_empty() {
            on_text(&piece);
            out.text.push_str(&piece);
        }
        input = vec![next];
    }
    Ok(out)
}
