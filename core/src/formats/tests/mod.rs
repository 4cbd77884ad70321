//! Tests of the model-file formats: round trips through the GGUF writer, bad and truncated
//! input (every error names the file, nothing panics), HF folders, and the real default model.

mod fuzz;
mod gguf_bad;
mod gguf_layout;
mod gguf_write;
mod hf_config;
mod model_limits;
mod real_model;
mod safetensors;
mod source;

use super::{GgufWriter, MetaValue};
use crate::quant::GgmlType;
use std::fmt::Debug;

/// A small but varied GGUF: metadata of several types and tensors of F32, Q8_0 and Q4_1.
pub fn small_gguf() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_meta("general.architecture", MetaValue::String("llama".into())).unwrap();
    w.add_meta("llama.block_count", MetaValue::U32(2)).unwrap();
    w.add_meta("llama.rope.freq_base", MetaValue::F32(10000.0)).unwrap();
    let tokens = ["<s>", "a", "b"].iter().map(|s| MetaValue::String(s.to_string())).collect();
    w.add_meta("tokenizer.ggml.tokens", MetaValue::Array(tokens)).unwrap();
    w.add_tensor("norm.weight", GgmlType::F32, &[3], f32_bytes(&[1.0, 2.0, 3.0])).unwrap();
    w.add_tensor("token_embd.weight", GgmlType::Q8_0, &[2, 32], pattern(2 * 34)).unwrap();
    w.add_tensor("blk.0.attn_k.weight", GgmlType::Q4_1, &[1, 64], pattern(2 * 20)).unwrap();
    w.to_bytes()
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `n` recognisable bytes.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

/// A safetensors file from `(name, dtype, shape, data)`, laid out in the given order.
pub fn safetensors_bytes(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let entry =
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [data.len(), data.len() + bytes.len()]});
        header.insert(name.to_string(), entry);
        data.extend_from_slice(bytes);
    }
    safetensors_raw(&serde_json::Value::Object(header).to_string(), &data)
}

/// A safetensors file from header text and data.
pub fn safetensors_raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Asserts `r` is an error whose message contains every one of `parts`; returns the message.
pub fn expect_err<T: Debug>(r: crate::Result<T>, parts: &[&str]) -> String {
    let msg = match r {
        Ok(v) => panic!("expected an error containing {parts:?}, got Ok({v:?})"),
        Err(e) => e.to_string(),
    };
    for p in parts {
        assert!(msg.contains(p), "error {msg:?} does not contain {p:?}");
    }
    msg
}
