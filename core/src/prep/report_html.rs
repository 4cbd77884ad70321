//! [`InspectReport`] as one self-contained HTML page: the counts as tables, the token-length
//! histogram as inline SVG, and the shown rows with trained tokens highlighted and masked
//! tokens dimmed. No scripts, fonts or other requests: the page works offline.

use super::inspect::{FieldIssue, InspectReport};

/// The page for `r`.
pub fn html(r: &InspectReport) -> String {
    let mut p = String::new();
    p += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
    p += &format!("<title>anytune data inspect: {}</title>\n", esc(&r.file));
    p += "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}\
          td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}pre{white-space:pre-wrap;\
          background:#f6f6f6;padding:.6em}.t{background:#c8f0c8;color:#000}.m{color:#999}</style></head><body>\n";
    p += &format!("<h1>{}</h1>\n<p>{}</p>\n", esc(&r.file), esc(&r.format));
    let mut rows = vec![
        ("good rows", r.rows.to_string()),
        ("bad rows", r.bad_rows.len().to_string()),
        ("tokens", r.tokens.to_string()),
        ("trained tokens", r.trained_tokens.to_string()),
        ("masked tokens", r.masked_tokens.to_string()),
        ("longest row (tokens)", r.longest.to_string()),
        ("rows over max_seq_len", format!("{} (max_seq_len {})", r.over_max_seq_len.len(), r.max_seq_len)),
        ("exact duplicate groups", r.exact_duplicates.len().to_string()),
        ("near duplicates", format!("{} (Jaccard ≥ {})", r.near_duplicates.len(), r.near_dup_threshold)),
        ("empty or blank fields", r.empty_fields.len().to_string()),
        ("lines with invalid UTF-8", r.invalid_utf8_lines.len().to_string()),
        ("fields with control characters", r.control_characters.len().to_string()),
    ];
    if !r.system_prompts.is_empty() || r.rows_without_system > 0 {
        let what = if r.system_prompts_consistent { "consistent" } else { "inconsistent" };
        let v = format!("{what}: {} distinct, {} chat rows without one", r.system_prompts.len(), r.rows_without_system);
        rows.push(("system prompts", v));
    }
    p += &table(&["", ""], rows.iter().map(|(k, v)| vec![k.to_string(), v.clone()]));
    p += "<h2>Token lengths</h2>\n";
    p += &histogram(r);
    if !r.roles.is_empty() {
        p += "<h2>Messages by role</h2>\n";
        p += &table(&["role", "messages"], r.roles.iter().map(|(k, n)| vec![k.clone(), n.to_string()]));
    }
    if !r.labels.is_empty() {
        p += "<h2>Labels</h2>\n";
        p += &table(&["label", "rows"], r.labels.iter().map(|(k, n)| vec![k.clone(), n.to_string()]));
    }
    if !r.bad_rows.is_empty() {
        p += "<h2>Bad rows</h2>\n";
        p += &table(&["line", "reason"], r.bad_rows.iter().map(|b| vec![b.line.to_string(), b.reason.clone()]));
    }
    let lines = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
    let mut issues: Vec<Vec<String>> = r.exact_duplicates.iter().map(|g| vec!["exact duplicates".into(), lines(g)]).collect();
    issues.extend(r.near_duplicates.iter().map(|d| {
        vec!["near duplicate".into(), format!("line {} of line {} (similarity {:.2})", d.line, d.of, d.similarity)]
    }));
    let fields = |what: &str, v: &[FieldIssue]| -> Vec<Vec<String>> {
        v.iter().map(|i| vec![what.to_string(), format!("line {}: {}", i.line, i.field)]).collect()
    };
    issues.extend(fields("empty or blank field", &r.empty_fields));
    issues.extend(fields("control characters", &r.control_characters));
    if !r.over_max_seq_len.is_empty() {
        issues.push(vec!["over max_seq_len".into(), lines(&r.over_max_seq_len)]);
    }
    if !r.invalid_utf8_lines.is_empty() {
        issues.push(vec!["invalid UTF-8".into(), lines(&r.invalid_utf8_lines)]);
    }
    if !issues.is_empty() {
        p += "<h2>Issues</h2>\n";
        p += &table(&["what", "where"], issues.into_iter());
    }
    for v in &r.shown_rows {
        p += &format!(
            "<h2>Line {}</h2>\n<p>{} tokens, {} trained (<span class=\"t\">highlighted</span>), \
             <span class=\"m\">masked dimmed</span></p>\n<pre>",
            v.line, v.tokens, v.trained
        );
        for run in &v.runs {
            p += &format!("<span class=\"{}\">{}</span>", if run.trained { "t" } else { "m" }, esc(&run.text));
        }
        p += "</pre>\n";
    }
    match (&r.training, &r.training_error) {
        (Some(s), _) => p += &format!("<h2>Training would see</h2>\n<pre>{}</pre>\n", esc(&s.to_string())),
        (None, Some(e)) => p += &format!("<h2>Training refuses this file</h2>\n<pre>{}</pre>\n", esc(e)),
        _ => {}
    }
    p += "</body></html>\n";
    p
}

/// The histogram as an inline SVG bar chart, one bar per bin, labelled.
fn histogram(r: &InspectReport) -> String {
    let (bar, gap, height) = (48usize, 8usize, 160usize);
    let most = r.histogram.iter().map(|b| b.rows).max().unwrap_or(0).max(1);
    let width = r.histogram.len() * (bar + gap) + gap;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\" \
         aria-label=\"rows per token length\">\n",
        height + 40
    );
    for (i, b) in r.histogram.iter().enumerate() {
        let h = b.rows * height / most;
        let x = gap + i * (bar + gap);
        let fill = if b.from > r.max_seq_len { "#d66" } else { "#69c" };
        s += &format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{h}\" fill=\"{fill}\"><title>{}–{} tokens: {} rows</title></rect>\n",
            height - h + 14,
            b.from,
            b.to,
            b.rows
        );
        s += &format!("<text x=\"{}\" y=\"12\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n", x + bar / 2, b.rows);
        s += &format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}–{}</text>\n",
            x + bar / 2,
            height + 30,
            b.from,
            b.to
        );
    }
    s + "</svg>\n"
}

fn table(head: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut t = String::from("<table>");
    if head.iter().any(|h| !h.is_empty()) {
        t += &format!("<tr>{}</tr>", head.iter().map(|h| format!("<th>{}</th>", esc(h))).collect::<String>());
    }
    for row in rows {
        t += &format!("<tr>{}</tr>", row.iter().map(|c| format!("<td>{}</td>", esc(c))).collect::<String>());
    }
    t + "</table>\n"
}

/// `s` with `& < > "` escaped for HTML text and attributes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
