//! safetensors files: [`SafetensorsFile::parse`], then the Hugging Face folder detection
//! ([`ModelFormat::detect`]) with the input as `model.safetensors` beside the tiny fixture's
//! config and tokenizer files, and the model config it yields. An input starting with `{` is
//! also read as a `model.safetensors.index.json`.
#![no_main]

use anytune_core::formats::{ModelFiles, ModelFormat, SafetensorsFile, parse_index};
use anytune_core::model::ModelConfig;
use anytune_fuzz::{CONFIG_JSON, TOKENIZER_CONFIG_JSON, TOKENIZER_JSON};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{')
        && let Ok(text) = std::str::from_utf8(data)
    {
        let _ = parse_index(text, "model.safetensors.index.json");
    }
    if SafetensorsFile::parse(data, "model.safetensors").is_err() {
        return;
    }
    let mut files = ModelFiles::new();
    files.add("config.json", CONFIG_JSON.to_vec());
    files.add("tokenizer.json", TOKENIZER_JSON.to_vec());
    files.add("tokenizer_config.json", TOKENIZER_CONFIG_JSON.to_vec());
    files.add("model.safetensors", data.to_vec());
    if let Ok(ModelFormat::HuggingFace(hf)) = ModelFormat::detect(&files) {
        let _ = ModelConfig::from_hf(&hf.config, "config.json");
    }
});
