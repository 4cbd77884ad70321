//! Batches for training: (B, T) input ids and next-token targets, in a seeded order per epoch,
//! with a [`DataPosition`] that can be saved in a checkpoint and restored to resume exactly.
//!
//! Targets: `targets[b, t] = inputs[b, t + 1]` when that token is trained (its loss-mask bit is
//! set), else [`IGNORE`] (`u32::MAX`); the last position of a row and every padding position are
//! `IGNORE`. Padding positions hold `pad_id` as input (any valid id: it is never a target and,
//! with causal attention, never seen by real tokens). A batch always has `batch_size` rows: the
//! last batch of an epoch is filled with padding rows (all `IGNORE`), so shapes stay fixed and a
//! loss averaged over `n_targets` is unaffected.
//!
//! ```
//! use anytune_core::data::{Batcher, Example, Padding, IGNORE};
//! let rows = vec![Example { ids: vec![5, 6, 7], loss_mask: vec![false, false, true], label: None }];
//! let mut b = Batcher::new(&rows, 1, Padding::Longest, 0, 42, true)?;
//! let batch = b.next_batch();
//! assert_eq!((batch.inputs, batch.targets), (vec![5, 6, 7], vec![IGNORE, 7, IGNORE]));
//! # Ok::<(), anytune_core::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::Example;
use super::shape::shuffle;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The target of positions that are not trained (prompt, last position, padding): the
/// cross-entropy kernel's ignore id.
pub use crate::ops::cross_entropy::IGNORE;

/// How long the rows of a batch are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding {
    /// T = the longest row in the batch.
    Longest,
    /// T = this fixed length (every row must fit).
    Fixed(usize),
}

/// Where the batcher is: `index` rows of epoch `epoch`'s order have been served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataPosition {
    pub epoch: u64,
    pub index: usize,
}

/// One batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Rows (B) and positions (T).
    pub b: usize,
    pub t: usize,
    /// (B, T) input ids.
    pub inputs: Vec<u32>,
    /// (B, T) next-token targets, [`IGNORE`] where not trained.
    pub targets: Vec<u32>,
    /// Targets that are not [`IGNORE`].
    pub n_targets: usize,
    /// The example index of each real row (padding rows are not listed).
    pub rows: Vec<usize>,
    /// Where this batch was taken from.
    pub position: DataPosition,
}

/// Serves batches over `rows` forever, epoch after epoch, in a seeded order (or in order).
#[derive(Debug)]
pub struct Batcher<'a> {
    rows: &'a [Example],
    batch_size: usize,
    padding: Padding,
    pad_id: u32,
    seed: u64,
    shuffle: bool,
    order: Vec<usize>,
    pos: DataPosition,
}

impl<'a> Batcher<'a> {
    /// `shuffle`: a fresh seeded order each epoch (training); else file order (validation).
    pub fn new(
        rows: &'a [Example],
        batch_size: usize,
        padding: Padding,
        pad_id: u32,
        seed: u64,
        shuffle: bool,
    ) -> Result<Batcher<'a>> {
        if rows.is_empty() {
            return Err(Error::invalid("dataset", "no examples to batch"));
        }
        if batch_size == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        if let Padding::Fixed(t) = padding
            && let Some(long) = rows.iter().map(|r| r.ids.len()).max().filter(|&l| l > t)
        {
            return Err(Error::invalid(
                "padding",
                format!("a row has {long} tokens, longer than the fixed length {t}"),
            ));
        }
        let mut b = Batcher {
            rows,
            batch_size,
            padding,
            pad_id,
            seed,
            shuffle,
            order: Vec::new(),
            pos: DataPosition::default(),
        };
        b.order = b.epoch_order(0);
        Ok(b)
    }

    /// The row order of `epoch`.
    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        if self.shuffle {
            shuffle(&mut order, &mut Rng::new(self.seed ^ (epoch + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)));
        }
        order
    }

    /// Where the next batch comes from (save it in a checkpoint).
    pub fn position(&self) -> DataPosition {
        self.pos
    }

    /// Resumes from a saved position (same rows, batch size and seed give the same batches).
    pub fn seek(&mut self, pos: DataPosition) -> Result<()> {
        if pos.index > self.rows.len() {
            return Err(Error::invalid(
                "data position",
                format!(
                    "row {} of an epoch of {} rows: was the checkpoint made with another dataset?",
                    pos.index,
                    self.rows.len()
                ),
            ));
        }
        self.order = self.epoch_order(pos.epoch);
        self.pos = pos;
        Ok(())
    }

    /// Batches in one epoch (the last may be partly padding rows).
    pub fn batches_per_epoch(&self) -> usize {
        self.rows.len().div_ceil(self.batch_size)
    }

    /// The next batch; moves to the next epoch after its last row.
    pub fn next_batch(&mut self) -> Batch {
        if self.pos.index >= self.rows.len() {
            self.pos = DataPosition { epoch: self.pos.epoch + 1, index: 0 };
            self.order = self.epoch_order(self.pos.epoch);
        }
        let position = self.pos;
        let end = (position.index + self.batch_size).min(self.rows.len());
        let picked: Vec<usize> = self.order[position.index..end].to_vec();
        self.pos.index = end;
        let t = match self.padding {
            Padding::Fixed(t) => t,
            Padding::Longest => picked.iter().map(|&i| self.rows[i].ids.len()).max().unwrap_or(1),
        };
        let (b, mut n_targets) = (self.batch_size, 0);
        let mut inputs = vec![self.pad_id; b * t];
        let mut targets = vec![IGNORE; b * t];
        for (r, &i) in picked.iter().enumerate() {
            let ex = &self.rows[i];
            inputs[r * t..r * t + ex.ids.len()].copy_from_slice(&ex.ids);
            for p in 1..ex.ids.len() {
                if ex.loss_mask[p] {
                    targets[r * t + p - 1] = ex.ids[p];
                    n_targets += 1;
                }
            }
        }
        Batch { b, t, inputs, targets, n_targets, rows: picked, position }
    }
}

impl Iterator for Batcher<'_> {
    type Item = Batch;

    /// Never `None`: batches go on epoch after epoch (use `.take(steps)`).
    fn next(&mut self) -> Option<Batch> {
        Some(self.next_batch())
    }
}
