//! One trial of a sweep: its options (the fixed ones with its searched values), and one
//! segment of its training — from its last checkpoint (or the start) to its next rung, where it
//! is validated. The caller keeps the checkpoints (files natively) through a callback.

use super::space::Assignment;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::model::Model;
use crate::train::options::{Origin, RawValue};
use crate::train::{RunOptions, RunPlan, TrainRun};

/// The options of a trial: `fixed` with `values` set, then `schedule` (the short schedule of a
/// software adapter or the batch of a real GPU, [`crate::train::run::planned_options`]), then
/// `values` again, so that a searched value equal to a default is kept rather than taken for
/// "not given". The trial's plan is then made from these options as they are
/// ([`crate::train::RunPlan::from_planned`]).
pub fn trial_options(
    fixed: &RunOptions,
    values: &Assignment,
    schedule: impl Fn(&RunOptions) -> Result<(RunOptions, Vec<String>)>,
) -> Result<(RunOptions, Vec<String>)> {
    let set = |o: &mut RunOptions| -> Result<()> {
        for (name, v) in values {
            o.set(name, &RawValue::Text(v), &Origin::Api)?;
        }
        Ok(())
    };
    let mut o = fixed.clone();
    set(&mut o)?;
    let (mut o, notes) = schedule(&o)?;
    set(&mut o)?;
    Ok((o, notes))
}

/// How a segment ended.
pub enum Segment {
    /// The trial reached the rung step; its validation loss there, and the run (for its adapter).
    Measured { loss: f32, run: Box<TrainRun> },
    /// A step diverged (non-finite loss or gradient): the trainer's message.
    Diverged(String),
}

/// Trains `plan` from `resume` (checkpoint bytes and the file's name) to step `until`, calling
/// `save(step, bytes)` with a checkpoint at every step the run's `checkpoint_every` asks for and
/// at `until` (when it trained at all), then validates. A divergence ends the segment as [`Segment::Diverged`]; other
/// errors (GPU, the callback's I/O) are returned.
pub async fn train_segment(
    gpu: &Gpu,
    model: &Model,
    plan: RunPlan,
    resume: Option<(&[u8], &str)>,
    until: usize,
    mut save: impl FnMut(usize, Vec<u8>) -> Result<()>,
) -> Result<Segment> {
    let mut run = TrainRun::start(gpu, model, plan)?;
    if let Some((bytes, file)) = resume {
        run.resume(gpu, bytes, file)?;
    }
    let (mut val, start) = (None, run.step_count());
    while run.step_count() < until {
        let s = match run.step(gpu, model).await {
            Ok(s) => s,
            Err(Error::Invalid { name, what }) if name == "training" => return Ok(Segment::Diverged(what)),
            Err(e) => return Err(e),
        };
        if s.checkpoint_due && s.report.step < until {
            save(s.report.step, run.checkpoint(gpu).await?)?;
        }
        val = s.val.map(|e| e.loss);
    }
    if run.step_count() > start {
        save(run.step_count(), run.checkpoint(gpu).await?)?;
    }
    let loss = match val {
        Some(loss) => loss,
        None => run.validate(gpu, model).await?.loss,
    };
    Ok(Segment::Measured { loss, run: Box::new(run) })
}
