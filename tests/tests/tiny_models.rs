//! Whole-model numerics on the tiny random Llama, Qwen2, Qwen2.5, Qwen3 and Gemma 3 fixtures,
//! against logits computed by Hugging Face transformers (tests/golden/make_golden.py). The same
//! model from every source — HF folder (f32, bf16, f16 sharded) and GGUF (F32, F16, Q8_0, Q4_0,
//! Q4_1) — must give the logits transformers computes from exactly those (dequantized) weights.
//!
//! Tolerance: atol 1e-4 + rtol 1e-4. The float32 error floor measured against float64 is 6e-7
//! on these logits (|logits| ≤ 1.5); our GPU sums in a different order, so 1e-4 leaves two
//! orders of margin while a wrong dequantization (≥ 1e-3 even for F16) or a missed q/k
//! permutation (~1e-1) fails.

use anytune::load::load_model;
use anytune_core::generate::{GenerateOptions, generate};
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

#[test]
fn qwen25_with_bias_theta_1e6_and_no_head_dim_key_matches_from_both_sources() {
    check("tiny-qwen25", "golden/tiny-qwen25.safetensors", "hf_f32", &["a", "b"]);
    // The GGUF has no rope.dimension_count and no attention.key_length (as the converter writes
    // Qwen2.5): head_dim = embedding_length / head_count, all of it rotated.
    check("tiny-qwen25-F32.gguf", "golden/tiny-qwen25.safetensors", "gguf_F32", &["a"]);
}

#[test]
fn qwen3_with_qk_norm_and_head_dim_32_matches_from_both_sources() {
    check("tiny-qwen3", "golden/tiny-qwen3.safetensors", "hf_f32", &["a", "b"]);
    check("tiny-qwen3-F32.gguf", "golden/tiny-qwen3.safetensors", "gguf_F32", &["a"]);
}

#[test]
fn gemma3_hf_folder_matches_transformers() {
    check("tiny-gemma3", "golden/tiny-gemma3.safetensors", "hf_f32", &["a", "b"]);
}

#[test]
fn gemma3_gguf_f32_matches_transformers_and_the_hf_folder() {
    check("tiny-gemma3-F32.gguf", "golden/tiny-gemma3.safetensors", "gguf_F32", &["a"]);
    // gguf_F32 equals hf_f32 bit for bit: the GGUF's norm weights (stored + 1) are read as 1 + w.
    check("tiny-gemma3-F32.gguf", "golden/tiny-gemma3.safetensors", "hf_f32", &["a"]);
}

#[test]
fn gemma3_gguf_q8_0_matches_transformers() {
    check("tiny-gemma3-Q8_0.gguf", "golden/tiny-gemma3.safetensors", "gguf_Q8_0", &["a"]);
}

/// Six greedy tokens after ids_b, one at a time through the KV cache: the sliding window (4)
/// is crossed while decoding, not only in the prompt.
#[test]
fn gemma3_greedy_continuation_matches_transformers() {
    let Some(gpu) = test_gpu() else { return };
    let golden = Golden::open("golden/tiny-gemma3.safetensors");
    let prompt = golden.i32_as_u32("ids_b");
    let want = golden.i32_as_u32("greedy_b");
    for fixture in ["tiny-gemma3", "tiny-gemma3-F32.gguf"] {
        let model = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
        let options = GenerateOptions { max_tokens: want.len(), ..Default::default() };
        let out = pollster::block_on(generate(gpu, &model, &prompt, &options, |_| {})).unwrap();
        assert_eq!(out.ids, want, "{fixture} greedy continuation of ids_b");
    }
}
