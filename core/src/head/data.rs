//! The head's rows and batch targets. A classification row encoded by the label-as-text
//! recipe is its prompt followed by the label's tokens; the head reads the hidden state of the
//! prompt's last token, so [`head_rows`] keeps the prompt only (no token is a loss target) and
//! the row's label index ([`Example::label`]). [`HeadTargets::of`] gives each batch row's
//! last-token index in the `(B·T)` rows (rows are right-padded) and its label.

use crate::data::{Batch, DataSummary, Example};
use crate::error::{Error, Result};
use crate::train::RunOptions;

/// Refuses `--head` where it cannot apply: rows that are not classification rows, and
/// options that do not combine with it (each message says why).
pub fn check_head_options(options: &RunOptions, summary: &DataSummary) -> Result<()> {
    let refuse = |what: &str| Err(Error::invalid("head (--head)", what.to_string()));
    if options.full {
        return refuse("does not combine with --full: --full trains every weight of the causal LM, --head trains a LoRA adapter plus a classification head over a frozen base");
    }
    if options.pack {
        return refuse("does not combine with --pack: the head reads each row's last token, and packing puts several rows in one sequence");
    }
    if options.train_on_everything {
        return refuse("does not combine with --train-on-everything: the head's loss is the label's, not the tokens'");
    }
    if options.grad_accum > 1 {
        return refuse("takes grad_accum 1 (the head averages its loss per batch): raise --batch instead");
    }
    if options.optimizer != "adamw" {
        return refuse("trains with adamw only (the score weight's optimizer)");
    }
    if summary.labels.is_empty() {
        return Err(Error::invalid(
            "head (--head)",
            format!(
                "needs classification rows ({{\"text\", \"label\"}} JSONL or CSV text,label; or --task classify): {} has {} rows",
                summary.file, summary.format.shape.name()
            ),
        ));
    }
    Ok(())
}

/// The head's rows of `examples` (label-as-text rows of `file`): each prompt alone, with its label.
pub fn head_rows(examples: Vec<Example>, file: &str) -> Result<Vec<Example>> {
    examples
        .into_iter()
        .enumerate()
        .map(|(i, mut ex)| {
            if ex.label.is_none() {
                return Err(Error::format(file, format!("sequence {} has no label of the training label set (--head needs every row labelled)", i + 1)));
            }
            // The prompt ends before the first trained token (the label's).
            let end = ex.loss_mask.iter().skip(1).position(|&m| m).map_or(ex.ids.len(), |p| p + 1);
            ex.ids.truncate(end);
            ex.loss_mask = vec![false; end];
            Ok(ex)
        })
        .collect()
}

/// Each real row's last-token index and label in one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadTargets {
    /// `b·T + len − 1` of each real row.
    pub last: Vec<u32>,
    /// The label index of each real row.
    pub labels: Vec<u32>,
}

impl HeadTargets {
    /// The targets of `batch`, taken from `rows` (the examples it was batched from, [`head_rows`]).
    pub fn of(batch: &Batch, rows: &[Example]) -> HeadTargets {
        let picked = batch.rows.iter().enumerate().filter_map(|(r, &i)| rows.get(i).map(|ex| (r, ex)));
        let (last, labels) = picked.map(|(r, ex)| ((r * batch.t + ex.ids.len().max(1) - 1) as u32, ex.label.unwrap_or(0))).unzip();
        HeadTargets { last, labels }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Batcher, Padding};

    #[test]
    fn head_rows_keep_the_prompt_and_targets_point_at_its_last_token() {
        let ex = |ids: Vec<u32>, mask: Vec<bool>, label| Example { ids, loss_mask: mask, label };
        let rows = head_rows(
            vec![ex(vec![1, 2, 3, 9, 0], vec![false, false, false, true, true], Some(1)), ex(vec![4, 8, 0], vec![false, true, true], Some(0))],
            "f.jsonl",
        )
        .unwrap();
        assert_eq!((rows[0].ids.clone(), rows[1].ids.clone()), (vec![1, 2, 3], vec![4]));
        let batch = Batcher::new(&rows, 3, Padding::Fixed(4), 0, 0, false).unwrap().next_batch();
        assert_eq!(HeadTargets::of(&batch, &rows), HeadTargets { last: vec![2, 4], labels: vec![1, 0] });
        let e = head_rows(vec![ex(vec![1, 2], vec![false, true], None)], "f.jsonl").unwrap_err().to_string();
        assert!(e.contains("f.jsonl") && e.contains("sequence 1"), "{e}");
    }
}
