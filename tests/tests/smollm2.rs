//! The default model, SmolLM2-135M-Instruct (Q4_1 GGUF), against Hugging Face transformers
//! (tests/golden/make_golden.py): tokenizer ids, chat template, per-token log-probs and the
//! greedy chat answer.
//!
//! Tolerances: log-probs atol 1e-3, top-5 logits atol 2e-3. transformers dequantizes the same
//! Q4_1/Q8_0 weights to f32 and computes in f32 (its own error floor against f64 is 3e-5); we
//! dequantize inside the kernels and sum in another order over 30 layers. A wrong quant,
//! norm or RoPE detail moves log-probs by ≥ 1e-2.

use anytune_core::chat::Message;
use anytune_core::generate::{GenerateOptions, generate};
use anytune_core::score::score;
use anytune_tests::{golden_json, json_ids, smollm2, test_gpu};

#[test]
fn tokenizer_ids_and_decoding_match_transformers() {
    let Some(model) = smollm2() else { return };
    let golden = golden_json("golden/smollm2-tokens.json");
    for set in ["texts", "heldout"] {
        for entry in golden[set].as_array().unwrap() {
            let text = entry["text"].as_str().unwrap();
            let want = json_ids(&entry["ids"]);
            let got = model.tokenizer.encode(text, false).unwrap();
            assert_eq!(got, want, "ids of {text:?}");
            assert_eq!(model.tokenizer.decode(&got, false).unwrap(), entry["decode"].as_str().unwrap());
        }
    }
}

#[test]
fn chat_template_renders_like_transformers() {
    let Some(model) = smollm2() else { return };
    let golden = golden_json("golden/smollm2-chat.json");
    for case in ["a", "b"] {
        let messages: Vec<Message> = golden[format!("messages_{case}")]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| Message::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
            .collect();
        let rendered = model.render_chat(&messages, true).unwrap();
        assert_eq!(rendered, golden[format!("rendered_{case}")].as_str().unwrap());
        let ids = model.tokenizer.encode(&rendered, false).unwrap();
        assert_eq!(ids, json_ids(&golden[format!("prompt_ids_{case}")]));
    }
}

#[test]
fn log_probs_match_transformers() {
    let (Some(gpu), Some(model)) = (test_gpu(), smollm2()) else { return };
    let golden = golden_json("golden/smollm2-logprobs.json");
    for case in ["english", "code"] {
        let g = &golden[case];
        let ids = json_ids(&g["ids"]);
        assert_eq!(model.tokenizer.encode(g["text"].as_str().unwrap(), false).unwrap(), ids);
        let s = pollster::block_on(score(gpu, model, &ids)).unwrap();
        let want: Vec<f32> = g["logprobs"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        anytune_core::testing::assert_close(&s.logprobs, &want, 1e-3, 0.0, &format!("{case} logprobs"));
        let want_top: Vec<f32> =
            g["last_top5_logits"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        anytune_core::testing::assert_close(&s.last_top5_logits, &want_top, 2e-3, 0.0, &format!("{case} top-5 logits"));
        // Neighbouring top-5 entries can be within 0.012 of each other: compare ids as sets.
        let mut got_ids = s.last_top5_ids.clone();
        let mut want_ids = json_ids(&g["last_top5_ids"]);
        got_ids.sort();
        want_ids.sort();
        assert_eq!(got_ids, want_ids, "{case} top-5 ids");
    }
}

#[test]
fn greedy_chat_answer_matches_transformers() {
    let (Some(gpu), Some(model)) = (test_gpu(), smollm2()) else { return };
    let golden = golden_json("golden/smollm2-chat.json");
    let prompt = json_ids(&golden["prompt_ids_a"]);
    let mut streamed = String::new();
    let out = pollster::block_on(generate(gpu, model, &prompt, &GenerateOptions { max_tokens: 20, ..Default::default() }, |p| {
        streamed.push_str(p)
    }))
    .unwrap();
    let mut want = json_ids(&golden["greedy_a"]["generated_ids"]);
    assert_eq!(want.pop(), Some(2), "the golden answer ends with <|im_end|>");
    assert_eq!(out.ids, want);
    assert!(out.stopped);
    assert_eq!(out.text, "The capital of France is Paris.");
    assert_eq!(streamed, out.text);
}
