//! The training progress display: on a terminal one bar redrawn in place
//! (`[#####-----] step 12/24  loss 1.2345  lr 5.0e-04  87 tokens/s  ETA 1m20s`); otherwise (a
//! log file, a pipe) the same text as one line per step.

use anytune_core::train::StepReport;
use std::io::{IsTerminal, Write};
use std::time::Instant;

const BAR_WIDTH: usize = 24;

pub struct Progress {
    start: Instant,
    first_step: usize,
    total: usize,
    tokens: usize,
    terminal: bool,
    /// A bar is drawn on the current line (cleared before other messages).
    drawn: bool,
}

impl Progress {
    /// Progress of steps `first_step + 1 ..= total` (a resumed run starts past 0).
    pub fn new(first_step: usize, total: usize) -> Progress {
        Progress { start: Instant::now(), first_step, total, tokens: 0, terminal: std::io::stderr().is_terminal(), drawn: false }
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Shows step `r`.
    pub fn step(&mut self, r: &StepReport) {
        self.tokens += r.tokens;
        let secs = self.elapsed();
        let done = r.step.saturating_sub(self.first_step).max(1);
        let eta = secs / done as f64 * self.total.saturating_sub(r.step) as f64;
        let text = format!(
            "step {:>4}/{}  loss {:.4}  lr {:.2e}  grad-norm {:.3}  {:.0} tokens/s  ETA {}",
            r.step,
            self.total,
            r.loss,
            r.lr,
            r.grad_norm,
            self.tokens as f64 / secs,
            duration(eta)
        );
        if self.terminal {
            let filled = (BAR_WIDTH * r.step / self.total.max(1)).min(BAR_WIDTH);
            eprint!("\r[{}{}] {text}\x1b[K", "#".repeat(filled), "-".repeat(BAR_WIDTH - filled));
            let _ = std::io::stderr().flush();
            self.drawn = true;
        } else {
            eprintln!("{text}");
        }
    }

    /// Prints a line of its own (the bar is redrawn at the next step).
    pub fn message(&mut self, text: &str) {
        self.finish();
        eprintln!("{text}");
    }

    /// Ends the bar's line.
    pub fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

/// `75s` → `1m15s`.
fn duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{s}s") }
}
