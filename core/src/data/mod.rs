//! The dataset pipeline for fine-tuning: a file's bytes → rows → token ids with loss masks →
//! sequences of at most `max_seq_len` tokens → batches.
//!
//! 1. [`format`]: the container (JSONL, JSON array, plain text, CSV) and the row shape (text,
//!    prompt/completion, chat messages, alpaca), detected and reported ([`DatasetFormat`]).
//! 2. `parse`: rows validated; a bad row is an error `file:line: what is wrong`, or with
//!    [`DataConfig::skip_bad_rows`] a [`BadRow`] in the summary.
//! 3. [`encode`]: each row → [`Example`] (ids + loss mask: completions and assistant turns only,
//!    unless [`DataConfig::train_on_everything`]).
//! 4. `shape`: truncation / splitting to `max_seq_len`, the seeded validation split, packing.
//! 5. [`batch`]: (B, T) inputs and targets ([`IGNORE`] where not trained), resumable.
//!
//! No filesystem here (the browser hands us bytes); [`read_dataset_path`] is the native helper.
//!
//! ```
//! use anytune_core::data::{prepare, DataConfig, DataFile};
//! # let tok = anytune_core::tokenizer::Tokenizer::from_json(
//! #     include_bytes!("../../../tests/fixtures/tiny-llama/tokenizer.json"), None)?;
//! let jsonl = br#"{"prompt": "Q: colour of the Zorblax 3000? A:", "completion": " teal"}"#;
//! let data = prepare(DataFile { bytes: jsonl, name: "facts.jsonl" }, None, &tok, None, &DataConfig::default())?;
//! assert_eq!(data.summary.format.name(), "JSONL, prompt/completion rows");
//! assert!(data.summary.trained_tokens < data.summary.train_tokens);
//! # Ok::<(), anytune_core::Error>(())
//! ```

pub mod batch;
pub mod csv;
pub(crate) mod cut;
pub mod encode;
pub mod format;
pub mod label;
pub(crate) mod parse;
pub(crate) mod shape;
pub mod summary;
pub mod tasks;
#[cfg(test)]
pub(crate) mod tests;

use serde::{Deserialize, Serialize};

pub use batch::{Batch, Batcher, DataPosition, IGNORE, Padding};
pub use encode::{RenderChat, alpaca_prompt, template_renderer};
pub use format::{Container, DATASET_EXTENSIONS, DatasetFormat, Shape};
pub use summary::{BadRow, DataSummary, MAX_BAD_ROWS_LISTED};

use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// How a dataset is turned into training sequences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataConfig {
    /// Longest sequence in tokens; longer prompt/completion and chat rows are truncated (their
    /// end is cut), longer text rows are split into several sequences. Default 512.
    pub max_seq_len: usize,
    /// Train on every token, prompts and user turns included. Default false: loss only on
    /// completions and assistant turns (text rows are always trained on every token).
    pub train_on_everything: bool,
    /// Pack short examples together into sequences of up to `max_seq_len` (plain causal
    /// attention across packed examples; see the `shape` module). Default false.
    pub pack: bool,
    /// Fraction of the examples held out for validation, chosen by a shuffle seeded with
    /// `seed`; must be 0 when a validation file is given. Default 0.0.
    pub val_split: f32,
    /// Skip bad rows (listed in the summary) instead of stopping at the first. Default false.
    pub skip_bad_rows: bool,
    /// Seed of the validation split (and, by convention, of the batch order). Default 0.
    pub seed: u64,
    /// Every row must be a classification (text/label) row (`--task classify`). Default false.
    pub require_labels: bool,
    /// The label set of classification prompts (a trained run's, for evaluation); `None`: the
    /// sorted distinct labels of the training file ([`label::label_set`]). Default `None`.
    pub labels: Option<Vec<String>>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            max_seq_len: 512,
            train_on_everything: false,
            pack: false,
            val_split: 0.0,
            skip_bad_rows: false,
            seed: 0,
            require_labels: false,
            labels: None,
        }
    }
}

/// One training sequence: token ids and, per token, whether it is a target of the loss.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub ids: Vec<u32>,
    /// `loss_mask[i]`: token i is trained (predicted from tokens `..i`). Same length as `ids`;
    /// `loss_mask[0]` has no effect (nothing predicts the first token).
    pub loss_mask: Vec<bool>,
    /// A classification row's label: its index in the sorted label set (`None` for other rows
    /// and packed sequences); the classification head (`--head`) trains on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<u32>,
}

/// A dataset file's bytes and name (the name picks the container by extension and names the
/// file in errors).
#[derive(Clone, Copy, Debug)]
pub struct DataFile<'a> {
    pub bytes: &'a [u8],
    pub name: &'a str,
}

/// Prepared training and validation sequences, and what was done.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub train: Vec<Example>,
    pub val: Vec<Example>,
    pub summary: DataSummary,
}

/// Reads, validates, tokenizes and shapes a dataset. `val`: a separate validation file (then
/// `cfg.val_split` must be 0). `render`: the model's chat template, needed for chat rows (and
/// used for alpaca rows when present); e.g. `Some(&|m, g| model.render_chat(m, g))`.
pub fn prepare(
    train: DataFile,
    val: Option<DataFile>,
    tok: &Tokenizer,
    render: Option<RenderChat>,
    cfg: &DataConfig,
) -> Result<Dataset> {
    if cfg.max_seq_len < 2 {
        return Err(crate::Error::invalid("max_seq_len", format!("{} is too short (at least 2)", cfg.max_seq_len)));
    }
    if val.is_some() && cfg.val_split != 0.0 {
        return Err(crate::Error::invalid("val_split", "give either a validation file or val_split, not both"));
    }
    let budget = cut::text_budget(tok, cfg.max_seq_len);
    let labels = cfg.labels.clone().unwrap_or_default();
    let mut encoder = encode::Encoder { tok, render, train_on_everything: cfg.train_on_everything, budget, labels };
    let mut acc = Acc::default();
    let (format, examples) = load(train, &mut encoder, cfg, &mut acc)?;
    let (train_ex, val_ex, val_file) = match val {
        Some(v) => {
            let (vf, val_ex) = load(v, &mut encoder, cfg, &mut acc)?;
            (examples, val_ex, Some((v.name.to_string(), vf)))
        }
        None => {
            let (t, v) = shape::split(examples, cfg.val_split, cfg.seed)?;
            (t, v, None)
        }
    };
    let eos = tok.eos.as_ref().map(|e| e.id);
    let (train_ex, val_ex) = if cfg.pack {
        (shape::pack(train_ex, cfg.max_seq_len, eos), shape::pack(val_ex, cfg.max_seq_len, eos))
    } else {
        (train_ex, val_ex)
    };
    let tokens = |v: &[Example]| v.iter().map(|e| e.ids.len()).sum::<usize>();
    let trained = |v: &[Example]| v.iter().map(|e| e.loss_mask.iter().skip(1).filter(|&&m| m).count()).sum::<usize>();
    let skipped_rows = acc.bad.len();
    acc.bad.truncate(MAX_BAD_ROWS_LISTED);
    let summary = DataSummary {
        file: train.name.to_string(),
        format,
        val_file,
        rows: acc.rows,
        skipped_rows,
        bad_rows: acc.bad,
        train_sequences: train_ex.len(),
        val_sequences: val_ex.len(),
        packed: cfg.pack,
        train_tokens: tokens(&train_ex),
        trained_tokens: trained(&train_ex),
        val_tokens: tokens(&val_ex),
        val_trained_tokens: trained(&val_ex),
        truncated_rows: acc.fit.truncated_rows,
        truncated_tokens: acc.fit.truncated_tokens,
        untokenized_bytes: acc.untokenized_bytes,
        split_rows: acc.fit.split_rows,
        dropped_rows: acc.fit.dropped_rows,
        mask_fallback_rows: acc.fallback,
        longest: train_ex.iter().chain(&val_ex).map(|e| e.ids.len()).max().unwrap_or(0),
        max_seq_len: cfg.max_seq_len,
        labels: encoder.labels,
    };
    Ok(Dataset { train: train_ex, val: val_ex, summary })
}

/// Counts gathered over the files.
#[derive(Default)]
struct Acc {
    rows: usize,
    bad: Vec<BadRow>,
    fit: shape::FitCounts,
    fallback: usize,
    untokenized_bytes: usize,
}

/// One file → its format and fitted examples. The first classification file read (the training
/// file) sets the encoder's label set unless one was given.
fn load(
    file: DataFile,
    encoder: &mut encode::Encoder,
    cfg: &DataConfig,
    acc: &mut Acc,
) -> Result<(DatasetFormat, Vec<Example>)> {
    let parsed =
        parse::parse(file.bytes, file.name, cfg.skip_bad_rows, !cfg.train_on_everything, cfg.require_labels)?;
    if parsed.format.shape == Shape::Label && encoder.labels.is_empty() {
        encoder.labels = parse::labels_of(&parsed.records);
        label::check_label_set(&encoder.labels, file.name)?;
    }
    let mut bad = parse::BadRows { file: file.name, skip: cfg.skip_bad_rows, rows: parsed.bad };
    let splittable = parsed.format.shape == Shape::Text;
    let mut encoded = Vec::with_capacity(parsed.records.len());
    for r in &parsed.records {
        match encoder.encode(&r.content) {
            Ok(e) => {
                acc.fallback += e.mask_fallback as usize;
                acc.untokenized_bytes += e.cut_bytes;
                encoded.push((e.example, splittable));
            }
            Err(reason) => bad.bad(r.line, reason)?,
        }
    }
    if encoded.is_empty() {
        return Err(crate::Error::format(file.name, format!("no usable rows ({} bad rows skipped)", bad.rows.len())));
    }
    acc.rows += encoded.len();
    acc.bad.extend(bad.rows);
    let dropped_before = acc.fit.dropped_rows;
    let fitted = shape::fit(encoded, cfg.max_seq_len, &mut acc.fit);
    if fitted.is_empty() {
        return Err(crate::Error::format(
            file.name,
            format!(
                "no training rows: all {} rows were dropped because their prompt alone is at least max_seq_len \
                 ({}) tokens, leaving nothing to train; raise max_seq_len (--max-seq-len) or shorten the prompts",
                acc.fit.dropped_rows - dropped_before,
                cfg.max_seq_len
            ),
        ));
    }
    Ok((parsed.format, fitted.into_iter().map(|(_, e)| e).collect()))
}

/// Reads a dataset file from disk (native only; the browser passes bytes to [`prepare`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_dataset_path(path: &std::path::Path) -> Result<(Vec<u8>, String)> {
    let bytes = std::fs::read(path).map_err(|error| crate::Error::Io { path: path.to_path_buf(), error })?;
    Ok((bytes, path.display().to_string()))
}
