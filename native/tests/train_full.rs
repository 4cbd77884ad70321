//! `anytune train --full` end to end on the tiny Q8_0 Llama: the base is dequantized (one line
//! says so), the loss falls, the folder holds an HF model and a GGUF, and `score --model` of
//! either gives the same, higher likelihood of a training row than the base.

use std::path::PathBuf;

mod support;
use support::{anytune, ok};

#[test]
fn train_full_lowers_the_loss_and_writes_a_model_that_loads() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let model = root.join("fixtures/tiny-llama-Q8_0.gguf");
    let data = root.join("data/zorblax.jsonl");
    let out = std::env::temp_dir().join(format!("anytune-train-full-{}", std::process::id()));
    let (m, d, o) = (model.to_str().unwrap(), data.to_str().unwrap(), out.to_str().unwrap());
    let args = ["train", "--full", "--model", m, "--data", d, "--out", o, "--steps", "8", "--lr", "1e-3", "--seed", "1"];
    let Some(_) = ok(&args) else { return };
    let stderr = String::from_utf8_lossy(&anytune(&[&args[..], &["--dry-run"]].concat()).stderr).to_string();
    assert!(stderr.contains("--full: the base was dequantized to f32 on the GPU (0.5 MiB)"), "{stderr}");
    assert!(stderr.contains("full fine-tuning: every parameter"), "{stderr}");
    for f in ["config.json", "model.safetensors", "tokenizer.json", "model.gguf", "log.jsonl"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    assert!(!out.join("adapter_model.safetensors").exists(), "no adapter with --full");
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let losses: Vec<f64> = log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), 8);
    let (first, last) = (losses[..2].iter().sum::<f64>(), losses[6..].iter().sum::<f64>());
    assert!(last < first - 0.5, "training loss did not fall: {losses:?}");
    let text = "Question: Who makes the Zorblax 3000 kettle?";
    let sum = |model: &str| -> f64 {
        let json: serde_json::Value = serde_json::from_str(&ok(&["score", "--model", model, "--text", text]).unwrap()).unwrap();
        json["sum_logprob"].as_f64().unwrap()
    };
    let (base, folder, gguf) = (sum(m), sum(o), sum(out.join("model.gguf").to_str().unwrap()));
    assert!((folder - gguf).abs() < 1e-3 * folder.abs(), "HF folder {folder} vs GGUF {gguf}");
    assert!(folder > base + 5.0, "the trained model should find a training row likelier: base {base}, trained {folder}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn train_full_refuses_sgd_by_name_and_resumes_from_its_checkpoint() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let (model, data) = (root.join("fixtures/tiny-llama-F32.gguf"), root.join("data/zorblax.jsonl"));
    let out = std::env::temp_dir().join(format!("anytune-full-resume-{}", std::process::id()));
    let base = ["train", "--full", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "4", "--checkpoint-every", "2"];
    let refused = anytune(&[&base[..], &["--optimizer", "sgd"]].concat());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    if stderr.contains("no GPU adapter") {
        return;
    }
    assert!(!refused.status.success() && stderr.contains("--full trains with adamw only") && !stderr.contains("panicked"), "{stderr}");
    let Some(_) = ok(&base) else { return };
    assert!(out.join("checkpoint.safetensors").exists(), "--full wrote no checkpoint");
    let before = std::fs::read(out.join("model.safetensors")).unwrap();
    // Resuming the finished run continues from its last checkpoint (step 4): the same model.
    ok(&[&base[..], &["--resume"]].concat()).unwrap();
    assert!(std::fs::read(out.join("model.safetensors")).unwrap() == before, "the resumed run wrote another model");
    let _ = std::fs::remove_dir_all(&out);
}
