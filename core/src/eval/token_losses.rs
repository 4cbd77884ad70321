//! Every token of a few rows with its loss before and after training: the workshop's per-token
//! view (what the model learned, token by token). Each row is one sequence as training encodes it
//! (chat template, truncation at `max_seq_len`); token i's loss is `−log p(ids[i] | ids[..i])`,
//! taken for every token (trained or not, so the prompt's tokens show too), and `trained` says
//! which ones training took a loss on.

use crate::data::{DataFile, Example};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::model::{AdapterWeights, Model};
use crate::train::RunOptions;
use crate::train::eval::eval_data_config;
use crate::train::run::{all_batches, pad_id, prepare_data};
use crate::train::step::{StepBuffers, position_losses};
use serde::Serialize;

/// The most rows one call looks at (the view is for a person to read).
pub const MAX_ROWS: usize = 16;

/// One token of a row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenLoss {
    /// The token decoded alone.
    pub text: String,
    /// Training takes a loss on it (a completion or assistant token).
    pub trained: bool,
    /// Its loss under the base model (`None` for the first token: nothing predicts it).
    pub base: Option<f32>,
    /// Its loss with the adapter (`None` for the first token, or when no adapter was given).
    pub adapted: Option<f32>,
}

/// One row's tokens, and the mean loss over its trained tokens under each.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowLosses {
    pub tokens: Vec<TokenLoss>,
    pub base_mean: f32,
    pub adapted_mean: Option<f32>,
}

/// The rows of `file` (at most [`MAX_ROWS`]) token by token with their losses under `model`
/// alone and with `adapter`. `options`: the run's (`max_seq_len`, `train_on_everything`,
/// `skip_bad_rows` apply as in training).
pub async fn token_losses(
    gpu: &Gpu,
    model: &Model,
    adapter: Option<&dyn AdapterWeights>,
    file: DataFile<'_>,
    options: &RunOptions,
) -> Result<Vec<RowLosses>> {
    let data = eval_data_config(options, None);
    let dataset = prepare_data(model, file, None, &data)?;
    if dataset.train.len() > MAX_ROWS {
        return Err(Error::invalid(
            "data",
            format!("{}: {} rows; the per-token view takes at most {MAX_ROWS}", file.name, dataset.train.len()),
        ));
    }
    let mut rows = Vec::with_capacity(dataset.train.len());
    for ex in &dataset.train {
        let (base, adapted) = row_losses(gpu, model, adapter, ex).await?;
        rows.push(describe(model, ex, &base, adapted.as_deref())?);
    }
    Ok(rows)
}

/// Token i's loss under the base and (with `adapter`) adapted, `[0]` = 0 (nothing predicts the
/// first token); one set of step buffers serves both passes.
async fn row_losses(gpu: &Gpu, model: &Model, adapter: Option<&dyn AdapterWeights>, ex: &Example) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
    let t = ex.ids.len().max(2);
    let every = Example { ids: ex.ids.clone(), loss_mask: vec![true; ex.ids.len()], label: None };
    let batches = all_batches(std::slice::from_ref(&every), 1, t, pad_id(model))?;
    let Some(batch) = batches.first() else { return Ok((vec![0.0; ex.ids.len()], adapter.map(|_| vec![0.0; ex.ids.len()]))) };
    let mut buf = StepBuffers::new(gpu, model, 1, t)?;
    // Position j predicts token j + 1.
    let shift = |at: Vec<f32>| std::iter::once(0.0).chain(at.into_iter().take(ex.ids.len().saturating_sub(1))).collect::<Vec<f32>>();
    let base = shift(position_losses(gpu, model, None, &mut buf, batch).await?);
    let adapted = match adapter {
        Some(a) => {
            let pass = a.inference(gpu, t);
            Some(shift(position_losses(gpu, model, Some(&*pass), &mut buf, batch).await?))
        }
        None => None,
    };
    Ok((base, adapted))
}

fn describe(model: &Model, ex: &Example, base: &[f32], adapted: Option<&[f32]>) -> Result<RowLosses> {
    let mut tokens = Vec::with_capacity(ex.ids.len());
    for (i, &id) in ex.ids.iter().enumerate() {
        let predicted = i > 0;
        tokens.push(TokenLoss {
            text: model.tokenizer.decode(&[id], false)?,
            trained: predicted && ex.loss_mask[i],
            base: predicted.then(|| base[i]),
            adapted: adapted.filter(|_| predicted).map(|a| a[i]),
        });
    }
    let mean = |l: &[f32]| {
        let trained: Vec<f32> = (1..ex.ids.len()).filter(|&i| ex.loss_mask[i]).map(|i| l[i]).collect();
        trained.iter().sum::<f32>() / trained.len().max(1) as f32
    };
    Ok(RowLosses { tokens, base_mean: mean(base), adapted_mean: adapted.map(mean) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::random_adapter;
    use crate::lora::{LoraConfig, LoraParams, LoraWeights};
    use crate::score::score;
    use crate::score::tests::tiny;
    use crate::testing::test_gpu;

    const ROW: &str = "{\"prompt\": \"The kettle is made by\", \"completion\": \" Zorblax of Oslo.\"}\n";

    fn run(gpu: &Gpu, model: &Model, adapter: Option<&dyn AdapterWeights>, rows: &str) -> Result<Vec<RowLosses>> {
        let file = DataFile { bytes: rows.as_bytes(), name: "row.jsonl" };
        pollster::block_on(token_losses(gpu, model, adapter, file, &RunOptions::default()))
    }

    /// Base losses are `score`'s negated log-probabilities; only the completion is trained; a
    /// fresh adapter (B = 0) changes nothing and a random one changes the losses.
    #[test]
    fn losses_are_scores_per_token_before_and_after_an_adapter() {
        let Some(gpu) = test_gpu() else { return };
        let model = tiny(gpu);
        let rows = run(gpu, &model, None, ROW).unwrap();
        let row = &rows[0];
        let ids: Vec<u32> = {
            let data = eval_data_config(&RunOptions::default(), None);
            let file = DataFile { bytes: ROW.as_bytes(), name: "row.jsonl" };
            prepare_data(&model, file, None, &data).unwrap().train[0].ids.clone()
        };
        assert_eq!(row.tokens.len(), ids.len());
        let s = pollster::block_on(score(gpu, &model, &ids)).unwrap();
        assert_eq!(row.tokens[0].base, None);
        for (i, t) in row.tokens.iter().enumerate().skip(1) {
            let want = -s.logprobs[i - 1];
            let got = t.base.unwrap();
            assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "token {i}: {got} vs score's {want}");
            assert_eq!(t.adapted, None);
        }
        let text: String = row.tokens.iter().filter(|t| t.trained).map(|t| t.text.as_str()).collect();
        assert!(text.contains("Zorblax of Oslo") && !text.contains("kettle"), "trained tokens: {text:?}");

        let cfg = LoraConfig { r: 4, ..LoraConfig::default() };
        let fresh = LoraParams::from_weights(gpu, &model, &LoraWeights::init(&cfg, &model.config, 1).unwrap()).unwrap();
        let same = &run(gpu, &model, Some(&fresh), ROW).unwrap()[0];
        for t in same.tokens.iter().skip(1) {
            assert!((t.adapted.unwrap() - t.base.unwrap()).abs() < 1e-5, "{t:?}");
        }
        let random = LoraParams::from_weights(gpu, &model, &random_adapter(&model.config, 7)).unwrap();
        let moved = &run(gpu, &model, Some(&random), ROW).unwrap()[0];
        let largest = moved.tokens.iter().skip(1).map(|t| (t.adapted.unwrap() - t.base.unwrap()).abs()).fold(0.0, f32::max);
        assert!(largest > 1e-3, "a random adapter left every loss as it was ({largest})");
        assert!(moved.adapted_mean.is_some());
    }

    #[test]
    fn more_rows_than_a_person_reads_are_refused_by_count() {
        let Some(gpu) = test_gpu() else { return };
        let model = tiny(gpu);
        let e = run(gpu, &model, None, &ROW.repeat(MAX_ROWS + 1)).unwrap_err().to_string();
        assert!(e.contains("17 rows") && e.contains("at most 16"), "{e}");
    }
}
