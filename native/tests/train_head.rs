//! `anytune train --task classify --head` end to end on the tiny F32 Llama: 30 steps on 40
//! rows of tests/data/sentiment_train.jsonl raise `eval --json`'s accuracy on
//! sentiment_test.jsonl above the untrained head's (a 1-step run at lr 1e-12: seen 0.50 →
//! 0.68 after training); the folder holds PEFT's SEQ_CLS files and labels.json and no
//! adapter.gguf; a run killed mid-way resumes to the same adapter and score weight; and the
//! refusals: --head without label rows, with --full, and a head adapter given to `score`.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::{anytune, ok};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests")
}

/// The train arguments of a head run into `out`.
fn train_args(data: &Path, out: &Path, steps: &str, lr: &str, every: &str) -> Vec<String> {
    let model = root().join("fixtures/tiny-llama-F32.gguf");
    let fixed = ["train", "--task", "classify", "--head", "--batch", "8", "--seed", "3"];
    let rest = ["--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()];
    fixed.into_iter().chain(rest).chain(["--steps", steps, "--lr", lr, "--checkpoint-every", every]).map(String::from).collect()
}

fn run(args: &[String]) -> Option<String> {
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `eval --json --adapter-only` accuracy of the head adapter in `out` on sentiment_test.jsonl.
fn accuracy(out: &Path) -> f64 {
    let model = root().join("fixtures/tiny-llama-F32.gguf");
    let test = root().join("data/sentiment_test.jsonl");
    let args = ["eval", "--model", model.to_str().unwrap(), "--adapter", out.to_str().unwrap(), "--adapter-only", "--json", "--data", test.to_str().unwrap()];
    let json: serde_json::Value = serde_json::from_str(&ok(&args).unwrap()).unwrap();
    json["classification"]["accuracy"].as_f64().unwrap()
}

fn tensors(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = anytune_core::formats::SafetensorsFile::parse(&bytes, "adapter").unwrap();
    file.tensors.iter().map(|t| (t.name.clone(), t.bytes(&bytes).to_vec())).collect()
}

#[test]
fn head_training_beats_the_untrained_head_writes_seqcls_files_and_resumes() {
    let base = std::env::temp_dir().join(format!("anytune-head-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let data = base.join("train.jsonl");
    let rows = std::fs::read_to_string(root().join("data/sentiment_train.jsonl")).unwrap();
    std::fs::write(&data, rows.lines().take(40).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let (untrained, trained, killed) = (base.join("untrained"), base.join("trained"), base.join("killed"));
    let Some(_) = run(&train_args(&data, &untrained, "1", "1e-12", "1")) else { return };
    run(&train_args(&data, &trained, "30", "5e-3", "1")).unwrap();
    let (before, after) = (accuracy(&untrained), accuracy(&trained));
    eprintln!("sentiment_test accuracy: untrained head {before}, after 30 steps {after}");
    assert!(after > before && after >= 0.6, "accuracy {before} → {after}");

    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(trained.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!((config["task_type"].clone(), config["modules_to_save"].clone()), (serde_json::json!("SEQ_CLS"), serde_json::json!(["classifier", "score"])));
    let names: Vec<String> = tensors(&trained.join("adapter_model.safetensors")).into_iter().map(|(n, _)| n).collect();
    assert!(names.iter().any(|n| n == "base_model.model.score.weight"), "{names:?}");
    assert!(trained.join("labels.json").exists() && !trained.join("adapter.gguf").exists());

    // Killed after a few steps (checkpoints every step), then resumed: the same files.
    let args = train_args(&data, &killed, "30", "5e-3", "1");
    let mut child = Command::new(env!("CARGO_BIN_EXE_anytune")).args(&args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let log = killed.join("log.jsonl");
    while std::fs::read_to_string(&log).map_or(0, |l| l.lines().count()) < 5 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("adapter_model.safetensors").exists(), "the run ended before the kill");
    run(&[args, vec!["--resume".into()]].concat()).unwrap();
    let (a, b) = (tensors(&trained.join("adapter_model.safetensors")), tensors(&killed.join("adapter_model.safetensors")));
    assert_eq!(a, b, "the resumed run's adapter and score differ from the straight run's");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn head_refusals_say_why() {
    let base = std::env::temp_dir().join(format!("anytune-head-bad-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let pc = base.join("pc.jsonl");
    std::fs::write(&pc, "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n").unwrap();
    let refused = |args: Vec<String>, want: &[&str]| {
        let out = anytune(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && want.iter().all(|w| stderr.contains(w)), "{args:?}: {stderr}");
    };
    let mut no_labels = train_args(&pc, &base.join("o"), "1", "1e-3", "1");
    no_labels.retain(|a| a != "classify" && a != "--task");
    refused(no_labels, &["--head", "needs classification rows", "pc.jsonl", "prompt"]);
    let sentiment = root().join("data/sentiment_train.jsonl");
    refused([train_args(&sentiment, &base.join("o"), "1", "1e-3", "1"), vec!["--full".into()]].concat(), &["--head", "does not combine with --full"]);
    // A SEQ_CLS adapter folder given to `score`: refused, naming the file and what to do.
    let head = base.join("head");
    std::fs::create_dir_all(&head).unwrap();
    std::fs::write(head.join("adapter_config.json"), "{\"peft_type\": \"LORA\", \"task_type\": \"SEQ_CLS\"}").unwrap();
    let model = root().join("fixtures/tiny-llama-F32.gguf");
    let args = ["score", "--model", model.to_str().unwrap(), "--adapter", head.to_str().unwrap(), "--text", "hi"];
    refused(args.map(String::from).to_vec(), &["adapter_config.json", "SEQ_CLS", "anytune eval"]);
    let _ = std::fs::remove_dir_all(&base);
}
