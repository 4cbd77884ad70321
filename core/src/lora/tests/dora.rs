//! DoRA's files and merge: PEFT's `use_dora` and `lora_magnitude_vector`, refusals, no GGUF
//! LoRA, and the merged weight against the DoRA CPU reference.

use super::{config, random_weights};
use crate::lora::branch::LoraDims;
use crate::lora::dora::dora_forward_cpu;
use crate::lora::tests_support::tiny_model;
use crate::lora::*;
use crate::model::Arch;
use crate::rng::Rng;
use serde_json::Value;

/// Random DoRA adapters with random magnitudes (as after training).
fn dora_weights(targets: &str, seed: u64) -> LoraWeights {
    let mut c = config(targets, "all");
    c.set("use_dora", "true").unwrap();
    let mut w = random_weights(&c, &tiny_model(Arch::Llama), seed);
    let mut rng = Rng::new(seed ^ 0xD);
    for m in &mut w.modules {
        m.magnitude = rng.normal_vec(m.out_features, 0.1).iter().map(|v| 1.0 + v).collect();
    }
    w
}

#[test]
fn dora_peft_files_round_trip_with_peft_keys() {
    let w = dora_weights("q_proj,down_proj", 1);
    let json = w.peft_config_json("m");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["use_dora"], true);
    let st_bytes = w.peft_safetensors().unwrap();
    let st = crate::formats::SafetensorsFile::parse(&st_bytes, "x").unwrap();
    let name = "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector";
    assert_eq!(peft_magnitude_name(0, Target::Q), name);
    let t = st.tensors.iter().find(|t| t.name == name).expect(name);
    assert_eq!(t.shape, [64]);
    assert_eq!(LoraWeights::from_peft(&json, &st_bytes).unwrap(), w);
}

#[test]
fn bad_dora_files_are_refused_naming_the_tensor() {
    let w = dora_weights("q_proj", 2);
    let (json, st) = (w.peft_config_json("m"), w.peft_safetensors().unwrap());
    let name = peft_magnitude_name(0, Target::Q);
    // Magnitudes while use_dora is false.
    let plain = json.replace("\"use_dora\": true", "\"use_dora\": false");
    let e = LoraWeights::from_peft(&plain, &st).unwrap_err().to_string();
    assert!(e.contains(&format!("adapter_model.safetensors: tensor {name} is a DoRA magnitude but use_dora is false")), "{e}");
    // use_dora without magnitudes.
    let mut lora = w.clone();
    lora.config.use_dora = false;
    let e = LoraWeights::from_peft(&json, &lora.peft_safetensors().unwrap()).unwrap_err().to_string();
    assert!(e.contains(&format!("tensor {name} is missing (use_dora is true")), "{e}");
    // A magnitude of the wrong length, in the file and on writing.
    let mut short = w.clone();
    short.modules[0].magnitude.pop();
    let e = short.peft_safetensors().unwrap_err().to_string();
    assert!(e.contains("magnitude has 63 values, expected 64"), "{e}");
    let mut sw = crate::formats::safetensors_write::SafetensorsWriter::new();
    for m in &w.modules {
        sw.add_f32(peft_tensor_name(m.layer, m.target, true), &[8, 64], &m.a).unwrap();
        sw.add_f32(peft_tensor_name(m.layer, m.target, false), &[64, 8], &m.b).unwrap();
        sw.add_f32(peft_magnitude_name(m.layer, m.target), &[63], &m.magnitude[..63]).unwrap();
    }
    let e = LoraWeights::from_peft(&json, &sw.to_bytes().unwrap()).unwrap_err().to_string();
    assert!(e.contains(&format!("{name} is [63], expected [64]")), "{e}");
}

#[test]
fn dora_has_no_gguf_lora() {
    let e = dora_weights("q_proj", 3).to_gguf(&tiny_model(Arch::Llama)).unwrap_err().to_string();
    assert!(e.contains("llama.cpp has no DoRA") && e.contains("PEFT folder"), "{e}");
}

/// `x · merged(W)ᵀ` equals the DoRA linear `m ⊙ (x·Wᵀ + s·x·Aᵀ·Bᵀ) / ‖W + s·B·A‖`.
#[test]
fn dora_merge_equals_the_dora_linear() {
    let w = dora_weights("v_proj", 4);
    let m = &w.modules[0];
    let (d_in, d_out, r) = (m.in_features, m.out_features, m.rank());
    let dims = LoraDims { m: 3, d_in, d_out, r, scale: w.scale() };
    let mut rng = Rng::new(5);
    let base = rng.normal_vec(d_out * d_in, 0.1);
    let x = rng.normal_vec(3 * d_in, 1.0);
    let mut merged = base.clone();
    m.merge_into(&mut merged, w.scale());
    let through: Vec<f32> = (0..3 * d_out).map(|e| (0..d_in).map(|k| x[e / d_out * d_in + k] * merged[e % d_out * d_in + k]).sum()).collect();
    let want = dora_forward_cpu(dims, &base, &x, &m.a, &m.b, &m.magnitude);
    crate::testing::assert_close(&through, &want, 1e-4, 1e-4, "merged DoRA");
}

#[test]
fn use_dora_is_a_lora_option() {
    let mut c = LoraConfig::default();
    assert!(!c.use_dora);
    c.set("use_dora", "true").unwrap();
    assert!(c.use_dora);
    let e = c.set("use_dora", "maybe").unwrap_err().to_string();
    assert!(e.contains("LoRA option use_dora") && e.contains("not true or false"), "{e}");
}
