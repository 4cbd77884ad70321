//! GGUF LoRA adapters ([`LoraWeights::from_gguf`]) for the tiny fixture's shape.
#![no_main]

use anytune_core::lora::LoraWeights;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let model = anytune_fuzz::tiny_model();
    if let Ok(w) = LoraWeights::from_gguf(data, "adapter.gguf", &model) {
        let _ = w.check_model(&model, "adapter.gguf");
    }
});
