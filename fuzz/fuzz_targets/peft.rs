//! PEFT adapters: `adapter_config.json` ([`parse_peft_config`]) and, after the first NUL byte,
//! `adapter_model.safetensors` ([`LoraWeights::from_peft`]), checked against the tiny shape.
#![no_main]

use anytune_core::lora::{LoraWeights, parse_peft_config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (config, weights) = anytune_fuzz::split2(data);
    let config = String::from_utf8_lossy(config);
    let _ = parse_peft_config(&config);
    if let Ok(w) = LoraWeights::from_peft(&config, weights) {
        let _ = w.check_model(&anytune_fuzz::tiny_model(), "adapter_model.safetensors");
    }
});
