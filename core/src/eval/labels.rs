//! Classification by scoring the label set: for each row, the summed log-probability of each
//! label's completion given the row's prompt (the label's trained tokens, its stop token
//! included); the prediction is the highest (ties → the first label in the sorted set).
//!
//! Every (row, label) pair is one sequence; they are batched `batch` at a time through the
//! evaluation forward pass and loss head, whose per-token loss (`−log p` at trained positions,
//! 0 elsewhere) is read back and summed per sequence.

use super::metrics::Classification;
use crate::data::tasks::LabelRow;
use crate::data::Example;
use crate::error::Result;
use crate::head::data::HeadTargets;
use crate::head::reference::predict;
use crate::head::state::HeadState;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::{AdapterWeights, Model};
use crate::train::run::{all_batches, pad_id};
use crate::train::step::{StepBuffers, record_eval};

/// Classification metrics of `rows` by a classification head (a SEQ_CLS adapter: `adapter`
/// and its `score` weight `(labels, dim)`): each row's prompt (the label-as-text prompt
/// without its label, as `--head` trained on it) through the model, then the argmax of the
/// head's logits over `labels`.
pub async fn classify_head(
    gpu: &Gpu,
    model: &Model,
    adapter: &dyn AdapterWeights,
    score: &[f32],
    labels: &[String],
    rows: &[LabelRow],
    batch: usize,
) -> Result<Classification> {
    let prompts: Vec<Example> = rows.iter().filter_map(|r| r.candidates.first().cloned()).map(|e| Example { label: Some(0), ..e }).collect();
    let prompts = crate::head::data::head_rows(prompts, "evaluation rows")?;
    let Some(t) = prompts.iter().map(|e| e.ids.len()).max() else { return Ok(Classification::from_pairs(labels.to_vec(), Vec::new())) };
    let t = t.max(2);
    let head = HeadState::from_score(gpu, model, labels.len(), score);
    let mut buf = StepBuffers::new(gpu, model, batch, t)?;
    let pass = adapter.inference(gpu, batch * t);
    let mut predicted = Vec::with_capacity(prompts.len());
    for b in all_batches(&prompts, batch, t, pad_id(model))? {
        let (logits, _) = head.logits(gpu, model, Some(pass.as_ref()), &mut buf, &b.inputs, &HeadTargets::of(&b, &prompts)).await?;
        predicted.extend(predict(&logits, labels.len()));
    }
    let mut all = labels.to_vec();
    for r in rows {
        if !all.contains(&r.gold) {
            all.push(r.gold.clone());
        }
    }
    let pairs = rows.iter().zip(predicted).filter_map(|(r, p)| Some((all.iter().position(|l| *l == r.gold)?, p)));
    Ok(Classification::from_pairs(all.clone(), pairs.collect::<Vec<_>>()))
}

/// `scores[r][j]`: the summed log-probability of label `j` as row `r`'s completion.
pub async fn label_scores(
    gpu: &Gpu,
    model: &Model,
    adapter: Option<&dyn AdapterWeights>,
    rows: &[LabelRow],
    batch: usize,
) -> Result<Vec<Vec<f64>>> {
    let sequences: Vec<Example> = rows.iter().flat_map(|r| r.candidates.iter().cloned()).collect();
    let Some(t) = sequences.iter().map(|e| e.ids.len()).max() else { return Ok(Vec::new()) };
    let t = t.max(2);
    let batches = all_batches(&sequences, batch, t, pad_id(model))?;
    let mut buf = StepBuffers::new(gpu, model, batch, t)?;
    let pass = adapter.map(|a| a.inference(gpu, batch * t));
    let out = GpuTensor::zeros(gpu, &[batch * t]);
    let mut sums = vec![0f64; sequences.len()];
    for b in &batches {
        let mut rec = Recorder::new(gpu);
        record_eval(&mut rec, model, pass.as_deref(), &mut buf, &b.inputs, &b.targets)?;
        rec.copy(&buf.head.loss.buffer, 0, &out.buffer, 0, (batch * t * 4) as u64);
        let loss = out.read(rec).await?;
        for (i, &seq) in b.rows.iter().enumerate() {
            sums[seq] = -loss[i * t..(i + 1) * t].iter().map(|&l| l as f64).sum::<f64>();
        }
    }
    let mut scores = Vec::with_capacity(rows.len());
    let mut rest = &sums[..];
    for r in rows {
        let (these, after) = rest.split_at(r.candidates.len());
        scores.push(these.to_vec());
        rest = after;
    }
    Ok(scores)
}

/// The index of the highest score (the first of equal ones); `None` for no scores.
pub fn best(scores: &[f64]) -> Option<usize> {
    scores.iter().enumerate().fold(None, |b: Option<(usize, f64)>, (j, &s)| match b {
        Some((_, bs)) if bs >= s => b,
        _ => Some((j, s)),
    })
    .map(|(j, _)| j)
}

/// Classification metrics of `rows` under `adapter` (or the base) over `labels`, the label set
/// the candidates were built from. Rows whose own label is not in the set (an evaluation file
/// with a label the run never saw) are counted under that label, which is never predicted.
pub async fn classify(
    gpu: &Gpu,
    model: &Model,
    adapter: Option<&dyn AdapterWeights>,
    labels: &[String],
    rows: &[LabelRow],
    batch: usize,
) -> Result<Classification> {
    let scores = label_scores(gpu, model, adapter, rows, batch).await?;
    let mut all = labels.to_vec();
    for r in rows {
        if !all.contains(&r.gold) {
            all.push(r.gold.clone());
        }
    }
    let pairs = rows.iter().zip(&scores).filter_map(|(r, s)| {
        let gold = all.iter().position(|l| *l == r.gold)?;
        Some((gold, best(s)?))
    });
    Ok(Classification::from_pairs(all.clone(), pairs.collect::<Vec<_>>()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tasks::eval_tasks;
    use crate::data::{DataConfig, DataFile};
    use crate::score::score;
    use crate::score::tests::tiny;
    use crate::testing::test_gpu;

    #[test]
    fn the_best_label_is_the_highest_score_and_the_first_of_equal_ones() {
        assert_eq!(best(&[-3.0, -1.0, -2.0]), Some(1));
        assert_eq!(best(&[-1.0, -1.0]), Some(0));
        assert_eq!(best(&[]), None);
    }

    /// The batched scores (9 sequences in batches of 2: a padded last batch) are the sums of
    /// `score`'s per-token log-probabilities over each label's tokens, one sequence at a time.
    #[test]
    fn label_prediction_agrees_with_scoring_each_label_separately_by_score() {
        let Some(gpu) = test_gpu() else { return };
        let model = tiny(gpu);
        let rows = "{\"text\": \"the cat sat\", \"label\": \"cat\"}\n{\"text\": \"a dog ran off\", \"label\": \"dog\"}\n\
                    {\"text\": \"no idea\", \"label\": \"none\"}\n";
        let file = DataFile { bytes: rows.as_bytes(), name: "l.jsonl" };
        let tasks = eval_tasks(file, &model.tokenizer, None, &DataConfig::default()).unwrap();
        assert_eq!(tasks.labels, ["cat", "dog", "none"]);
        let scores = pollster::block_on(label_scores(gpu, &model, None, &tasks.label_rows, 2)).unwrap();
        let mut predictions = Vec::new();
        for (row, got) in tasks.label_rows.iter().zip(&scores) {
            let mut want = Vec::new();
            for c in &row.candidates {
                let s = pollster::block_on(score(gpu, &model, &c.ids)).unwrap();
                want.push((1..c.ids.len()).filter(|&i| c.loss_mask[i]).map(|i| s.logprobs[i - 1] as f64).sum::<f64>());
            }
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-3 * w.abs().max(1.0), "batched {got:?} vs score {want:?}");
            }
            assert_eq!(best(got), best(&want));
            predictions.push(best(&want).unwrap());
        }
        let c = pollster::block_on(classify(gpu, &model, None, &tasks.labels, &tasks.label_rows, 2)).unwrap();
        for (gold, p) in predictions.iter().enumerate() {
            assert_eq!(c.confusion[gold][*p], 1, "{:?}", c.confusion);
        }
    }
}
