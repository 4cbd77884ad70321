//! What the data pipeline did, for `--dry-run` and the web page: [`DataSummary`] (serialisable,
//! and printable through `Display`) and the [`BadRow`]s it skipped.

use serde::{Deserialize, Serialize};

use super::format::DatasetFormat;

/// How many skipped rows the summary lists (all are counted).
pub const MAX_BAD_ROWS_LISTED: usize = 20;

/// A row skipped with `skip_bad_rows`: where, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    pub file: String,
    /// 1-based line where the row starts.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// Counts over a prepared dataset. "Rows" are the file's rows; "sequences" are what the model
/// sees (after splitting long text rows, dropping empty ones, and packing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    pub file: String,
    pub format: DatasetFormat,
    /// The separate validation file and its format, if one was given.
    pub val_file: Option<(String, DatasetFormat)>,
    /// Good rows read (training file plus validation file).
    pub rows: usize,
    /// Bad rows skipped (`skip_bad_rows`), over both files.
    pub skipped_rows: usize,
    /// The first [`MAX_BAD_ROWS_LISTED`] skipped rows.
    pub bad_rows: Vec<BadRow>,
    pub train_sequences: usize,
    pub val_sequences: usize,
    /// Whether examples were packed into rows of `max_seq_len`.
    pub packed: bool,
    /// Tokens in the training sequences (padding excluded).
    pub train_tokens: usize,
    /// Training tokens that are targets of the loss.
    pub trained_tokens: usize,
    pub val_tokens: usize,
    pub val_trained_tokens: usize,
    /// Rows cut to `max_seq_len`, and the tokens cut from them in total.
    pub truncated_rows: usize,
    pub truncated_tokens: usize,
    /// Bytes of text past what `max_seq_len` tokens can hold, cut from truncated rows before
    /// tokenizing (so not counted in `truncated_tokens`).
    pub untokenized_bytes: usize,
    /// Extra sequences made by splitting text rows longer than `max_seq_len`.
    pub split_rows: usize,
    /// Rows dropped because truncation left no trained token (the prompt alone filled `max_seq_len`).
    pub dropped_rows: usize,
    /// Chat rows whose assistant spans could not be found: trained on all their tokens.
    pub mask_fallback_rows: usize,
    /// The longest sequence, in tokens.
    pub longest: usize,
    pub max_seq_len: usize,
    /// The label set of classification rows (sorted; empty for other shapes).
    #[serde(default)]
    pub labels: Vec<String>,
}

impl std::fmt::Display for DataSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "dataset {}: {}", self.file, self.format)?;
        if let Some((file, format)) = &self.val_file {
            writeln!(f, "validation {file}: {format}")?;
        }
        writeln!(f, "  rows read: {}, skipped (bad): {}", self.rows, self.skipped_rows)?;
        if !self.labels.is_empty() {
            writeln!(f, "  labels ({}): {}; trained as text, loss on the label only", self.labels.len(), self.labels.join(", "))?;
        }
        for b in &self.bad_rows {
            writeln!(f, "    skipped {b}")?;
        }
        if self.skipped_rows > self.bad_rows.len() {
            writeln!(f, "    ... and {} more", self.skipped_rows - self.bad_rows.len())?;
        }
        let packed = if self.packed { ", packed" } else { "" };
        writeln!(
            f,
            "  train: {} sequences{packed}, {} tokens, {} trained ({:.0}%)",
            self.train_sequences,
            self.train_tokens,
            self.trained_tokens,
            100.0 * self.trained_tokens as f64 / self.train_tokens.max(1) as f64
        )?;
        if self.val_sequences > 0 {
            writeln!(
                f,
                "  validation: {} sequences, {} tokens, {} trained",
                self.val_sequences, self.val_tokens, self.val_trained_tokens
            )?;
        }
        writeln!(f, "  longest sequence: {} tokens (max_seq_len {})", self.longest, self.max_seq_len)?;
        if self.truncated_rows > 0 {
            write!(f, "  truncated: {} rows, {} tokens cut", self.truncated_rows, self.truncated_tokens)?;
            if self.untokenized_bytes > 0 {
                write!(f, " (and {} bytes of text past the longest sequence, not tokenized)", self.untokenized_bytes)?;
            }
            writeln!(f)?;
        }
        if self.split_rows > 0 {
            writeln!(f, "  long text rows split into {} extra sequences", self.split_rows)?;
        }
        if self.dropped_rows > 0 {
            writeln!(
                f,
                "  dropped: {} rows whose prompt alone is at least max_seq_len tokens (raise max_seq_len to keep them)",
                self.dropped_rows
            )?;
        }
        if self.mask_fallback_rows > 0 {
            writeln!(
                f,
                "  note: {} chat rows trained on all tokens (the template's assistant turns could not be located)",
                self.mask_fallback_rows
            )?;
        }
        Ok(())
    }
}
