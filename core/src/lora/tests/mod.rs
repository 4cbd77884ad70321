//! Tests of the LoRA config, initialisation and both adapter formats. Shared helpers here;
//! the format tests in `peft.rs` and `gguf.rs`.

mod dora;
mod gguf;
mod peft;

use super::tests_support::tiny_model;
use super::*;
use crate::model::{Arch, ModelConfig};
use crate::rng::Rng;

/// Adapters with random (non-zero) A and B, so a mix-up of rows or matrices shows.
pub(super) fn random_weights(config: &LoraConfig, model: &ModelConfig, seed: u64) -> LoraWeights {
    let mut w = LoraWeights::init(config, model, seed).unwrap();
    let mut rng = Rng::new(seed ^ 0xB);
    for m in &mut w.modules {
        m.b = rng.normal_vec(m.b.len(), 0.1);
    }
    w
}

pub(super) fn config(targets: &str, layers: &str) -> LoraConfig {
    let mut c = LoraConfig::default();
    c.set("target_modules", targets).unwrap();
    c.set("layers_to_transform", layers).unwrap();
    c
}

#[test]
fn config_parses_options_and_names_the_bad_one() {
    let c = config("v_proj, q_proj,q_proj", "0-2,5,1");
    assert_eq!(c.targets, [Target::Q, Target::V]);
    assert_eq!(c.layers, Layers::Only(vec![0, 1, 2, 5]));
    assert_eq!(config("all-linear", "all").targets, Target::ALL);
    let mut c = LoraConfig::default();
    for (opt, val, want) in [
        ("r", "0", "LoRA option r"),
        ("r", "-3", "LoRA option r"),
        ("lora_alpha", "abc", "LoRA option lora_alpha"),
        ("lora_dropout", "1.0", "LoRA option lora_dropout"),
        ("target_modules", "q_proj,lm_head", "lm_head"),
        (
            "layers_to_transform",
            "5-3",
            "LoRA option layers_to_transform",
        ),
        (
            "layers_to_transform",
            "a",
            "LoRA option layers_to_transform",
        ),
        ("use_rslora", "yes", "LoRA option use_rslora"),
        ("rank", "8", "\"rank\" is unknown"),
    ] {
        let e = c.set(opt, val).unwrap_err().to_string();
        assert!(e.contains(want), "{opt}={val}: {e}");
    }
    let e = config("q_proj", "0,7")
        .modules(&tiny_model(Arch::Llama))
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer 7 does not exist"), "{e}");
    assert_eq!(c, LoraConfig::default(), "a failed set changed the config");
    assert!(LoraConfig::preset("nope").is_err());
    assert_eq!(LoraConfig::preset("all-linear").unwrap().targets.len(), 7);
}

#[test]
fn scale_is_alpha_over_r_or_sqrt_r() {
    let mut c = LoraConfig {
        r: 16,
        alpha: 32.0,
        ..LoraConfig::default()
    };
    assert_eq!(c.scale(), 2.0);
    c.use_rslora = true;
    assert_eq!(c.scale(), 8.0);
}

#[test]
fn module_features_follow_the_model() {
    let m = ModelConfig {
        n_heads: 9,
        n_kv_heads: 3,
        head_dim: 64,
        dim: 576,
        ffn_dim: 1536,
        ..tiny_model(Arch::Llama)
    };
    let want = [
        (576, 576),
        (576, 192),
        (576, 192),
        (576, 576),
        (576, 1536),
        (576, 1536),
        (1536, 576),
    ];
    for (t, w) in Target::ALL.iter().zip(want) {
        assert_eq!(t.features(&m), w, "{t:?}");
    }
    let shapes = config("all-linear", "1")
        .modules(&tiny_model(Arch::Llama))
        .unwrap();
    assert_eq!(shapes.len(), 7);
    assert!(shapes.iter().all(|s| s.layer == 1));
}

#[test]
fn init_is_kaiming_uniform_for_a_and_zero_for_b() {
    assert!((kaiming_bound(64) - 0.125).abs() < 1e-7);
    let model = ModelConfig {
        dim: 1024,
        ffn_dim: 2048,
        ..tiny_model(Arch::Llama)
    };
    let c = LoraConfig {
        r: 16,
        ..config("gate_proj,down_proj", "all")
    };
    let w = LoraWeights::init(&c, &model, 7).unwrap();
    assert_eq!(w.modules.len(), 4);
    for m in &w.modules {
        let bound = kaiming_bound(m.in_features);
        let n = m.a.len() as f64;
        assert_eq!(m.a.len(), 16 * m.in_features);
        let (min, max) =
            m.a.iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let mean = m.a.iter().map(|&x| x as f64).sum::<f64>() / n;
        let std = (m.a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        let want_std = bound as f64 / 3f64.sqrt();
        assert!(
            min >= -bound && max <= bound,
            "{:?}: [{min}, {max}] outside ±{bound}",
            m.target
        );
        assert!(
            min < -0.99 * bound && max > 0.99 * bound,
            "{:?}: [{min}, {max}] does not fill ±{bound}",
            m.target
        );
        assert!(
            mean.abs() < 0.02 * bound as f64,
            "{:?}: mean {mean}",
            m.target
        );
        assert!(
            (std / want_std - 1.0).abs() < 0.02,
            "{:?}: std {std}, want {want_std}",
            m.target
        );
        assert!(m.b.iter().all(|&x| x == 0.0));
    }
    assert_eq!(LoraWeights::init(&c, &model, 7).unwrap(), w);
    assert_ne!(
        LoraWeights::init(&c, &model, 8).unwrap().modules[0].a,
        w.modules[0].a
    );
}

#[test]
fn layer_ranges_are_bounded_before_they_are_expanded() {
    // These used to allocate (and abort) or overflow while collecting the range.
    for s in ["0-18446744073709551615", "0-4000000000", "70000", "3-99999999999999999999"] {
        let err = Layers::parse(s).unwrap_err().to_string();
        assert!(err.contains("layers_to_transform") && err.contains(s), "{s}: {err}");
    }
    assert_eq!(Layers::parse("2-4,1").unwrap(), Layers::Only(vec![1, 2, 3, 4]));
    assert!(Layers::parse(&format!("0-{}", crate::lora::config::MAX_LAYER_INDEX - 1)).is_ok());
}
