//! `anytune compare` end to end on the tiny fixture model with an adapter trained here: the
//! rating page it writes, `--summarise` on marks in the page's schema, and refusals that name
//! the file, line or option.

use std::path::{Path, PathBuf};

mod support;
use support::{anytune, ok};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests").join(name)
}

/// A fresh temporary folder for one test.
fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anytune-compare-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The error line of a failed run.
fn refused(args: &[&str]) -> String {
    let out = anytune(args);
    assert!(!out.status.success(), "anytune {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).lines().filter(|l| !l.contains("XDG_RUNTIME_DIR")).collect::<Vec<_>>().join("\n")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn compare_writes_a_blinded_page_and_summarises_its_marks() {
    let dir = temp("page");
    let model = fixture("fixtures/tiny-llama-Q8_0.gguf");
    let adapter = dir.join("adapter");
    let data = fixture("data/zorblax.jsonl");
    let train = ["train", "--model", s(&model), "--data", s(&data), "--out", s(&adapter), "--steps", "4", "--lr", "1e-2", "--targets", "all-linear", "--seed", "1"];
    let Some(_) = ok(&train) else { return };
    let prompts = dir.join("prompts.jsonl");
    std::fs::write(&prompts, concat!(
        r#"{"prompt": "Question: Who makes the Zorblax 3000 kettle?\nAnswer:", "expected": "Quillfeather"}"#, "\n",
        r#"{"prompt": "</script><img src=x onerror=alert(1)>"}"#, "\n",
    )).unwrap();
    let page = dir.join("report.html");
    let args = ["compare", "--model", s(&model), "--prompts", s(&prompts), "--adapter", &format!("alpha-lora={}", s(&adapter)), "--out", s(&page), "--max-tokens", "8"];
    let out = ok(&args).unwrap();
    assert!(out.contains("2 prompts, base vs 1 adapter = 2 pairs to rate (report "), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    let id = out.split("(report ").nth(1).unwrap().split(')').next().unwrap();
    assert!(html.contains(&format!("\"id\":\"{id}\"")), "the page carries the report id");
    assert!(!html.contains("alpha-lora"), "the adapter's name is sealed until a pair is rated");
    assert!(!html.to_ascii_lowercase().contains("<img"), "hostile prompts stay text");
    assert_eq!(ok(&args).unwrap(), out, "the same inputs give the same report");

    // Marks as the page writes them: pair 0 adapter (left) better, pair 1 a tie.
    let marks = dir.join("marks.json");
    let mark = |pair: usize, left: &str, right: &str, choice: &str, winner: &str| {
        format!(r#"{{"pair": {pair}, "prompt": {pair}, "base": "base", "adapter": "alpha-lora", "left": "{left}", "right": "{right}", "choice": "{choice}", "winner": {winner}, "comment": ""}}"#)
    };
    std::fs::write(&marks, format!(
        r#"{{"version": 1, "report": "{id}", "prompts_file": "prompts.jsonl", "systems": ["base", "alpha-lora"], "pairs": 2, "marks": [{}, {}]}}"#,
        mark(0, "alpha-lora", "base", "left", "\"alpha-lora\""),
        mark(1, "base", "alpha-lora", "tie", "null"),
    )).unwrap();
    let table = ok(&["compare", "--summarise", s(&marks)]).unwrap();
    assert!(table.contains(&format!("report {id}: 2 marks of 2 pairs")), "{table}");
    let row = table.lines().find(|l| l.starts_with("alpha-lora")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..7], ["1", "0", "1", "0", "0.750", "[0.198,"], "{table}");
    let json: serde_json::Value = serde_json::from_str(&ok(&["compare", "--summarise", s(&marks), "--json"]).unwrap()).unwrap();
    assert_eq!(json["tallies"][0]["wins"], 1);
    assert_eq!(json["tallies"][0]["sign_test_p"], 1.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_refusals_name_the_file_line_or_option() {
    let dir = temp("bad");
    let model = fixture("fixtures/tiny-llama-Q8_0.gguf");
    let (m, out) = (s(&model).to_string(), dir.join("r.html"));
    let prompts = dir.join("p.jsonl");
    std::fs::write(&prompts, "{\"prompt\": \"hi\"}\n{\"promt\": \"typo\"}\n").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["compare", "--model", &m, "--out", s(&out)];
        args.extend_from_slice(extra);
        refused(&args)
    };
    for (extra, expect) in [
        (vec!["--prompts", s(&prompts)], "invalid --adapter: give at least one adapter"),
        (vec!["--prompts", s(&prompts), "--adapter", "base=x"], "invalid --adapter: `base` names the base model"),
        (vec!["--prompts", s(&prompts), "--adapter", "a=x", "--temperature=-1"], "invalid --temperature"),
        (vec!["--prompts", s(&prompts), "--adapter", "a=x"], "p.jsonl: line 2: unknown key `promt`"),
    ] {
        let msg = run(&extra);
        assert!(msg.contains(expect), "{extra:?}: {msg}");
    }
    let marks = dir.join("marks.json");
    std::fs::write(&marks, r#"{"version": 2, "marks": []}"#).unwrap();
    let msg = refused(&["compare", "--summarise", s(&marks)]);
    assert!(msg.contains("marks.json: marks version 2 is not supported"), "{msg}");

    // With the model loaded: a chat prompt on a model without a chat template, a prompt longer
    // than the context; both name the line.
    let missing = fixture("fixtures/no-such-adapter");
    let txt = dir.join("p.txt");
    std::fs::write(&txt, "\nhello\n").unwrap();
    let msg = run(&["--prompts", s(&txt), "--adapter", s(&missing)]);
    if msg.contains("no GPU adapter") {
        return eprintln!("SKIPPED: {msg}");
    }
    assert!(msg.contains("reading the adapter"), "{msg}");
    let adapter = dir.join("adapter");
    let data = fixture("data/zorblax.jsonl");
    let train = ["train", "--model", &m, "--data", s(&data), "--out", s(&adapter), "--steps", "1"];
    ok(&train).unwrap();
    let msg = run(&["--prompts", s(&txt), "--adapter", s(&adapter)]);
    assert!(msg.contains("p.txt: line 2: ") && msg.contains("no chat template: give --raw"), "{msg}");
    std::fs::write(&txt, "word ".repeat(300)).unwrap();
    let msg = run(&["--prompts", s(&txt), "--raw", "--adapter", s(&adapter)]);
    assert!(msg.contains("p.txt: line 1: invalid prompt: its") && msg.contains("more than the model's context"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}
