//! GGUF ↔ Hugging Face folder round trips of what llama.cpp's converter rebuilds from a folder
//! (export::gguf_hf_meta, gguf_hf_spm, tokenizer::gguf_sentencepiece):
//!
//! - a Gemma 3 GGUF with a SentencePiece vocabulary (tiny-gemma3-F32.gguf with a Gemma-like
//!   vocabulary of 320 tokens put in: control, user-defined, byte and scored normal pieces) →
//!   `--format hf` (with tokenizer.model) → `--format gguf` gives every `tokenizer.*` and
//!   `gemma3.*` key back, and the same tokenizer; the same for a Llama 2 style vocabulary in
//!   tiny-llama-F32.gguf;
//! - the tiny Gemma 3 folder (byte-level BPE) → GGUF: the architecture keys of the converter's
//!   Gemma3Model (tiny-gemma3-F32.gguf's, less `gemma3.vocab_size`, which it does not write);
//! - Llama 3 RoPE scaling from config.json → `rope_freqs.weight`, whose frequencies are the
//!   config's within 1e-6;
//! - refused by name with the way round: a SentencePiece folder without tokenizer.model, a
//!   Gemma 3 layer pattern llama.cpp cannot express.
//!
//! The logits checks run where a GPU (or lavapipe) is found; the metadata checks everywhere.

use anytune_core::export::{ExportFormat, ExportOptions, ExportType, export};
use anytune_core::formats::{GgufFile, GgufWriter, MetaValue, Metadata, ModelFiles};
use anytune_core::model::{Model, ModelConfig};
use anytune_core::ops::rope::rope_inv_freq;
use anytune_tests::exports::{edited, exported, fixture, gguf_metadata, same_tokenizer};
use anytune_tests::{all_logits, test_gpu};

/// Normal pieces of the test vocabularies, in rank order: merged pieces first, single
/// characters last (as Gemma orders them).
const MERGED: [&str; 20] =
    ["▁t", "he", "▁a", "in", "er", "▁the", "re", "an", "▁w", "ou", "▁s", "ll", "▁wh", "▁o", "es", "at", "▁k", "et", "tle", "ak"];
const CHARS: [&str; 31] = [
    "▁", "e", "t", "a", "o", "h", "n", "s", "r", "i", "l", "w", "k", "u", "m", "c", "d", "y", "f", "p", "b", "?", ".", ",", "W", "Q", "1", "9", "8",
    "7", "3",
];

/// A Gemma 3 SentencePiece vocabulary of 320 tokens laid out as the real one: control tokens
/// (pad, eos, bos, unk, mask, turn markers), user-defined newline and space runs (the spaces
/// stored as spaces, as llama.cpp's converter writes them), 256 byte tokens, then normal pieces
/// scored by rank (merged pieces first, single characters last).
fn gemma_vocab() -> (Vec<String>, Vec<f32>, Vec<u32>) {
    let mut v: Vec<(String, f32, u32)> = Vec::new();
    for t in ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"] {
        v.push((t.into(), -1000.0, 3));
    }
    v.push(("[multimodal]".into(), -1000.0, 4));
    v.push(("<start_of_turn>".into(), -1000.0, 3));
    v.push(("<end_of_turn>".into(), -1000.0, 3));
    for t in ["\n", "\n\n", "\t", "  ", "   "] {
        v.push((t.into(), -1000.0, 4));
    }
    for b in 0..=255u8 {
        v.push((format!("<0x{b:02X}>"), 0.0, 6));
    }
    for (rank, t) in MERGED.iter().chain(CHARS.iter()).enumerate() {
        v.push((t.to_string(), -(rank as f32), 1));
    }
    assert_eq!(v.len(), 320, "the tiny model's 320 embedding rows");
    (v.iter().map(|t| t.0.clone()).collect(), v.iter().map(|t| t.1).collect(), v.iter().map(|t| t.2).collect())
}

/// Llama 2's layout of a SentencePiece vocabulary in 320 tokens: `<unk>` (type unknown),
/// `<s>` and `</s>` (control, score 0), 256 byte tokens, then normal pieces scored by rank.
fn llama_vocab() -> (Vec<String>, Vec<f32>, Vec<u32>) {
    let mut v: Vec<(String, f32, u32)> = vec![("<unk>".into(), 0.0, 2), ("<s>".into(), 0.0, 3), ("</s>".into(), 0.0, 3)];
    for b in 0..=255u8 {
        v.push((format!("<0x{b:02X}>"), 0.0, 6));
    }
    let more = ["▁m", "▁Q", "▁Z", "ill", "ather", "ea", "▁ke", "or", "▁f", "▁sp"];
    for (rank, t) in MERGED.iter().chain(more.iter()).chain(CHARS.iter()).enumerate() {
        v.push((t.to_string(), -(rank as f32), 1));
    }
    assert_eq!(v.len(), 320, "the tiny model's 320 embedding rows");
    (v.iter().map(|t| t.0.clone()).collect(), v.iter().map(|t| t.1).collect(), v.iter().map(|t| t.2).collect())
}

/// The GGUF fixture `name` with its `tokenizer.*` keys (and `drop`) replaced by a SentencePiece
/// vocabulary (`vocab`) and the tokenizer keys `keys`.
fn with_sentencepiece(name: &str, drop: &[&str], vocab: (Vec<String>, Vec<f32>, Vec<u32>), keys: Vec<(&str, MetaValue)>) -> ModelFiles {
    let src = fixture(name);
    let g = GgufFile::parse(src.bytes(0), name).unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in &g.metadata {
        if !key.starts_with("tokenizer.") && !drop.contains(&key.as_str()) {
            w.add_meta(key.clone(), value.clone()).unwrap();
        }
    }
    let (tokens, scores, types) = vocab;
    w.add_meta("tokenizer.ggml.model", MetaValue::String("llama".into())).unwrap();
    w.add_meta("tokenizer.ggml.pre", MetaValue::String("default".into())).unwrap();
    w.add_meta("tokenizer.ggml.tokens", MetaValue::Array(tokens.into_iter().map(MetaValue::String).collect())).unwrap();
    w.add_meta("tokenizer.ggml.scores", MetaValue::Array(scores.into_iter().map(MetaValue::F32).collect())).unwrap();
    w.add_meta("tokenizer.ggml.token_type", MetaValue::Array(types.into_iter().map(MetaValue::U32).collect())).unwrap();
    for (key, value) in keys {
        w.add_meta(key, value).unwrap();
    }
    for t in &g.tensors {
        w.add_tensor(t.name.clone(), t.ty(name).unwrap(), &t.shape, t.bytes(src.bytes(0)).to_vec()).unwrap();
    }
    let mut files = ModelFiles::new();
    files.add(&format!("spm-{name}"), w.to_bytes());
    files
}

/// tiny-gemma3-F32.gguf with [`gemma_vocab`] and the keys llama.cpp's converter writes for a
/// Gemma 3 SentencePiece folder (no `gemma3.vocab_size`), and a Gemma turn chat template.
fn sentencepiece_gemma() -> ModelFiles {
    let template = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}";
    let keys = vec![
        ("tokenizer.ggml.bos_token_id", MetaValue::U32(2)),
        ("tokenizer.ggml.eos_token_id", MetaValue::U32(1)),
        ("tokenizer.ggml.unknown_token_id", MetaValue::U32(3)),
        ("tokenizer.ggml.padding_token_id", MetaValue::U32(0)),
        ("tokenizer.ggml.add_bos_token", MetaValue::Bool(true)),
        ("tokenizer.ggml.add_sep_token", MetaValue::Bool(false)),
        ("tokenizer.ggml.add_eos_token", MetaValue::Bool(false)),
        ("tokenizer.ggml.add_space_prefix", MetaValue::Bool(false)),
        ("tokenizer.chat_template", MetaValue::String(template.into())),
    ];
    with_sentencepiece("tiny-gemma3-F32.gguf", &["gemma3.vocab_size"], gemma_vocab(), keys)
}

/// The keys of `meta` that describe the model and its vocabulary (not the file).
fn model_keys(meta: &Metadata, arch: &str) -> Metadata {
    meta.iter().filter(|(k, _)| k.starts_with("tokenizer.") || k.starts_with(&format!("{arch}."))).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Every key in `want` and `got` with a different (or missing) value, for the failure message.
fn differing(want: &Metadata, got: &Metadata) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    let short = |v: Option<&MetaValue>| format!("{v:?}").chars().take(120).collect::<String>();
    keys.into_iter().filter(|k| want.get(*k) != got.get(*k)).map(|k| format!("{k}: {} vs {}", short(want.get(k)), short(got.get(k)))).collect()
}

/// The largest logit difference of two models on a short text, `None` without a GPU.
fn logit_diff(a: &ModelFiles, b: &ModelFiles) -> Option<f32> {
    let gpu = test_gpu()?;
    let (ma, mb) = (Model::load(gpu, a).unwrap(), Model::load(gpu, b).unwrap());
    let ids = ma.tokenizer.encode("the kettle? Quillfeather", true).unwrap();
    let (x, y) = (all_logits(gpu, &ma, &ids), all_logits(gpu, &mb, &ids));
    let d = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
    println!("max |Δ logit| {d:.2e} over {} logits", x.len());
    Some(d)
}

/// `gguf` → HF folder (with tokenizer.model) → GGUF: every `tokenizer.*` and `{arch}.*` key
/// but `unwritten` comes back, the three tokenize alike, and the logits stay.
fn round_trip(gguf: &ModelFiles, arch: &str, unwritten: &[&str]) {
    let folder = exported(gguf, ExportFormat::Hf);
    let names: Vec<&str> = folder.names().collect();
    assert!(names.contains(&"tokenizer.model"), "{names:?}");
    let back = exported(&folder, ExportFormat::Gguf);
    let (want, mut got) = (model_keys(&gguf_metadata(gguf), arch), model_keys(&gguf_metadata(&back), arch));
    got.retain(|k, _| !unwritten.contains(&k.as_str()));
    assert!(want.len() > 15, "{want:?}");
    assert_eq!(differing(&want, &got), Vec::<String>::new(), "{arch}: keys that did not round-trip");
    same_tokenizer(gguf, &folder, &format!("{arch}: GGUF vs its HF folder"));
    same_tokenizer(gguf, &back, &format!("{arch}: GGUF vs the GGUF of its HF folder"));
    if let Some(d) = logit_diff(gguf, &back) {
        assert!(d < 1e-4, "{arch}: logits moved by {d}");
    }
}

#[test]
fn a_sentencepiece_gemma3_gguf_round_trips_through_an_hf_folder() {
    round_trip(&sentencepiece_gemma(), "gemma3", &[]);
}

/// A Llama 2 style vocabulary (no space prefix here, so the flag must survive): the round trip
/// adds `llama.attention.key_length` / `value_length`, which the converter writes from the
/// folder's `head_dim` and the fixture lacks.
#[test]
fn a_sentencepiece_llama_gguf_round_trips_through_an_hf_folder() {
    let keys = vec![
        ("tokenizer.ggml.bos_token_id", MetaValue::U32(1)),
        ("tokenizer.ggml.eos_token_id", MetaValue::U32(2)),
        ("tokenizer.ggml.unknown_token_id", MetaValue::U32(0)),
        ("tokenizer.ggml.add_bos_token", MetaValue::Bool(true)),
        ("tokenizer.ggml.add_eos_token", MetaValue::Bool(false)),
        ("tokenizer.ggml.add_space_prefix", MetaValue::Bool(false)),
    ];
    let gguf = with_sentencepiece("tiny-llama-F32.gguf", &[], llama_vocab(), keys);
    round_trip(&gguf, "llama", &["llama.attention.key_length", "llama.attention.value_length"]);
}

#[test]
fn a_gemma3_hf_folder_with_a_byte_level_vocabulary_converts() {
    let folder = fixture("tiny-gemma3");
    let gguf = exported(&folder, ExportFormat::Gguf);
    let mut want = model_keys(&gguf_metadata(&fixture("tiny-gemma3-F32.gguf")), "gemma3");
    want.retain(|k, _| k.starts_with("gemma3.") && k != "gemma3.vocab_size");
    let mut got = model_keys(&gguf_metadata(&gguf), "gemma3");
    got.retain(|k, _| k.starts_with("gemma3."));
    assert_eq!(differing(&want, &got), Vec::<String>::new(), "gemma3.* keys of the converter's Gemma3Model");
    same_tokenizer(&folder, &gguf, "tiny-gemma3 folder vs its GGUF");
    if let Some(d) = logit_diff(&folder, &gguf) {
        assert!(d < 1e-4, "logits moved by {d}");
    }
}

/// What exporting `files` to GGUF says when it is refused.
fn refusal(files: &ModelFiles) -> String {
    export(files, None, "no adapter", &ExportOptions { format: ExportFormat::Gguf, ty: ExportType::F32 }).unwrap_err().to_string()
}

#[test]
fn what_cannot_be_rebuilt_is_refused_with_the_way_round() {
    let folder = exported(&sentencepiece_gemma(), ExportFormat::Hf);
    let e = refusal(&edited(&folder, &["tokenizer.model"], |_, _| false));
    assert!(e.contains("SentencePiece") && e.contains("tokenizer.model") && e.contains("convert_hf_to_gguf.py"), "{e}");
    let every_third = edited(&fixture("tiny-gemma3"), &[], |name, json| {
        if name != "config.json" {
            return false;
        }
        json["layer_types"] = serde_json::json!([
            "sliding_attention",
            "sliding_attention",
            "full_attention",
            "sliding_attention",
            "sliding_attention",
            "full_attention"
        ]);
        true
    });
    let e = refusal(&every_third);
    assert!(e.contains("layer_types") && e.contains("every sixth") && e.contains("convert_hf_to_gguf.py"), "{e}");
}

/// tiny-llama's folder with Llama 3 RoPE scaling (factor 8, original context 256): with
/// head_dim 16 and theta 10000 its wavelengths 6.3, 20 and 63 are kept, 199 is on the ramp and
/// 628 onwards are scaled.
#[test]
fn llama3_rope_scaling_becomes_rope_freqs() {
    let scaled = edited(&fixture("tiny-llama"), &[], |name, json| {
        if name != "config.json" {
            return false;
        }
        json["rope_scaling"] = serde_json::json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 256});
        true
    });
    let gguf = exported(&scaled, ExportFormat::Gguf);
    let g = GgufFile::parse(gguf.bytes(gguf.find("model.gguf").unwrap()), "model.gguf").unwrap();
    let t = g.tensor("rope_freqs.weight").expect("rope_freqs.weight");
    assert_eq!((t.shape.as_slice(), t.ty("model.gguf").unwrap()), (&[8usize][..], anytune_core::quant::GgmlType::F32));
    let divisors: Vec<f32> = t.bytes(gguf.bytes(0)).chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert!(divisors[..3].iter().all(|&d| d == 1.0) && divisors[4..].iter().all(|&d| d == 8.0), "{divisors:?}");
    assert!(divisors[3] > 1.0 && divisors[3] < 8.0, "{divisors:?}");
    // The GGUF's frequencies (the loader divides the plain ones by rope_freqs) are the config's.
    let cfg = ModelConfig::from_gguf(&g).unwrap();
    assert_eq!(cfg.rope_scaling, None, "llama3 scaling is the tensor, not a key");
    let hf = anytune_core::formats::HfConfig::parse(std::str::from_utf8(scaled.get("config.json").unwrap()).unwrap(), "config.json").unwrap();
    let hf = ModelConfig::from_hf(&hf, "config.json").unwrap();
    let want = rope_inv_freq(hf.head_dim, hf.rope_theta, hf.rope_scaling.as_ref());
    let plain = rope_inv_freq(cfg.head_dim, cfg.rope_theta, None);
    for (i, ((p, d), w)) in plain.iter().zip(&divisors).zip(&want).enumerate() {
        assert!((p / d - w).abs() <= 1e-6 * w.abs().max(1e-30) + 1e-12, "frequency {i}: GGUF {} vs config {w}", p / d);
    }
    if let Some(d) = logit_diff(&scaled, &gguf) {
        assert!(d < 1e-4, "logits moved by {d}");
    }
}
