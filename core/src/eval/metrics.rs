//! The arithmetic of evaluation, on the CPU: answer matching after normalisation, and
//! classification metrics from a confusion matrix.
//!
//! ```
//! use anytune_core::eval::metrics::{Classification, normalize};
//! assert_eq!(normalize("  «Paris», France. "), "paris», france");
//! // counts[gold][predicted] over labels a, b
//! let c = Classification::from_confusion(vec!["a".into(), "b".into()], vec![vec![3, 1], vec![0, 4]]);
//! assert_eq!(c.accuracy, 7.0 / 8.0);
//! assert_eq!(c.per_label[0].precision, 1.0);
//! ```

use serde::Serialize;

/// Text as answers are compared: Unicode NFC, lower case, surrounding punctuation stripped,
/// whitespace runs collapsed to one space (and trimmed). Punctuation inside is kept.
pub fn normalize(text: &str) -> String {
    let mut n = tokenizers::NormalizedString::from(text);
    n.nfc();
    let lower = n.get().to_lowercase();
    let stripped = lower.trim_matches(|c: char| c.is_whitespace() || is_punctuation(c));
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// ASCII punctuation and the common Unicode quotes, dashes and stops.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || "“”‘’«»‹›„‚—–…·¡¿。、，！？：；「」『』".contains(c)
}

/// How a generated answer matches its reference, both [`normalize`]d.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AnswerMatch {
    /// The answer is the reference.
    pub exact: bool,
    /// The answer contains the reference.
    pub contains: bool,
    /// The answer starts with the reference.
    pub starts_with: bool,
}

impl AnswerMatch {
    /// Compares `answer` with `reference`.
    pub fn of(answer: &str, reference: &str) -> AnswerMatch {
        let (a, r) = (normalize(answer), normalize(reference));
        AnswerMatch { exact: a == r, contains: a.contains(&r), starts_with: a.starts_with(&r) }
    }
}

/// Precision, recall and F1 of one label.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelMetrics {
    pub label: String,
    /// Correct predictions of this label / predictions of it (0 when never predicted).
    pub precision: f64,
    /// Correct predictions of this label / rows of it (0 when it has no rows).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Rows whose label this is.
    pub support: usize,
}

/// Classification metrics over a label set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Classification {
    pub labels: Vec<String>,
    /// Rows scored.
    pub rows: usize,
    /// Fraction of rows predicted right.
    pub accuracy: f64,
    /// Mean F1 over the labels that occur as a row's label or as a prediction (as scikit-learn
    /// averages by default); labels that do neither are left out.
    pub macro_f1: f64,
    pub per_label: Vec<LabelMetrics>,
    /// `confusion[gold][predicted]`, indexed as `labels`.
    pub confusion: Vec<Vec<usize>>,
}

impl Classification {
    /// The metrics of `confusion[gold][predicted]` (a square matrix over `labels`).
    pub fn from_confusion(labels: Vec<String>, confusion: Vec<Vec<usize>>) -> Classification {
        let n = labels.len();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let rows: usize = confusion.iter().flatten().sum();
        let correct: usize = (0..n).map(|i| confusion[i][i]).sum();
        let mut per_label = Vec::with_capacity(n);
        let mut f1s = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let support: usize = confusion[i].iter().sum();
            let predicted: usize = confusion.iter().map(|row| row[i]).sum();
            let (precision, recall) = (ratio(confusion[i][i], predicted), ratio(confusion[i][i], support));
            let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            if support + predicted > 0 {
                f1s.push(f1);
            }
            per_label.push(LabelMetrics { label: label.clone(), precision, recall, f1, support });
        }
        let macro_f1 = if f1s.is_empty() { 0.0 } else { f1s.iter().sum::<f64>() / f1s.len() as f64 };
        Classification { labels, rows, accuracy: ratio(correct, rows), macro_f1, per_label, confusion }
    }

    /// The metrics of `(gold, predicted)` index pairs over `labels`.
    pub fn from_pairs(labels: Vec<String>, pairs: impl IntoIterator<Item = (usize, usize)>) -> Classification {
        let n = labels.len();
        let mut confusion = vec![vec![0; n]; n];
        for (gold, predicted) in pairs {
            confusion[gold][predicted] += 1;
        }
        Classification::from_confusion(labels, confusion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precision_recall_f1_on_a_known_matrix() {
        // gold \ predicted: a b c
        let c = Classification::from_confusion(labels(&["a", "b", "c"]), vec![vec![5, 1, 0], vec![2, 3, 1], vec![0, 0, 4]]);
        assert_eq!(c.rows, 16);
        assert_eq!(c.accuracy, 12.0 / 16.0);
        let close = |x: f64, y: f64| assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        close(c.per_label[0].precision, 5.0 / 7.0);
        close(c.per_label[0].recall, 5.0 / 6.0);
        close(c.per_label[0].f1, 2.0 * (5.0 / 7.0) * (5.0 / 6.0) / (5.0 / 7.0 + 5.0 / 6.0));
        close(c.per_label[1].precision, 3.0 / 4.0);
        close(c.per_label[1].recall, 3.0 / 6.0);
        close(c.per_label[2].precision, 4.0 / 5.0);
        close(c.per_label[2].recall, 1.0);
        assert_eq!(c.per_label.iter().map(|l| l.support).collect::<Vec<_>>(), [6, 6, 4]);
        close(c.macro_f1, c.per_label.iter().map(|l| l.f1).sum::<f64>() / 3.0);
    }

    #[test]
    fn a_zero_support_label_has_zero_scores_and_counts_in_macro_f1_only_when_predicted() {
        // "c" has no rows and is never predicted: 0 everywhere, left out of the macro mean.
        let c = Classification::from_pairs(labels(&["a", "b", "c"]), [(0, 0), (0, 0), (1, 1), (1, 0)]);
        assert_eq!((c.per_label[2].precision, c.per_label[2].recall, c.per_label[2].f1, c.per_label[2].support), (0.0, 0.0, 0.0, 0));
        let (fa, fb) = (c.per_label[0].f1, c.per_label[1].f1);
        assert!((fa - 0.8).abs() < 1e-12 && (fb - 2.0 / 3.0).abs() < 1e-12, "{fa} {fb}");
        assert!((c.macro_f1 - (fa + fb) / 2.0).abs() < 1e-12);
        // "c" has no rows but is predicted once: precision 0, recall 0 (0/0), F1 0, in the mean.
        let c = Classification::from_pairs(labels(&["a", "b", "c"]), [(0, 0), (1, 2)]);
        assert_eq!((c.per_label[2].precision, c.per_label[2].recall, c.per_label[2].f1), (0.0, 0.0, 0.0));
        assert!((c.macro_f1 - (1.0 + 0.0 + 0.0) / 3.0).abs() < 1e-12, "{}", c.macro_f1);
        // No rows at all: zeros, no NaN.
        let c = Classification::from_pairs(labels(&["a", "b"]), []);
        assert_eq!((c.accuracy, c.macro_f1, c.rows), (0.0, 0.0, 0));
    }

    #[test]
    fn normalisation_cases() {
        assert_eq!(normalize("  Hello,\n\t World!  "), "hello, world");
        assert_eq!(normalize("\"Teal.\""), "teal");
        assert_eq!(normalize("«Teal»…"), "teal");
        assert_eq!(normalize("ÉTÉ"), "été");
        // NFC: "e" + combining acute is "é".
        assert_eq!(normalize("cafe\u{301}"), normalize("café"));
        assert_eq!(normalize("..."), "");
        assert_eq!(normalize("3.5"), "3.5");
    }

    #[test]
    fn answer_matches() {
        let m = AnswerMatch::of(" Teal.", "teal");
        assert_eq!(m, AnswerMatch { exact: true, contains: true, starts_with: true });
        let m = AnswerMatch::of("It is teal, I think", "Teal");
        assert_eq!(m, AnswerMatch { exact: false, contains: true, starts_with: false });
        let m = AnswerMatch::of("Teal and blue", " teal");
        assert_eq!(m, AnswerMatch { exact: false, contains: true, starts_with: true });
        assert_eq!(AnswerMatch::of("red", "teal"), AnswerMatch::default());
    }
}
