//! `anytune export` end to end on the tiny fixtures: the merged model, loaded back from the
//! exported files with `Model::load`, gives the logits of base + adapter (the adapter applied
//! unmerged by the engine). Adapters: r 4, alpha 8 on all seven linears, B random (nonzero).
//!
//! Bounds: f32 HF folders and GGUFs 1e-4 (the merge W + s·B·A and the unmerged W·x + s·B·(A·x)
//! differ only by f32 rounding); a Q8_0 GGUF 0.05 in logits of magnitude ~1 (the merged weights
//! are requantized: one step of 1/127 of each 32-value block's largest weight) — and it must
//! still differ from the base, so the adapter is in it.

use anytune_core::export::{ExportFormat, ExportOptions, ExportType, export};
use anytune_core::formats::{ModelFiles, read_model_path};
use anytune_core::lora::{LoraConfig, LoraParams, LoraWeights, Target};
use anytune_core::model::Model;
use anytune_core::rng::Rng;
use anytune_tests::{all_logits, repo_path, test_gpu};

fn random_adapter(model: &anytune_core::model::ModelConfig) -> LoraWeights {
    let config = LoraConfig { r: 4, alpha: 8.0, targets: Target::ALL.to_vec(), ..LoraConfig::default() };
    let mut w = LoraWeights::init(&config, model, 11).unwrap();
    let mut rng = Rng::new(12);
    for m in &mut w.modules {
        m.b = rng.normal_vec(m.b.len(), 0.05);
    }
    w
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Exports `fixture` + a random adapter as `format`/`ty` and returns the largest logit
/// difference of the exported model from base + adapter, and of base + adapter from the base.
fn exported_vs_adapter(fixture: &str, format: ExportFormat, ty: ExportType) -> Option<(f32, f32)> {
    let gpu = test_gpu()?;
    let files = read_model_path(&repo_path(&format!("fixtures/{fixture}"))).unwrap();
    let mut base = Model::load(gpu, &files).unwrap();
    let ids = base.tokenizer.encode("Question: Who makes the Zorblax 3000 kettle?\nAnswer: Quillfeather.", true).unwrap();
    let plain = all_logits(gpu, &base, &ids);
    let lora = random_adapter(&base.config);
    base.adapter = Some(Box::new(LoraParams::from_weights(gpu, &base.config, &lora).unwrap()));
    let want = all_logits(gpu, &base, &ids);
    let out = export(&files, Some(&lora), "random adapter", &ExportOptions { format, ty }).unwrap();
    let mut written = ModelFiles::new();
    for (name, bytes) in out.files {
        written.add(&name, bytes);
    }
    let merged = Model::load(gpu, &written).unwrap();
    let got = all_logits(gpu, &merged, &ids);
    let (d, effect) = (max_diff(&got, &want), max_diff(&want, &plain));
    println!("{fixture} → {format:?} {}: max |Δ logit| {d:.2e} (the adapter moves them by {effect:.2e})", ty.name());
    Some((d, effect))
}

fn check(fixture: &str, format: ExportFormat, ty: ExportType, bound: f32) {
    let Some((d, effect)) = exported_vs_adapter(fixture, format, ty) else { return };
    assert!(d <= bound, "{fixture} {format:?} {}: {d} > {bound}", ty.name());
    assert!(effect > 5.0 * bound.max(1e-3), "the adapter barely changes the logits ({effect})");
}

#[test]
fn llama_q8_0_gguf_to_f32_hf_folder() {
    check("tiny-llama-Q8_0.gguf", ExportFormat::Hf, ExportType::F32, 1e-4);
}

#[test]
fn llama_q8_0_gguf_to_f32_gguf() {
    check("tiny-llama-Q8_0.gguf", ExportFormat::Gguf, ExportType::F32, 1e-4);
}

#[test]
fn llama_q8_0_gguf_to_q8_0_gguf() {
    check("tiny-llama-Q8_0.gguf", ExportFormat::Gguf, ExportType::Q8_0, 0.05);
}

#[test]
fn llama_hf_folder_to_f32_hf_folder() {
    check("tiny-llama", ExportFormat::Hf, ExportType::F32, 1e-4);
}

#[test]
fn gemma3_norms_survive_both_conventions() {
    check("tiny-gemma3", ExportFormat::Hf, ExportType::F32, 1e-4);
    check("tiny-gemma3-F32.gguf", ExportFormat::Gguf, ExportType::F32, 1e-4);
    check("tiny-gemma3-F32.gguf", ExportFormat::Hf, ExportType::F32, 1e-4);
}

#[test]
fn qwen2_biases_are_exported() {
    check("tiny-qwen2-F32.gguf", ExportFormat::Gguf, ExportType::F32, 1e-4);
    check("tiny-qwen2-F32.gguf", ExportFormat::Hf, ExportType::F32, 1e-4);
}
