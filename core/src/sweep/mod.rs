//! Hyperparameter search over the run options (`anytune sweep`): a grid or random search space
//! ([`space`]), synchronous successive halving on the validation loss ([`halving`]), the
//! resumable state of a sweep ([`state`], `sweep.json`), one trial's training segment
//! ([`trial`]) and the table of trials ([`report`]). The trials share the loaded model and one
//! prepared dataset ([`crate::train::RunPlan::from_dataset`]); the caller keeps the files.

pub mod halving;
pub mod report;
pub mod space;
pub mod state;
pub mod trial;

pub use halving::Halving;
pub use space::{Assignment, Space};
pub use state::{PlannedTrial, Status, SweepSetup, SweepState, Trial};
pub use trial::{Segment, train_segment, trial_options};

#[cfg(test)]
mod tests;
