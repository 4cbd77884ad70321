//! Win rates from marks: per adapter against the base, the wins, losses, ties and both-bad
//! pairs; the win rate (a tie counts half a win; both-bad pairs are left out), its 95% Wilson
//! score interval, and a two-sided sign test (ties and both-bad left out).
//!
//! ```
//! use anytune_core::compare::summary::wilson;
//! let (lo, hi) = wilson(8.0, 10.0);
//! assert!((lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4);
//! ```

use super::marks::{Choice, Marks};
use crate::error::{Error, Result};
use serde::Serialize;

/// The normal quantile of a two-sided 95% interval.
pub const Z95: f64 = 1.959963984540054;

/// How the table counts, printed under it.
pub const RULES: &str = "win rate (vs the base model) = (wins + ties/2) / (wins + losses + ties); both-bad pairs are left out.\n\
95% CI: Wilson score interval; p: two-sided sign test on wins vs losses (ties and both-bad left out).\n";

/// One adapter against the base.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tally {
    pub adapter: String,
    pub wins: usize,
    pub losses: usize,
    pub ties: usize,
    pub both_bad: usize,
    /// `None` when no pair counts (all both-bad or none rated).
    pub win_rate: Option<f64>,
    /// The 95% Wilson score interval of `win_rate`.
    pub interval: Option<[f64; 2]>,
    /// Two-sided sign test p-value; `None` with no wins or losses.
    pub sign_test_p: Option<f64>,
}

/// Every adapter's tally, over one or more marks files of the same report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub report: String,
    pub pairs: usize,
    /// Marks counted (over all files).
    pub marks: usize,
    pub files: usize,
    pub tallies: Vec<Tally>,
}

/// The Wilson score interval at 95% of `successes` (may be fractional: ties count half) in `n`
/// trials (n > 0).
pub fn wilson(successes: f64, n: f64) -> (f64, f64) {
    let p = successes / n;
    let z2 = Z95 * Z95;
    let d = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / d;
    let half = Z95 / d * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The two-sided exact sign test: P(a result as far from even as `wins` : `losses`) under
/// Binomial(wins + losses, 1/2), capped at 1. Summed in logs, so any count works.
pub fn sign_test(wins: usize, losses: usize) -> f64 {
    let n = wins + losses;
    let mut ln_choose = 0.0f64; // ln C(n, k)
    let mut tail = 0.0;
    for k in 0..=wins.min(losses) {
        tail += (ln_choose - n as f64 * std::f64::consts::LN_2).exp();
        ln_choose += ((n - k) as f64).ln() - ((k + 1) as f64).ln();
    }
    (2.0 * tail).min(1.0)
}

impl Tally {
    fn new(adapter: &str) -> Tally {
        Tally { adapter: adapter.to_string(), wins: 0, losses: 0, ties: 0, both_bad: 0, win_rate: None, interval: None, sign_test_p: None }
    }

    fn finish(&mut self) {
        let n = (self.wins + self.losses + self.ties) as f64;
        if n > 0.0 {
            let s = self.wins as f64 + self.ties as f64 / 2.0;
            self.win_rate = Some(s / n);
            let (lo, hi) = wilson(s, n);
            self.interval = Some([lo, hi]);
        }
        if self.wins + self.losses > 0 {
            self.sign_test_p = Some(sign_test(self.wins, self.losses));
        }
    }
}

/// Tallies the marks of one report, from one or more raters' files (`(name, marks)`); files of
/// different reports are refused.
pub fn summarise(files: &[(String, Marks)]) -> Result<Summary> {
    let Some((first_name, first)) = files.first() else { return Err(Error::invalid("--summarise", "give a marks file")) };
    let mut tallies: Vec<Tally> = first.systems[1..].iter().map(|a| Tally::new(a)).collect();
    let mut count = 0;
    for (name, m) in files {
        if m.report != first.report || m.systems != first.systems || m.pairs != first.pairs {
            return Err(Error::format(name, format!("rates report {} ({:?}), but {first_name} rates report {} ({:?}): summarise one report at a time", m.report, m.systems, first.report, first.systems)));
        }
        for mark in &m.marks {
            let Some(t) = tallies.iter_mut().find(|t| t.adapter == mark.adapter) else { continue }; // parse_marks checked it
            count += 1;
            match (mark.choice, mark.chosen()) {
                (Choice::Tie, _) => t.ties += 1,
                (Choice::BothBad, _) => t.both_bad += 1,
                (_, Some(winner)) if winner == mark.adapter => t.wins += 1,
                _ => t.losses += 1,
            }
        }
    }
    tallies.iter_mut().for_each(Tally::finish);
    Ok(Summary { report: first.report.clone(), pairs: first.pairs, marks: count, files: files.len(), tallies })
}

impl Summary {
    /// The table `anytune compare --summarise` prints, with the rules under it.
    pub fn table(&self) -> String {
        let width = self.tallies.iter().map(|t| t.adapter.chars().count()).max().unwrap_or(0).max(7);
        let mut out = format!(
            "report {}: {} marks of {} pairs{}\n{:<width$}  {:>4}  {:>6}  {:>4}  {:>8}  {:>8}  {:<14}  {:>6}\n",
            self.report,
            self.marks,
            self.pairs,
            if self.files > 1 { format!(" from {} files", self.files) } else { String::new() },
            "adapter", "wins", "losses", "ties", "both bad", "win rate", "95% CI", "p",
        );
        let dash = || "—".to_string();
        for t in &self.tallies {
            let rate = t.win_rate.map_or_else(dash, |r| format!("{r:.3}"));
            let ci = t.interval.map_or_else(dash, |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"));
            let p = t.sign_test_p.map_or_else(dash, |p| format!("{p:.3}"));
            out += &format!(
                "{:<width$}  {:>4}  {:>6}  {:>4}  {:>8}  {:>8}  {:<14}  {:>6}\n",
                t.adapter, t.wins, t.losses, t.ties, t.both_bad, rate, ci, p
            );
        }
        out + RULES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::marks::parse_marks;
    use crate::compare::marks::tests::marks_json;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-6
    }

    #[test]
    fn wilson_interval_matches_known_values() {
        // Reference values: the Wilson formula in Python (z = 1.959963984540054).
        for (s, n, lo, hi) in [
            (8.0, 10.0, 0.490162, 0.943318),
            (5.0, 10.0, 0.236593, 0.763407),
            (0.0, 10.0, 0.0, 0.277533),
            (6.5, 10.0, 0.353671, 0.863069),
            (50.0, 100.0, 0.403832, 0.596168),
            (1.0, 1.0, 0.206549, 1.0),
        ] {
            let (a, b) = wilson(s, n);
            assert!(close(a, lo) && close(b, hi), "{s}/{n}: ({a}, {b}), expected ({lo}, {hi})");
        }
    }

    #[test]
    fn sign_test_matches_the_binomial_tail() {
        for (w, l, p) in [(6, 2, 0.2890625), (10, 0, 0.001953125), (3, 3, 1.0), (9, 1, 0.021484375), (1, 9, 0.021484375)] {
            assert!((sign_test(w, l) - p).abs() < 1e-12, "{w}:{l}: {}", sign_test(w, l));
        }
        // Large counts stay finite: 600 : 400 is far from even.
        let p = sign_test(600, 400);
        assert!(p > 0.0 && p < 1e-9, "{p}");
    }

    #[test]
    fn marks_are_tallied_per_adapter_with_ties_counting_half() {
        // a: pair 0 base left, right (a) wins; pair 2 a left, left (a) wins; pair 4 tie; b: pair 1 base wins, pair 3 both bad.
        let v = marks_json(&[(0, "a", true, "right"), (2, "a", false, "left"), (4, "a", true, "tie"), (1, "b", false, "right"), (3, "b", true, "both_bad")]);
        let m = parse_marks(v.to_string().as_bytes(), "m.json").unwrap();
        let s = summarise(&[("m.json".into(), m.clone()), ("n.json".into(), m)]).unwrap();
        let (a, b) = (&s.tallies[0], &s.tallies[1]);
        assert_eq!((a.wins, a.losses, a.ties, a.both_bad), (4, 0, 2, 0));
        assert_eq!((b.wins, b.losses, b.ties, b.both_bad), (0, 2, 0, 2));
        assert!(close(a.win_rate.unwrap(), 5.0 / 6.0));
        let [lo, hi] = a.interval.unwrap();
        let (wlo, whi) = wilson(5.0, 6.0);
        assert!(close(lo, wlo) && close(hi, whi));
        assert_eq!(b.win_rate, Some(0.0));
        assert!((a.sign_test_p.unwrap() - 0.125).abs() < 1e-12);
        assert_eq!(s.marks, 10);
        let table = s.table();
        assert!(table.contains("10 marks of 6 pairs from 2 files"), "{table}");
        assert!(table.contains("ties/2"), "{table}");
    }

    #[test]
    fn marks_of_another_report_are_refused() {
        let m = parse_marks(marks_json(&[]).to_string().as_bytes(), "m.json").unwrap();
        let mut other = m.clone();
        other.report = "ffffffffffffffff".into();
        let msg = summarise(&[("m.json".into(), m), ("o.json".into(), other)]).unwrap_err().to_string();
        assert!(msg.starts_with("o.json: rates report ffffffffffffffff") && msg.contains("one report at a time"), "{msg}");
        let empty = summarise(&[("m.json".into(), parse_marks(marks_json(&[]).to_string().as_bytes(), "m.json").unwrap())]).unwrap();
        assert_eq!((empty.tallies[0].win_rate, empty.tallies[0].sign_test_p), (None, None));
    }
}
