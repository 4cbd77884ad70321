//! Bad datasets and chat templates, through the files the CLI reads: a clear error naming the
//! file, in bounded time and memory — never a hang, an abort or a guess. Chat templates that
//! loop or write without end (in `tokenizer_config.json` and in a GGUF), a 50 MB row, unknown
//! extensions, unclosed CSV quotes, missing files.

use anytune_core::chat::ChatTemplate;
use anytune_core::data::{DataConfig, DataFile, Dataset, prepare, read_dataset_path, template_renderer};
use anytune_core::formats::{GgufFile, MetaValue, gguf_write::GgufWriter, read_model_path};
use anytune_core::tokenizer::Tokenizer;
use anytune_tests::repo_path;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A template whose nested loops would run 10^10 steps.
const LOOPING: &str = "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}";
/// A template that would write 100 MB a hundred thousand times.
const WRITING: &str = "{% for i in range(100000) %}{{ 'x' * 100000000 }}{% endfor %}";
const CHAT_ROW: &str = r#"{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}"#;

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anytune-bad-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = temp_dir().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The error and its causes, as the CLI prints them (`{:#}`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s += &format!(": {c}");
        cause = c.source();
    }
    s
}

/// Prepares `rows` (file `name`) with `tok` and its chat template.
fn prepare_chat(tok: &Tokenizer, name: &str, rows: &str) -> anytune_core::Result<Dataset> {
    let template = ChatTemplate::from_source(tok.chat_template.as_ref().expect("a chat template"))?;
    let render = template_renderer(&template, tok);
    prepare(DataFile { bytes: rows.as_bytes(), name }, None, tok, Some(&render), &DataConfig::default())
}

/// The tiny HF tokenizer with `template` as `chat_template` in its `tokenizer_config.json`.
fn hf_tokenizer(template: &str) -> Tokenizer {
    let dir = repo_path("fixtures/tiny-llama");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("tokenizer_config.json")).unwrap()).unwrap();
    config["chat_template"] = template.into();
    let config = serde_json::to_vec(&config).unwrap();
    Tokenizer::from_json(&std::fs::read(dir.join("tokenizer.json")).unwrap(), Some(&config)).unwrap()
}

/// The tiny GGUF's tokenizer with `template` as `tokenizer.chat_template`, read back from a file.
fn gguf_tokenizer(template: &str) -> Tokenizer {
    let bytes = std::fs::read(repo_path("fixtures/tiny-llama-F32.gguf")).unwrap();
    let gguf = GgufFile::parse(&bytes, "tiny").unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in &gguf.metadata {
        if k != "tokenizer.chat_template" {
            w.add_meta(k.clone(), v.clone()).unwrap();
        }
    }
    w.add_meta("tokenizer.chat_template".to_string(), MetaValue::String(template.to_string())).unwrap();
    let bytes = w.to_bytes();
    let gguf = GgufFile::parse(&bytes, "looping.gguf").unwrap();
    Tokenizer::from_gguf(&gguf.metadata, "looping.gguf").unwrap()
}

#[test]
fn runaway_chat_templates_are_refused_quickly_naming_the_file() {
    for (tok, origin) in [
        (hf_tokenizer(LOOPING), "tokenizer_config.json: chat_template"),
        (gguf_tokenizer(LOOPING), "looping.gguf: tokenizer.chat_template"),
    ] {
        let start = Instant::now();
        let e = prepare_chat(&tok, "chat.jsonl", CHAT_ROW).unwrap_err().to_string();
        assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
        assert!(e.starts_with("chat.jsonl:1: ") && e.contains(origin), "{e}");
        assert!(e.contains("ran out of fuel (limit 11000 steps for this conversation)"), "{e}");
    }
    let start = Instant::now();
    let e = prepare_chat(&hf_tokenizer(WRITING), "chat.jsonl", CHAT_ROW).unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
    assert!(e.contains("tokenizer_config.json: chat_template") && e.contains("limit of 64 MiB"), "{e}");
}

/// Set in the child process that [`a_50_mb_row_prepares_in_bounded_memory`] starts.
const CHILD: &str = "ANYTUNE_BAD_DATA_CHILD";

/// Peak resident memory of this process (VmHWM), in MB.
fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

/// Run alone in a child process: prepares a 50 MB prompt/completion row, a 50 MB chat row and a
/// 5 MB text row, and prints the peak memory.
#[test]
fn big_rows_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let long = "word ".repeat(10 << 20); // 50 MB
    let pc = format!("{{\"prompt\": \"Q:\", \"completion\": \"{long}\"}}\n");
    let chat = format!(
        "{{\"messages\": [{{\"role\": \"user\", \"content\": \"{long}\"}}, \
         {{\"role\": \"assistant\", \"content\": \"ok\"}}]}}"
    );
    let tok = hf_tokenizer("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
    let cfg = DataConfig { max_seq_len: 64, ..DataConfig::default() };
    let d = prepare(DataFile { bytes: pc.as_bytes(), name: "pc.jsonl" }, None, &tok, None, &cfg).unwrap();
    assert_eq!((d.summary.truncated_rows, d.train[0].ids.len()), (1, 64));
    drop((pc, d));
    let e = prepare_chat(&tok, "chat.jsonl", &chat).unwrap_err().to_string();
    assert!(e.contains("no training rows: all 1 rows were dropped"), "{e}"); // the user turn fills 512 tokens
    drop(chat);
    let text = format!("{{\"text\": \"{}\"}}\n", &long[..5 << 20]);
    let d = prepare(DataFile { bytes: text.as_bytes(), name: "t.jsonl" }, None, &tok, None, &cfg).unwrap();
    assert!(d.train.len() > 10_000, "{}", d.train.len());
    println!("peak-rss-mb {}", peak_rss_mb().unwrap_or(0));
}

#[test]
fn a_50_mb_row_prepares_in_bounded_memory() {
    if std::env::var_os(CHILD).is_some() || !std::path::Path::new("/proc/self/status").exists() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["big_rows_child", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let peak: u64 = stdout
        .lines()
        .find_map(|l| l.split("peak-rss-mb ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in {stdout}"));
    eprintln!("peak RSS preparing 50 MB rows: {peak} MB");
    // The rows' own copies (file, JSON value, row, template input) take ~5 × 50 MB; tokenizing
    // 50 MB whole would take ~9 GB.
    assert!(peak < 800, "peak RSS {peak} MB");
}

#[test]
fn missing_files_name_the_os_error_once() {
    let missing = temp_dir().join("nope.jsonl");
    let e = chain(&read_dataset_path(&missing).unwrap_err());
    assert!(e.starts_with(&missing.display().to_string()), "{e}");
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    let e = chain(&read_model_path(&temp_dir().join("nope.gguf")).unwrap_err());
    assert!(e.contains("nope.gguf") && e.matches("No such file or directory").count() == 1, "{e}");
}

#[test]
fn unknown_extensions_and_unclosed_csv_quotes_are_refused() {
    let tok = hf_tokenizer("");
    let prep = |name: &str, bytes: &[u8]| {
        let (bytes, name) = read_dataset_path(&temp_file(name, bytes)).unwrap();
        prepare(DataFile { bytes: &bytes, name: &name }, None, &tok, None, &DataConfig::default())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let e = prep("train.parquet", b"PAR1\x15\x04\x15\x10text");
    assert!(e.contains("train.parquet: \".parquet\" is not a dataset format; supported: .jsonl"), "{e}");
    let e = prep("quotes.csv", b"prompt,completion\n\"5 ft, 2\" tall,x\nnext,row\n\"a\",b\n");
    assert!(e.contains("quotes.csv:2: the quoted field opened here"), "{e}");
}
