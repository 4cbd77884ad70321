//! `anytune eval`'s table: one column per model evaluated (base, adapter), a delta column when
//! there are two, then each model's confusion matrix.

use anytune_core::eval::ModelEval;
use std::fmt::Write;

/// The table of `columns` (name, evaluation).
pub fn table(columns: &[(&str, &ModelEval)]) -> String {
    let mut rows: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    let mut add = |name: String, f: &dyn Fn(&ModelEval) -> Option<f64>| rows.push((name, columns.iter().map(|(_, e)| f(e)).collect()));
    add("loss".into(), &|e| Some(e.file.report.loss as f64));
    add("perplexity".into(), &|e| Some(e.file.report.perplexity as f64));
    add("token accuracy".into(), &|e| Some(e.file.report.accuracy as f64));
    let first = columns[0].1;
    if let Some(g) = &first.generation {
        add(format!("exact match ({} rows)", g.rows), &|e| e.generation.as_ref().map(|g| g.exact_match));
        add("contains".into(), &|e| e.generation.as_ref().map(|g| g.contains));
        add("starts with".into(), &|e| e.generation.as_ref().map(|g| g.starts_with));
    }
    if let Some(c) = &first.classification {
        add(format!("label accuracy ({} rows)", c.rows), &|e| e.classification.as_ref().map(|c| c.accuracy));
        add("macro F1".into(), &|e| e.classification.as_ref().map(|c| c.macro_f1));
        for (i, l) in c.per_label.iter().enumerate() {
            add(format!("F1 {} ({} rows)", l.label, l.support), &|e| e.classification.as_ref().map(|c| c.per_label[i].f1));
        }
    }
    let width = rows.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0).max(6);
    let mut out = String::new();
    let _ = write!(out, "{:width$}", "");
    for (name, _) in columns {
        let _ = write!(out, " {name:>10}");
    }
    if columns.len() == 2 {
        let _ = write!(out, " {:>10}", "delta");
    }
    out.push('\n');
    let cell = |v: Option<f64>| v.map_or(format!("{:>10}", "-"), |v| format!("{v:>10.4}"));
    for (name, values) in &rows {
        let _ = write!(out, "{name:width$}");
        for v in values {
            let _ = write!(out, " {}", cell(*v));
        }
        if let [Some(a), Some(b)] = values[..] {
            let _ = write!(out, " {:>+10.4}", b - a);
        }
        out.push('\n');
    }
    for (name, e) in columns {
        if let Some(c) = &e.classification {
            let _ = writeln!(out, "\nconfusion ({name}): rows are the labels, columns the predictions");
            let w = c.labels.iter().map(|l| l.chars().count()).max().unwrap_or(1).max(5);
            let _ = write!(out, "{:w$}", "");
            for l in &c.labels {
                let _ = write!(out, " {l:>w$}");
            }
            out.push('\n');
            for (l, row) in c.labels.iter().zip(&c.confusion) {
                let _ = write!(out, "{l:w$}");
                for n in row {
                    let _ = write!(out, " {n:>w$}");
                }
                out.push('\n');
            }
        }
    }
    out
}
