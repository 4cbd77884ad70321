//! Successive halving, synchronous: every trial trains to the first rung (a fraction of its
//! schedule) and is validated there; the best `1/eta` of them go on to the next rung, the rest
//! stop; the last rung is the full schedule. With `rungs` rungs the fractions are
//! `1/eta^(rungs-1), …, 1/eta, 1`.
//!
//! ```
//! use anytune_core::sweep::halving::{Halving, survivors};
//! let h = Halving::new(2, 3).unwrap();
//! assert_eq!(h.rung_steps(16), vec![4, 8, 16]);
//! // Four trials at a rung: the best two go on; a non-finite loss never does.
//! assert_eq!(survivors(&[(1, 0.5), (2, f32::NAN), (3, 0.4), (4, 0.9)], 2), vec![1, 3]);
//! ```

use crate::error::{Error, Result};

/// The halving settings: keep the best `1/eta` at each rung, over `rungs` rungs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Halving {
    pub eta: usize,
    pub rungs: usize,
}

/// `--eta`: 2 to this.
pub const MAX_ETA: usize = 10;
/// `--rungs`: 1 (no early stopping) to this.
pub const MAX_RUNGS: usize = 10;

impl Halving {
    /// Checks `eta` (2 to [`MAX_ETA`]) and `rungs` (1 to [`MAX_RUNGS`]).
    pub fn new(eta: usize, rungs: usize) -> Result<Halving> {
        if !(2..=MAX_ETA).contains(&eta) {
            return Err(Error::invalid("--eta", format!("{eta} (allowed: a whole number from 2 to {MAX_ETA})")));
        }
        if !(1..=MAX_RUNGS).contains(&rungs) {
            return Err(Error::invalid("--rungs", format!("{rungs} (allowed: a whole number from 1 to {MAX_RUNGS})")));
        }
        Ok(Halving { eta, rungs })
    }

    /// The optimizer step of each rung for a schedule of `total` steps: `total / eta^(rungs-1-k)`
    /// rounded up, at least 1 (short schedules repeat a step: that rung measures again).
    pub fn rung_steps(&self, total: usize) -> Vec<usize> {
        (0..self.rungs)
            .map(|k| {
                let div = (self.eta as u128).saturating_pow((self.rungs - 1 - k) as u32);
                ((total as u128).div_ceil(div) as usize).clamp(1, total.max(1))
            })
            .collect()
    }
}

/// The trials that go on from a rung, given `(trial, validation loss)` of every trial measured
/// there: the `ceil(n / eta)` lowest finite losses (ties: the lower trial number), in trial
/// order. A non-finite loss never goes on.
pub fn survivors(losses: &[(usize, f32)], eta: usize) -> Vec<usize> {
    let keep = losses.len().div_ceil(eta.max(1));
    let mut finite: Vec<(usize, f32)> = losses.iter().copied().filter(|(_, l)| l.is_finite()).collect();
    finite.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut kept: Vec<usize> = finite.into_iter().take(keep).map(|(id, _)| id).collect();
    kept.sort_unstable();
    kept
}
