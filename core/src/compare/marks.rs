//! `marks.json`, what the rating page downloads (schema version 1):
//!
//! ```json
//! {"version": 1, "report": "3f0c…", "prompts_file": "prompts.txt",
//!  "systems": ["base", "lora-a"], "pairs": 10,
//!  "marks": [{"pair": 0, "prompt": 4, "base": "base", "adapter": "lora-a",
//!             "left": "lora-a", "right": "base", "choice": "left",
//!             "winner": "lora-a", "comment": "more precise"}]}
//! ```
//!
//! `pair` indexes the page's pairs (0-based, as shown: pair 1 is 0), `prompt` the prompts
//! file's prompts; `choice` is what the rater picked (`left`, `right`, `tie` or `both_bad`) and
//! `winner` the system it means (`null` for a tie or both bad). Only rated pairs are listed.
//! [`parse_marks`] checks every field against the others and names the file and mark.

use super::prompts::MAX_PROMPTS;
use super::report::{BASE, MAX_ADAPTERS};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The schema version this anytune writes and reads.
pub const MARKS_VERSION: u64 = 1;

/// Characters of one comment.
pub const MAX_COMMENT_CHARS: usize = 10_000;

/// What the rater picked for a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Left,
    Right,
    Tie,
    BothBad,
}

/// One rated pair.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    pub pair: usize,
    pub prompt: usize,
    pub base: String,
    pub adapter: String,
    pub left: String,
    pub right: String,
    pub choice: Choice,
    pub winner: Option<String>,
    #[serde(default)]
    pub comment: String,
}

impl Mark {
    /// The system `choice` picks: `left`, `right`, or none for a tie or both bad.
    pub fn chosen(&self) -> Option<&str> {
        match self.choice {
            Choice::Left => Some(&self.left),
            Choice::Right => Some(&self.right),
            Choice::Tie | Choice::BothBad => None,
        }
    }
}

/// A parsed, checked `marks.json`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marks {
    pub version: u64,
    /// The report's id ([`super::report::Report::id`]).
    pub report: String,
    pub prompts_file: String,
    /// `systems[0]` is the base, then the adapters.
    pub systems: Vec<String>,
    /// Pairs in the report (rated or not).
    pub pairs: usize,
    pub marks: Vec<Mark>,
}

/// Parses and checks a marks file named `file`: its version, that every mark's pair is one of
/// the report's and marked once, that its systems are the report's base and one adapter, shown
/// left and right, and that `winner` is what `choice` says.
pub fn parse_marks(bytes: &[u8], file: &str) -> Result<Marks> {
    let bad = |what: String| Error::format(file, what);
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON ({e})")))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(MARKS_VERSION) => {}
        Some(v) => return Err(bad(format!("marks version {v} is not supported; this anytune reads version {MARKS_VERSION}"))),
        None => return Err(bad(format!("no `version` (a marks file from the rating page has \"version\": {MARKS_VERSION})"))),
    }
    let marks: Marks = serde_json::from_value(value).map_err(|e| bad(format!("{e}")))?;
    let adapters = marks.systems.len().saturating_sub(1);
    if marks.systems.first().map(String::as_str) != Some(BASE) || !(1..=MAX_ADAPTERS).contains(&adapters) {
        return Err(bad(format!("`systems` must be \"{BASE}\" and then 1 to {MAX_ADAPTERS} adapters, not {:?}", marks.systems)));
    }
    if marks.pairs == 0 || marks.pairs > MAX_PROMPTS * MAX_ADAPTERS || !marks.pairs.is_multiple_of(adapters) {
        return Err(bad(format!("`pairs` {} is not a whole number of prompts times {adapters} adapters", marks.pairs)));
    }
    let prompts = marks.pairs / adapters;
    let mut seen = vec![None; marks.pairs];
    for (i, m) in marks.marks.iter().enumerate() {
        let bad_mark = |what: String| bad(format!("mark {i} (pair {}): {what}", m.pair));
        if m.pair >= marks.pairs {
            return Err(bad_mark(format!("no such pair: the report has {} pairs, 0 to {}", marks.pairs, marks.pairs - 1)));
        }
        if let Some(j) = seen[m.pair].replace(i) {
            return Err(bad_mark(format!("this pair is marked twice (marks {j} and {i})")));
        }
        if m.prompt >= prompts {
            return Err(bad_mark(format!("prompt {} is not one of the report's {prompts} prompts", m.prompt)));
        }
        if m.base != BASE || !marks.systems[1..].contains(&m.adapter) {
            return Err(bad_mark(format!("`base` {:?} and `adapter` {:?} are not {BASE:?} and one of {:?}", m.base, m.adapter, &marks.systems[1..])));
        }
        let shown = [m.left.as_str(), m.right.as_str()];
        if shown != [m.base.as_str(), m.adapter.as_str()] && shown != [m.adapter.as_str(), m.base.as_str()] {
            return Err(bad_mark(format!("`left` {:?} and `right` {:?} are not the pair's systems", m.left, m.right)));
        }
        if m.winner.as_deref() != m.chosen() {
            return Err(bad_mark(format!("`winner` {:?} is not what choice {:?} means ({:?})", m.winner, m.choice, m.chosen())));
        }
        if m.comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(bad_mark(format!("the comment is longer than {MAX_COMMENT_CHARS} characters")));
        }
    }
    Ok(marks)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A marks file for systems base, a, b and 6 pairs; `marks` as (pair, adapter, base_left, choice).
    pub(crate) fn marks_json(marks: &[(usize, &str, bool, &str)]) -> Value {
        let marks: Vec<Value> = marks
            .iter()
            .map(|&(pair, adapter, base_left, choice)| {
                let (left, right) = if base_left { ("base", adapter) } else { (adapter, "base") };
                let winner = match choice {
                    "left" => json!(left),
                    "right" => json!(right),
                    _ => Value::Null,
                };
                json!({"pair": pair, "prompt": pair / 2, "base": "base", "adapter": adapter, "left": left, "right": right, "choice": choice, "winner": winner, "comment": ""})
            })
            .collect();
        json!({"version": 1, "report": "0123456789abcdef", "prompts_file": "p.txt", "systems": ["base", "a", "b"], "pairs": 6, "marks": marks})
    }

    fn error(v: &Value) -> String {
        parse_marks(v.to_string().as_bytes(), "marks.json").unwrap_err().to_string()
    }

    #[test]
    fn a_page_marks_file_parses() {
        let v = marks_json(&[(0, "a", true, "right"), (1, "b", false, "tie"), (5, "a", false, "both_bad")]);
        let m = parse_marks(v.to_string().as_bytes(), "marks.json").unwrap();
        assert_eq!(m.marks.len(), 3);
        assert_eq!(m.marks[0].chosen(), Some("a"));
        assert_eq!(m.marks[2].choice, Choice::BothBad);
    }

    #[test]
    fn bad_marks_are_refused_naming_the_file_mark_and_field() {
        let good = marks_json(&[(0, "a", true, "right"), (1, "b", false, "left")]);
        type Edit = fn(&mut Value);
        let with = |edit: Edit| {
            let mut v = good.clone();
            edit(&mut v);
            error(&v)
        };
        assert!(error(&json!([1])).contains("no `version`"));
        assert!(parse_marks(b"{", "marks.json").unwrap_err().to_string().starts_with("marks.json: not JSON"));
        let cases: Vec<(Edit, &str)> = vec![
            (|v| v["version"] = json!(2), "marks.json: marks version 2 is not supported; this anytune reads version 1"),
            (|v| v["marks"][1]["pair"] = json!(6), "marks.json: mark 1 (pair 6): no such pair: the report has 6 pairs, 0 to 5"),
            (|v| v["marks"][1]["pair"] = json!(0), "mark 1 (pair 0): this pair is marked twice (marks 0 and 1)"),
            (|v| v["marks"][0]["prompt"] = json!(3), "mark 0 (pair 0): prompt 3 is not one of the report's 3 prompts"),
            (|v| v["marks"][0]["adapter"] = json!("c"), "`adapter` \"c\" are not \"base\" and one of"),
            (|v| v["marks"][0]["left"] = json!("b"), "`left` \"b\" and `right` \"a\" are not the pair's systems"),
            (|v| v["marks"][0]["winner"] = json!("base"), "mark 0 (pair 0): `winner` Some(\"base\") is not what choice Right means"),
            (|v| v["marks"][0]["choice"] = json!("better"), "marks.json: unknown variant `better`"),
            (|v| v["marks"][0]["extra"] = json!(1), "marks.json: unknown field `extra`"),
            (|v| v["systems"] = json!(["a", "base"]), "`systems` must be \"base\" and then 1 to 16 adapters"),
            (|v| v["pairs"] = json!(5), "`pairs` 5 is not a whole number of prompts times 2 adapters"),
            (|v| v["marks"][0]["comment"] = json!("x".repeat(MAX_COMMENT_CHARS + 1)), "comment is longer than 10000 characters"),
        ];
        for (edit, expect) in cases {
            let msg = with(edit);
            assert!(msg.contains(expect), "expected {expect:?} in {msg}");
        }
    }
}
