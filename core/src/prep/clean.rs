//! `clean`: normalise every string of every row, then drop bad, empty, too-short, too-long and
//! duplicate rows. Each rule can be turned off. The report lists **every** dropped or changed
//! row with its line and reason, so `kept + changed + dropped = read`.
//!
//! Order: invalid UTF-8 → normalisation (NFC, control characters, whitespace) → empty (every
//! string blank) → the training parser's checks (a bad row keeps the parser's reason, mixed
//! shapes included) → length in characters → exact duplicates (equal content after
//! normalisation) → near duplicates ([`super::near_dup`]). A duplicate is dropped and the
//! earlier row it repeats is kept and named.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::near_dup::{DEFAULT_THRESHOLD, check_threshold, near_duplicates};
use super::rows::{content_key, content_text, read};
use super::text::{Normalise, map_strings, normalise};
use crate::data::DataFile;
use crate::data::parse::{BadRows, Rows};
use crate::error::{Error, Result};

/// Which rules `clean` applies (all on by default, no length limits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CleanOptions {
    /// Unicode NFC. Default true.
    pub nfc: bool,
    /// Remove control characters (Cc, except tab and line breaks). Default true.
    pub strip_control: bool,
    /// Normalise whitespace (see `text::normalise`). Default true.
    pub whitespace: bool,
    /// Drop rows whose strings are all empty or blank. Default true.
    pub drop_empty: bool,
    /// Drop rows with fewer characters (all strings of the row together). Default 0: none.
    pub min_chars: usize,
    /// Drop rows with more characters. Default `None`: no limit.
    pub max_chars: Option<usize>,
    /// Drop rows equal to an earlier kept row. Default true.
    pub drop_duplicates: bool,
    /// Drop near duplicates of an earlier kept row. Default true.
    pub drop_near_duplicates: bool,
    /// Jaccard similarity at which rows are near duplicates, in (0, 1]. Default 0.85.
    pub near_dup_threshold: f64,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions {
            nfc: true,
            strip_control: true,
            whitespace: true,
            drop_empty: true,
            min_chars: 0,
            max_chars: None,
            drop_duplicates: true,
            drop_near_duplicates: true,
            near_dup_threshold: DEFAULT_THRESHOLD,
        }
    }
}

/// Why a row was dropped, or what was changed in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    InvalidUtf8,
    Bad,
    Empty,
    TooShort,
    TooLong,
    Duplicate,
    NearDuplicate,
    /// Kept, with its strings normalised.
    Normalised,
}

/// One dropped or changed row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowAction {
    /// 1-based line where the row starts in the input.
    pub line: usize,
    /// "dropped" or "changed".
    pub action: String,
    pub rule: Rule,
    /// What was wrong or what changed, in words.
    pub reason: String,
    /// For duplicates: the line of the kept row it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<usize>,
}

/// What `clean` did: counts that add up (`kept + changed + dropped = read`) and every action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanReport {
    pub file: String,
    pub read: usize,
    /// Rows written unchanged.
    pub kept: usize,
    /// Rows written with normalised strings.
    pub changed: usize,
    pub dropped: usize,
    /// Dropped rows by rule.
    pub dropped_by_rule: BTreeMap<Rule, usize>,
    /// Every dropped or changed row, in line order.
    pub rows: Vec<RowAction>,
}

/// The cleaned rows (JSONL) and the report.
#[derive(Debug)]
pub struct Cleaned {
    pub jsonl: Vec<u8>,
    pub report: CleanReport,
}

/// Cleans `file` (see the module doc).
pub fn clean(file: DataFile, opts: &CleanOptions) -> Result<Cleaned> {
    check_threshold("near_dup_threshold", opts.near_dup_threshold)?;
    if let Some(max) = opts.max_chars
        && max < opts.min_chars
    {
        return Err(Error::invalid("max_chars", format!("{max} is below min_chars ({})", opts.min_chars)));
    }
    let (_, rows) = read(file)?;
    let norm = Normalise { nfc: opts.nfc, control: opts.strip_control, whitespace: opts.whitespace };
    let mut actions: Vec<RowAction> = Vec::new();
    let drop = |line, rule, reason: String, of| RowAction { line, action: "dropped".into(), rule, reason, duplicate_of: of };
    let mut parser = Rows::new(true, false);
    let mut bad = BadRows { file: file.name, skip: true, rows: Vec::new() };
    // Rows that passed the row rules: (line, value, changed, text, key).
    let mut kept: Vec<(usize, serde_json::Value, bool, String)> = Vec::new();
    let mut first_of: HashMap<String, usize> = HashMap::new();
    let read_count = rows.len();
    for row in rows {
        let line = row.line;
        if row.invalid_utf8 {
            actions.push(drop(line, Rule::InvalidUtf8, "bytes that are not UTF-8 text".into(), None));
            continue;
        }
        let mut value = match row.raw {
            Ok(v) => v,
            Err(reason) => {
                actions.push(drop(line, Rule::Bad, reason, None));
                continue;
            }
        };
        let before = value.clone();
        map_strings(&mut value, &mut |s| normalise(s, norm));
        let changed = value != before;
        let mut all_blank = true;
        super::text::each_string(&value, "", &mut |_, s| all_blank &= s.trim().is_empty());
        if opts.drop_empty && all_blank && value.is_object() {
            actions.push(drop(line, Rule::Empty, "every field is empty or blank".into(), None));
            continue;
        }
        let n_bad = bad.rows.len();
        parser.add(value.clone(), line, &mut bad)?;
        if bad.rows.len() > n_bad {
            let reason = bad.rows.pop().map_or_else(String::new, |b| b.reason);
            actions.push(drop(line, Rule::Bad, reason, None));
            continue;
        }
        let Some(record) = parser.records.pop() else { continue };
        let text = content_text(&record.content);
        let chars = text.chars().count();
        if chars < opts.min_chars {
            actions.push(drop(line, Rule::TooShort, format!("{chars} characters, fewer than {}", opts.min_chars), None));
            continue;
        }
        if let Some(max) = opts.max_chars.filter(|&m| chars > m) {
            actions.push(drop(line, Rule::TooLong, format!("{chars} characters, more than {max}"), None));
            continue;
        }
        if opts.drop_duplicates {
            let key = content_key(&record.content);
            if let Some(&of) = first_of.get(&key) {
                actions.push(drop(line, Rule::Duplicate, format!("the same as line {of}"), Some(of)));
                continue;
            }
            first_of.insert(key, line);
        }
        kept.push((line, value, changed, text));
    }
    let near = if opts.drop_near_duplicates {
        let texts: Vec<&str> = kept.iter().map(|k| k.3.as_str()).collect();
        near_duplicates(&texts, opts.near_dup_threshold)
    } else {
        vec![None; kept.len()]
    };
    let mut jsonl = Vec::new();
    let (mut n_kept, mut n_changed) = (0, 0);
    for (i, (line, value, changed, _)) in kept.iter().enumerate() {
        if let Some((j, s)) = near[i] {
            let of = kept[j].0;
            let reason = format!("a near duplicate of line {of} (similarity {s:.2})");
            actions.push(drop(*line, Rule::NearDuplicate, reason, Some(of)));
            continue;
        }
        jsonl.extend(serde_json::to_vec(value).map_err(|e| Error::format(file.name, e.to_string()))?);
        jsonl.push(b'\n');
        if *changed {
            n_changed += 1;
            let reason = "strings normalised (Unicode NFC, control characters, whitespace)".to_string();
            actions.push(RowAction { line: *line, action: "changed".into(), rule: Rule::Normalised, reason, duplicate_of: None });
        } else {
            n_kept += 1;
        }
    }
    actions.sort_by_key(|a| a.line);
    let mut dropped_by_rule = BTreeMap::new();
    for a in actions.iter().filter(|a| a.action == "dropped") {
        *dropped_by_rule.entry(a.rule).or_insert(0) += 1;
    }
    let dropped = dropped_by_rule.values().sum();
    let report =
        CleanReport { file: file.name.to_string(), read: read_count, kept: n_kept, changed: n_changed, dropped, dropped_by_rule, rows: actions };
    Ok(Cleaned { jsonl, report })
}

impl std::fmt::Display for CleanReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} rows read: {} kept unchanged, {} kept with normalised text, {} dropped",
            self.file, self.read, self.kept, self.changed, self.dropped
        )?;
        for (rule, n) in &self.dropped_by_rule {
            writeln!(f, "  dropped {n}: {}", serde_json::to_string(rule).unwrap_or_default().trim_matches('"'))?;
        }
        for a in self.rows.iter().filter(|a| a.action == "dropped").take(20) {
            writeln!(f, "    {}:{}: {}", self.file, a.line, a.reason)?;
        }
        let listed = self.dropped.min(20);
        if self.dropped > listed {
            writeln!(f, "    ... and {} more (all in the report)", self.dropped - listed)?;
        }
        Ok(())
    }
}
