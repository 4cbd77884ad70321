//! safetensors reader and index parser: good files, and every kind of bad header.

use super::{expect_err, f32_bytes, pattern, safetensors_bytes, safetensors_raw};
use crate::formats::{SafetensorsFile, parse_index};
use crate::quant::GgmlType;

const F: &str = "model.safetensors";

#[test]
fn safetensors_parses_tensors_dtypes_and_offsets() {
    let bytes = safetensors_bytes(&[
        ("b.weight", "BF16", &[2, 3], pattern(12)),
        ("a.weight", "F32", &[2], f32_bytes(&[1.0, -1.0])),
        ("h", "F16", &[1, 1, 3], pattern(6)),
        ("position_ids", "I64", &[1, 4], pattern(32)),
        ("empty", "F32", &[0, 5], vec![]),
    ]);
    let f = SafetensorsFile::parse(&bytes, F).unwrap();
    assert_eq!(f.metadata.get("format").map(String::as_str), Some("pt"));
    // File order: by offset.
    let names: Vec<&str> = f.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["b.weight", "a.weight", "h", "position_ids", "empty"]);
    let b = f.tensor("b.weight").unwrap();
    assert_eq!((b.ty(F).unwrap(), b.shape.clone(), b.bytes(&bytes)), (GgmlType::BF16, vec![2, 3], &pattern(12)[..]));
    let a = f.tensor("a.weight").unwrap();
    assert_eq!((a.ty(F).unwrap(), a.bytes(&bytes)), (GgmlType::F32, &f32_bytes(&[1.0, -1.0])[..]));
    assert_eq!(f.tensor("h").unwrap().ty(F).unwrap(), GgmlType::F16);
    // I64 parses, but using it fails with the tensor and the dtype named.
    let p = f.tensor("position_ids").unwrap();
    assert_eq!(p.size, 32);
    expect_err(p.ty(F), &[F, "position_ids", "I64", "not supported"]);
    assert_eq!(f.tensor("empty").unwrap().size, 0);
}

#[test]
fn safetensors_bad_headers_are_errors_naming_file_and_tensor() {
    let good = safetensors_bytes(&[("w", "F32", &[2], pattern(8))]);
    let mut long = good.clone();
    long[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
    expect_err(SafetensorsFile::parse(&long, F), &[F, "beyond the end"]);
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    expect_err(SafetensorsFile::parse(&huge, F), &[F, "beyond the end"]);
    expect_err(SafetensorsFile::parse(&good[..5], F), &[F, "fewer than"]);
    expect_err(SafetensorsFile::parse(&safetensors_raw("[1, 2]", &[]), F), &[F, "JSON object"]);
    expect_err(SafetensorsFile::parse(&safetensors_raw("{\"w\": {", &[]), F), &[F, "not a valid JSON"]);

    let one = |entry: &str, data: usize| safetensors_raw(&format!("{{\"w.x\": {entry}}}"), &pattern(data));
    for (entry, data, want) in [
        (r#"{"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}"#, 8, "out of range"),
        (r#"{"dtype": "F32", "shape": [2], "data_offsets": [8, 4]}"#, 8, "out of range"),
        (r#"{"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}"#, 8, "needs 12"),
        (r#"{"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}"#, 8, "unknown dtype"),
        (r#"{"shape": [2], "data_offsets": [0, 8]}"#, 8, "dtype is missing"),
        (r#"{"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}"#, 8, "shape"),
        (r#"{"dtype": "F32", "shape": [2], "data_offsets": [0]}"#, 8, "pair"),
        (r#"{"dtype": "F32", "data_offsets": [0, 8]}"#, 8, "shape is missing"),
        (r#"{"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}"#, 8, "overflows"),
        (r#"7"#, 8, "dtype"),
    ] {
        let msg = expect_err(SafetensorsFile::parse(&one(entry, data), F), &[F, "w.x", want]);
        println!("{msg}");
    }

    let overlap = r#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "b": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}}"#;
    expect_err(SafetensorsFile::parse(&safetensors_raw(overlap, &pattern(8)), F), &[F, "a", "b", "overlap"]);
    let meta = r#"{"__metadata__": {"format": 1}}"#;
    expect_err(SafetensorsFile::parse(&safetensors_raw(meta, &[]), F), &[F, "__metadata__.format"]);
}

#[test]
fn safetensors_duplicate_names_are_refused() {
    // A JSON map would keep the second "w" silently.
    let dup = r#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                  "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#;
    expect_err(SafetensorsFile::parse(&safetensors_raw(dup, &pattern(8)), F), &[F, "w appears twice"]);
    let dup_meta = r#"{"__metadata__": {}, "__metadata__": {}}"#;
    expect_err(SafetensorsFile::parse(&safetensors_raw(dup_meta, &[]), F), &[F, "__metadata__ appears twice"]);
}

#[test]
fn safetensors_index_weight_map() {
    let json = r#"{"metadata": {"total_size": 16}, "weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#;
    let map = parse_index(json, "model.safetensors.index.json").unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!(map["b"], "model-00002-of-00002.safetensors");
    let f = "model.safetensors.index.json";
    expect_err(parse_index("{", f), &[f, "not valid JSON"]);
    expect_err(parse_index(r#"{"metadata": {}}"#, f), &[f, "weight_map"]);
    expect_err(parse_index(r#"{"weight_map": {"a": 3}}"#, f), &[f, "weight_map.a"]);
    expect_err(parse_index(r#"{"weight_map": {"a": "../x.safetensors"}}"#, f), &[f, "weight_map.a", "plain file name"]);
    expect_err(parse_index(r#"{"weight_map": {}}"#, f), &[f, "empty"]);
}

/// Manual cross-check with a file written by Python's safetensors (`ANYTUNE_READ_SAFETENSORS=path`
/// to a file holding `w` = arange(6) f32 (2, 3), `b` = ones(5) bf16, `p` = arange(4) i64).
#[test]
fn safetensors_read_python_sample() {
    let Some(path) = std::env::var_os("ANYTUNE_READ_SAFETENSORS") else { return };
    let bytes = std::fs::read(path).unwrap();
    let f = SafetensorsFile::parse(&bytes, F).unwrap();
    let w = f.tensor("w").unwrap();
    assert_eq!((w.ty(F).unwrap(), w.shape.clone()), (GgmlType::F32, vec![2, 3]));
    assert_eq!(w.bytes(&bytes), &f32_bytes(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])[..]);
    let b = f.tensor("b").unwrap();
    assert_eq!((b.ty(F).unwrap(), b.bytes(&bytes)), (GgmlType::BF16, &[0x80, 0x3f].repeat(5)[..]));
    expect_err(f.tensor("p").unwrap().ty(F), &["p", "I64"]);
}
