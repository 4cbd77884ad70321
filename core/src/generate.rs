//! Text generation with a KV cache: one prefill pass over the prompt, then one decode pass per
//! token. Each step submits its work once and reads back only the last row of logits.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Recorder};
use crate::chat::Message;
use crate::model::{Activations, AdapterWeights, KvCache, Model};
use crate::sample::{Sampler, SamplingConfig, check_finite};
use crate::tokenizer::StreamDecoder;

/// Generation options. Defaults: 128 new tokens, greedy, stop at end-of-turn tokens.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// New tokens at most: 1 ..= the model's context length (generation also stops when the
    /// prompt and the new tokens fill the context).
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

impl GenerateOptions {
    /// Refuses options outside their ranges ([`SamplingConfig::validate`], and `max_tokens` in
    /// 1 ..= `context`), naming the option.
    pub fn validate(&self, context: usize) -> Result<()> {
        if !(1..=context).contains(&self.max_tokens) {
            return Err(Error::invalid(
                "--max-tokens",
                format!("{} is not from 1 to the model's context length {context}", self.max_tokens),
            ));
        }
        self.sampling.validate()
    }
}

/// Refuses a token sequence with no tokens, or with more than the model's `context` positions;
/// `what` names it in the error ("prompt", "text").
pub fn check_tokens(ids: &[u32], context: usize, what: &str) -> Result<()> {
    if ids.is_empty() {
        return Err(Error::invalid(what, format!("the {what} is empty (it has no tokens)")));
    }
    if ids.len() > context {
        return Err(Error::invalid(
            what,
            format!("its {} tokens are more than the model's context of {context} positions", ids.len()),
        ));
    }
    Ok(())
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
    generate_with(gpu, model, model.adapter.as_deref(), prompt_ids, options, on_text).await
}

/// The greedy answer to the user message `question` (prompt as [`chat_prompt_ids`]) with
/// `adapter` (None: the base model alone), trimmed;
/// at most `max_tokens` tokens.
pub async fn chat_answer(gpu: &Gpu, model: &Model, adapter: Option<&dyn AdapterWeights>, question: &str, max_tokens: usize) -> Result<String> {
    let ids = chat_prompt_ids(model, question)?;
    let options = GenerateOptions { max_tokens, ..Default::default() };
    Ok(generate_with(gpu, model, adapter, &ids, &options, |_| {}).await?.text.trim().to_string())
}

/// The prompt for a user message `text`: rendered with the model's chat template (with the
/// generation prompt) when it has one, else `text` itself; then tokenized.
pub fn chat_prompt_ids(model: &Model, text: &str) -> Result<Vec<u32>> {
    match model.chat_template {
        Some(_) => model.tokenizer.encode_rendered(&model.render_chat(&[Message::user(text)], true)?),
        None => model.tokenizer.encode(text, true),
    }
}

/// [`generate`] with `adapter` instead of the model's own (the web page tries the adapter
/// being trained next to the base model).
pub async fn generate_with(
    gpu: &Gpu,
    model: &Model,
    adapter: Option<&dyn AdapterWeights>,
    prompt_ids: &[u32],
    options: &GenerateOptions,
    mut on_text: impl FnMut(&str),
) -> Result<Generation> {
    let mut generator = Generator::new(gpu, model, prompt_ids, options)?;
    while let Some(piece) = generator.next_token(gpu, model, adapter).await? {
        if !piece.is_empty() {
            on_text(&piece);
        }
    }
    Ok(generator.into_generation())
}

/// A generation one token at a time, so a caller can do other work between tokens (the web
/// page trains between them, and a pause is not held up by an answer). Holds the KV cache, the
/// sampler and the decoder; the adapter is passed to each [`Generator::next_token`] (the same
/// one every time).
pub struct Generator {
    cache: KvCache,
    sampler: Sampler,
    decoder: StreamDecoder,
    prefill: Activations,
    decode: Activations,
    /// The tokens of the next pass: the prompt, then the last sampled token.
    input: Vec<u32>,
    options: GenerateOptions,
    out: Generation,
    finished: bool,
}

impl Generator {
    /// Checks the options and the prompt and allocates the cache and the pass buffers.
    pub fn new(gpu: &Gpu, model: &Model, prompt_ids: &[u32], options: &GenerateOptions) -> Result<Generator> {
        let context = model.config.max_seq_len;
        options.validate(context)?;
        check_tokens(prompt_ids, context, "prompt")?;
        model.check_ids(prompt_ids)?;
        let capacity = (prompt_ids.len() + options.max_tokens).min(context);
        Ok(Generator {
            cache: KvCache::new(gpu, &model.config, capacity)?,
            sampler: Sampler::new(options.sampling.clone()),
            decoder: model.tokenizer.stream_decoder(true),
            // Buffers for the prefill pass and one set reused by every decode step.
            prefill: Activations::new(gpu, &model.config, 1, prompt_ids.len(), false),
            decode: Activations::new(gpu, &model.config, 1, 1, false),
            input: prompt_ids.to_vec(),
            options: options.clone(),
            out: Generation { ids: Vec::new(), text: String::new(), stopped: false },
            finished: false,
        })
    }

    /// One pass: the next token's text (empty while a multi-byte character is incomplete), or
    /// `None` once the generation has ended (a stop token, `max_tokens`, the context).
    pub async fn next_token(&mut self, gpu: &Gpu, model: &Model, adapter: Option<&dyn AdapterWeights>) -> Result<Option<String>> {
        let room = self.cache.len + self.input.len() <= self.cache.capacity;
        if self.finished || self.out.ids.len() >= self.options.max_tokens || !room {
            self.finished = true;
            return Ok(None);
        }
        let mut rec = Recorder::new(gpu);
        let acts = if self.cache.len == 0 { &self.prefill } else { &self.decode };
        let scratch = adapter.map(|a| a.inference(gpu, self.input.len()));
        model.forward_into(&mut rec, &self.input, &mut self.cache, scratch.as_deref(), acts)?;
        let logits = model.logits(&mut rec, acts.hidden(), self.input.len() - 1, 1)?;
        let row = logits.read(rec).await?;
        check_finite(&row, self.cache.len - 1, &model.name)?;
        let next = self.sampler.sample(&row);
        if self.options.stop_at_eos && model.tokenizer.is_stop(next) {
            self.out.stopped = true;
            self.finished = true;
            return Ok(None);
        }
        self.out.ids.push(next);
        let piece = self.decoder.step(next)?;
        self.out.text.push_str(&piece);
        self.input = vec![next];
        Ok(Some(piece))
    }

    /// What was generated so far (all of it once [`Generator::next_token`] gave `None`).
    pub fn into_generation(self) -> Generation {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::tests::{overflowing, tiny};
    use crate::testing::test_gpu;

    fn run(model: &Model, ids: &[u32], options: &GenerateOptions) -> Result<Generation> {
        let gpu = test_gpu().unwrap();
        pollster::block_on(generate(gpu, model, ids, options, |_| {}))
    }

    #[test]
    fn options_outside_their_range_are_refused_by_name() {
        let Some(gpu) = test_gpu() else { return };
        let model = tiny(gpu);
        let with = |max_tokens: usize, temperature: f32, top_p: f32| GenerateOptions {
            max_tokens,
            sampling: SamplingConfig { temperature, top_p, ..SamplingConfig::greedy() },
            stop_at_eos: false,
        };
        for (options, name) in [
            (with(0, 0.0, 1.0), "--max-tokens"),
            (with(129, 0.0, 1.0), "--max-tokens"),
            (with(4, f32::NAN, 1.0), "--temperature"),
            (with(4, -1.0, 1.0), "--temperature"),
            (with(4, 0.8, f32::NAN), "--top-p"),
        ] {
            let msg = run(&model, &[1, 2], &options).unwrap_err().to_string();
            assert!(msg.starts_with(&format!("invalid {name}: ")), "{msg}");
        }
        assert_eq!(run(&model, &[1, 2], &with(3, 0.8, 0.9)).unwrap().ids.len(), 3);
    }

    #[test]
    fn an_empty_or_too_long_prompt_is_refused() {
        let Some(gpu) = test_gpu() else { return };
        let model = tiny(gpu);
        let msg = run(&model, &[], &GenerateOptions::default()).unwrap_err().to_string();
        assert_eq!(msg, "invalid prompt: the prompt is empty (it has no tokens)");
        let msg = run(&model, &[1; 129], &GenerateOptions::default()).unwrap_err().to_string();
        assert!(msg.contains("129 tokens are more than the model's context of 128"), "{msg}");
        // A prompt filling the context still gives one token.
        let options = GenerateOptions { stop_at_eos: false, ..Default::default() };
        assert_eq!(run(&model, &[1; 128], &options).unwrap().ids.len(), 1);
    }

    #[test]
    fn non_finite_logits_while_sampling_are_an_error() {
        let Some(gpu) = test_gpu() else { return };
        let model = overflowing(gpu);
        let msg = run(&model, &[1, 2, 3], &GenerateOptions::default()).unwrap_err().to_string();
        assert!(msg.starts_with("huge.gguf: the model produced non-finite logits at position 2"), "{msg}");
    }
}
