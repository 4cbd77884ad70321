//! Dataset files through [`prepare`] (container and shape detection, row validation,
//! tokenization, chat rendering, truncation, splitting, packing) with the tiny tokenizer and a
//! ChatML template. The first byte picks the file name and the options (see [`options`]); the
//! rest is the file.
#![no_main]

use anytune_core::data::{DataConfig, DataFile, prepare, template_renderer};
use libfuzzer_sys::fuzz_target;

/// Bits 0-1: extension (.jsonl .json .txt .csv); bit 2 skip_bad_rows; bit 3
/// train_on_everything; bit 4 pack; bit 5 val_split 0.25; bits 6-7 max_seq_len 512, 16, 2, 64.
fn options(b: u8) -> (&'static str, DataConfig) {
    let name = ["data.jsonl", "data.json", "data.txt", "data.csv"][(b & 3) as usize];
    let cfg = DataConfig {
        skip_bad_rows: b & 4 != 0,
        train_on_everything: b & 8 != 0,
        pack: b & 16 != 0,
        val_split: if b & 32 != 0 { 0.25 } else { 0.0 },
        max_seq_len: [512, 16, 2, 64][(b >> 6) as usize],
        seed: 0,
        ..DataConfig::default()
    };
    (name, cfg)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else { return };
    let (name, cfg) = options(first);
    let tok = anytune_fuzz::tiny_tokenizer();
    let render = template_renderer(anytune_fuzz::chatml(), tok);
    let _ = prepare(DataFile { bytes, name }, None, tok, Some(&render), &cfg);
});
