//! Bad GGUF input: truncated at every section, wrong version, unsupported or out-of-file
//! tensors, absurd counts. Each must be an `Err` naming the file.

use super::{expect_err, small_gguf};
use crate::formats::{GgufFile, GgufWriter, MetaValue};
use crate::quant::GgmlType;

const F: &str = "bad.gguf";

/// Offset of the first occurrence of `needle`.
fn find(bytes: &[u8], needle: &[u8]) -> usize {
    bytes.windows(needle.len()).position(|w| w == needle).unwrap()
}

/// Offset of the field just after the string `s` (GGUF strings are u64 length + bytes).
fn after(bytes: &[u8], s: &str) -> usize {
    find(bytes, s.as_bytes()) + s.len()
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn gguf_truncated_in_each_section() {
    let bytes = small_gguf();
    let table = find(&bytes, b"norm.weight") - 8;
    let data = GgufFile::parse(&bytes, F).unwrap().tensors[0].offset;
    for (cut, section) in [
        (0, "empty"),
        (3, "magic"),
        (6, "version"),
        (20, "header counts"),
        (30, "metadata key"),
        (after(&bytes, "llama.block_count") + 2, "metadata value"),
        (after(&bytes, "tokenizer.ggml.tokens") + 14, "metadata array"),
        (table + 5, "tensor name"),
        (after(&bytes, "token_embd.weight") + 10, "tensor dims"),
        (data - 1, "padding before data"),
        (data + 7, "tensor data"),
        (bytes.len() - 1, "last tensor's data"),
    ] {
        let r = GgufFile::parse(&bytes[..cut], F);
        let msg = expect_err(r, &[F]);
        println!("cut at {cut} ({section}): {msg}");
    }
    expect_err(GgufFile::parse(&bytes[..bytes.len() - 1], F), &[F, "blk.0.attn_k.weight", "truncated"]);
}

#[test]
fn gguf_wrong_magic_and_version() {
    let mut bytes = small_gguf();
    for v in [0, 1, 4, u32::MAX] {
        put_u32(&mut bytes, 4, v);
        expect_err(GgufFile::parse(&bytes, F), &[F, &format!("version {v}")]);
    }
    bytes[..4].copy_from_slice(b"GGUX");
    expect_err(GgufFile::parse(&bytes, F), &[F, "not a GGUF file"]);
}

#[test]
fn gguf_unsupported_tensor_type_fails_only_when_used() {
    let mut bytes = small_gguf();
    // name, n_dims u32, ne[0] u64, ne[1] u64, then the type id.
    let ty_at = after(&bytes, "blk.0.attn_k.weight") + 4 + 16;
    // IQ4_NL: a known ggml layout (32 values in 18 bytes) that anytune does not compute with;
    // the last tensor's 36 bytes leave 4 of its 40, which padding may hold.
    put_u32(&mut bytes, ty_at, 20);
    let f = GgufFile::parse(&bytes, F).unwrap();
    let t = f.tensor("blk.0.attn_k.weight").unwrap();
    assert_eq!(t.shape, vec![1, 64]);
    expect_err(t.ty(F), &[F, "blk.0.attn_k.weight", "IQ4_NL", "not supported"]);
    assert_eq!(f.tensor("token_embd.weight").unwrap().ty(F).unwrap(), GgmlType::Q8_0);
}

#[test]
fn gguf_tensor_beyond_end_of_file() {
    let mut bytes = small_gguf();
    let off_at = after(&bytes, "token_embd.weight") + 4 + 16 + 4;
    for off in [10_000, u64::MAX - 3, 1 << 62] {
        put_u64(&mut bytes, off_at, off);
        expect_err(GgufFile::parse(&bytes, F), &[F, "token_embd.weight", "beyond the end"]);
    }
}

#[test]
fn gguf_bad_tensor_table_entries() {
    let bytes = small_gguf();
    let at = after(&bytes, "token_embd.weight");
    let mut b = bytes.clone();
    put_u32(&mut b, at, 5);
    expect_err(GgufFile::parse(&b, F), &[F, "token_embd.weight", "5 dimensions"]);
    let mut b = bytes.clone();
    put_u64(&mut b, at + 4, 33);
    expect_err(GgufFile::parse(&b, F), &[F, "token_embd.weight", "blocks"]);
    let mut b = bytes.clone();
    put_u64(&mut b, at + 4, 1 << 62);
    put_u64(&mut b, at + 12, 1 << 62);
    expect_err(GgufFile::parse(&b, F), &[F, "token_embd.weight", "overflows"]);
    // One huge dimension whose byte size overflows although the element count does not.
    let mut b = bytes.clone();
    put_u64(&mut b, at + 4, (usize::MAX / 32 * 32) as u64);
    put_u64(&mut b, at + 12, 1);
    expect_err(GgufFile::parse(&b, F), &[F, "token_embd.weight"]);
    let mut b = bytes.clone();
    put_u64(&mut b, 8, u64::MAX); // tensor count: reads on into the data, then fails
    expect_err(GgufFile::parse(&b, F), &[F]);
}

#[test]
fn gguf_bad_metadata() {
    let bytes = small_gguf();
    // Array of strings: key, type 9, element type, count.
    let mut b = bytes.clone();
    put_u64(&mut b, after(&bytes, "tokenizer.ggml.tokens") + 8, 1 << 40);
    expect_err(GgufFile::parse(&b, F), &[F, "tokenizer.ggml.tokens", "longer than the file"]);
    let mut b = bytes.clone();
    put_u32(&mut b, after(&bytes, "llama.block_count"), 99);
    expect_err(GgufFile::parse(&b, F), &[F, "llama.block_count", "unknown value type 99"]);
    let mut b = bytes.clone();
    let key = find(&bytes, b"llama.block_count");
    b[key] = 0xff;
    expect_err(GgufFile::parse(&b, F), &[F, "UTF-8"]);
    let mut b = bytes.clone();
    put_u64(&mut b, 16, u64::MAX); // metadata count
    expect_err(GgufFile::parse(&b, F), &[F, "metadata entries", "corrupt or truncated"]);

    let mut w = GgufWriter::new();
    w.add_meta("general.alignment", MetaValue::U32(64)).unwrap();
    let mut b = w.to_bytes();
    let at = after(&b, "general.alignment") + 4;
    for bad in [0, 48, 1 << 31] {
        put_u32(&mut b, at, bad);
        let r = GgufFile::parse(&b, F);
        if bad == 1 << 31 {
            // A huge power of two is legal; it must not panic either way.
            let _ = r;
        } else {
            expect_err(r, &[F, "general.alignment"]);
        }
    }
}

#[test]
fn gguf_deeply_nested_array_is_refused_without_overflowing_the_stack() {
    let depth = 200_000;
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&4u64.to_le_bytes());
    b.extend_from_slice(b"deep");
    b.extend_from_slice(&9u32.to_le_bytes());
    for _ in 0..depth {
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
    }
    expect_err(GgufFile::parse(&b, F), &[F, "deep", "nested"]);
}
