//! The GPU runtime: adapter and device ([`Gpu`]), f32 tensors ([`GpuTensor`]), the WGSL kernel
//! table and pipeline cache ([`kernels`]), recording dispatches into one command encoder
//! ([`Recorder`]) and async readbacks ([`readback`]); wgpu errors and buffers over the adapter's
//! limits become errors returned by the next readback ([`Gpu::take_error`]).
//!
//! Work is recorded, never executed per op: an op pushes dispatches into a [`Recorder`];
//! the caller submits once and reads back only what it needs (logits, the loss).
//!
//! Layers, each using only those above it: `errors`, `profile` (state), `kernels`, `family`
//! (which kernel family a device runs) → `context`
//! ([`Gpu`]) → `timestamps` → `recorder` → `readback` → `tensor`, `profile_read`.

mod context;
mod errors;
mod family;
pub mod kernels;
mod params_arena;
mod profile;
mod profile_read;
pub mod readback;
mod recorder;
mod tensor;
mod timestamps;

pub use context::{AdapterReport, Gpu, GpuFeatures, GpuOptions};
pub use family::KernelFamily;
pub use kernels::Kernel;
pub use profile::KernelTime;
pub use recorder::{Recorder, grid_1d};
pub use tensor::GpuTensor;
