//! The table of a sweep: one row per trial with the searched values, the validation loss at
//! each rung, the final loss, the steps trained and the status (`best`, `done`, `stopped at
//! rung k`, `failed: …`); as aligned text (printed) and as CSV (`trials.csv`).

use super::state::{Status, SweepState};

/// Rows of text under a header.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The table of `state`'s trials.
pub fn table(state: &SweepState) -> Table {
    let Some(first) = state.trials.first() else { return Table { header: vec!["trial".into()], rows: Vec::new() } };
    let same_steps = state.trials.iter().all(|t| t.rung_steps == first.rung_steps);
    let mut header = vec!["trial".to_string()];
    header.extend(first.values.iter().map(|(k, _)| k.clone()));
    header.extend(first.rung_steps.iter().enumerate().map(|(k, s)| match same_steps {
        true => format!("rung {} (step {s})", k + 1),
        false => format!("rung {}", k + 1),
    }));
    header.extend(["val loss", "steps", "status"].map(String::from));
    let best = state.best();
    let rows = state.trials.iter().enumerate().map(|(i, t)| {
        let mut row = vec![t.id.to_string()];
        row.extend(t.values.iter().map(|(_, v)| v.clone()));
        row.extend((0..first.rung_steps.len()).map(|k| match t.losses.get(k) {
            Some(Some(l)) => format!("{l:.4}"),
            Some(None) => "non-finite".to_string(),
            None => "-".to_string(),
        }));
        row.push(t.final_loss().map_or("-".to_string(), |l| format!("{l:.4}")));
        row.push(t.losses.len().checked_sub(1).map_or(0, |k| t.rung_steps[k]).to_string());
        row.push(match &t.status {
            _ if best == Some(i) => "best".to_string(),
            Status::Pending => "pending".to_string(),
            Status::Running => "running".to_string(),
            Status::Stopped { rung } => format!("stopped at rung {}", rung + 1),
            Status::Done => "done".to_string(),
            Status::Failed { reason } => format!("failed: {reason}"),
        });
        row
    });
    Table { header, rows: rows.collect() }
}

impl Table {
    /// Columns padded to their widest cell, two spaces apart.
    pub fn aligned(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| std::iter::once(&self.header).chain(&self.rows).map(|r| r.get(c).map_or(0, |s| s.chars().count())).max().unwrap_or(0))
            .collect();
        let line = |row: &Vec<String>| {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(s, &w)| format!("{s:<w$}")).collect();
            cells.join("  ").trim_end().to_string() + "\n"
        };
        std::iter::once(&self.header).chain(&self.rows).map(line).collect()
    }

    /// RFC 4180 CSV: cells with commas, quotes or line breaks are quoted.
    pub fn csv(&self) -> String {
        let cell = |s: &String| match s.contains([',', '"', '\n', '\r']) {
            true => format!("\"{}\"", s.replace('"', "\"\"")),
            false => s.clone(),
        };
        std::iter::once(&self.header).chain(&self.rows).map(|r| r.iter().map(cell).collect::<Vec<_>>().join(",") + "\n").collect()
    }
}
