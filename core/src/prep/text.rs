//! Text rules shared by inspect and clean: which characters are control characters, how a
//! string is normalised, and how strings are found inside a row's JSON.

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// A control character that has no place in training text: Unicode category Cc (C0, DEL, C1)
/// except line feed, tab and carriage return.
pub(crate) fn is_bad_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\t' | '\r')
}

/// Which normalisations [`normalise`] applies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Normalise {
    pub nfc: bool,
    pub control: bool,
    pub whitespace: bool,
}

/// `s` normalised: Unicode NFC; control characters ([`is_bad_control`]) removed; whitespace:
/// CR LF and CR become LF, other Unicode spaces become ' ', runs of spaces and tabs inside a
/// line become one space (indentation at the start of a line is kept), spaces at line ends are
/// removed, more than one blank line in a row becomes one. The whitespace at the ends of the
/// string is kept (only its CR LF made LF): in prompt/completion rows it is the separator.
pub(crate) fn normalise(s: &str, n: Normalise) -> String {
    let mut out: String = if n.nfc { s.nfc().collect() } else { s.to_string() };
    if n.control {
        out.retain(|c| !is_bad_control(c));
    }
    if n.whitespace {
        out = whitespace(&out);
    }
    out
}

fn whitespace(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let inner = s.trim();
    if inner.is_empty() {
        return s;
    }
    let start = s.len() - s.trim_start().len();
    let end = start + inner.len();
    format!("{}{}{}", &s[..start], inner_whitespace(inner), &s[end..])
}

fn inner_whitespace(s: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in s.split('\n') {
        let mut out = String::with_capacity(line.len());
        let mut at_start = true;
        let mut space = false;
        for c in line.chars() {
            let c = if c != '\t' && c.is_whitespace() { ' ' } else { c };
            if c == ' ' || c == '\t' {
                if at_start {
                    out.push(c);
                } else {
                    space = true;
                }
                continue;
            }
            if std::mem::take(&mut space) {
                out.push(' ');
            }
            at_start = false;
            out.push(c);
        }
        if at_start {
            out.clear(); // a line of only spaces is blank
        }
        let blank = out.is_empty();
        if !(blank && lines.last().is_some_and(String::is_empty)) {
            lines.push(out);
        }
    }
    lines.join("\n")
}

/// The text near-duplicate detection compares: NFC, lower case, every character that is not a
/// letter or digit made a space, runs of spaces made one, ends trimmed ("Hello,  World!" →
/// "hello world").
pub(crate) fn near_dup_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfc().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Calls `f(path, s)` for every string in `v`, `path` naming where it is (`text`,
/// `messages[2].content`).
pub(crate) fn each_string(v: &Value, path: &str, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(path, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                each_string(item, &format!("{path}[{i}]"), f);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                each_string(item, &p, f);
            }
        }
        _ => {}
    }
}

/// Replaces every string `s` in `v` by `f(s)`.
pub(crate) fn map_strings(v: &mut Value, f: &mut dyn FnMut(&str) -> String) {
    match v {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|item| map_strings(item, f)),
        Value::Object(map) => map.values_mut().for_each(|item| map_strings(item, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Normalise = Normalise { nfc: true, control: true, whitespace: true };

    #[test]
    fn normalise_composes_strips_and_collapses() {
        assert_eq!(normalise("cafe\u{301}", ALL), "café");
        assert_eq!(normalise("a\u{0}b\u{7f}c\u{85}d\te", ALL), "abcd e");
        let control = Normalise { nfc: false, control: true, whitespace: false };
        assert_eq!(normalise("a\u{0}b\td\r\n", control), "ab\td\r\n");
        assert_eq!(normalise("x  y\u{a0}\u{a0}z  \r\n\r\n\n\n    indented", ALL), "x y z\n\n    indented");
        assert_eq!(normalise("  Q:  a?\r\n", ALL), "  Q: a?\n"); // the ends are kept: separators
        assert_eq!(normalise(" \t ", ALL), " \t ");
        let none = Normalise { nfc: false, control: false, whitespace: false };
        assert_eq!(normalise("cafe\u{301} \u{0} ", none), "cafe\u{301} \u{0} ");
    }

    #[test]
    fn near_dup_text_ignores_case_punctuation_and_spacing() {
        assert_eq!(near_dup_text("Hello,  World!"), "hello world");
        assert_eq!(near_dup_text("  ¿Qué?  "), "qué");
        assert_eq!(near_dup_text("!!!"), "");
    }
}
