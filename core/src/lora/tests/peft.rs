//! PEFT format tests, and the writer of adapters for `tests/golden/check_adapters.py`.

use super::{config, random_weights};
use crate::formats::SafetensorsFile;
use crate::lora::tests_support::tiny_model;
use crate::lora::*;
use crate::model::{Arch, ModelConfig};
use serde_json::Value;

#[test]
fn peft_round_trip_keeps_everything() {
    let model = tiny_model(Arch::Llama);
    for c in [
        config("all-linear", "all"),
        LoraConfig {
            r: 3,
            alpha: 7.5,
            dropout: 0.1,
            use_rslora: true,
            ..config("k_proj,down_proj", "1")
        },
    ] {
        let w = random_weights(&c, &model, 3);
        let json = w.peft_config_json("tests/fixtures/tiny-llama");
        let back = LoraWeights::from_peft(&json, &w.peft_safetensors().unwrap()).unwrap();
        assert_eq!(back, w);
    }
}

#[test]
fn adapter_config_json_has_peft_keys_and_values() {
    let w =
        LoraWeights::init(&config("o_proj,q_proj", "0-1"), &tiny_model(Arch::Llama), 1).unwrap();
    let v: Value = serde_json::from_str(&w.peft_config_json("some/model")).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let peft_0_21_2 = "alora_invocation_tokens alpha_pattern arrow_config auto_mapping base_model_name_or_path bias \
        corda_config ensure_weight_tying eva_config exclude_modules fan_in_fan_out inference_mode init_lora_weights \
        kasa_config layer_replication layers_pattern layers_to_transform loftq_config lora_alpha lora_bias lora_dropout \
        lora_ga_config megatron_config megatron_core modules_to_save monteclora_config peft_type peft_version \
        qalora_group_size r rank_pattern revision target_modules target_parameters task_type trainable_token_indices \
        use_bdlora use_dora use_qalora use_rslora velora_config";
    assert_eq!(keys, peft_0_21_2.split_whitespace().collect::<Vec<_>>());
    assert_eq!(v["peft_type"], "LORA");
    assert_eq!(v["task_type"], "CAUSAL_LM");
    assert_eq!(v["base_model_name_or_path"], "some/model");
    assert_eq!(
        (v["r"].as_u64(), v["lora_alpha"].as_u64()),
        (Some(8), Some(16))
    );
    assert_eq!(v["lora_dropout"].as_f64(), Some(0.0));
    assert_eq!(v["target_modules"], serde_json::json!(["q_proj", "o_proj"]));
    assert_eq!(v["layers_to_transform"], serde_json::json!([0, 1]));
    assert_eq!(
        (v["bias"].as_str(), v["inference_mode"].as_bool()),
        (Some("none"), Some(true))
    );
    assert!(v["modules_to_save"].is_null());
    let all: Value = serde_json::from_str(
        &LoraWeights {
            config: LoraConfig::default(),
            modules: vec![],
        }
        .peft_config_json("m"),
    )
    .unwrap();
    assert!(all["layers_to_transform"].is_null());
}

#[test]
fn peft_tensors_are_named_and_shaped_as_peft_writes_them() {
    let w = LoraWeights::init(
        &LoraConfig {
            r: 4,
            ..config("q_proj,down_proj", "1")
        },
        &tiny_model(Arch::Llama),
        1,
    )
    .unwrap();
    let bytes = w.peft_safetensors().unwrap();
    let f = SafetensorsFile::parse(&bytes, "a").unwrap();
    let shape = |n: &str| {
        f.tensor(n)
            .unwrap_or_else(|| panic!("{n} missing"))
            .shape
            .clone()
    };
    assert_eq!(
        shape("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"),
        [4, 64]
    );
    assert_eq!(
        shape("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"),
        [64, 4]
    );
    assert_eq!(
        shape("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"),
        [4, 160]
    );
    assert_eq!(
        shape("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"),
        [64, 4]
    );
    assert_eq!(f.tensors.len(), 4);
    assert_eq!(f.metadata.get("format").map(String::as_str), Some("pt"));
}

#[test]
fn bad_peft_input_is_refused_with_the_file_and_key() {
    let model = tiny_model(Arch::Llama);
    let w = random_weights(&config("q_proj,v_proj", "all"), &model, 5);
    let json = w.peft_config_json("m");
    let st = w.peft_safetensors().unwrap();
    let edit = |k: &str, v: Value| {
        let mut j: Value = serde_json::from_str(&json).unwrap();
        match v {
            Value::Null if k != "layers_to_transform" => j.as_object_mut().unwrap().remove(k),
            v => j.as_object_mut().unwrap().insert(k.into(), v),
        };
        j.to_string()
    };
    let cases = [
        (edit("r", Value::Null), "key r is missing"),
        (edit("r", 0.into()), "r = 0"),
        (edit("peft_type", "IA3".into()), "peft_type"),
        (
            edit(
                "target_modules",
                serde_json::json!(["q_proj", "embed_tokens"]),
            ),
            "embed_tokens",
        ),
        (edit("use_dora", true.into()), "lora_magnitude_vector is missing (use_dora is true"),
        (edit("r", 4.into()), "but r is 4 in adapter_config.json"),
        (edit("lora_alpha", 1e38.into()), "lora_alpha = 100000000000000000000000000000000000000 is out of range"),
        (edit("lora_alpha", (-8).into()), "lora_alpha = -8 is out of range (above 0, at most 65536)"),
        (
            edit("target_modules", serde_json::json!(["q_proj"])),
            "v_proj which target_modules does not list",
        ),
    ];
    for (j, want) in cases {
        let e = LoraWeights::from_peft(&j, &st).unwrap_err().to_string();
        assert!(e.contains(want), "want {want:?} in {e}");
        assert!(
            e.contains("adapter_config.json") || e.contains("adapter_model.safetensors"),
            "{e}"
        );
    }
    // A lora_B missing, a stray tensor, a truncated file.
    let mut sw = crate::formats::safetensors_write::SafetensorsWriter::new();
    let m = &w.modules[0];
    sw.add_f32(peft_tensor_name(0, Target::Q, true), &[8, 64], &m.a)
        .unwrap();
    let e = LoraWeights::from_peft(&json, &sw.to_bytes().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("self_attn.q_proj.lora_B.weight is missing"),
        "{e}"
    );
    sw.add_f32("base_model.model.model.embed_tokens.weight", &[1], &[0.0])
        .unwrap();
    let e = LoraWeights::from_peft(&json, &sw.to_bytes().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("embed_tokens.weight is not a lora_A/lora_B"),
        "{e}"
    );
    assert!(LoraWeights::from_peft(&json, &st[..st.len() - 4]).is_err());
}

#[test]
fn non_finite_peft_weights_are_refused_naming_the_tensor() {
    let model = tiny_model(Arch::Llama);
    let c = config("q_proj", "0");
    let json = random_weights(&c, &model, 5).peft_config_json("m");
    for (is_a, bad) in [(true, f32::NAN), (false, f32::INFINITY)] {
        let mut w = random_weights(&c, &model, 5);
        let m = &mut w.modules[0];
        if is_a { m.a[3] = bad } else { m.b[7] = bad }
        let e = LoraWeights::from_peft(&json, &w.peft_safetensors().unwrap()).unwrap_err().to_string();
        let name = peft_tensor_name(0, Target::Q, is_a);
        let want = format!("adapter_model.safetensors: tensor {name}: value {} is {bad}", if is_a { 3 } else { 7 });
        assert!(e.starts_with(&want), "{e}");
    }
}

/// Writes adapters for `tests/fixtures/tiny-llama` for `tests/golden/check_adapters.py`:
/// `ANYTUNE_WRITE_ADAPTERS=/some/dir cargo test -p anytune-core lora::tests::peft::write_tiny_llama`.
/// `all/`: all-linear on every layer; `rs/`: q, k, down on layer 1 with rsLoRA, r 3, alpha 6.
/// Each holds the PEFT files and `adapter.gguf`; B is random (non-zero).
#[test]
fn write_tiny_llama_adapters_for_the_python_check() {
    let Ok(dir) = std::env::var("ANYTUNE_WRITE_ADAPTERS") else {
        return;
    };
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tiny-llama");
    let hf = crate::formats::HfConfig::parse(
        &std::fs::read_to_string(format!("{fixture}/config.json")).unwrap(),
        "config.json",
    )
    .unwrap();
    let model = ModelConfig::from_hf(&hf, "config.json").unwrap();
    let cases = [
        ("all", config("all-linear", "all")),
        (
            "rs",
            LoraConfig {
                r: 3,
                alpha: 6.0,
                use_rslora: true,
                ..config("q_proj,k_proj,down_proj", "1")
            },
        ),
    ];
    for (name, c) in cases {
        let w = random_weights(&c, &model, 21);
        let out = std::path::Path::new(&dir).join(name);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(PEFT_CONFIG_FILE), w.peft_config_json(fixture)).unwrap();
        std::fs::write(out.join(PEFT_WEIGHTS_FILE), w.peft_safetensors().unwrap()).unwrap();
        std::fs::write(out.join("adapter.gguf"), w.to_gguf(&model).unwrap()).unwrap();
        eprintln!("wrote {}", out.display());
    }
}

/// Reads a PEFT directory written by Python (`ANYTUNE_READ_PEFT=/dir cargo test -p anytune-core
/// lora::tests::peft::read_a_peft_directory -- --nocapture`) and prints what it holds.
#[test]
fn read_a_peft_directory() {
    let Ok(dir) = std::env::var("ANYTUNE_READ_PEFT") else {
        return;
    };
    let dir = std::path::Path::new(&dir);
    let json = std::fs::read_to_string(dir.join(PEFT_CONFIG_FILE)).unwrap();
    let st = std::fs::read(dir.join(PEFT_WEIGHTS_FILE)).unwrap();
    let w = LoraWeights::from_peft(&json, &st).unwrap();
    eprintln!("{:?}", w.config);
    for m in &w.modules {
        let sum: f32 = m.b.iter().map(|x| x.abs()).sum();
        eprintln!(
            "layer {} {}: A {}x{}, B {}x{}, sum|B| {sum}",
            m.layer,
            m.target.peft_name(),
            m.rank(),
            m.in_features,
            m.out_features,
            m.rank()
        );
    }
}
