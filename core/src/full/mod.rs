//! Full fine-tuning (issue #13, item 2): every parameter of a float base is trained.
//!
//! The linears plug into the model's [`crate::model::linear::Adapter`] seam without a second
//! copy of W: the model's own weight is the trained f32 matrix, so its frozen path already
//! computes `y = x·Wᵀ` and `dx = dy·W` with the current values; [`FullLinears`] adds nothing to
//! the forward and accumulates `dW += dyᵀ·x` in the backward
//! ([`crate::ops::weight_grads::linear_dw`]). Backward runs down to layer 0.

mod linears;

pub use linears::FullLinears;
