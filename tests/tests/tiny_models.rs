//! Whole-model numerics on the tiny random Llama and Qwen2 fixtures, against logits computed by
//! Hugging Face transformers (tests/golden/make_golden.py). The same model from every source —
//! HF folder (f32, bf16, f16 sharded) and GGUF (F32, F16, Q8_0, Q4_0, Q4_1) — must give the
//! logits transformers computes from exactly those (dequantized) weights.
//!
//! Tolerance: atol 1e-4 + rtol 1e-4. The float32 error floor measured against float64 is 6e-7
//! on these logits (|logits| ≤ 1.5); our GPU sums in a different order, so 1e-4 leaves two
//! orders of margin while a wrong dequantization (≥ 1e-3 even for F16) or a missed q/k
//! permutation (~1e-1) fails.

use anytune::load::load_model;
use anytune_core::testing::assert_close;
use anytune_tests::{Golden, all_logits, repo_path, test_gpu};

fn check(fixture: &str, golden_file: &str, golden_key: &str, seqs: &[&str]) {
    let Some(gpu) = test_gpu() else { return };
    let golden = Golden::open(golden_file);
    let model = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
    for seq in seqs {
        let ids = golden.i32_as_u32(&format!("ids_{seq}"));
        let want = golden.f32(&format!("logits_{seq}.{golden_key}"));
        let got = all_logits(gpu, &model, &ids);
        assert_close(&got, &want, 1e-4, 1e-4, &format!("{fixture} logits_{seq}"));
    }
}

#[test]
fn hf_folder_f32_matches_transformers() {
    check("tiny-llama", "golden/tiny-llama.safetensors", "hf_f32", &["a", "b"]);
}

#[test]
fn hf_folder_bf16_matches_transformers() {
    check("tiny-llama-bf16", "golden/tiny-llama.safetensors", "hf_bf16", &["a"]);
}

#[test]
fn hf_sharded_f16_matches_transformers() {
    check("tiny-llama-sharded", "golden/tiny-llama.safetensors", "hf_f16_sharded", &["a"]);
}

#[test]
fn gguf_f32_matches_transformers_and_the_hf_folder() {
    check("tiny-llama-F32.gguf", "golden/tiny-llama.safetensors", "gguf_F32", &["a", "b"]);
    // gguf_F32 equals hf_f32 bit for bit: the GGUF q/k permutation is undone.
    check("tiny-llama-F32.gguf", "golden/tiny-llama.safetensors", "hf_f32", &["a"]);
}

#[test]
fn gguf_f16_matches_transformers() {
    check("tiny-llama-F16.gguf", "golden/tiny-llama.safetensors", "gguf_F16", &["a", "b"]);
}

#[test]
fn gguf_q8_0_matches_transformers() {
    check("tiny-llama-Q8_0.gguf", "golden/tiny-llama.safetensors", "gguf_Q8_0", &["a", "b"]);
}

#[test]
fn gguf_q4_0_matches_transformers() {
    check("tiny-llama-Q4_0.gguf", "golden/tiny-llama.safetensors", "gguf_Q4_0", &["a", "b"]);
}

#[test]
fn gguf_q4_1_matches_transformers() {
    check("tiny-llama-Q4_1.gguf", "golden/tiny-llama.safetensors", "gguf_Q4_1", &["a", "b"]);
}

#[test]
fn qwen2_with_bias_and_tied_embeddings_matches_from_both_sources() {
    check("tiny-qwen2", "golden/tiny-qwen2.safetensors", "hf_f32", &["a"]);
    check("tiny-qwen2-F32.gguf", "golden/tiny-qwen2.safetensors", "gguf_F32", &["a"]);
}
