//! Full fine-tuning (issue #13, item 2): every parameter of a float base is trained.
//!
//! The parameters plug into the model's [`crate::model::linear::Adapter`] seam without a second
//! copy of W: the model's own weights are the trained f32 tensors, so its frozen path already
//! computes `y = x·Wᵀ`, `dx = dy·W` and the norms with the current values; [`FullGrads`] adds
//! nothing to the forward and accumulates every parameter's gradient in the backward through
//! the seam's hooks (linears, `norm_backward`, `head_backward`, `embedding_backward`;
//! kernels in [`crate::ops::weight_grads`]). Backward runs down to layer 0.

mod grads;
mod params;
mod slots;

pub use grads::FullGrads;
pub use params::{FullParams, to_f32};
pub use slots::Slot;
