use super::*;
use crate::data::Shape;
use crate::prep::convert::{ConvertOptions, convert};
use crate::prep::split::{part_counts, split};

/// Converts `text` (file `name`) and checks that training reads the result as chat rows.
fn converted(name: &str, text: &str, opts: &ConvertOptions) -> (Vec<serde_json::Value>, Dataset) {
    let out = convert(DataFile { bytes: text.as_bytes(), name }, opts).unwrap();
    let rows = String::from_utf8(out.jsonl.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let d = prepare_chat("converted.jsonl", &out.jsonl).unwrap();
    assert_eq!(d.summary.format.shape, Shape::Messages, "{name}");
    (rows, d)
}

#[test]
fn each_input_format_converts_to_chat_rows() {
    let none = ConvertOptions::default();
    let (rows, _) = converted("pc.jsonl", &pc("Q: colour?\nA:", " teal"), &none);
    assert_eq!(rows[0]["messages"], serde_json::json!([{"role": "user", "content": "Q: colour?\nA:"}, {"role": "assistant", "content": "teal"}]));
    let alpaca = r#"{"instruction": "Translate.", "input": "bonjour", "output": "hello"}"#;
    let (rows, _) = converted("a.jsonl", alpaca, &none);
    assert_eq!(rows[0]["messages"][0]["content"], "Translate.\n\nbonjour");
    let sharegpt = r#"{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}], "label": "greet"}"#;
    let system = ConvertOptions { system: Some("Be brief.".into()), ..ConvertOptions::default() };
    let (rows, d) = converted("s.jsonl", sharegpt, &system);
    assert_eq!(rows[0]["messages"][0], serde_json::json!({"role": "system", "content": "Be brief."}));
    assert_eq!((rows[0]["messages"][2]["role"].as_str(), rows[0]["label"].as_str()), (Some("assistant"), Some("greet")));
    assert_eq!(d.summary.rows, 1);
    let (rows, _) = converted("t.txt", "First paragraph.\n\nSecond.", &none);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["messages"], serde_json::json!([{"role": "assistant", "content": "Second."}]));
    let csv = "question,answer,topic\n\"Q: a, b?\",yes,x\nQ: c?,no,y\nonly,two\n";
    let cols = ConvertOptions {
        prompt_column: Some("question".into()),
        completion_column: Some("Answer".into()),
        label_column: Some("topic".into()),
        ..ConvertOptions::default()
    };
    let out = convert(DataFile { bytes: csv.as_bytes(), name: "d.csv" }, &cols).unwrap();
    assert_eq!((out.report.rows, out.report.bad_rows[0].line), (2, 4));
    let (rows, _) = converted("d.csv", csv, &cols);
    assert_eq!((rows[0]["messages"][0]["content"].as_str(), rows[1]["label"].as_str()), (Some("Q: a, b?"), Some("y")));
    let classify = ConvertOptions { text_column: Some("question".into()), label_column: Some("topic".into()), ..ConvertOptions::default() };
    let (rows, _) = converted("d.csv", csv, &classify);
    assert_eq!(rows[1]["messages"][1], serde_json::json!({"role": "assistant", "content": "y"}));
    let wrong = ConvertOptions { text_column: Some("body".into()), ..ConvertOptions::default() };
    let e = convert(DataFile { bytes: csv.as_bytes(), name: "d.csv" }, &wrong).unwrap_err().to_string();
    assert!(e.contains("no column \"body\"; the header has: question, answer, topic"), "{e}");
}

/// A label file: `per_label` rows of each label.
fn labelled(labels: &[&str], per_label: usize) -> String {
    let mut s = String::new();
    for i in 0..per_label {
        for l in labels {
            s += &format!("{}\n", serde_json::json!({ "text": format!("row {i} of {l}"), "label": l }));
        }
    }
    s
}

#[test]
fn split_is_exact_stratified_and_seeded() {
    let text = labelled(&["pos", "neg"], 50);
    let file = DataFile { bytes: text.as_bytes(), name: "l.jsonl" };
    let s = split(file, [0.8, 0.1, 0.1], 7).unwrap();
    assert_eq!(s.report.counts, [80, 10, 10]);
    assert!(s.report.stratified);
    assert!(s.report.by_label.values().all(|c| *c == [40, 5, 5]), "{:?}", s.report.by_label);
    for (part, n) in s.parts.iter().zip([80, 10, 10]) {
        let rows: Vec<serde_json::Value> = String::from_utf8(part.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), n);
        assert_eq!(rows.iter().filter(|r| r["label"] == "pos").count(), n / 2);
    }
    let again = split(file, [0.8, 0.1, 0.1], 7).unwrap();
    assert_eq!(again.parts, s.parts);
    assert_ne!(split(file, [0.8, 0.1, 0.1], 8).unwrap().parts, s.parts);
    // Every row lands in exactly one part.
    let mut all: Vec<String> = s.parts.iter().flat_map(|p| String::from_utf8(p.clone()).unwrap().lines().map(String::from).collect::<Vec<_>>()).collect();
    all.sort();
    let mut input: Vec<String> = text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap().to_string()).collect();
    input.sort();
    assert_eq!(all, input);
    assert_eq!(part_counts(7, [0.8, 0.1, 0.1]), [5, 1, 1]); // 5.6, 0.7, 0.7: largest remainders
    assert_eq!(part_counts(3, [0.5, 0.5, 0.0]), [2, 1, 0]);
    let e = split(file, [0.8, 0.3, 0.1], 0).unwrap_err().to_string();
    assert!(e.contains("adding up to 1"), "{e}");
    let mixed = "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n";
    let e = split(DataFile { bytes: mixed.as_bytes(), name: "m.jsonl" }, [0.5, 0.5, 0.0], 0).unwrap_err().to_string();
    assert!(e.starts_with("m.jsonl:2: a text row in a file of text/label"), "{e}"); // the parser's mixed-shape check
    let bad = "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n";
    let e = split(DataFile { bytes: bad.as_bytes(), name: "b.jsonl" }, [0.5, 0.5, 0.0], 0).unwrap_err().to_string();
    assert!(e.starts_with("b.jsonl:2: no known fields"), "{e}");
}
