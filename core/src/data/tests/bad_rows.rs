//! Every kind of bad row names `file:line` and what is wrong; `skip_bad_rows` lists them.

use super::*;

/// The error for a file whose line 2 is `bad` (line 1 is a good row of `good`).
fn error_at_line_2(good: &str, bad: &str) -> String {
    prep("d.jsonl", &format!("{good}\n{bad}\n"), &DataConfig::default()).unwrap_err().to_string()
}

const PC: &str = r#"{"prompt": "a", "completion": "b"}"#;
const CHAT: &str = r#"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#;

#[test]
fn each_bad_row_kind_names_file_line_and_reason() {
    let cases: &[(&str, &str, &str)] = &[
        (PC, r#"{"prompt": "a", "completion": "b""#, "invalid JSON"),
        (PC, r#"{"prompt": "a"}"#, "missing field \"completion\""),
        (PC, r#"{"prompt": "a", "completion": 3}"#, "\"completion\" must be a string, found a number"),
        (PC, r#"{"prompt": "a", "completion": "  "}"#, "empty \"completion\""),
        (PC, r#"["a", "b"]"#, "expected a JSON object, found a list"),
        (PC, r#"{"question": "a"}"#, "no known fields"),
        (PC, r#"{"text": "a"}"#, "a text row in a file of prompt/completion rows"),
        (r#"{"text": "a"}"#, r#"{"text": ""}"#, "empty \"text\""),
        (r#"{"text": "a"}"#, r#"{"text": null}"#, "\"text\" must be a string, found null"),
        (CHAT, r#"{"messages": "hi"}"#, "\"messages\" must be a list"),
        (CHAT, r#"{"messages": []}"#, "\"messages\" is empty"),
        (CHAT, r#"{"messages": [{"role": "bot", "content": "a"}]}"#, "message 1: unknown role \"bot\""),
        (CHAT, r#"{"messages": [{"role": "user"}]}"#, "message 1: missing field \"content\""),
        (
            CHAT,
            r#"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]}"#,
            "message 2: empty \"content\"",
        ),
        (CHAT, r#"{"messages": [{"role": "user", "content": "a"}]}"#, "no assistant message"),
        (CHAT, r#"{"messages": [7]}"#, "message 1: expected an object, found a number"),
        (
            r#"{"instruction": "a", "output": "b"}"#,
            r#"{"instruction": "a", "input": 1, "output": "b"}"#,
            "\"input\" must be a string",
        ),
        (r#"{"instruction": "a", "output": "b"}"#, r#"{"output": "b"}"#, "missing field \"instruction\""),
    ];
    for (good, bad, want) in cases {
        let e = error_at_line_2(good, bad);
        assert!(e.starts_with("d.jsonl:2: ") && e.contains(want), "{bad}: got {e:?}, want {want:?}");
    }
}

#[test]
fn file_level_errors() {
    let e = prep("d.csv", "prompt,completion\na,b\nc\n", &DataConfig::default()).unwrap_err().to_string();
    assert_eq!(e, "d.csv:3: 1 fields, but the header has 2");
    let e = prep("d.csv", "text\n\"open\n", &DataConfig::default()).unwrap_err().to_string();
    assert!(e.starts_with("d.csv:2: the quoted field opened here is never closed"), "{e}");
    let e = prepare(
        DataFile { bytes: b"{\"text\": \"a\"}\n{\"text\": \"\xff\"}", name: "d.jsonl" },
        None,
        tiny(),
        None,
        &DataConfig::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(e, "d.jsonl:2: the file is not UTF-8 text");
    let e = prep("d.json", "[{\"text\": \"a\"},\n {\"text\": }]", &DataConfig::default()).unwrap_err().to_string();
    assert!(e.starts_with("d.json:2: invalid JSON"), "{e}");
    let e = prep("d.json", "{\n  \"text\": \"a\"\n}\n", &DataConfig::default()).unwrap_err().to_string();
    assert!(e.contains("one JSON object spread over several lines"), "{e}");
    assert_eq!(prep("d.jsonl", " \n\n", &DataConfig::default()).unwrap_err().to_string(), "d.jsonl: the file is empty");
}

#[test]
fn skip_bad_rows_reports_count_lines_and_reasons() {
    let mut text = format!("{PC}\n{{\"prompt\": \"x\"}}\n{PC}\nnot json\n");
    for _ in 0..MAX_BAD_ROWS_LISTED {
        text += "{\"prompt\": \"a\", \"completion\": \"\"}\n";
    }
    let cfg = DataConfig { skip_bad_rows: true, ..DataConfig::default() };
    let d = prep("d.jsonl", &text, &cfg).unwrap();
    assert_eq!(d.summary.rows, 2);
    assert_eq!(d.train.len(), 2);
    assert_eq!(d.summary.skipped_rows, 2 + MAX_BAD_ROWS_LISTED);
    assert_eq!(d.summary.bad_rows.len(), MAX_BAD_ROWS_LISTED);
    assert_eq!(d.summary.bad_rows[0].to_string(), "d.jsonl:2: missing field \"completion\"");
    assert_eq!(d.summary.bad_rows[1].line, 4);
    assert!(d.summary.bad_rows[1].reason.starts_with("invalid JSON"));
    let s = d.summary.to_string();
    assert!(
        s.contains("skipped (bad): 22")
            && s.contains("skipped d.jsonl:5: empty \"completion\"")
            && s.contains("... and 2 more"),
        "{s}"
    );
    // All rows bad: an error, not an empty dataset.
    let e = prep("d.jsonl", "{\"prompt\": \"x\"}\n", &cfg).unwrap_err().to_string();
    assert_eq!(e, "d.jsonl: no usable rows (1 bad rows skipped)");
}
