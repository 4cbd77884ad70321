//! Scoring a token sequence: per-token log-probabilities `log p(ids[i+1] | ids[..=i])`, their
//! sum and perplexity, and the top-5 logits of the last position. One forward pass; logits are
//! projected in row blocks small enough for one storage binding. The text must fit the model's
//! context, and every logit must be finite (an overflowing model is an error, never `null`).

use crate::error::Result;
use crate::generate::check_tokens;
use crate::gpu::{Gpu, Recorder};
use crate::model::{KvCache, Model};
use crate::sample::{check_finite, log_softmax_at};

/// The result of [`score`]; serialises to the JSON `anytune score` prints.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Score {
    pub ids: Vec<u32>,
    /// `logprobs[i] = log p(ids[i+1] | ids[..=i])` (length T − 1).
    pub logprobs: Vec<f32>,
    pub sum_logprob: f64,
    /// `exp(−mean logprob)`.
    pub perplexity: f64,
    pub last_top5_ids: Vec<u32>,
    pub last_top5_logits: Vec<f32>,
}

/// Scores `ids` (1 ..= the model's context length tokens) with `model`.
pub async fn score(gpu: &Gpu, model: &Model, ids: &[u32]) -> Result<Score> {
    check_tokens(ids, model.config.max_seq_len, "text")?;
    let v = model.config.vocab_size;
    let mut cache = KvCache::new(gpu, &model.config, ids.len())?;
    let mut rec = Recorder::new(gpu);
    let hidden = model.forward(&mut rec, ids, &mut cache)?;
    let block = ((gpu.max_binding() as usize / (v * 4)).max(1)).min(ids.len());
    let mut logits = Vec::with_capacity(ids.len() * v);
    let mut start = 0;
    while start < ids.len() {
        let n = block.min(ids.len() - start);
        let part = model.logits(&mut rec, &hidden, start, n)?;
        logits.extend(part.read(rec).await?);
        rec = Recorder::new(gpu);
        start += n;
    }
    for (position, row) in logits.chunks(v).enumerate() {
        check_finite(row, position, &model.name)?;
    }
    let logprobs: Vec<f32> =
        (0..ids.len() - 1).map(|i| log_softmax_at(&logits[i * v..(i + 1) * v], ids[i + 1] as usize)).collect();
    let sum_logprob: f64 = logprobs.iter().map(|&l| l as f64).sum();
    let perplexity = if logprobs.is_empty() { 1.0 } else { (-sum_logprob / logprobs.len() as f64).exp() };
    let last = &logits[(ids.len() - 1) * v..];
    let mut order: Vec<u32> = (0..v as u32).collect();
    order.sort_by(|&a, &b| last[b as usize].total_cmp(&last[a as usize]));
    order.truncate(5);
    Ok(Score {
        ids: ids.to_vec(),
        logprobs,
        sum_logprob,
        perplexity,
        last_top5_logits: order.iter().map(|&i| last[i as usize]).collect(),
        last_top5_ids: order,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::score;
    use crate::formats::{GgufFile, ModelFiles};
    use crate::gpu::Gpu;
    use crate::model::Model;
    use crate::testing::test_gpu;

    const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tiny-llama-F32.gguf");

    /// The tiny F32 model saved as `name`, each F32 value of each named tensor passed through its function.
    fn tiny_with(gpu: &Gpu, name: &str, edits: &[(&str, &dyn Fn(f32) -> f32)]) -> Model {
        let mut bytes = std::fs::read(TINY).unwrap();
        let gguf = GgufFile::parse(&bytes, name).unwrap();
        for (tensor, f) in edits {
            let t = gguf.tensor(tensor).unwrap();
            for v in bytes[t.offset..t.offset + t.size].chunks_exact_mut(4) {
                let old = f32::from_le_bytes([v[0], v[1], v[2], v[3]]);
                v.copy_from_slice(&f(old).to_le_bytes());
            }
        }
        let mut files = ModelFiles::new();
        files.add(name, bytes);
        Model::load(gpu, &files).unwrap()
    }

    /// The tiny model, unchanged.
    pub(crate) fn tiny(gpu: &Gpu) -> Model {
        tiny_with(gpu, "tiny.gguf", &[])
    }

    /// The tiny model whose logits overflow f32 at every position: a finite but huge output
    /// norm weight (1e30) and LM head (×1e20), saved as `huge.gguf`.
    pub(crate) fn overflowing(gpu: &Gpu) -> Model {
        tiny_with(gpu, "huge.gguf", &[("output_norm.weight", &|_| 1e30), ("output.weight", &|w| w * 1e20)])
    }

    #[test]
    fn an_empty_or_too_long_text_is_refused() {
        let Some(gpu) = test_gpu() else { return };
        let model = tiny(gpu);
        let msg = pollster::block_on(score(gpu, &model, &[])).unwrap_err().to_string();
        assert!(msg.contains("the text is empty (it has no tokens)"), "{msg}");
        let ids = vec![1u32; model.config.max_seq_len + 1];
        let msg = pollster::block_on(score(gpu, &model, &ids)).unwrap_err().to_string();
        assert!(msg.contains("129 tokens are more than the model's context of 128 positions"), "{msg}");
        let ok = pollster::block_on(score(gpu, &model, &ids[1..])).unwrap();
        assert!(ok.logprobs.iter().all(|l| l.is_finite()) && ok.logprobs.len() == 127);
    }

    #[test]
    fn non_finite_logits_are_an_error_not_null() {
        let Some(gpu) = test_gpu() else { return };
        let model = overflowing(gpu);
        let msg = pollster::block_on(score(gpu, &model, &[1, 2, 3])).unwrap_err().to_string();
        assert!(msg.starts_with("huge.gguf: the model produced non-finite logits at position 0"), "{msg}");
    }
}
