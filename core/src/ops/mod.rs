//! Ops: each file is one layer's `forward` (and, for training, `backward`) pair: a `#[repr(C)]`
//! params struct mirrored in its WGSL kernel, a function that records the dispatch, a plain-loop
//! CPU reference, and GPU tests against that reference on odd shapes.

pub mod add;
pub mod attention;
pub mod attention_backward;
mod attention_chunks;
mod attention_tiled;
pub mod attention_options;
#[cfg(test)]
mod attention_window_tests;
pub mod embedding;
#[cfg(test)]
pub(crate) mod gradcheck;
pub mod matmul;
pub mod matmul_stage;
mod matmul_tex;
pub mod matmul_tiled;
pub mod qmatmul;
mod qmatmul_tiled;
pub mod rmsnorm;
pub mod rope;
pub mod save16;
pub mod swiglu;
pub mod cross_entropy;
pub mod adamw;
pub mod sgd;
pub mod grad_norm;
pub mod dropout;
pub mod argmax;
pub mod weight_grads;
