//! The answers of every system (the base model, then each adapter) to every prompt, all with
//! the same generation options (sampling and seed), so the systems differ only by adapter.

use super::prompts::Prompt;
use crate::error::Result;
use crate::generate::{GenerateOptions, generate_with};
use crate::gpu::Gpu;
use crate::model::{AdapterWeights, Model};

/// `answers[system][prompt]` for the base (`systems[0]`: `None`) and each adapter, trimmed.
/// Each prompt is tokenized once (errors name `file` and its line). `progress(system, prompt)`
/// is called before each generation.
pub async fn answer_all(
    gpu: &Gpu,
    model: &Model,
    systems: &[Option<&dyn AdapterWeights>],
    prompts: &[Prompt],
    file: &str,
    options: &GenerateOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Vec<String>>> {
    options.validate(model.config.max_seq_len)?;
    let ids: Vec<Vec<u32>> = prompts.iter().map(|p| p.ids(model, file)).collect::<Result<_>>()?;
    let mut answers = Vec::with_capacity(systems.len());
    for (s, adapter) in systems.iter().enumerate() {
        let mut texts = Vec::with_capacity(prompts.len());
        for (i, prompt) in prompts.iter().enumerate() {
            progress(s, i);
            let out = generate_with(gpu, model, *adapter, &ids[i], options, |_| {}).await.map_err(|e| prompt.error(file, e))?;
            texts.push(out.text.trim().to_string());
        }
        answers.push(texts);
    }
    Ok(answers)
}

/// How `options` generate, for the page: "greedy, at most 128 new tokens" or
/// "temperature 0.8, top-p 0.9, top-k 40, seed 3, at most 64 new tokens".
pub fn describe(options: &GenerateOptions) -> String {
    let s = &options.sampling;
    let mut parts = Vec::new();
    if s.temperature == 0.0 {
        parts.push("greedy".to_string());
    } else {
        parts.push(format!("temperature {}", s.temperature));
        if s.top_p < 1.0 {
            parts.push(format!("top-p {}", s.top_p));
        }
        if s.top_k > 0 {
            parts.push(format!("top-k {}", s.top_k));
        }
        parts.push(format!("seed {}", s.seed));
    }
    parts.push(format!("at most {} new tokens", options.max_tokens));
    parts.join(", ")
}
