//! Recognising a model from its files: GGUF, HF single file, HF sharded, and mistakes.

use super::hf_config::SMOLLM2;
use super::{expect_err, f32_bytes, pattern, safetensors_bytes, small_gguf};
use crate::formats::{ModelFiles, ModelFormat, read_model_path};
use crate::quant::GgmlType;

fn files(list: &[(&str, Vec<u8>)]) -> ModelFiles {
    let mut f = ModelFiles::new();
    for (name, bytes) in list {
        f.add(name, bytes.clone());
    }
    f
}

fn shard(tensors: &[(&str, usize)]) -> Vec<u8> {
    let v: Vec<(&str, &str, &[usize], Vec<u8>)> =
        tensors.iter().map(|&(n, k)| (n, "F32", std::slice::from_ref(&1usize), f32_bytes(&[k as f32]))).collect();
    safetensors_bytes(&v)
}

#[test]
fn detect_gguf() {
    let f = files(&[("dir/m.gguf", small_gguf()), ("README.md", b"# hi".to_vec())]);
    assert_eq!(f.name(0), "m.gguf");
    match ModelFormat::detect(&f).unwrap() {
        ModelFormat::Gguf { file, gguf } => {
            assert_eq!((file, gguf.file.as_str(), gguf.tensors.len()), (0, "m.gguf", 3));
        }
        other => panic!("not GGUF: {other:?}"),
    }
}

#[test]
fn detect_hf_single_file() {
    let st = safetensors_bytes(&[("model.norm.weight", "BF16", &[4], pattern(8))]);
    let f = files(&[
        ("model.safetensors", st),
        ("config.json", SMOLLM2.as_bytes().to_vec()),
        ("tokenizer.json", b"{}".to_vec()),
        ("tokenizer_config.json", b"{\"a\": 1}".to_vec()),
        ("tokenizer.model", vec![0, 1, 2]),
    ]);
    let ModelFormat::HuggingFace(m) = ModelFormat::detect(&f).unwrap() else { panic!("not HF") };
    assert_eq!(m.config.hidden_size, 576);
    assert_eq!(m.tokenizer_json.as_deref(), Some("{}"));
    assert_eq!(m.tokenizer_config_json.as_deref(), Some("{\"a\": 1}"));
    assert!(m.generation_config_json.is_none());
    let (i, t) = &m.tensors["model.norm.weight"];
    assert_eq!((*i, t.ty("model.safetensors").unwrap()), (0, GgmlType::BF16));
    assert_eq!(m.tensor_bytes(&f, "model.norm.weight"), Some(&pattern(8)[..]));
}

fn sharded() -> Vec<(&'static str, Vec<u8>)> {
    let index = r#"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
        "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}"#;
    vec![
        ("config.json", SMOLLM2.as_bytes().to_vec()),
        ("model.safetensors.index.json", index.as_bytes().to_vec()),
        ("model-00001-of-00002.safetensors", shard(&[("a", 1), ("b", 2)])),
        ("model-00002-of-00002.safetensors", shard(&[("c", 3)])),
    ]
}

#[test]
fn detect_hf_sharded() {
    let f = files(&sharded());
    let ModelFormat::HuggingFace(m) = ModelFormat::detect(&f).unwrap() else { panic!("not HF") };
    assert_eq!(m.tensors.len(), 3);
    assert_eq!(m.tensors["c"].0, 3);
    assert_eq!(m.tensor_bytes(&f, "b"), Some(&f32_bytes(&[2.0])[..]));
    assert_eq!(m.tensor_bytes(&f, "nope"), None);
}

#[test]
fn detect_mistakes_are_clear_errors() {
    let mut no_shard = sharded();
    no_shard.pop();
    expect_err(
        ModelFormat::detect(&files(&no_shard)),
        &["model.safetensors.index.json", "model-00002-of-00002.safetensors", "missing"],
    );
    let mut wrong_shard = sharded();
    wrong_shard[3].1 = shard(&[("d", 4)]);
    expect_err(ModelFormat::detect(&files(&wrong_shard)), &["index.json", "tensor c", "does not hold it"]);
    let mut no_config = sharded();
    no_config.remove(0);
    expect_err(ModelFormat::detect(&files(&no_config)), &["config.json is missing"]);
    let mut bad_config = sharded();
    bad_config[0].1 = b"{\"hidden_size\": 1}".to_vec();
    expect_err(ModelFormat::detect(&files(&bad_config)), &["config.json", "field"]);

    let two = files(&[
        ("a.safetensors", shard(&[("x", 1)])),
        ("b.safetensors", shard(&[("x", 2)])),
        ("config.json", SMOLLM2.as_bytes().to_vec()),
    ]);
    expect_err(ModelFormat::detect(&two), &["b.safetensors", "tensor x", "a.safetensors"]);
    let mixed = files(&[("m.gguf", small_gguf()), ("model.safetensors", shard(&[("x", 1)]))]);
    expect_err(ModelFormat::detect(&mixed), &["m.gguf", "model.safetensors", "both"]);
    let two_gguf = files(&[("a.gguf", small_gguf()), ("b.gguf", small_gguf())]);
    expect_err(ModelFormat::detect(&two_gguf), &["a.gguf", "b.gguf", "several"]);
    let dup = files(&[("x/m.gguf", small_gguf()), ("y/m.gguf", small_gguf())]);
    expect_err(ModelFormat::detect(&dup), &["m.gguf", "two files"]);
    expect_err(ModelFormat::detect(&ModelFiles::new()), &["no model files"]);
    expect_err(
        ModelFormat::detect(&files(&[("config.json", b"{}".to_vec())])),
        &["config.json", "no GGUF or safetensors"],
    );
}

#[test]
fn detect_neither_gguf_nor_safetensors_names_file_and_first_bytes() {
    for (name, bytes, want) in [
        ("pytorch_model.bin", b"PK\x03\x04\x14\x00\x00\x00".to_vec(), "zip"),
        ("model.bin", vec![0x80, 0x02, 0x7d, 0x71], "pickle"),
        ("m.gguf", b"version https://git-lfs.github.com/spec/v1\n".to_vec(), "git lfs pull"),
        ("m.gguf", b"<!DOCTYPE html><html>".to_vec(), "HTML"),
        ("old.bin", b"tjggxxxx".to_vec(), "GGML"),
        ("mystery", vec![1, 2, 3, 4, 5, 6, 7, 8, 9], "01 02 03 04 05 06 07 08"),
        ("empty.gguf", vec![], "empty"),
    ] {
        let msg = expect_err(ModelFormat::detect(&files(&[(name, bytes)])), &[name, "neither", want]);
        println!("{msg}");
    }
    // A .safetensors whose header is broken says why.
    let mut st = shard(&[("x", 1)]);
    st[..8].copy_from_slice(&1_000_000u64.to_le_bytes());
    let f = files(&[("model.safetensors", st), ("config.json", SMOLLM2.as_bytes().to_vec())]);
    expect_err(ModelFormat::detect(&f), &["model.safetensors", "neither", "header length 1000000"]);
}

/// A fresh empty folder under the system temp dir.
fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("anytune-formats-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn read_model_path_gguf_folder_and_hf_folder() {
    let g = temp_dir("gguf");
    std::fs::write(g.join("m.gguf"), small_gguf()).unwrap();
    std::fs::write(g.join("README.md"), "x").unwrap();
    for p in [g.clone(), g.join("m.gguf")] {
        let f = read_model_path(&p).unwrap();
        assert_eq!(f.names().collect::<Vec<_>>(), ["m.gguf"]);
        assert!(matches!(ModelFormat::detect(&f).unwrap(), ModelFormat::Gguf { .. }));
    }
    let h = temp_dir("hf");
    for (name, bytes) in sharded() {
        std::fs::write(h.join(name), bytes).unwrap();
    }
    std::fs::write(h.join("tokenizer.json"), "{}").unwrap();
    std::fs::write(h.join("pytorch_model.bin"), "PK\x03\x04 not read").unwrap();
    for p in [h.clone(), h.join("model.safetensors.index.json")] {
        let f = read_model_path(&p).unwrap();
        assert_eq!(f.len(), 5, "{:?}", f.names().collect::<Vec<_>>());
        let ModelFormat::HuggingFace(m) = ModelFormat::detect(&f).unwrap() else { panic!("not HF") };
        assert_eq!((m.tensors.len(), m.tokenizer_json.as_deref()), (3, Some("{}")));
    }
    // One safetensors file: its folder's config.json comes along.
    let f = read_model_path(&h.join("model-00002-of-00002.safetensors")).unwrap();
    let ModelFormat::HuggingFace(m) = ModelFormat::detect(&f).unwrap() else { panic!("not HF") };
    assert_eq!(m.tensors.keys().collect::<Vec<_>>(), ["c"]);

    let missing = h.join("nope.gguf");
    let e = read_model_path(&missing).unwrap_err();
    assert!(matches!(e, crate::Error::Io { .. }) && e.to_string().contains("nope.gguf"), "{e}");
    std::fs::remove_file(h.join("model-00001-of-00002.safetensors")).unwrap();
    expect_err(read_model_path(&h), &["model-00001-of-00002.safetensors"]);
    let empty = temp_dir("empty");
    std::fs::write(empty.join("pytorch_model.bin"), "x").unwrap();
    expect_err(read_model_path(&empty), &["no .gguf or .safetensors", "convert them to safetensors"]);
    for d in [g, h, empty] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
