//! anytune-core: the platform-neutral core of anytune. It compiles to native and to
//! wasm32-unknown-unknown; the CLI (`native/`) and the web page (`web/`) are thin shells over it.
//!
//! Layers (see ARCHITECTURE.md): [`gpu`] (device, tensors, kernels, recording, readback) →
//! [`ops`] (one forward/backward pair per layer, each with a CPU reference) → model.

pub mod error;
pub mod formats;
pub mod gpu;
pub mod ops;
pub mod quant;
pub mod rng;
pub mod sample;
pub mod testing;
pub mod weights;
pub mod tokenizer;
pub mod chat;

pub use error::{Error, Result};
#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
