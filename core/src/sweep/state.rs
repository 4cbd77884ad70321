//! The state of a sweep, kept in `sweep.json` in its output folder: what was searched (so a
//! rerun with other settings is refused by name) and every trial with its options, status,
//! validation loss per rung and last checkpoint. The caller writes it atomically after every
//! change, so a sweep killed at any moment continues from it: a trial in progress restarts from
//! the checkpoint the state names, and the rung decisions are a pure function of the losses
//! ([`SweepState::settle`]), so they come out the same.

use super::halving::{Halving, survivors};
use super::space::Assignment;
use crate::error::{Error, Result};
use crate::train::checkpoint::RunIdentity;
use serde::{Deserialize, Serialize};

/// The version of the `sweep.json` layout.
pub const STATE_VERSION: u32 = 1;

/// What a sweep's result depends on: a rerun in the same folder must match it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSetup {
    /// `grid: <space>` or `random N: <space>` (the space as [`super::space::Space::describe`]).
    pub search: String,
    pub halving: Halving,
    /// The base model's path.
    pub model: String,
    /// The fixed options (every option not searched) and the data files' hashes.
    pub run: RunIdentity,
}

impl SweepSetup {
    /// Why a sweep saved with `saved` cannot continue as this one, naming each difference.
    pub fn mismatch(&self, saved: &SweepSetup) -> Option<String> {
        let mut why = Vec::new();
        if saved.search != self.search {
            why.push(format!("the search was {:?}, now {:?}", saved.search, self.search));
        }
        if saved.halving != self.halving {
            let (a, b) = (saved.halving, self.halving);
            why.push(format!("--eta {} --rungs {} then, --eta {} --rungs {} now", a.eta, a.rungs, b.eta, b.rungs));
        }
        if saved.model != self.model {
            why.push(format!("the model was {}, now {}", saved.model, self.model));
        }
        why.extend(self.run.mismatch(&saved.run));
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// Where a trial stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Not started.
    Pending,
    /// Trained to a rung and going on.
    Running,
    /// Stopped by the halving at rung `rung` (0-based) for a loss among the worst there.
    Stopped { rung: usize },
    /// Trained the whole schedule.
    Done,
    /// Diverged or had a non-finite validation loss.
    Failed { reason: String },
}

impl Status {
    /// Still to be trained further.
    pub fn active(&self) -> bool {
        matches!(self, Status::Pending | Status::Running)
    }
}

/// A checkpoint file of a trial (relative to the sweep's folder) and its step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedCheckpoint {
    pub step: usize,
    pub file: String,
}

/// One trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// 1-based.
    pub id: usize,
    /// The searched options' values, as given or drawn.
    pub values: Vec<(String, String)>,
    /// Every option of the trial as planned (JSON, [`crate::train::RunOptions::from_value`]).
    pub options: serde_json::Value,
    pub rung_steps: Vec<usize>,
    /// The validation loss at each rung reached; `None` for a non-finite one.
    pub losses: Vec<Option<f32>>,
    #[serde(flatten)]
    pub status: Status,
    pub checkpoint: Option<SavedCheckpoint>,
}

impl Trial {
    /// The last measured loss.
    pub fn final_loss(&self) -> Option<f32> {
        self.losses.last().copied().flatten()
    }
}

/// `sweep.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepState {
    pub version: u32,
    pub setup: SweepSetup,
    pub trials: Vec<Trial>,
}

/// What the caller knows of a trial before it trains: its values, planned options and steps.
pub struct PlannedTrial {
    pub values: Assignment,
    pub options: serde_json::Value,
    pub total_steps: usize,
}

impl SweepState {
    /// A new sweep of `trials`, all pending.
    pub fn new(setup: SweepSetup, trials: Vec<PlannedTrial>) -> SweepState {
        let halving = setup.halving;
        let trials = trials
            .into_iter()
            .enumerate()
            .map(|(i, t)| Trial {
                id: i + 1,
                values: t.values.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                options: t.options,
                rung_steps: halving.rung_steps(t.total_steps),
                losses: Vec::new(),
                status: Status::Pending,
                checkpoint: None,
            })
            .collect();
        SweepState { version: STATE_VERSION, setup, trials }
    }

    /// Reads `sweep.json` text; `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<SweepState> {
        let state: SweepState = serde_json::from_str(text).map_err(|e| Error::format(file, format!("not a sweep state: {e}")))?;
        if state.version != STATE_VERSION {
            return Err(Error::format(file, format!("sweep state version {} (this anytune reads {STATE_VERSION})", state.version)));
        }
        let rungs = state.setup.halving.rungs;
        if let Some(t) = state.trials.iter().find(|t| t.rung_steps.len() != rungs || t.losses.len() > rungs) {
            return Err(Error::format(file, format!("trial {}: {} rung steps and {} losses for {rungs} rungs", t.id, t.rung_steps.len(), t.losses.len())));
        }
        Ok(state)
    }

    /// The state as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The trial to train next: the active one at the lowest rung (synchronous halving), as an
    /// index into `trials`; `None` when the sweep is over.
    pub fn next_trial(&self) -> Option<usize> {
        (0..self.trials.len()).filter(|&i| self.trials[i].status.active()).min_by_key(|&i| (self.trials[i].losses.len(), i))
    }

    /// Records trial `i`'s validation loss at its next rung, then settles the rungs.
    pub fn record(&mut self, i: usize, loss: f32) {
        let last = self.setup.halving.rungs;
        let t = &mut self.trials[i];
        t.losses.push(loss.is_finite().then_some(loss));
        t.status = if !loss.is_finite() {
            Status::Failed { reason: format!("validation loss {loss} at rung {}", t.losses.len()) }
        } else if t.losses.len() >= last {
            Status::Done
        } else {
            Status::Running
        };
        self.settle();
    }

    /// Marks trial `i` failed (it diverged: `reason`), then settles the rungs.
    pub fn fail(&mut self, i: usize, reason: String) {
        self.trials[i].status = Status::Failed { reason };
        self.settle();
    }

    /// Applies the halving at every rung (but the last) that every active trial has passed:
    /// the running trials measured there that are not among its survivors stop. Idempotent.
    pub fn settle(&mut self) {
        let eta = self.setup.halving.eta;
        for k in 0..self.setup.halving.rungs.saturating_sub(1) {
            if self.trials.iter().any(|t| t.status.active() && t.losses.len() <= k) {
                break;
            }
            let measured: Vec<(usize, f32)> =
                self.trials.iter().filter(|t| t.losses.len() > k).map(|t| (t.id, t.losses[k].unwrap_or(f32::NAN))).collect();
            let kept = survivors(&measured, eta);
            for t in &mut self.trials {
                if t.status == Status::Running && t.losses.len() == k + 1 && !kept.contains(&t.id) {
                    t.status = Status::Stopped { rung: k };
                }
            }
        }
    }

    /// The trial that trained the whole schedule to the lowest final loss (ties: the lower
    /// number), as an index into `trials`.
    pub fn best(&self) -> Option<usize> {
        (0..self.trials.len())
            .filter_map(|i| Some((i, self.trials[i].final_loss()?)).filter(|_| self.trials[i].status == Status::Done))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .map(|(i, _)| i)
    }
}
