use super::*;
use crate::prep::clean::{CleanOptions, Rule, clean};
use crate::prep::inspect::{InspectOptions, inspect};

#[test]
fn clean_accounts_for_every_row_by_line() {
    let (text, want) = messy();
    let opts = CleanOptions { max_chars: Some(2000), ..CleanOptions::default() };
    let out = clean(DataFile { bytes: text.as_bytes(), name: "messy.jsonl" }, &opts).unwrap();
    let r = &out.report;
    assert_eq!(r.read, 12);
    assert_eq!(r.kept + r.changed + r.dropped, r.read);
    for (line, what) in want {
        let action = r.rows.iter().find(|a| a.line == line);
        let got = action.map_or("kept".to_string(), |a| serde_json::to_string(&a.rule).unwrap().trim_matches('"').to_string());
        assert_eq!(got, what, "line {line}: {action:?}");
    }
    assert_eq!(r.rows.iter().filter(|a| a.rule == Rule::NearDuplicate).map(|a| a.duplicate_of).collect::<Vec<_>>(), [Some(1); 2]);
    assert!(r.rows.iter().find(|a| a.line == 10).unwrap().reason.starts_with("invalid JSON"));
    // The cleaned file is what training reads: 4 rows, no control characters, NFC, separators kept.
    let cleaned = String::from_utf8(out.jsonl.clone()).unwrap();
    assert!(cleaned.contains("\"Q: bell ring\\nA:\"") && cleaned.contains("\" ding dong\""), "{cleaned}");
    assert!(cleaned.contains("\"completion\":\" yes please\",\"prompt\":\"Q: café?\\nA:\""), "{cleaned}");
    let d = prepare(DataFile { bytes: &out.jsonl, name: "clean.jsonl" }, None, tiny(), None, &DataConfig::default()).unwrap();
    assert_eq!((d.summary.rows, d.summary.skipped_rows), (4, 0));
    // Each rule can be turned off.
    let all_off = CleanOptions {
        nfc: false,
        strip_control: false,
        whitespace: false,
        drop_empty: false,
        drop_duplicates: false,
        drop_near_duplicates: false,
        ..CleanOptions::default()
    };
    let out = clean(DataFile { bytes: text.as_bytes(), name: "messy.jsonl" }, &all_off).unwrap();
    let r = &out.report;
    assert_eq!((r.kept, r.changed, r.dropped), (8, 0, 4), "{r}"); // 2 bad, 2 empty (the parser refuses them)
    assert!(r.rows.iter().all(|a| a.rule == Rule::Bad), "{r}");
}

#[test]
fn clean_refuses_bad_options_and_drops_invalid_utf8() {
    let file = |b: &'static [u8]| DataFile { bytes: b, name: "d.jsonl" };
    let e = clean(file(b"{\"text\": \"a\"}\n"), &CleanOptions { near_dup_threshold: 1.5, ..CleanOptions::default() });
    assert!(e.unwrap_err().to_string().contains("near_dup_threshold"));
    let e = clean(file(b"{\"text\": \"a\"}\n"), &CleanOptions { min_chars: 5, max_chars: Some(2), ..CleanOptions::default() });
    assert!(e.unwrap_err().to_string().contains("max_chars"));
    let out = clean(file(b"{\"text\": \"ok\"}\n{\"text\": \"bad \xff byte\"}\n"), &CleanOptions::default()).unwrap();
    assert_eq!((out.report.kept, out.report.dropped, out.report.rows[0].rule), (1, 1, Rule::InvalidUtf8));
}

#[test]
fn inspect_counts_match_prepare_and_find_the_problems() {
    let rows = [
        r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Kettle colour?"}, {"role": "assistant", "content": "Teal."}]}"#,
        r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Kettle colour?"}, {"role": "assistant", "content": "Teal."}]}"#,
        r#"{"messages": [{"role": "user", "content": "Capacity?\u0007"}, {"role": "assistant", "content": "1.7 litres."}], "label": "b"}"#,
        r#"{"conversations": [{"from": "human", "value": "x"}]}"#,
        r#"{"messages": [{"role": "system", "content": "  "}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, how can I help you today with your kettle?"}], "label": "a"}"#,
    ];
    let text = rows.join("\n");
    let t = chatml();
    let render = template_renderer(&t, tiny());
    let file = DataFile { bytes: text.as_bytes(), name: "chat.jsonl" };
    let opts = InspectOptions { show_rows: vec![3], ..InspectOptions::default() };
    let r = inspect(file, tiny(), Some(&render), &opts).unwrap();
    let d = prepare_chat("chat.jsonl", text.as_bytes());
    assert!(d.is_err()); // line 4 is bad: training stops there ...
    let s = r.training.as_ref().unwrap(); // ... and inspect reports it with bad rows skipped
    assert_eq!((r.rows, r.bad_rows.len(), r.bad_rows[0].line), (4, 1, 4));
    assert_eq!((r.tokens, r.trained_tokens, r.masked_tokens), (s.train_tokens, s.trained_tokens, s.train_tokens - s.trained_tokens));
    assert_eq!(r.format, "JSONL, chat messages rows");
    assert_eq!(r.roles.get("assistant"), Some(&4));
    assert_eq!(r.exact_duplicates, vec![vec![1, 2]]);
    assert!(r.near_duplicates.is_empty());
    assert_eq!(r.histogram.iter().map(|b| b.rows).sum::<usize>(), 4);
    assert_eq!(r.control_characters.iter().map(|i| (i.line, i.field.as_str())).collect::<Vec<_>>(), [(3, "messages[0].content")]);
    assert_eq!(r.empty_fields.iter().map(|i| (i.line, i.field.as_str())).collect::<Vec<_>>(), [(5, "messages[0].content")]);
    assert!(!r.system_prompts_consistent && r.rows_without_system == 1);
    assert_eq!(r.labels.iter().map(|(l, n)| (l.as_str(), *n)).collect::<Vec<_>>(), [("a", 1), ("b", 1)]);
    let v = &r.shown_rows[0];
    let trained: Vec<&str> = v.runs.iter().filter(|r| r.trained).map(|r| r.text.as_str()).collect();
    assert_eq!(trained, ["1.7 litres.<|im_end|>"]);
    assert_eq!(v.runs.iter().map(|r| r.text.as_str()).collect::<String>(), tiny().decode(&d_ids(&text, 3), false).unwrap());
    let page = crate::prep::report_html::html(&r);
    assert!(page.contains("<svg") && page.contains("<span class=\"t\">1.7 litres.&lt;|im_end|&gt;</span>"));
    assert!(!page.contains("http://") || page.matches("http://").all(|_| page.contains("xmlns=\"http://www.w3.org/2000/svg\"")));
    let e = inspect(file, tiny(), Some(&render), &InspectOptions { show_rows: vec![4], ..InspectOptions::default() });
    assert!(e.unwrap_err().to_string().contains("no good row starts on line 4"));
    let r = inspect(file, tiny(), Some(&render), &InspectOptions { max_seq_len: 8, ..InspectOptions::default() }).unwrap();
    assert_eq!(r.over_max_seq_len, [1, 2, 3, 5]);
    assert_eq!(r.histogram.last().map(|b| (b.from, b.rows)), Some((9, 4)));
}

/// The ids of the row on `line` (of a chat file), as training encodes it alone.
fn d_ids(text: &str, line: usize) -> Vec<u32> {
    let row = text.lines().nth(line - 1).unwrap();
    prepare_chat("one.jsonl", row.as_bytes()).unwrap().train.remove(0).ids
}
