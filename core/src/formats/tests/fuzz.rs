//! Fuzz-like loops: truncate and mutate small valid files at every offset; the parsers must
//! return (Ok or an Err naming the file) and never panic. Fast: a few thousand parses of
//! files of a few hundred bytes.

use super::hf_config::SMOLLM2;
use super::{f32_bytes, pattern, safetensors_bytes, small_gguf};
use crate::formats::{GgufFile, ModelFiles, ModelFormat, SafetensorsFile};
use crate::testing::Rng;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `parse` on `bytes`, failing with `what` if it panics or gives an error that does not
/// name `file`.
fn check(what: &str, file: &str, bytes: &[u8], parse: &dyn Fn(&[u8]) -> Result<(), crate::Error>) {
    match catch_unwind(AssertUnwindSafe(|| parse(bytes))) {
        Err(_) => panic!("{what}: the parser panicked"),
        Ok(Err(e)) => assert!(e.to_string().contains(file), "{what}: error {e} does not name {file}"),
        Ok(Ok(())) => {}
    }
}

/// Every truncation, single-byte mutations at every offset, and random multi-byte mutations.
fn fuzz(file: &str, good: &[u8], parse: &dyn Fn(&[u8]) -> Result<(), crate::Error>) {
    parse(good).unwrap();
    for cut in 0..good.len() {
        check(&format!("{file} cut at {cut}"), file, &good[..cut], parse);
    }
    for at in 0..good.len() {
        for v in [0u8, 0xff, 0x80, 0x7f, good[at].wrapping_add(1), good[at].wrapping_sub(1)] {
            let mut b = good.to_vec();
            b[at] = v;
            check(&format!("{file} byte {at} = {v:#x}"), file, &b, parse);
        }
    }
    let mut rng = Rng::new(7);
    for round in 0..2000 {
        let mut b = good.to_vec();
        for _ in 0..1 + rng.next_u64() % 4 {
            let at = (rng.next_u64() % b.len() as u64) as usize;
            b[at] = rng.next_u64() as u8;
        }
        check(&format!("{file} random round {round}"), file, &b, parse);
    }
}

/// Parses, then touches every tensor as a model loader would.
fn parse_gguf(bytes: &[u8]) -> crate::Result<()> {
    let f = GgufFile::parse(bytes, "f.gguf")?;
    for t in &f.tensors {
        if t.ty("f.gguf").is_ok() {
            let _ = t.bytes(bytes);
        }
    }
    Ok(())
}

#[test]
fn fuzz_gguf_truncate_and_mutate() {
    fuzz("f.gguf", &small_gguf(), &parse_gguf);
}

#[test]
fn fuzz_safetensors_truncate_and_mutate() {
    let good = safetensors_bytes(&[
        ("a", "F32", &[2, 2], f32_bytes(&[1.0, 2.0, 3.0, 4.0])),
        ("b", "BF16", &[3], pattern(6)),
        ("c", "I64", &[1], pattern(8)),
    ]);
    fuzz("f.safetensors", &good, &|bytes| {
        let f = SafetensorsFile::parse(bytes, "f.safetensors")?;
        for t in &f.tensors {
            let _ = t.ty("f.safetensors");
            let _ = t.bytes(bytes);
        }
        Ok(())
    });
}

#[test]
fn fuzz_detect_hf_folder() {
    let st = safetensors_bytes(&[("a", "F32", &[2], f32_bytes(&[1.0, 2.0]))]);
    fuzz("model.safetensors", &st, &|bytes| {
        let mut files = ModelFiles::new();
        files.add("model.safetensors", bytes.to_vec());
        files.add("config.json", SMOLLM2.as_bytes().to_vec());
        ModelFormat::detect(&files).map(|_| ())
    });
}
