//! Model file formats: GGUF and safetensors (single or sharded), read from bytes in memory
//! so the same code runs natively and in the browser.

pub mod meta;
