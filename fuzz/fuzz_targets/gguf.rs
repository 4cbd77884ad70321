//! GGUF model files: the header, metadata and tensor table ([`GgufFile::parse`]), then what
//! loading a model reads from them: the hyper-parameters, the tokenizer and the chat template.
#![no_main]

use anytune_core::chat::ChatTemplate;
use anytune_core::formats::GgufFile;
use anytune_core::model::ModelConfig;
use anytune_core::tokenizer::Tokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(gguf) = GgufFile::parse(data, "fuzz.gguf") else { return };
    let _ = ModelConfig::from_gguf(&gguf);
    if let Ok(tok) = Tokenizer::from_gguf(&gguf.metadata, "fuzz.gguf")
        && let Some(t) = &tok.chat_template
    {
        let _ = ChatTemplate::from_source(t);
    }
});
