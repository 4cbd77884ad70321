//! Shared pieces of the fuzz targets: how an input is cut into parts, and the tiny test
//! model's tokenizer, chat template and shape (from `tests/fixtures/tiny-llama`), so the
//! targets reach past the parsers into what consumes their output.

use std::sync::OnceLock;

use anytune_core::chat::ChatTemplate;
use anytune_core::model::{Arch, ModelConfig};
use anytune_core::tokenizer::Tokenizer;

/// Separates the parts of a multi-part input (a JSON text never holds a raw NUL).
pub const SEP: u8 = 0;

/// The tiny fixture's tokenizer.json, config.json and tokenizer_config.json.
pub const TOKENIZER_JSON: &[u8] = include_bytes!("../../tests/fixtures/tiny-llama/tokenizer.json");
pub const CONFIG_JSON: &[u8] = include_bytes!("../../tests/fixtures/tiny-llama/config.json");
pub const TOKENIZER_CONFIG_JSON: &[u8] = include_bytes!("../../tests/fixtures/tiny-llama/tokenizer_config.json");

/// A ChatML template like SmolLM2's (the fixtures ship none): the chat_template seed and the
/// dataset target's renderer.
pub const CHATML: &str = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}\
{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// `data` cut at the first [`SEP`]: (before, after); after is empty when there is none.
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == SEP) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// The tiny fixture's tokenizer, loaded once.
pub fn tiny_tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| Tokenizer::from_json(TOKENIZER_JSON, Some(TOKENIZER_CONFIG_JSON)).expect("fixture tokenizer"))
}

/// [`CHATML`] compiled once.
pub fn chatml() -> &'static ChatTemplate {
    static T: OnceLock<ChatTemplate> = OnceLock::new();
    T.get_or_init(|| ChatTemplate::new(CHATML).expect("ChatML template"))
}

/// The shape of the tiny fixture (2 layers, C 64, 4 heads, 2 KV heads).
pub fn tiny_model() -> ModelConfig {
    anytune_core::lora::tests_support::tiny_model(Arch::Llama)
}
