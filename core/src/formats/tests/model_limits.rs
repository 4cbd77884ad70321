//! Hyperparameters read from a model file are checked before anything is allocated from them:
//! counts and sizes in range, their products without overflow, floats finite and positive,
//! present keys of the right type. Each case edits the tiny Llama GGUF's metadata (or a
//! config.json) and must be an `Err` naming the file and the value.

use super::expect_err;
use super::hf_config::SMOLLM2;
use crate::formats::{GgufFile, GgufWriter, HfConfig, MetaValue};
use crate::model::ModelConfig;

const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tiny-llama-F32.gguf");
const F: &str = "edited.gguf";

/// The tiny GGUF with metadata `key` set to `value` (`None` removes it).
fn edited(edits: &[(&str, Option<MetaValue>)]) -> crate::Result<ModelConfig> {
    let bytes = std::fs::read(TINY).unwrap();
    let gguf = GgufFile::parse(&bytes, TINY).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in &gguf.metadata {
        match edits.iter().find(|(e, _)| e == k) {
            Some((_, Some(v))) => w.add_meta(k.clone(), v.clone()).unwrap(),
            Some((_, None)) => {}
            None => w.add_meta(k.clone(), v.clone()).unwrap(),
        }
    }
    for (k, v) in edits.iter().filter(|(k, _)| !gguf.metadata.contains_key(*k)) {
        w.add_meta(k.to_string(), v.clone().unwrap()).unwrap();
    }
    for t in &gguf.tensors {
        w.add_tensor(t.name.clone(), t.ty(TINY).unwrap(), &t.shape, t.bytes(&bytes).to_vec()).unwrap();
    }
    ModelConfig::from_gguf(&GgufFile::parse(&w.to_bytes(), F).unwrap())
}

fn one(key: &str, v: MetaValue) -> crate::Result<ModelConfig> {
    edited(&[(key, Some(v))])
}

#[test]
fn the_tiny_model_is_within_every_limit() {
    let c = edited(&[]).unwrap();
    assert_eq!((c.n_layers, c.n_heads, c.head_dim, c.max_seq_len), (2, 4, 16, 128));
}

#[test]
fn counts_beyond_the_limits_are_refused() {
    use MetaValue::U64;
    for n in [1u64 << 60, 100_000_000, 0] {
        expect_err(one("llama.block_count", U64(n)), &[F, &format!("llama.block_count = {n}"), "out of range"]);
    }
    expect_err(one("llama.context_length", U64(1 << 63)), &[F, "context_length", "out of range (1 to 16777216)"]);
    expect_err(one("llama.vocab_size", U64(1 << 40)), &[F, "vocab_size", "out of range"]);
    expect_err(one("llama.embedding_length", U64(u64::MAX)), &[F, "llama.embedding_length", "out of range"]);
    expect_err(one("llama.feed_forward_length", U64(1 << 21)), &[F, "llama.feed_forward_length", "out of range"]);
}

#[test]
fn products_of_sizes_cannot_wrap() {
    use MetaValue::U64;
    // 2^62 + 4 heads of 16 wrap to 64 in u64 arithmetic.
    let r = edited(&[
        ("llama.attention.head_count", Some(U64((1 << 62) + 4))),
        ("llama.attention.head_count_kv", Some(U64((1 << 62) + 4))),
        ("llama.attention.key_length", Some(U64(16))),
    ]);
    expect_err(r, &[F, "llama.attention.head_count =", "out of range"]);
    // Each in range, but H·D too wide.
    let r = edited(&[
        ("llama.attention.head_count", Some(U64(1 << 12))),
        ("llama.attention.head_count_kv", Some(U64(1 << 12))),
        ("llama.attention.key_length", Some(U64(1 << 12))),
    ]);
    expect_err(r, &[F, "llama.attention.head_count × llama.attention.key_length = 4096 × 4096 is above 1048576"]);
}

#[test]
fn non_finite_or_non_positive_floats_are_refused() {
    use MetaValue::{F32, F64};
    for (key, v, want) in [
        ("llama.rope.freq_base", F32(f32::NAN), "llama.rope.freq_base = NaN"),
        ("llama.rope.freq_base", F64(1e39), "llama.rope.freq_base = inf"),
        ("llama.rope.freq_base", F32(0.0), "llama.rope.freq_base"),
        ("llama.attention.layer_norm_rms_epsilon", F32(-1e-5), "llama.attention.layer_norm_rms_epsilon"),
        ("llama.attention.layer_norm_rms_epsilon", F32(f32::INFINITY), "llama.attention.layer_norm_rms_epsilon"),
        ("llama.attention.layer_norm_rms_epsilon", F32(0.5), "llama.attention.layer_norm_rms_epsilon = 0.5 is above 0.1"),
    ] {
        expect_err(one(key, v), &[F, want]);
    }
    let r = edited(&[
        ("llama.rope.scaling.type", Some(MetaValue::String("linear".into()))),
        ("llama.rope.scaling.factor", Some(F32(f32::NAN))),
    ]);
    expect_err(r, &[F, "rope_scaling factor = NaN"]);
}

#[test]
fn present_keys_of_the_wrong_type_are_refused_not_defaulted() {
    let s = |x: &str| MetaValue::String(x.into());
    expect_err(one("llama.rope.freq_base", s("10000")), &[F, "llama.rope.freq_base", "is not a number"]);
    expect_err(one("llama.attention.head_count_kv", MetaValue::I32(-2)), &[F, "head_count_kv", "not an unsigned integer"]);
    expect_err(one("llama.context_length", MetaValue::F32(128.0)), &[F, "context_length", "not an unsigned integer"]);
    expect_err(one("llama.rope.scaling.type", MetaValue::U32(1)), &[F, "rope.scaling.type", "not a string"]);
}

#[test]
fn hf_config_values_beyond_the_limits_are_refused() {
    let edit = |k: &str, v: serde_json::Value| {
        let mut j: serde_json::Value = serde_json::from_str(SMOLLM2).unwrap();
        j[k] = v;
        let hf = HfConfig::parse(&j.to_string(), "config.json")?;
        ModelConfig::from_hf(&hf, "config.json")
    };
    ModelConfig::from_hf(&HfConfig::parse(SMOLLM2, "config.json").unwrap(), "config.json").unwrap();
    for (k, v, want) in [
        ("num_hidden_layers", serde_json::json!(1u64 << 60), "num_hidden_layers"),
        ("max_position_embeddings", serde_json::json!(1u64 << 63), "max_position_embeddings"),
        ("rms_norm_eps", serde_json::json!(-1.0), "rms_norm_eps"),
        ("rope_theta", serde_json::json!(1e300), "rope_theta"),
        ("rope_scaling", serde_json::json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 4.0}), "high_freq_factor"),
    ] {
        expect_err(edit(k, v), &["config.json", want]);
    }
}
