//! anytune-core: the platform-neutral core of anytune. It compiles to native and to
//! wasm32-unknown-unknown; the CLI (`native/`) and the web page (`web/`) are thin shells over it.
//!
//! Layers (see ARCHITECTURE.md): [`gpu`] (device, tensors, kernels, recording, readback) →
//! [`ops`] (one forward/backward pair per layer, each with a CPU reference) → [`model`]
//! (config, weights, forward pass, LoRA) → [`generate`] / [`score`]; [`data`] and [`lora`]
//! prepare datasets and adapter files for training. [`formats`] reads model files
//! from bytes; [`tokenizer`] and [`chat`] turn text into ids.

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
pub mod chat;
pub mod compare;
pub mod data;
pub mod error;
pub mod eval;
pub mod export;
pub mod formats;
pub mod full;
pub mod generate;
pub mod gpu;
pub mod head;
pub mod lora;
pub mod model;
pub mod prep;
pub mod ops;
#[cfg(not(target_arch = "wasm32"))]
pub mod peak;
pub mod quant;
pub mod rng;
pub mod sample;
pub mod score;
pub mod sweep;
pub mod testing;
pub mod tokenizer;
pub mod train;
pub mod weights;

pub use error::{Error, Result};
