//! `split`: train / validation / test files by fractions, with a seeded shuffle; stratified
//! (each label split by the same fractions) when every row has a `label` field.
//!
//! Counts: each group of `n` rows gets `floor(n × fraction)` rows per part, and the rows left
//! over go to the parts with the largest remainders (ties: train, then validation, then test),
//! so the counts are exact whenever `n × fraction` is a whole number. The rows of each part
//! keep their order in the input. Bad rows are refused (the training parser's reason, with the
//! line); run `clean` first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rows::{label, read};
use crate::data::DataFile;
use crate::data::parse::{BadRows, Rows};
use crate::data::shape::shuffle;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The names of the three parts, in order.
pub const PARTS: [&str; 3] = ["train", "validation", "test"];

/// What `split` wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitReport {
    pub file: String,
    pub rows: usize,
    pub fractions: [f64; 3],
    pub seed: u64,
    /// Rows in train, validation and test.
    pub counts: [usize; 3],
    /// Whether rows were split per label.
    pub stratified: bool,
    /// Per label: rows in train, validation and test.
    pub by_label: BTreeMap<String, [usize; 3]>,
}

/// The three parts as JSONL, and the report.
#[derive(Debug)]
pub struct Split {
    pub parts: [Vec<u8>; 3],
    pub report: SplitReport,
}

/// Checks fractions given as option `name`: three numbers in [0, 1] that add up to 1.
pub fn check_fractions(name: &str, f: [f64; 3]) -> Result<()> {
    if f.iter().any(|x| !x.is_finite() || *x < 0.0 || *x > 1.0) || (f.iter().sum::<f64>() - 1.0).abs() > 1e-6 {
        return Err(Error::invalid(
            name,
            format!(
                "{},{},{}: give three fractions for train, validation and test, each in [0, 1], adding up to 1 \
                 (e.g. 0.8,0.1,0.1)",
                f[0], f[1], f[2]
            ),
        ));
    }
    Ok(())
}

/// Splits `file` into train, validation and test (see the module doc).
pub fn split(file: DataFile, fractions: [f64; 3], seed: u64) -> Result<Split> {
    check_fractions("fractions", fractions)?;
    let (_, rows) = read(file)?;
    let mut parser = Rows::new(false, false);
    let mut bad = BadRows { file: file.name, skip: false, rows: Vec::new() };
    let mut values = Vec::with_capacity(rows.len());
    for row in rows {
        if row.invalid_utf8 {
            return Err(Error::format(format!("{}:{}", file.name, row.line), "bytes that are not UTF-8 text"));
        }
        let value = match row.raw {
            Ok(v) => v,
            Err(reason) => return Err(Error::format(format!("{}:{}", file.name, row.line), reason)),
        };
        parser.add(value.clone(), row.line, &mut bad)?;
        values.push((row.line, value));
    }
    if values.is_empty() {
        return Err(Error::format(file.name, "no rows to split"));
    }
    let labels: Vec<Option<String>> = values.iter().map(|(_, v)| label(v)).collect();
    let stratified = labels.iter().any(Option::is_some);
    if stratified && let Some(i) = labels.iter().position(Option::is_none) {
        return Err(Error::format(
            format!("{}:{}", file.name, values[i].0),
            "no \"label\" field, but other rows have one: give every row a label, or none",
        ));
    }
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.into_iter().enumerate() {
        groups.entry(l.unwrap_or_default()).or_default().push(i);
    }
    let mut rng = Rng::new(seed);
    let mut part_of = vec![0usize; values.len()];
    let mut by_label = BTreeMap::new();
    for (l, mut members) in groups {
        shuffle(&mut members, &mut rng);
        let counts = part_counts(members.len(), fractions);
        let mut at = 0;
        for (p, &c) in counts.iter().enumerate() {
            members[at..at + c].iter().for_each(|&i| part_of[i] = p);
            at += c;
        }
        if stratified {
            by_label.insert(l, counts);
        }
    }
    let mut parts: [Vec<u8>; 3] = Default::default();
    let mut counts = [0; 3];
    for ((_, v), &p) in values.iter().zip(&part_of) {
        parts[p].extend(serde_json::to_vec(v).map_err(|e| Error::format(file.name, e.to_string()))?);
        parts[p].push(b'\n');
        counts[p] += 1;
    }
    let report =
        SplitReport { file: file.name.to_string(), rows: values.len(), fractions, seed, counts, stratified, by_label };
    Ok(Split { parts, report })
}

/// Rows per part for `n` rows (largest remainders; see the module doc).
pub fn part_counts(n: usize, fractions: [f64; 3]) -> [usize; 3] {
    let exact = fractions.map(|f| n as f64 * f);
    let mut counts = exact.map(|x| (x + 1e-9).floor() as usize);
    let mut order = [0, 1, 2];
    order.sort_by(|&a, &b| (exact[b] - counts[b] as f64).total_cmp(&(exact[a] - counts[a] as f64)).then(a.cmp(&b)));
    let mut left = n.saturating_sub(counts.iter().sum());
    for &p in order.iter().cycle().take(3 * n.max(1)) {
        if left == 0 {
            break;
        }
        if fractions[p] > 0.0 {
            counts[p] += 1;
            left -= 1;
        }
    }
    counts
}

impl std::fmt::Display for SplitReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [t, v, s] = self.counts;
        writeln!(f, "{}: {} rows → train {t}, validation {v}, test {s} (seed {})", self.file, self.rows, self.seed)?;
        for (l, [t, v, s]) in &self.by_label {
            writeln!(f, "  label {l:?}: train {t}, validation {v}, test {s}")?;
        }
        Ok(())
    }
}
