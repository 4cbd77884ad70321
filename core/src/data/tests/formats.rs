//! Each container and row shape on a small sample.

use super::*;

const EOS: u32 = 319;

#[test]
fn jsonl_text_rows_train_on_everything_and_end_with_eos() {
    let d = prep("t.jsonl", "{\"text\": \"hello world\"}\n\n{\"text\": \"abc\", \"id\": 7}\n", &DataConfig::default())
        .unwrap();
    assert_eq!(d.summary.format, DatasetFormat { container: Container::Jsonl, shape: Shape::Text });
    assert_eq!(d.train.len(), 2);
    let mut want = enc("hello world");
    want.push(EOS);
    assert_eq!(d.train[0].ids, want);
    assert!(d.train[0].loss_mask.iter().all(|&m| m));
    assert_eq!(d.summary.rows, 2);
    assert_eq!(d.summary.train_tokens, want.len() + enc("abc").len() + 1);
    assert_eq!(d.summary.trained_tokens, d.summary.train_tokens - 2); // first tokens are never targets
}

#[test]
fn prompt_completion_masks_only_the_completion() {
    let d = prep("pc.jsonl", r#"{"prompt": "Q: kettle colour?\nA:", "completion": " teal"}"#, &DataConfig::default())
        .unwrap();
    assert_eq!(d.summary.format.name(), "JSONL, prompt/completion rows");
    let (p, c) = (enc("Q: kettle colour?\nA:"), enc(" teal"));
    let ex = &d.train[0];
    assert_eq!(ex.ids, [p.clone(), c.clone(), vec![EOS]].concat());
    let want: Vec<bool> = (0..ex.ids.len()).map(|i| i >= p.len()).collect();
    assert_eq!(ex.loss_mask, want);
    assert_eq!(trained_runs(tiny(), ex), vec![" teal<|im_end|>"]);
    assert_eq!(d.summary.trained_tokens, c.len() + 1);
}

#[test]
fn completion_ending_in_eos_gets_no_second_eos() {
    let d = prep("pc.jsonl", r#"{"prompt": "a", "completion": "b<|im_end|>"}"#, &DataConfig::default()).unwrap();
    assert_eq!(d.train[0].ids.iter().filter(|&&i| i == EOS).count(), 1);
}

#[test]
fn json_array_is_detected_and_lines_are_tracked() {
    let text = "[\n  {\"prompt\": \"a\", \"completion\": \"b\"},\n  {\"prompt\": \"c\",\n   \"completion\": \"d\"},\n  {\"prompt\": \"e\"}\n]";
    let e = prep("d.json", text, &DataConfig::default()).unwrap_err().to_string();
    assert_eq!(e, "d.json:5: missing field \"completion\"");
    let cfg = DataConfig { skip_bad_rows: true, ..DataConfig::default() };
    let d = prep("d.json", text, &cfg).unwrap();
    assert_eq!(d.summary.format, DatasetFormat { container: Container::JsonArray, shape: Shape::PromptCompletion });
    assert_eq!(d.train.len(), 2);
}

#[test]
fn alpaca_without_a_template_uses_the_alpaca_prompt() {
    let text = "{\"instruction\": \"Name the kettle.\", \"input\": \"\", \"output\": \"Zorblax\"}\n\
                {\"instruction\": \"Translate.\", \"input\": \"bonjour\", \"output\": \"hello\"}\n\
                {\"instruction\": \"Count.\", \"output\": \"3\"}";
    let d = prep("a.jsonl", text, &DataConfig::default()).unwrap();
    assert_eq!(d.summary.format.shape, Shape::Alpaca);
    let p0 = alpaca_prompt("Name the kettle.", "");
    assert!(p0.contains("### Instruction:\nName the kettle.\n\n### Response:\n") && !p0.contains("### Input"));
    assert_eq!(d.train[0].ids, [enc(&p0), enc("Zorblax"), vec![EOS]].concat());
    assert!(alpaca_prompt("Translate.", "bonjour").contains("### Input:\nbonjour\n\n### Response:\n"));
    assert_eq!(trained_runs(tiny(), &d.train[1]), vec!["hello<|im_end|>"]);
}

#[test]
fn alpaca_with_a_template_becomes_a_chat() {
    let t = chatml();
    let render = template_renderer(&t, tiny());
    let text = r#"{"instruction": "Translate.", "input": "bonjour", "output": "hello"}"#;
    let d = prepare(
        DataFile { bytes: text.as_bytes(), name: "a.jsonl" },
        None,
        tiny(),
        Some(&render),
        &DataConfig::default(),
    )
    .unwrap();
    let full = "<|im_start|>user\nTranslate.\n\nbonjour<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n";
    assert_eq!(tiny().decode(&d.train[0].ids, false).unwrap(), full);
    assert_eq!(trained_runs(tiny(), &d.train[0]), vec!["hello<|im_end|>"]);
}

#[test]
fn plain_text_paragraphs_or_one_document() {
    let d = prep("notes.txt", "First para\nline two.\n\n\n  \nSecond.\n\nThird.", &DataConfig::default()).unwrap();
    assert_eq!(d.summary.format.container, Container::PlainText);
    assert_eq!(d.train.len(), 3);
    assert_eq!(d.train[0].ids, [enc("First para\nline two."), vec![EOS]].concat());
    let d = prep("doc.txt", "one\ndocument\nno blank lines", &DataConfig::default()).unwrap();
    assert_eq!(d.train.len(), 1);
}

#[test]
fn csv_with_quoting() {
    let text = "prompt,completion\n\"Q: a, b?\",\" yes \"\"quoted\"\"\"\n\"multi\nline\",ok\n";
    let d = prep("d.csv", text, &DataConfig::default()).unwrap();
    assert_eq!(d.summary.format, DatasetFormat { container: Container::Csv, shape: Shape::PromptCompletion });
    assert_eq!(d.train[0].ids, [enc("Q: a, b?"), enc(" yes \"quoted\""), vec![EOS]].concat());
    assert_eq!(d.train[1].ids, [enc("multi\nline"), enc("ok"), vec![EOS]].concat());
    let d = prep("d.csv", "id,Text\n1,hello\n", &DataConfig::default()).unwrap();
    assert_eq!(d.summary.format.shape, Shape::Text);
    let e = prep("d.csv", "a,b\n1,2\n", &DataConfig::default()).unwrap_err().to_string();
    assert!(e.starts_with("d.csv:1: the CSV header must name"), "{e}");
}

#[test]
fn summary_prints_the_counts() {
    let d = prep("pc.jsonl", r#"{"prompt": "a", "completion": "b"}"#, &DataConfig::default()).unwrap();
    let s = d.summary.to_string();
    assert!(s.contains("dataset pc.jsonl: JSONL, prompt/completion rows"), "{s}");
    assert!(s.contains("train: 1 sequences, 3 tokens, 2 trained"), "{s}");
    let json = serde_json::to_string(&d.summary).unwrap();
    assert_eq!(serde_json::from_str::<DataSummary>(&json).unwrap(), d.summary);
}

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/");

#[test]
fn sample_datasets_load_cleanly() {
    let pc = std::fs::read(format!("{SAMPLES}zorblax.jsonl")).unwrap();
    let cfg = DataConfig { val_split: 0.1, seed: 3, ..DataConfig::default() };
    let d = prepare(DataFile { bytes: &pc, name: "zorblax.jsonl" }, None, tiny(), None, &cfg).unwrap();
    assert_eq!((d.summary.rows, d.summary.skipped_rows, d.train.len(), d.val.len()), (40, 0, 36, 4));
    assert_eq!(d.summary.truncated_rows, 0);
    let chat = std::fs::read(format!("{SAMPLES}zorblax_chat.jsonl")).unwrap();
    let t = chatml();
    let render = template_renderer(&t, tiny());
    let d = prepare(
        DataFile { bytes: &chat, name: "zorblax_chat.jsonl" },
        None,
        tiny(),
        Some(&render),
        &DataConfig::default(),
    )
    .unwrap();
    assert_eq!((d.summary.rows, d.summary.mask_fallback_rows), (20, 0));
    assert_eq!(d.summary.format.shape, Shape::Messages);
    if let Some((tok, t)) = smollm() {
        let render = template_renderer(t, tok);
        let d = prepare(
            DataFile { bytes: &chat, name: "zorblax_chat.jsonl" },
            None,
            tok,
            Some(&render),
            &DataConfig::default(),
        )
        .unwrap();
        assert_eq!(d.summary.mask_fallback_rows, 0);
        // The trained runs are exactly the assistant messages, each followed by <|im_end|>.
        let chat_text = std::str::from_utf8(&chat).unwrap();
        for (line, ex) in chat_text.lines().zip(&d.train) {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let want: Vec<String> = row["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "assistant")
                .map(|m| format!("{}<|im_end|>", m["content"].as_str().unwrap()))
                .collect();
            assert_eq!(trained_runs(tok, ex), want);
        }
        eprintln!("{}", d.summary);
    }
}

#[test]
fn unknown_extensions_are_refused_naming_the_supported_ones() {
    for name in ["train.parquet", "rows.xlsx", "data/train", "train.jsonl.gz"] {
        let e = prep(name, "{\"text\": \"hi\"}\n", &DataConfig::default()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{name}: ")), "{e}");
        assert!(e.contains("supported: .jsonl .ndjson .json .csv .txt .md .text"), "{e}");
    }
    let e = prep("train.parquet", "", &DataConfig::default()).unwrap_err().to_string();
    assert!(e.contains("\".parquet\" is not a dataset format"), "{e}");
    assert!(prep("dir.v2/Train.JSONL", "{\"text\": \"hi\"}\n", &DataConfig::default()).is_ok());
}
