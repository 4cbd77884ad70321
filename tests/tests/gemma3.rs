//! Gemma 3 270M base (Q4_K_M GGUF, the named model `gemma3-270m`) against Hugging Face
//! transformers (tests/golden/gemma3_golden.py, set `gemma3`): per-token log-probs of five texts
//! not in the repo — English, code, multilingual with emoji, whitespace runs, and one of 705
//! tokens that crosses the 512-token sliding window of five of every six layers — the top-5
//! logits of the last position, and greedy continuations. (Tokenizer ids: core's
//! `tokenizer::tests_gemma`.)
//!
//! Tolerance: log-probs atol 1e-3 (measured ≤ 2e-4). transformers dequantizes the same
//! Q5_0/Q4_K/Q6_K/Q8_0 weights to f32 and computes in f32; we dequantize inside the kernels and
//! sum in another order through 18 layers and a 262 144-way softmax. A wrong norm offset, RoPE
//! base, window or scale moves log-probs by ≥ 1e-2 (the window alone by > 0.1 on the long text).

use anytune_core::generate::{GenerateOptions, generate};
use anytune_core::score::score;
use anytune_core::testing::assert_close;
use anytune_tests::{gemma3, golden_json, json_ids, test_gpu};

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[test]
fn log_probs_match_transformers_across_the_sliding_window() {
    let (Some(gpu), Some(model)) = (test_gpu(), gemma3()) else { return };
    let golden = golden_json("golden/gemma3-logprobs.json");
    for (case, g) in golden["texts"].as_object().unwrap() {
        let ids = json_ids(&g["ids"]);
        assert_eq!(model.tokenizer.encode(g["text"].as_str().unwrap(), true).unwrap(), ids, "{case} ids");
        let s = pollster::block_on(score(gpu, model, &ids)).unwrap();
        let worst = s.logprobs.iter().zip(floats(&g["logprobs"])).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        eprintln!("{case}: {} tokens, max |log-prob − transformers| = {worst:.2e}", ids.len());
        assert_close(&s.logprobs, &floats(&g["logprobs"]), 1e-3, 0.0, &format!("{case} logprobs"));
        assert_close(&s.last_top5_logits, &floats(&g["last_top5_logits"]), 2e-3, 0.0, &format!("{case} top-5 logits"));
    }
}

#[test]
fn greedy_continuations_match_transformers() {
    let (Some(gpu), Some(model)) = (test_gpu(), gemma3()) else { return };
    let golden = golden_json("golden/gemma3-logprobs.json");
    for (case, g) in golden["greedy"].as_object().unwrap() {
        let prompt = json_ids(&g["prompt_ids"]);
        let want = json_ids(&g["generated_ids"]);
        let options = GenerateOptions { max_tokens: want.len(), ..Default::default() };
        let out = pollster::block_on(generate(gpu, model, &prompt, &options, |_| {})).unwrap();
        assert_eq!(out.ids, want, "{case}: {:?}", out.text);
        assert_eq!(out.text, g["text"].as_str().unwrap(), "{case} text");
    }
}
