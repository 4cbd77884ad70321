//! The GGUF tensor table must describe a layout llama.cpp would accept: unique names (tensors
//! and metadata keys), known types, aligned offsets, tensors back to back (no overlap, no
//! gap), counts the file can hold. Each case patches a valid file and must be an `Err` naming
//! the file and the tensor or key.

use super::{expect_err, f32_bytes, small_gguf};
use crate::formats::{GgufFile, GgufWriter, MetaValue};
use crate::quant::GgmlType;

const F: &str = "layout.gguf";

fn find(bytes: &[u8], needle: &[u8]) -> usize {
    bytes.windows(needle.len()).position(|w| w == needle).unwrap()
}

/// Offset of the tensor-table field `skip` bytes after the name `name`.
fn field(bytes: &[u8], name: &str, skip: usize) -> usize {
    find(bytes, name.as_bytes()) + name.len() + skip
}

fn put(bytes: &mut [u8], at: usize, v: &[u8]) {
    bytes[at..at + v.len()].copy_from_slice(v);
}

/// Offsets of small_gguf's 1-D norm.weight (dims u32, ne u64, type u32, offset u64) and of the
/// 2-D tensors'.
const OFFSET_1D: usize = 4 + 8 + 4;
const OFFSET_2D: usize = 4 + 16 + 4;

#[test]
fn valid_files_parse_with_back_to_back_aligned_tensors() {
    let f = GgufFile::parse(&small_gguf(), F).unwrap();
    let offsets: Vec<usize> = f.tensors.iter().map(|t| t.offset - f.tensors[0].offset).collect();
    assert_eq!(offsets, [0, 32, 128]);
}

#[test]
fn duplicate_tensor_names_are_refused() {
    let mut w = GgufWriter::new();
    w.add_tensor("t.a", GgmlType::F32, &[1], f32_bytes(&[1.0])).unwrap();
    w.add_tensor("t.b", GgmlType::F32, &[1], f32_bytes(&[2.0])).unwrap();
    let mut b = w.to_bytes();
    let at = find(&b, b"t.b");
    put(&mut b, at, b"t.a");
    expect_err(GgufFile::parse(&b, F), &[F, "tensor t.a appears twice"]);
}

#[test]
fn duplicate_metadata_keys_are_refused_naming_the_key() {
    let mut w = GgufWriter::new();
    w.add_meta("general.architecture", MetaValue::String("llama".into())).unwrap();
    w.add_meta("general.architecturf", MetaValue::String("qwen2".into())).unwrap();
    let mut b = w.to_bytes();
    let at = find(&b, b"general.architecturf");
    put(&mut b, at, b"general.architecture");
    expect_err(GgufFile::parse(&b, F), &[F, "metadata key general.architecture appears twice"]);
}

#[test]
fn overlapping_zero_and_misaligned_offsets_are_refused() {
    let good = small_gguf();
    // token_embd.weight moved onto norm.weight: overlap.
    let mut b = good.clone();
    put(&mut b, field(&good, "token_embd.weight", OFFSET_2D), &0u64.to_le_bytes());
    expect_err(GgufFile::parse(&b, F), &[F, "token_embd.weight", "overlaps"]);
    // Every offset zero.
    let mut b = good.clone();
    for (name, skip) in [("norm.weight", OFFSET_1D), ("token_embd.weight", OFFSET_2D), ("blk.0.attn_k.weight", OFFSET_2D)] {
        put(&mut b, field(&good, name, skip), &0u64.to_le_bytes());
    }
    expect_err(GgufFile::parse(&b, F), &[F, "token_embd.weight", "overlaps"]);
    // An offset inside the data but off the 32-byte alignment.
    let mut b = good.clone();
    put(&mut b, field(&good, "token_embd.weight", OFFSET_2D), &40u64.to_le_bytes());
    expect_err(GgufFile::parse(&b, F), &[F, "token_embd.weight", "offset 40", "not a multiple of the alignment 32"]);
    // Aligned but after a gap.
    let mut b = good.clone();
    put(&mut b, field(&good, "token_embd.weight", OFFSET_2D), &64u64.to_le_bytes());
    expect_err(GgufFile::parse(&b, F), &[F, "token_embd.weight", "gap"]);
}

#[test]
fn a_type_label_whose_size_does_not_match_the_data_is_refused() {
    let good = small_gguf();
    // token_embd.weight Q8_0 (68 bytes) relabelled Q4_0 (36): the next tensor is not where the
    // table says the data ends.
    let mut b = good.clone();
    put(&mut b, field(&good, "token_embd.weight", 4 + 16), &(GgmlType::Q4_0 as u32).to_le_bytes());
    expect_err(GgufFile::parse(&b, F), &[F, "blk.0.attn_k.weight", "gap"]);
    // blk.0.attn_k.weight Q4_1 (40 bytes) relabelled F32 (256) grows beyond the file.
    let mut b = good.clone();
    put(&mut b, field(&good, "blk.0.attn_k.weight", 4 + 16), &(GgmlType::F32 as u32).to_le_bytes());
    expect_err(GgufFile::parse(&b, F), &[F, "blk.0.attn_k.weight", "beyond the end"]);
    // Extra data after the last tensor (more than one alignment's padding).
    let mut b = good.clone();
    b.extend_from_slice(&[0; 32]);
    expect_err(GgufFile::parse(&b, F), &[F, "32 bytes follow the data of the last tensor blk.0.attn_k.weight"]);
    // A type id ggml does not define.
    let mut b = good.clone();
    put(&mut b, field(&good, "norm.weight", 4 + 8), &99u32.to_le_bytes());
    expect_err(GgufFile::parse(&b, F), &[F, "norm.weight", "unknown ggml type id 99"]);
}

#[test]
fn counts_beyond_what_the_file_can_hold_are_refused_before_reading() {
    let good = small_gguf();
    for (at, count) in [(8, 3_040_280_576u64), (8, u64::MAX), (16, 1 << 40)] {
        let mut b = good.clone();
        put(&mut b, at, &count.to_le_bytes());
        expect_err(GgufFile::parse(&b, F), &[F, "the header announces", "corrupt or truncated"]);
    }
}

#[test]
fn metadata_arrays_are_bounded_by_their_element_size() {
    // An array of 8 u64 claims 64 bytes; 40 are there.
    let mut w = GgufWriter::new();
    w.add_meta("a", MetaValue::Array(vec![MetaValue::U64(1); 5])).unwrap();
    let mut b = w.to_bytes();
    let at = field(&b, "a", 4 + 4);
    put(&mut b, at, &8u64.to_le_bytes());
    expect_err(GgufFile::parse(&b, F), &[F, "metadata a", "longer than the file"]);
}
