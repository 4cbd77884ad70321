//! GGUF format tests, including the Llama q/k row permutation.

use super::{config, random_weights};
use crate::formats::{GgufFile, GgufWriter, MetaValue};
use crate::lora::tests_support::tiny_model;
use crate::lora::*;
use crate::model::{Arch, ModelConfig};
use crate::quant::GgmlType;
use crate::rng::Rng;

fn f32_tensor(f: &GgufFile, bytes: &[u8], name: &str) -> Vec<f32> {
    weights::f32s(f.tensor(name).unwrap().bytes(bytes))
}

#[test]
fn gguf_round_trip_for_llama_and_qwen2() {
    for arch in [Arch::Llama, Arch::Qwen2] {
        let model = tiny_model(arch);
        for c in [
            config("all-linear", "all"),
            LoraConfig {
                r: 3,
                alpha: 6.0,
                use_rslora: true,
                ..config("q_proj,k_proj", "1")
            },
        ] {
            let w = random_weights(&c, &model, 11);
            let bytes = w.to_gguf(&model).unwrap();
            let back = LoraWeights::from_gguf(&bytes, "a.gguf", &model).unwrap();
            assert_eq!(back.modules, w.modules, "{arch:?}");
            assert!(
                (back.scale() - w.scale()).abs() < 1e-6,
                "{arch:?}: scale {} vs {}",
                back.scale(),
                w.scale()
            );
            assert_eq!(
                (back.config.targets.clone(), back.config.layers.clone()),
                (c.targets.clone(), c.layers.clone())
            );
        }
    }
}

#[test]
fn gguf_metadata_and_tensors_are_what_llama_cpp_loads() {
    let model = tiny_model(Arch::Llama);
    let w = random_weights(
        &LoraConfig {
            r: 4,
            ..config("q_proj,k_proj,v_proj,up_proj", "0")
        },
        &model,
        2,
    );
    let bytes = w.to_gguf(&model).unwrap();
    let f = GgufFile::parse(&bytes, "a.gguf").unwrap();
    let s = |k: &str| f.get(k).and_then(MetaValue::as_str).unwrap().to_string();
    assert_eq!(
        (
            s("general.architecture"),
            s("general.type"),
            s("adapter.type")
        ),
        ("llama".into(), "adapter".into(), "lora".into())
    );
    assert_eq!(f.get("adapter.lora.alpha"), Some(&MetaValue::F32(16.0)));
    assert_eq!(
        f.tensor("blk.0.attn_q.weight.lora_a").unwrap().shape,
        [4, 64]
    );
    assert_eq!(
        f.tensor("blk.0.attn_k.weight.lora_b").unwrap().shape,
        [32, 4]
    );
    assert_eq!(
        f.tensor("blk.0.ffn_up.weight.lora_b").unwrap().shape,
        [160, 4]
    );
    assert!(f.tensors.iter().all(|t| t.ty_id == GgmlType::F32 as u32));
    // q and k: B's rows interleaved per head, A untouched; v and MLP: as is.
    let q = w.module(0, Target::Q).unwrap();
    assert_eq!(f32_tensor(&f, &bytes, "blk.0.attn_q.weight.lora_a"), q.a);
    assert_eq!(
        f32_tensor(&f, &bytes, "blk.0.attn_q.weight.lora_b"),
        permute_rows_to_gguf(&q.b, 4, 4, 16)
    );
    assert_ne!(permute_rows_to_gguf(&q.b, 4, 4, 16), q.b);
    let k = w.module(0, Target::K).unwrap();
    assert_eq!(
        f32_tensor(&f, &bytes, "blk.0.attn_k.weight.lora_b"),
        permute_rows_to_gguf(&k.b, 4, 2, 16)
    );
    assert_eq!(
        f32_tensor(&f, &bytes, "blk.0.attn_v.weight.lora_b"),
        w.module(0, Target::V).unwrap().b
    );
    // Qwen2 is not permuted.
    let qwen = tiny_model(Arch::Qwen2);
    let bytes = w.to_gguf(&qwen).unwrap();
    let f = GgufFile::parse(&bytes, "q.gguf").unwrap();
    assert_eq!(f32_tensor(&f, &bytes, "blk.0.attn_q.weight.lora_b"), q.b);
}

#[test]
fn row_permutation_matches_llama_cpp_and_commutes_with_the_product() {
    // One head of D = 4: GGUF rows hold HF rows 0, 2, 1, 3 (first halves and second halves interleaved).
    let m: Vec<f32> = (0..8).map(|x| x as f32).collect(); // (4, 2)
    assert_eq!(
        permute_rows_to_gguf(&m, 2, 1, 4),
        [0., 1., 4., 5., 2., 3., 6., 7.]
    );
    let mut rng = Rng::new(9);
    let (heads, d, r, n_in) = (3, 8, 2, 5);
    let b = rng.normal_vec(heads * d * r, 1.0);
    assert_eq!(
        permute_rows_to_hf(&permute_rows_to_gguf(&b, r, heads, d), r, heads, d),
        b
    );
    // (B_gguf · A) is the HF update B_hf · A with its rows permuted the way llama.cpp permutes W.
    let a = rng.normal_vec(r * n_in, 1.0);
    let module = |b: Vec<f32>| LoraModule {
        layer: 0,
        target: Target::Q,
        in_features: n_in,
        out_features: heads * d,
        a: a.clone(),
        b,
        magnitude: Vec::new(),
    };
    let gguf_delta = module(permute_rows_to_gguf(&b, r, heads, d)).delta(1.0);
    let hf_delta = module(b).delta(1.0);
    for h in 0..heads {
        for i in 0..d / 2 {
            for j in 0..2 {
                let (g, f) = (h * d + 2 * i + j, h * d + j * d / 2 + i);
                assert_eq!(
                    gguf_delta[g * n_in..(g + 1) * n_in],
                    hf_delta[f * n_in..(f + 1) * n_in],
                    "row {g}"
                );
            }
        }
    }
}

#[test]
fn bad_gguf_input_is_refused_with_the_file() {
    let model = tiny_model(Arch::Llama);
    let w = random_weights(&config("q_proj", "0"), &model, 4);
    let bytes = w.to_gguf(&model).unwrap();
    let e = LoraWeights::from_gguf(&bytes, "x.gguf", &tiny_model(Arch::Qwen2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.gguf") && e.contains("\"llama\""), "{e}");
    let small = ModelConfig {
        dim: 32,
        ..model.clone()
    };
    let e = LoraWeights::from_gguf(&bytes, "x.gguf", &small)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.gguf") && e.contains("do not fit the model"),
        "{e}"
    );
    let mut g = GgufWriter::new();
    g.add_meta("general.architecture", MetaValue::String("llama".into()))
        .unwrap();
    g.add_meta("general.type", MetaValue::String("model".into()))
        .unwrap();
    g.add_meta("adapter.type", MetaValue::String("lora".into()))
        .unwrap();
    let e = LoraWeights::from_gguf(&g.to_bytes(), "m.gguf", &model)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("m.gguf") && e.contains("not a LoRA adapter"),
        "{e}"
    );
    let mut g = GgufWriter::new();
    for (k, v) in [
        ("general.architecture", "llama"),
        ("general.type", "adapter"),
        ("adapter.type", "lora"),
    ] {
        g.add_meta(k, MetaValue::String(v.into())).unwrap();
    }
    g.add_tensor(
        "blk.0.attn_q.weight.lora_a",
        GgmlType::F32,
        &[1, 64],
        vec![0; 256],
    )
    .unwrap();
    let e = LoraWeights::from_gguf(&g.to_bytes(), "m.gguf", &model)
        .unwrap_err()
        .to_string();
    assert!(e.contains("blk.0.attn_q.weight.lora_b is missing"), "{e}");
    g.add_tensor(
        "output.weight.lora_a",
        GgmlType::F32,
        &[1, 64],
        vec![0; 256],
    )
    .unwrap();
    let e = LoraWeights::from_gguf(&g.to_bytes(), "m.gguf", &model)
        .unwrap_err()
        .to_string();
    assert!(e.contains("output.weight.lora_a is not"), "{e}");
}

#[test]
fn non_finite_gguf_adapters_and_absurd_alpha_are_refused() {
    let model = tiny_model(Arch::Llama);
    let mut w = random_weights(&config("v_proj", "1"), &model, 4);
    w.modules[0].b[2] = f32::NAN;
    let e = LoraWeights::from_gguf(&w.to_gguf(&model).unwrap(), "x.gguf", &model).unwrap_err().to_string();
    assert!(e.starts_with("x.gguf: tensor blk.1.attn_v.weight.lora_b: value 2 is NaN"), "{e}");
    for alpha in [1e38, f32::INFINITY, -2.0] {
        let mut w = random_weights(&config("v_proj", "1"), &model, 4);
        w.config.alpha = 1.0;
        let bytes = w.to_gguf(&model).unwrap();
        // Patch the f32 after the key adapter.lora.alpha (its type id is 4 bytes before).
        let key = b"adapter.lora.alpha";
        let at = bytes.windows(key.len()).position(|k| k == key).unwrap() + key.len() + 4;
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&alpha.to_le_bytes());
        let e = LoraWeights::from_gguf(&b, "x.gguf", &model).unwrap_err().to_string();
        assert!(e.contains("x.gguf") && e.contains("adapter.lora.alpha") && e.contains("out of range"), "{alpha}: {e}");
    }
}
