//! `anytune data inspect|clean|split|convert` through the binary, on files the test writes, with
//! the tiny HF fixture's tokenizer and a ChatML chat template added to its tokenizer_config.json.

use anytune_tests::{anytune_binary, tiny_chat_model};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anytune-data-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `anytune data ARGS`; (success, stdout, stderr).
fn data(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(anytune_binary()).arg("data").args(args).env("NO_COLOR", "1").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn pc(prompt: &str, completion: &str) -> String {
    serde_json::json!({ "prompt": prompt, "completion": completion }).to_string()
}

#[test]
fn clean_writes_the_kept_rows_and_a_report_of_every_other_row() {
    let dir = temp_dir();
    let base = "The Zorblax 3000 kettle is teal, holds 1.7 litres of water and boils it in about ninety seconds; \
                its handle stays cool and it switches itself off when dry.";
    let lines = [
        pc("Q: kettle?\nA:", base),
        pc("Q: kettle?\nA:", base),
        pc("Q: KETTLE!\nA:", &base.to_uppercase()),
        pc("Q: kettle?\nA:", &base.replace("ninety", "eighty")),
        pc("Q: capital of Portugal?\nA:", " Lisbon."),
        pc("  ", "\t"),
        pc("Q: bell\u{7}\nA:", " ding"),
        pc("Q: long\nA:", &"word ".repeat(1000)),
        "{\"prompt\": ".to_string(),
        serde_json::json!({ "text": "mixed" }).to_string(),
    ];
    let input = dir.join("messy.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let (out, report) = (dir.join("clean.jsonl"), dir.join("report.jsonl"));
    let args = ["clean", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--report", report.to_str().unwrap(), "--max-chars", "1000"];
    let (ok, stdout, stderr) = data(&args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("10 rows read: 2 kept unchanged, 1 kept with normalised text, 7 dropped"), "{stdout}");
    let actions: Vec<Value> =
        std::fs::read_to_string(&report).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let rules: Vec<(u64, &str)> = actions.iter().map(|a| (a["line"].as_u64().unwrap(), a["rule"].as_str().unwrap())).collect();
    assert_eq!(
        rules,
        [
            (2, "duplicate"),
            (3, "near_duplicate"),
            (4, "near_duplicate"),
            (6, "empty"),
            (7, "normalised"),
            (8, "too_long"),
            (9, "bad"),
            (10, "bad")
        ]
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3);
    // The input is never overwritten.
    let (ok, _, stderr) = data(&["clean", input.to_str().unwrap(), "--out", input.to_str().unwrap()]);
    assert!(!ok && stderr.contains("would overwrite the input"), "{stderr}");
}

#[test]
fn convert_split_and_inspect_agree_with_training() {
    let dir = temp_dir();
    let model = tiny_chat_model(&dir);
    let sharegpt = dir.join("sharegpt.jsonl");
    let mut rows = String::new();
    for i in 0..20 {
        let label = if i % 2 == 0 { "even" } else { "odd" };
        rows += &serde_json::json!({"conversations": [{"from": "human", "value": format!("Is {i} even or odd?")}, {"from": "gpt", "value": format!("{i} is {label}.")}], "label": label}).to_string();
        rows += "\n";
    }
    std::fs::write(&sharegpt, rows).unwrap();
    let chat = dir.join("chat.jsonl");
    let (ok, stdout, stderr) = data(&["convert", sharegpt.to_str().unwrap(), "--out", chat.to_str().unwrap(), "--system", "Answer briefly."]);
    assert!(ok && stdout.contains("20 chat rows written, 0 bad rows skipped"), "{stdout}{stderr}");
    let split_dir = dir.join("split");
    let (ok, stdout, stderr) = data(&["split", chat.to_str().unwrap(), "--fractions", "0.6,0.2,0.2", "--seed", "3", "--out", split_dir.to_str().unwrap()]);
    assert!(ok && stdout.contains("20 rows → train 12, validation 4, test 4"), "{stdout}{stderr}");
    assert!(stdout.contains("label \"even\": train 6, validation 2, test 2"), "{stdout}");
    let train = split_dir.join("train.jsonl");
    let (ok, stdout, stderr) = data(&["inspect", train.to_str().unwrap(), "--model", model.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["format"], "JSONL, chat messages rows");
    assert_eq!(r["rows"], 12);
    assert_eq!(r["trained_tokens"], r["training"]["trained_tokens"]);
    assert_eq!(r["tokens"], r["training"]["train_tokens"]);
    assert_eq!(r["roles"]["system"], 12);
    assert_eq!(r["system_prompts_consistent"], true);
    let html = dir.join("report.html");
    let line = "1";
    let (ok, stdout, stderr) =
        data(&["inspect", train.to_str().unwrap(), "--model", model.to_str().unwrap(), "--show-row", line, "--html", html.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("line 1: ") && stdout.contains("[[") && !stdout.contains('\x1b'), "{stdout}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("class=\"t\"") && !page.contains("<script"), "{page}");
}
