//! Learning-rate schedules, as Hugging Face's `get_{constant,linear,cosine}_schedule_with_warmup`:
//! a linear warmup from 0 over `warmup` steps, then constant, linear decay to 0, or a half cosine
//! to 0 at `total` steps. `step` is the 0-based optimizer step.

/// The shape of the learning rate over training. Default: cosine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schedule {
    Constant,
    Linear,
    #[default]
    Cosine,
}

impl Schedule {
    pub fn parse(name: &str) -> crate::Result<Schedule> {
        match name {
            "constant" => Ok(Schedule::Constant),
            "linear" => Ok(Schedule::Linear),
            "cosine" => Ok(Schedule::Cosine),
            other => Err(crate::Error::invalid("schedule", format!("{other:?} (choose constant, linear or cosine)"))),
        }
    }

    /// Multiplier of the peak learning rate at `step` of `total`.
    pub fn factor(self, step: usize, warmup: usize, total: usize) -> f64 {
        if step < warmup {
            return step as f64 / warmup.max(1) as f64;
        }
        let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
        match self {
            Schedule::Constant => 1.0,
            Schedule::Linear => (1.0 - progress).max(0.0),
            Schedule::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_hugging_face() {
        // get_linear_schedule_with_warmup(warmup 2, total 10): 0, .5, 1, 7/8, …, 1/8.
        let lin: Vec<f64> = (0..10).map(|s| Schedule::Linear.factor(s, 2, 10)).collect();
        assert_eq!(&lin[..3], &[0.0, 0.5, 1.0]);
        assert!((lin[9] - 0.125).abs() < 1e-12);
        // Cosine: 1 after warmup, 0.5 halfway, → 0 at the end.
        assert!((Schedule::Cosine.factor(2, 2, 10) - 1.0).abs() < 1e-12);
        assert!((Schedule::Cosine.factor(6, 2, 10) - 0.5).abs() < 1e-12);
        assert!(Schedule::Cosine.factor(10, 2, 10).abs() < 1e-12);
        assert_eq!(Schedule::Constant.factor(7, 0, 10), 1.0);
        assert!(Schedule::parse("exponential").is_err());
    }
}
