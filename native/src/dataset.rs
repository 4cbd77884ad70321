//! Dataset files → prepared sequences and batches, shared by `anytune train` and `anytune eval`.

use anyhow::Result;
use anytune_core::chat::Message;
use anytune_core::data::{Batch, Batcher, DataConfig, DataFile, Dataset, Example, Padding, prepare, read_dataset_path};
use anytune_core::model::Model;
use std::path::Path;

/// Reads `train` (and `val`) and prepares them for `model` (its chat template renders chat
/// rows); prints the summary.
pub fn prepare_files(model: &Model, train: &Path, val: Option<&Path>, cfg: &DataConfig) -> Result<Dataset> {
    let (train_bytes, train_name) = read_dataset_path(train)?;
    let val = val.map(read_dataset_path).transpose()?;
    let render = |m: &[Message], g: bool| model.render_chat(m, g);
    let render = model.chat_template.as_ref().map(|_| &render as &dyn Fn(&[Message], bool) -> _);
    let val = val.as_ref().map(|(bytes, name)| DataFile { bytes, name });
    let dataset = prepare(DataFile { bytes: &train_bytes, name: &train_name }, val, &model.tokenizer, render, cfg)?;
    eprintln!("{}", dataset.summary);
    Ok(dataset)
}

/// The padded sequence length of every batch: the longest prepared row, at most `max_seq_len`.
pub fn sequence_len(dataset: &Dataset, max_seq_len: usize) -> usize {
    dataset.summary.longest.min(max_seq_len).max(2)
}

/// The id padding rows are filled with (EOS).
pub fn pad_id(model: &Model) -> u32 {
    model.tokenizer.eos.as_ref().map_or(0, |e| e.id)
}

/// Every batch of one unshuffled pass over `rows` (validation and evaluation); none for no rows.
pub fn all_batches(rows: &[Example], batch: usize, t: usize, pad: u32) -> Result<Vec<Batch>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut batcher = Batcher::new(rows, batch, Padding::Fixed(t), pad, 0, false)?;
    Ok((0..batcher.batches_per_epoch()).map(|_| batcher.next_batch()).collect())
}
