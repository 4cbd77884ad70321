//! One training step of the classification head: the model's forward with saved activations
//! through `adapter` → [`head_forward`] → [`head_backward`] (d_score accumulated, d_hidden into
//! the step's final-hidden gradient) → the model's backward into the adapter's gradients. The
//! lm head is not used. `train::step::record_step` is the causal-LM counterpart.

use super::step::{HeadBuffers, head_backward, head_forward};
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::model::{Adapter, Model};
use crate::ops::embedding::GpuIds;
use crate::train::step::StepBuffers;

/// The head's inputs, weight and buffers for one batch, on the GPU.
pub struct HeadBatch<'a> {
    /// `(B)`: the index in the `(B·T)` rows of each sequence's last real token (`b·T + len − 1`
    /// for right-padded rows; causal attention keeps padding after it from mattering).
    pub last: &'a GpuIds,
    /// `(B)`: each sequence's label index, below L.
    pub labels: &'a GpuIds,
    /// `(L, C)`: the head's weight.
    pub score: &'a GpuTensor,
    /// `(L, C)`: its gradient, accumulated.
    pub d_score: &'a GpuTensor,
    /// The head's activations.
    pub bufs: &'a HeadBuffers,
}

/// Records forward, head loss and backward for `inputs` (row-major `(B, T)`), accumulating
/// the adapter's gradients and `batch.d_score` of the mean loss over the B sequences.
pub fn record_head_step(
    rec: &mut Recorder,
    model: &Model,
    adapter: &dyn Adapter,
    buf: &mut StepBuffers,
    inputs: &[u32],
    batch: &HeadBatch,
) -> Result<()> {
    let (score, hbufs, d_score) = (batch.score, batch.bufs, batch.d_score);
    buf.cache.clear();
    model.forward_into(rec, inputs, &mut buf.cache, Some(adapter), &buf.acts)?;
    head_forward(rec, buf.acts.hidden(), batch.last, score, batch.labels, hbufs)?;
    head_backward(rec, batch.last, score, batch.labels, hbufs, d_score, &buf.head.d_hidden)?;
    model.backward(rec, adapter, &buf.acts, &buf.cache, &buf.head.d_hidden, &buf.grads)
}
