//! GgufWriter → GgufFile round trips, and the writer's own checks.

use super::{expect_err, f32_bytes, pattern};
use crate::formats::{GgufFile, GgufWriter, MetaValue};
use crate::quant::GgmlType;

fn every_value() -> Vec<(&'static str, MetaValue)> {
    use MetaValue::*;
    vec![
        ("t.u8", U8(200)),
        ("t.i8", I8(-100)),
        ("t.u16", U16(60000)),
        ("t.i16", I16(-30000)),
        ("t.u32", U32(4_000_000_000)),
        ("t.i32", I32(-2_000_000_000)),
        ("t.u64", U64(u64::MAX - 5)),
        ("t.i64", I64(i64::MIN + 7)),
        ("t.f32", F32(-1.5e-5)),
        ("t.f64", F64(std::f64::consts::PI)),
        ("t.bool", Bool(true)),
        ("t.string", String("héllo ✓".into())),
        ("t.empty_string", String(std::string::String::new())),
        ("t.strings", Array(vec![String("a".into()), String(std::string::String::new()), String("ccc".into())])),
        ("t.f32s", Array(vec![F32(1.0), F32(-2.5)])),
        ("t.i32s", Array(vec![I32(-1), I32(7), I32(0)])),
        ("t.bools", Array(vec![Bool(false), Bool(true)])),
        ("t.nested", Array(vec![Array(vec![U8(1), U8(2)]), Array(vec![U8(3)])])),
    ]
}

#[test]
fn gguf_roundtrip_metadata_of_every_type() {
    let mut w = GgufWriter::new();
    for (k, v) in every_value() {
        w.add_meta(k, v).unwrap();
    }
    let f = GgufFile::parse(&w.to_bytes(), "meta.gguf").unwrap();
    assert_eq!(f.version, 3);
    assert_eq!(f.metadata.len(), every_value().len());
    for (k, v) in every_value() {
        assert_eq!(f.get(k), Some(&v), "{k}");
    }
    assert!(f.tensors.is_empty());
}

#[test]
fn gguf_roundtrip_tensors_keep_type_shape_order_and_bytes() {
    let f16: Vec<u8> = [1.0f32, -2.0, 0.5].iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect();
    let tensors: Vec<(&str, GgmlType, Vec<usize>, Vec<u8>)> = vec![
        ("mat.f32", GgmlType::F32, vec![2, 3], f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        ("vec.f16", GgmlType::F16, vec![3], f16),
        ("mat.q8_0", GgmlType::Q8_0, vec![3, 64], pattern(3 * 2 * 34)),
        ("mat.q4_1", GgmlType::Q4_1, vec![5, 32], pattern(5 * 20)),
        ("t4.bf16", GgmlType::BF16, vec![1, 2, 3, 4], pattern(24 * 2)),
        ("mat.q6_k", GgmlType::Q6K, vec![2, 256], pattern(2 * 210)),
        ("scalar", GgmlType::F32, vec![], f32_bytes(&[9.0])),
    ];
    let mut w = GgufWriter::new();
    w.add_meta("general.name", MetaValue::String("t".into())).unwrap();
    for (name, ty, shape, bytes) in &tensors {
        w.add_tensor(*name, *ty, shape, bytes.clone()).unwrap();
    }
    let bytes = w.to_bytes();
    let f = GgufFile::parse(&bytes, "t.gguf").unwrap();
    assert_eq!(f.tensors.len(), tensors.len());
    for ((name, ty, shape, data), got) in tensors.iter().zip(&f.tensors) {
        assert_eq!(&got.name, name);
        assert_eq!(got.ty("t.gguf").unwrap(), *ty, "{name}");
        assert_eq!(&got.shape, shape, "{name}: shape must come back in PyTorch order");
        assert_eq!(got.offset % 32, 0, "{name}: data not aligned to 32");
        assert_eq!(got.bytes(&bytes), &data[..], "{name}");
    }
}

#[test]
fn gguf_roundtrip_custom_alignment() {
    let mut w = GgufWriter::new();
    w.add_meta("general.alignment", MetaValue::U32(128)).unwrap();
    w.add_tensor("a", GgmlType::F32, &[3], f32_bytes(&[1.0, 2.0, 3.0])).unwrap();
    w.add_tensor("b", GgmlType::F32, &[1], f32_bytes(&[4.0])).unwrap();
    let bytes = w.to_bytes();
    let f = GgufFile::parse(&bytes, "al.gguf").unwrap();
    for t in &f.tensors {
        assert_eq!(t.offset % 128, 0, "{}", t.name);
    }
    assert_eq!(f.tensor("b").unwrap().bytes(&bytes), &f32_bytes(&[4.0])[..]);
}

#[test]
fn gguf_writer_rejects_bad_input() {
    let mut w = GgufWriter::new();
    expect_err(w.add_tensor("w", GgmlType::F32, &[2, 3], pattern(20)), &["w", "24"]);
    expect_err(w.add_tensor("q", GgmlType::Q8_0, &[2, 30], pattern(68)), &["q", "blocks"]);
    expect_err(w.add_tensor("d5", GgmlType::F32, &[1, 1, 1, 1, 1], pattern(4)), &["d5", "4 dimensions"]);
    w.add_tensor("w", GgmlType::F32, &[1], pattern(4)).unwrap();
    expect_err(w.add_tensor("w", GgmlType::F32, &[1], pattern(4)), &["w", "twice"]);
    expect_err(w.add_meta("mixed", MetaValue::Array(vec![MetaValue::U8(1), MetaValue::I8(1)])), &["mixed", "types"]);
    expect_err(w.add_meta("general.alignment", MetaValue::U32(48)), &["general.alignment", "power of two"]);
    w.add_meta("k", MetaValue::Bool(true)).unwrap();
    expect_err(w.add_meta("k", MetaValue::Bool(false)), &["k", "twice"]);
}

/// Writes a file for a manual cross-check with gguf-py (`ANYTUNE_WRITE_GGUF=path`).
#[test]
fn gguf_write_sample_for_gguf_py() {
    let Some(path) = std::env::var_os("ANYTUNE_WRITE_GGUF") else { return };
    let mut w = GgufWriter::new();
    for (k, v) in every_value() {
        w.add_meta(k, v).unwrap();
    }
    w.add_tensor("mat.f32", GgmlType::F32, &[2, 3], f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])).unwrap();
    w.add_tensor("mat.q8_0", GgmlType::Q8_0, &[3, 64], pattern(3 * 2 * 34)).unwrap();
    std::fs::write(path, w.to_bytes()).unwrap();
}
