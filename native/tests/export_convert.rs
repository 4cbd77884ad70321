//! `anytune export` without `--adapter` converts the base as it is: a Hugging Face folder (the
//! tiny Llama) to a Q8_0 GGUF whose vocabulary and metadata are rebuilt from the folder's files,
//! which `score` loads with the folder's likelihood (Q8_0 rounding aside), and export.json says
//! there was no adapter. The tiny Gemma 3 folder converts too.

use std::path::PathBuf;

mod support;
use support::{anytune, ok};

#[test]
fn export_without_an_adapter_converts_an_hf_folder_to_gguf() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let model = root.join("fixtures/tiny-llama");
    let out = std::env::temp_dir().join(format!("anytune-export-convert-{}", std::process::id()));
    let (m, o) = (model.to_str().unwrap(), out.to_str().unwrap());
    let Some(stdout) = ok(&["export", "--model", m, "--out", o, "--type", "q8_0"]) else { return };
    assert!(stdout.contains("tensor types: Q8_0 ×"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("export.json")).unwrap()).unwrap();
    assert!(report["adapter"].is_null(), "{report}");
    assert!(out.join("Modelfile").exists());
    let text = "Question: Who makes the Zorblax 3000 kettle?";
    let sum = |model: &str| -> f64 {
        let json: serde_json::Value = serde_json::from_str(&ok(&["score", "--model", model, "--text", text]).unwrap()).unwrap();
        json["sum_logprob"].as_f64().unwrap()
    };
    let (folder, gguf) = (sum(m), sum(out.join("model.gguf").to_str().unwrap()));
    assert!((folder - gguf).abs() < 0.02 * folder.abs(), "HF folder {folder} vs its Q8_0 GGUF {gguf}");
    let gemma = root.join("fixtures/tiny-gemma3");
    let gemma_out = out.join("gemma");
    let converted = anytune(&["export", "--model", gemma.to_str().unwrap(), "--out", gemma_out.to_str().unwrap(), "--type", "f32"]);
    let stderr = String::from_utf8_lossy(&converted.stderr);
    assert!(converted.status.success() && gemma_out.join("model.gguf").exists(), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}
