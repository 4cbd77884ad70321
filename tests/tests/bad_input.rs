//! Bad input gives a clear error naming the file and what is wrong — never a panic: files that
//! are neither GGUF nor safetensors, truncated files, unknown architectures and tensor types,
//! missing tensors, wrong shapes, sizes beyond the adapter's limits, unknown token ids.

use anytune::load::load_model;
use anytune_core::formats::{GgufFile, MetaValue, gguf_write::GgufWriter};
use anytune_core::model::KvCache;
use anytune_core::weights::Weight;
use anytune_tests::{repo_path, test_gpu};
use std::path::PathBuf;

const TINY: &str = "fixtures/tiny-llama-F32.gguf";

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anytune-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Loads `bytes` written as `name` and returns the error's full text (with its causes).
fn load_error(name: &str, bytes: &[u8]) -> Option<String> {
    let gpu = test_gpu()?;
    let path = temp_file(name, bytes);
    match load_model(gpu, &path) {
        Ok(_) => panic!("{name}: loading succeeded but should fail"),
        Err(e) => Some(format!("{e:#}")),
    }
}

/// Rewrites the tiny GGUF through `edit` (which may drop or replace tensors and metadata).
fn rewrite_tiny(edit: impl Fn(&str, &mut Vec<usize>, &mut Vec<u8>) -> bool, arch: Option<&str>) -> Vec<u8> {
    let arch = arch.map(|a| ("general.architecture", MetaValue::String(a.to_string())));
    rewrite_tiny_meta(edit, arch.as_slice())
}

/// As [`rewrite_tiny`], with metadata `key`s set to new values.
fn rewrite_tiny_meta(edit: impl Fn(&str, &mut Vec<usize>, &mut Vec<u8>) -> bool, meta: &[(&str, MetaValue)]) -> Vec<u8> {
    let bytes = std::fs::read(repo_path(TINY)).unwrap();
    let gguf = GgufFile::parse(&bytes, TINY).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in &gguf.metadata {
        let v = meta.iter().find(|(m, _)| m == k).map_or(v, |(_, v)| v).clone();
        w.add_meta(k.clone(), v).unwrap();
    }
    for t in &gguf.tensors {
        let mut shape = t.shape.clone();
        let mut data = t.bytes(&bytes).to_vec();
        if edit(&t.name, &mut shape, &mut data) {
            w.add_tensor(t.name.clone(), t.ty(TINY).unwrap(), &shape, data).unwrap();
        }
    }
    w.to_bytes()
}

#[test]
fn neither_gguf_nor_safetensors() {
    let Some(err) = load_error("model.bin", b"PK\x03\x04 this is a zip, not a model") else { return };
    assert!(err.contains("model.bin"), "{err}");
    assert!(err.to_lowercase().contains("neither") || err.contains("not a"), "{err}");
}

#[test]
fn truncated_gguf() {
    let bytes = std::fs::read(repo_path(TINY)).unwrap();
    for cut in [10, 200, bytes.len() / 2, bytes.len() - 1] {
        let Some(err) = load_error("cut.gguf", &bytes[..cut]) else { return };
        assert!(err.contains("cut.gguf"), "{err}");
        assert!(err.contains("truncated") || err.contains("beyond the end"), "cut at {cut}: {err}");
    }
}

#[test]
fn unknown_architecture() {
    let bytes = rewrite_tiny(|_, _, _| true, Some("mamba"));
    let Some(err) = load_error("mamba.gguf", &bytes) else { return };
    assert!(err.contains("mamba.gguf") && err.contains("\"mamba\" is not supported"), "{err}");
}

#[test]
fn unknown_tensor_type() {
    // Patch the type id of blk.0.attn_q.weight in the tensor table to Q5_K (13).
    let mut bytes = std::fs::read(repo_path(TINY)).unwrap();
    let name = b"blk.0.attn_q.weight";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let ty_at = at + 4 + 8 * n_dims;
    bytes[ty_at..ty_at + 4].copy_from_slice(&13u32.to_le_bytes());
    let Some(err) = load_error("q5k.gguf", &bytes) else { return };
    assert!(err.contains("q5k.gguf") && err.contains("blk.0.attn_q.weight") && err.contains("Q5_K"), "{err}");
}

#[test]
fn missing_tensor() {
    let bytes = rewrite_tiny(|name, _, _| name != "blk.1.ffn_down.weight", None);
    let Some(err) = load_error("missing.gguf", &bytes) else { return };
    assert!(err.contains("missing.gguf") && err.contains("blk.1.ffn_down.weight is missing"), "{err}");
}

#[test]
fn wrong_shape() {
    let bytes = rewrite_tiny(
        |name, shape, data| {
            if name == "blk.0.ffn_up.weight" {
                // (160, 64) → (128, 64): drop the last 32 rows.
                shape[0] = 128;
                data.truncate(128 * 64 * 4);
            }
            true
        },
        None,
    );
    let Some(err) = load_error("shape.gguf", &bytes) else { return };
    assert!(err.contains("shape.gguf") && err.contains("blk.0.ffn_up.weight") && err.contains("[160, 64]"), "{err}");
}

#[test]
fn beyond_the_adapter_limits() {
    let Some(gpu) = test_gpu() else { return };
    // A row larger than the storage-binding limit cannot be placed in any chunk.
    let err = Weight::upload_with_limit(gpu, "huge.weight", anytune_core::quant::GgmlType::F32, 2, 64, &[0; 512], 128)
        .unwrap_err()
        .to_string();
    assert!(err.contains("huge.weight") && err.contains("limit"), "{err}");
    // A matrix larger than the limit is split into row chunks, not refused.
    let w = Weight::upload_with_limit(gpu, "split.weight", anytune_core::quant::GgmlType::F32, 10, 64, &[0; 2560], 1024)
        .unwrap();
    assert_eq!(w.chunks.len(), 3);
    // A KV cache beyond the binding limit.
    let model = load_model(gpu, &repo_path(TINY)).unwrap();
    let positions = (gpu.max_binding() / (model.config.n_kv_heads * model.config.head_dim * 4) as u64) as usize + 1;
    let err = KvCache::new(gpu, &model.config, positions).err().unwrap().to_string();
    assert!(err.contains("KV cache") && err.contains("limit"), "{err}");
}

#[test]
fn unknown_token_id() {
    let Some(gpu) = test_gpu() else { return };
    let model = load_model(gpu, &repo_path(TINY)).unwrap();
    let err = pollster::block_on(anytune_core::score::score(gpu, &model, &[1, 2, 320])).unwrap_err().to_string();
    assert!(err.contains("320") && err.contains("vocabulary"), "{err}");
    assert!(model.tokenizer.decode(&[5000], false).is_err());
}

#[test]
fn counts_and_sizes_beyond_the_limits() {
    use MetaValue::U64;
    let keep = |_: &str, _: &mut Vec<usize>, _: &mut Vec<u8>| true;
    for (meta, want) in [
        (vec![("llama.block_count", U64(1 << 60))], "block_count"),
        (vec![("llama.block_count", U64(100_000_000))], "block_count"),
        (vec![("llama.attention.head_count", U64((1 << 62) + 4)), ("llama.attention.key_length", U64(16))], "llama.attention.head_count"),
        (vec![("llama.context_length", U64(1 << 63))], "context_length"),
        (vec![("llama.rope.freq_base", MetaValue::F32(f32::NAN))], "rope.freq_base"),
        (vec![("llama.attention.layer_norm_rms_epsilon", MetaValue::F32(-1e-5))], "layer_norm_rms_epsilon"),
    ] {
        let Some(err) = load_error("limits.gguf", &rewrite_tiny_meta(keep, &meta)) else { return };
        println!("{err}");
        assert!(err.contains("limits.gguf") && err.contains(want), "{err}");
        assert!(err.contains("out of range") || err.contains("not a finite positive number"), "{err}");
    }
}

#[test]
fn non_finite_weights() {
    for (tensor, value) in [("blk.0.attn_q.weight", f32::NAN), ("token_embd.weight", f32::INFINITY)] {
        let bytes = rewrite_tiny(
            |name, _, data| {
                if name == tensor {
                    data[20..24].copy_from_slice(&value.to_le_bytes());
                }
                true
            },
            None,
        );
        let Some(err) = load_error("nan.gguf", &bytes) else { return };
        assert!(err.contains("nan.gguf") && err.contains(&format!("tensor {tensor} (F32): value 5 is {value}")), "{err}");
    }
}

#[test]
fn tensor_table_that_llama_cpp_refuses() {
    // blk.0.attn_q.weight's offset in the table set to the previous tensor's: overlap.
    let mut bytes = std::fs::read(repo_path(TINY)).unwrap();
    let gguf = GgufFile::parse(&bytes, TINY).unwrap();
    let i = gguf.tensors.iter().position(|t| t.name == "blk.0.attn_q.weight").unwrap();
    let name = b"blk.0.attn_q.weight";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let off_at = at + 4 + 8 * n_dims + 4;
    let data_start = gguf.tensors[0].offset;
    let prev = (gguf.tensors[i - 1].offset - data_start) as u64;
    bytes[off_at..off_at + 8].copy_from_slice(&prev.to_le_bytes());
    let Some(err) = load_error("overlap.gguf", &bytes) else { return };
    assert!(err.contains("overlap.gguf") && err.contains("blk.0.attn_q.weight") && err.contains("overlaps"), "{err}");
}

#[test]
fn per_token_arrays_of_the_wrong_length() {
    let bytes = std::fs::read(repo_path(TINY)).unwrap();
    let gguf = GgufFile::parse(&bytes, TINY).unwrap();
    let types = gguf.get("tokenizer.ggml.token_type").and_then(|v| v.as_array()).unwrap()[..10].to_vec();
    let keep = |_: &str, _: &mut Vec<usize>, _: &mut Vec<u8>| true;
    let bytes = rewrite_tiny_meta(keep, &[("tokenizer.ggml.token_type", MetaValue::Array(types))]);
    let Some(err) = load_error("types.gguf", &bytes) else { return };
    assert!(err.contains("types.gguf") && err.contains("token_type has 10 entries for 320 tokens"), "{err}");
}
