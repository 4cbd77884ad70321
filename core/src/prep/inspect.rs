//! `inspect`: what a dataset file holds and what training would make of it — the detected
//! format, rows and bad rows, roles, token lengths (with the model's tokenizer and chat
//! template) as a histogram, trained and masked tokens, rows over `max_seq_len`, exact and near
//! duplicates, empty fields, invalid UTF-8, control characters, system prompts, label balance,
//! and chosen rows token by token ([`RowView`]).
//!
//! Token counts are per row as the pipeline encodes it (`data::encode`, the same loss masks),
//! before rows are fitted to `max_seq_len`; `training` is `data::prepare`'s own summary of the
//! same file (after truncation and splitting), or why it refuses the file. Rows longer than
//! what `max_seq_len` tokens can hold are cut before tokenizing (see `data::cut`), so a length
//! over `max_seq_len` is a lower bound.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::near_dup::{DEFAULT_THRESHOLD, check_threshold, near_duplicates};
use super::rows::{content_key, content_text, label, read};
use super::text::{each_string, is_bad_control};
use crate::data::cut::text_budget;
use crate::data::encode::{Encoder, RenderChat};
use crate::data::parse::{BadRows, Content, Rows};
use crate::data::{BadRow, DataConfig, DataFile, DataSummary, DatasetFormat, Example, prepare};
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// What `inspect` looks at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InspectOptions {
    /// Longest sequence in tokens, as training would use it. Default 512.
    pub max_seq_len: usize,
    /// Count every token as trained, as `--train-on-everything` does. Default false.
    pub train_on_everything: bool,
    /// Jaccard similarity of near duplicates, in (0, 1]. Default 0.85.
    pub near_dup_threshold: f64,
    /// Lines of rows to show token by token (the line each row starts on).
    pub show_rows: Vec<usize>,
    /// Also show the first this many good rows (after `show_rows`). Default 0.
    pub show_first: usize,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            max_seq_len: DataConfig::default().max_seq_len,
            train_on_everything: false,
            near_dup_threshold: DEFAULT_THRESHOLD,
            show_rows: Vec::new(),
            show_first: 0,
        }
    }
}

/// Rows whose token count lies in `from..=to`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub from: usize,
    pub to: usize,
    pub rows: usize,
}

/// A string field with a problem: the row's line and where the field is (`messages[1].content`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldIssue {
    pub line: usize,
    pub field: String,
}

/// A row that is a near duplicate of the earlier row on line `of`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NearDuplicate {
    pub line: usize,
    pub of: usize,
    pub similarity: f64,
}

/// A run of consecutive tokens that are all trained or all masked, decoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub text: String,
    pub trained: bool,
}

/// One row token by token: its trained and masked runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowView {
    pub line: usize,
    pub tokens: usize,
    pub trained: usize,
    pub runs: Vec<Run>,
}

/// Everything `inspect` found. Lines are 1-based and name where a row starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InspectReport {
    pub file: String,
    /// e.g. "JSONL, chat messages rows".
    pub format: String,
    /// Good rows.
    pub rows: usize,
    /// Every bad row (the parser's or the encoder's reason).
    pub bad_rows: Vec<BadRow>,
    /// Chat messages per role (chat, ShareGPT and alpaca rows).
    pub roles: BTreeMap<String, usize>,
    /// Tokens of the good rows, and of those the ones trained (loss targets) and masked.
    pub tokens: usize,
    pub trained_tokens: usize,
    pub masked_tokens: usize,
    pub longest: usize,
    pub max_seq_len: usize,
    /// Ten bins of token counts up to `max_seq_len`, then one for longer rows (if any).
    pub histogram: Vec<Bin>,
    pub over_max_seq_len: Vec<usize>,
    /// Groups of lines whose rows are equal.
    pub exact_duplicates: Vec<Vec<usize>>,
    pub near_duplicates: Vec<NearDuplicate>,
    pub near_dup_threshold: f64,
    /// String fields that are empty or only whitespace.
    pub empty_fields: Vec<FieldIssue>,
    pub invalid_utf8_lines: Vec<usize>,
    /// String fields holding control characters (other than tab and line breaks).
    pub control_characters: Vec<FieldIssue>,
    /// Each distinct system prompt of the chat rows and how many rows have it.
    pub system_prompts: BTreeMap<String, usize>,
    pub rows_without_system: usize,
    /// At most one system prompt, and in every chat row or in none.
    pub system_prompts_consistent: bool,
    /// Rows per `label` value (rows with a `label` field).
    pub labels: BTreeMap<String, usize>,
    /// `data::prepare`'s summary (bad rows skipped), or why it refuses the file.
    pub training: Option<DataSummary>,
    pub training_error: Option<String>,
    pub shown_rows: Vec<RowView>,
}

/// Inspects `file` with the model's tokenizer and chat template (see the module doc).
pub fn inspect(file: DataFile, tok: &Tokenizer, render: Option<RenderChat>, opts: &InspectOptions) -> Result<InspectReport> {
    check_threshold("near_dup_threshold", opts.near_dup_threshold)?;
    let cfg = DataConfig {
        max_seq_len: opts.max_seq_len,
        train_on_everything: opts.train_on_everything,
        skip_bad_rows: true,
        ..DataConfig::default()
    };
    let (training, training_error) = match prepare(file, None, tok, render, &cfg) {
        Ok(d) => (Some(d.summary), None),
        Err(e @ Error::Invalid { .. }) => return Err(e),
        Err(e) => (None, Some(e.to_string())),
    };
    let (container, rows) = read(file)?;
    let mut parser = Rows::new(!opts.train_on_everything, false);
    let mut bad = BadRows { file: file.name, skip: true, rows: Vec::new() };
    let (mut empty_fields, mut control_characters, mut invalid_utf8_lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    for row in rows {
        let line = row.line;
        if row.invalid_utf8 {
            invalid_utf8_lines.push(line);
        }
        let v = match row.raw {
            Ok(v) => v,
            Err(reason) => {
                bad.bad(line, reason)?;
                continue;
            }
        };
        each_string(&v, "", &mut |field, s| {
            if s.trim().is_empty() {
                empty_fields.push(FieldIssue { line, field: field.to_string() });
            }
            if s.chars().any(is_bad_control) {
                control_characters.push(FieldIssue { line, field: field.to_string() });
            }
        });
        if let Some(l) = label(&v) {
            *labels.entry(l).or_insert(0) += 1;
        }
        parser.add(v, line, &mut bad)?;
    }
    let format = DatasetFormat { container, shape: parser.shape.unwrap_or(crate::data::Shape::Text) };
    let encoder = Encoder {
        tok,
        render,
        train_on_everything: opts.train_on_everything,
        budget: text_budget(tok, opts.max_seq_len.max(2)),
        labels: crate::data::parse::labels_of(&parser.records),
    };
    let mut good: Vec<(usize, &Content, Example)> = Vec::new();
    for r in &parser.records {
        match encoder.encode(&r.content) {
            Ok(e) => good.push((r.line, &r.content, e.example)),
            Err(reason) => bad.bad(r.line, reason)?,
        }
    }
    bad.rows.sort_by_key(|b| b.line);
    let mut report = InspectReport {
        file: file.name.to_string(),
        format: format.name(),
        rows: good.len(),
        bad_rows: bad.rows,
        roles: BTreeMap::new(),
        tokens: 0,
        trained_tokens: 0,
        masked_tokens: 0,
        longest: 0,
        max_seq_len: opts.max_seq_len,
        histogram: Vec::new(),
        over_max_seq_len: Vec::new(),
        exact_duplicates: Vec::new(),
        near_duplicates: Vec::new(),
        near_dup_threshold: opts.near_dup_threshold,
        empty_fields,
        invalid_utf8_lines,
        control_characters,
        system_prompts: BTreeMap::new(),
        rows_without_system: 0,
        system_prompts_consistent: true,
        labels,
        training,
        training_error,
        shown_rows: Vec::new(),
    };
    count_tokens(&mut report, &good);
    count_roles(&mut report, &good);
    find_duplicates(&mut report, &good);
    for &line in &opts.show_rows {
        let Some((_, _, ex)) = good.iter().find(|g| g.0 == line) else {
            let starts: Vec<String> = good.iter().take(10).map(|g| g.0.to_string()).collect();
            return Err(Error::invalid(
                "show_row",
                format!("{}: no good row starts on line {line}; rows start on lines {} ...", file.name, starts.join(", ")),
            ));
        };
        report.shown_rows.push(row_view(tok, line, ex)?);
    }
    for (line, _, ex) in good.iter().take(opts.show_first) {
        if !opts.show_rows.contains(line) {
            report.shown_rows.push(row_view(tok, *line, ex)?);
        }
    }
    Ok(report)
}

/// Tokens, trained tokens, the histogram and the rows over `max_seq_len`.
fn count_tokens(r: &mut InspectReport, good: &[(usize, &Content, Example)]) {
    let max = r.max_seq_len.max(1);
    let width = max.div_ceil(10);
    r.histogram = (0..10)
        .map(|k| Bin { from: if k == 0 { 0 } else { k * width + 1 }, to: ((k + 1) * width).min(max), rows: 0 })
        .filter(|b| b.from <= b.to)
        .collect();
    let mut over = Bin { from: max + 1, to: max + 1, rows: 0 };
    for (line, _, ex) in good {
        let n = ex.ids.len();
        let trained = ex.loss_mask.iter().skip(1).filter(|&&m| m).count();
        r.tokens += n;
        r.trained_tokens += trained;
        r.longest = r.longest.max(n);
        if n > max {
            r.over_max_seq_len.push(*line);
            over.rows += 1;
            over.to = over.to.max(n);
        } else if let Some(b) = r.histogram.iter_mut().find(|b| n <= b.to) {
            b.rows += 1;
        }
    }
    r.masked_tokens = r.tokens - r.trained_tokens;
    if over.rows > 0 {
        r.histogram.push(over);
    }
}

/// Messages per role and the system prompts of chat rows.
fn count_roles(r: &mut InspectReport, good: &[(usize, &Content, Example)]) {
    for (_, content, _) in good {
        match content {
            Content::Chat(messages) => {
                for m in messages {
                    *r.roles.entry(m.role.clone()).or_insert(0) += 1;
                }
                match messages.iter().find(|m| m.role == "system") {
                    Some(m) => *r.system_prompts.entry(m.content.clone()).or_insert(0) += 1,
                    None => r.rows_without_system += 1,
                }
            }
            Content::Alpaca { .. } => {
                for role in ["user", "assistant"] {
                    *r.roles.entry(role.to_string()).or_insert(0) += 1;
                }
            }
            _ => {}
        }
    }
    r.system_prompts_consistent =
        r.system_prompts.len() <= 1 && (r.system_prompts.is_empty() || r.rows_without_system == 0);
}

/// Exact duplicate groups, and near duplicates among the rows that are not exact repeats.
fn find_duplicates(r: &mut InspectReport, good: &[(usize, &Content, Example)]) {
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    let mut firsts: Vec<(usize, String)> = Vec::new();
    for (line, content, _) in good {
        let lines = groups.entry(content_key(content)).or_default();
        if lines.is_empty() {
            firsts.push((*line, content_text(content)));
        }
        lines.push(*line);
    }
    r.exact_duplicates = groups.into_values().filter(|g| g.len() > 1).collect();
    r.exact_duplicates.sort();
    let texts: Vec<&str> = firsts.iter().map(|f| f.1.as_str()).collect();
    for (i, found) in near_duplicates(&texts, r.near_dup_threshold).into_iter().enumerate() {
        if let Some((j, similarity)) = found {
            r.near_duplicates.push(NearDuplicate { line: firsts[i].0, of: firsts[j].0, similarity });
        }
    }
}

/// Row `line`'s tokens as trained and masked runs (the first token is never a target).
fn row_view(tok: &Tokenizer, line: usize, ex: &Example) -> Result<RowView> {
    let mut runs = Vec::new();
    let mut start = 0;
    let trained_at = |i: usize| i > 0 && ex.loss_mask[i];
    for i in 1..=ex.ids.len() {
        if i == ex.ids.len() || trained_at(i) != trained_at(start) {
            runs.push(Run { text: tok.decode(&ex.ids[start..i], false)?, trained: trained_at(start) });
            start = i;
        }
    }
    let trained = (0..ex.ids.len()).filter(|&i| trained_at(i)).count();
    Ok(RowView { line, tokens: ex.ids.len(), trained, runs })
}

impl std::fmt::Display for InspectReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}: {}", self.file, self.format)?;
        writeln!(f, "  rows: {} good, {} bad", self.rows, self.bad_rows.len())?;
        for b in self.bad_rows.iter().take(20) {
            writeln!(f, "    bad {b}")?;
        }
        if self.bad_rows.len() > 20 {
            writeln!(f, "    ... and {} more (all in --json)", self.bad_rows.len() - 20)?;
        }
        if !self.roles.is_empty() {
            let roles: Vec<String> = self.roles.iter().map(|(r, n)| format!("{r} {n}")).collect();
            writeln!(f, "  messages by role: {}", roles.join(", "))?;
        }
        writeln!(
            f,
            "  tokens: {} ({} trained, {} masked); longest row {} tokens",
            self.tokens, self.trained_tokens, self.masked_tokens, self.longest
        )?;
        let most = self.histogram.iter().map(|b| b.rows).max().unwrap_or(0).max(1);
        for b in &self.histogram {
            let bar = "#".repeat((b.rows * 40).div_ceil(most));
            let over = if b.from > self.max_seq_len { " (over max_seq_len)" } else { "" };
            writeln!(f, "    {:>6}-{:<6} {:>6} {bar}{over}", b.from, b.to, b.rows)?;
        }
        list(f, &format!("rows over max_seq_len {}", self.max_seq_len), &self.over_max_seq_len)?;
        for g in &self.exact_duplicates {
            list(f, "exact duplicates on lines", g)?;
        }
        for d in &self.near_duplicates {
            writeln!(f, "  near duplicate: line {} of line {} (similarity {:.2})", d.line, d.of, d.similarity)?;
        }
        let fields = |v: &[FieldIssue]| v.iter().map(|i| format!("{}:{}", i.line, i.field)).collect::<Vec<_>>();
        if !self.empty_fields.is_empty() {
            writeln!(f, "  empty or blank fields: {}", fields(&self.empty_fields).join(", "))?;
        }
        list(f, "lines with invalid UTF-8", &self.invalid_utf8_lines)?;
        if !self.control_characters.is_empty() {
            writeln!(f, "  control characters in: {}", fields(&self.control_characters).join(", "))?;
        }
        if !self.system_prompts_consistent {
            writeln!(
                f,
                "  inconsistent system prompts: {} distinct, {} chat rows without one",
                self.system_prompts.len(),
                self.rows_without_system
            )?;
        }
        if !self.labels.is_empty() {
            let labels: Vec<String> = self.labels.iter().map(|(l, n)| format!("{l:?} {n}")).collect();
            writeln!(f, "  labels: {}", labels.join(", "))?;
        }
        match (&self.training, &self.training_error) {
            (Some(s), _) => write!(f, "training would see:\n{s}")?,
            (None, Some(e)) => writeln!(f, "training refuses this file: {e}")?,
            _ => {}
        }
        Ok(())
    }
}

/// "  what: 3, 7, 9" (at most 20 lines listed), nothing when empty.
fn list(f: &mut std::fmt::Formatter<'_>, what: &str, lines: &[usize]) -> std::fmt::Result {
    if lines.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = lines.iter().take(20).map(usize::to_string).collect();
    let more = if lines.len() > 20 { format!(" ... ({} in all)", lines.len()) } else { String::new() };
    writeln!(f, "  {what}: {}{more}", shown.join(", "))
}
