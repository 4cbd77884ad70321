//! Model file formats: GGUF and safetensors (single or sharded), read from bytes in memory
//! so the same code runs natively and in the browser.

pub mod gguf;
pub mod gguf_layout;
pub mod meta;
pub mod tensor_info;

pub use gguf::GgufFile;
pub use meta::{MetaValue, Metadata};
pub use tensor_info::TensorInfo;
pub mod gguf_write;
pub mod hf_config;
#[cfg(not(target_arch = "wasm32"))]
pub mod path;
pub mod safetensors;
pub mod safetensors_dtype;
pub mod source;
#[cfg(test)]
mod tests;

pub use gguf_write::GgufWriter;
pub use hf_config::{HfConfig, RopeScaling};
#[cfg(not(target_arch = "wasm32"))]
pub use path::read_model_path;
pub use safetensors::{SafetensorsFile, parse_index};
pub use source::{HfModel, ModelFiles, ModelFormat};
pub mod safetensors_write;
