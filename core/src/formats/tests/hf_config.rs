//! HF `config.json` parsing: real configs of the supported families, defaults, errors.

use super::expect_err;
use crate::formats::{HfConfig, RopeScaling};

const F: &str = "config.json";

/// SmolLM2-135M-Instruct's config.json.
pub const SMOLLM2: &str = r#"{
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 576,
  "initializer_range": 0.041666666666666664, "intermediate_size": 1536, "is_llama_config": true,
  "max_position_embeddings": 8192, "model_type": "llama", "num_attention_heads": 9,
  "num_hidden_layers": 30, "num_key_value_heads": 3, "pad_token_id": 2, "pretraining_tp": 1,
  "rms_norm_eps": 1e-05, "rope_interleaved": false, "rope_scaling": null, "rope_theta": 100000,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.42.3",
  "use_cache": true, "vocab_size": 49152
}"#;

#[test]
fn hf_config_smollm2() {
    let c = HfConfig::parse(SMOLLM2, F).unwrap();
    assert_eq!(c.architectures, ["LlamaForCausalLM"]);
    assert_eq!(c.model_type, "llama");
    assert_eq!((c.vocab_size, c.hidden_size, c.intermediate_size), (49152, 576, 1536));
    assert_eq!((c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim), (30, 9, 3, 64));
    assert_eq!((c.rope_theta, c.rms_norm_eps, c.max_position_embeddings), (100000.0, 1e-5, 8192));
    assert!(c.tie_word_embeddings && !c.attention_bias);
    assert_eq!((c.rope_scaling, c.bos_token_id, c.eos_token_ids.clone()), (None, Some(1), vec![2]));
    assert_eq!(c.torch_dtype.as_deref(), Some("bfloat16"));
}

#[test]
fn hf_config_qwen2_implies_attention_bias() {
    let qwen = r#"{"architectures": ["Qwen2ForCausalLM"], "bos_token_id": 151643, "eos_token_id": 151645,
      "hidden_size": 896, "intermediate_size": 4864, "max_position_embeddings": 32768,
      "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
      "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
      "torch_dtype": "bfloat16", "use_sliding_window": false, "vocab_size": 151936}"#;
    let c = HfConfig::parse(qwen, F).unwrap();
    assert!(c.attention_bias, "qwen2 has q/k/v bias without the flag");
    assert_eq!((c.head_dim, c.num_key_value_heads, c.rope_theta), (64, 2, 1e6));
    // An explicit flag wins.
    let c = HfConfig::parse(&qwen.replace("\"model_type\"", "\"attention_bias\": false, \"model_type\""), F).unwrap();
    assert!(!c.attention_bias);
}

#[test]
fn hf_config_llama32_rope_scaling_and_eos_list() {
    let llama = r#"{"architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
      "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_size": 2048, "intermediate_size": 8192,
      "max_position_embeddings": 131072, "model_type": "llama", "num_attention_heads": 32,
      "num_hidden_layers": 16, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
      "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"},
      "rope_theta": 500000.0, "tie_word_embeddings": true, "vocab_size": 128256}"#;
    let c = HfConfig::parse(llama, F).unwrap();
    assert_eq!(c.eos_token_ids, [128001, 128008, 128009]);
    assert_eq!(
        c.rope_scaling,
        Some(RopeScaling {
            rope_type: "llama3".into(),
            factor: 32.0,
            low_freq_factor: Some(1.0),
            high_freq_factor: Some(4.0),
            original_max_position_embeddings: Some(8192),
        })
    );
    let old = llama.replace("\"rope_type\"", "\"type\"");
    assert_eq!(HfConfig::parse(&old, F).unwrap().rope_scaling.unwrap().rope_type, "llama3");
}

#[test]
fn hf_config_defaults() {
    let c = HfConfig::parse(
        r#"{"vocab_size": 32, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}"#,
        F,
    )
    .unwrap();
    assert_eq!((c.num_key_value_heads, c.head_dim, c.rope_theta, c.rms_norm_eps), (4, 16, 10000.0, 1e-6));
    assert_eq!((c.max_position_embeddings, c.tie_word_embeddings, c.attention_bias), (2048, false, false));
    assert!(c.architectures.is_empty() && c.eos_token_ids.is_empty() && c.bos_token_id.is_none());
}

#[test]
fn hf_config_errors_name_file_and_field() {
    expect_err(HfConfig::parse("{", F), &[F, "JSON"]);
    expect_err(HfConfig::parse("[]", F), &[F, "JSON object"]);
    expect_err(
        HfConfig::parse(&SMOLLM2.replace("\"hidden_size\"", "\"hidden_sz\""), F),
        &[F, "hidden_size", "missing"],
    );
    expect_err(HfConfig::parse(&SMOLLM2.replace("576", "\"576\""), F), &[F, "field hidden_size", "invalid type"]);
    expect_err(HfConfig::parse(&SMOLLM2.replace("1e-05", "\"x\""), F), &[F, "field rms_norm_eps"]);
    expect_err(
        HfConfig::parse(&SMOLLM2.replace("\"eos_token_id\": 2", "\"eos_token_id\": [2, \"x\"]"), F),
        &[F, "field eos_token_id"],
    );
    expect_err(
        HfConfig::parse(&SMOLLM2.replace("\"num_key_value_heads\": 3", "\"num_key_value_heads\": 4"), F),
        &[F, "num_key_value_heads", "divide"],
    );
    expect_err(
        HfConfig::parse(&SMOLLM2.replace("\"rope_scaling\": null", "\"rope_scaling\": {\"factor\": 2}"), F),
        &[F, "field rope_scaling", "rope_type"],
    );
    expect_err(HfConfig::parse(&SMOLLM2.replace("\"hidden_size\": 576", "\"hidden_size\": 577"), F), &[F, "head_dim"]);
}
