//! Model file formats: GGUF and safetensors (single or sharded), read from bytes in memory
//! so the same code runs natively and in the browser.

pub mod gguf;
pub mod meta;
pub mod tensor_info;

pub use gguf::GgufFile;
pub use meta::{MetaValue, Metadata};
pub use tensor_info::TensorInfo;
