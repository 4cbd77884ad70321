//! The MLP half of a block, shared by every architecture: gate and up projections, a gated
//! activation (SwiGLU for Llama/Qwen, GeGLU with tanh GELU for Gemma 3) and the down
//! projection — forward and backward side by side.
//!
//! ```text
//! forward (xn (R, C))                       backward (dout: gradient of `out`)
//!   gate, up = xn·Wᵀ                           dh = dout·Wdown
//!   h = act(gate) ⊙ up                         dgate, dup = glu_backward(dh)
//!   out = h·Wdownᵀ                             dxn = dgate·Wgate + dup·Wup
//! ```

use super::Model;
use super::attention::linear;
use super::linear::{Adapter, Output, Target};
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder};
use crate::ops::swiglu::{Glu, glu_backward, glu_forward};

crate::buffer_table! {
    /// What the MLP half writes in the forward pass.
    pub struct MlpActs(s) {
        gate: always [s.rows, s.f] as f16,
        up: always [s.rows, s.f] as f16,
        /// One for all layers: rebuilt from gate and up before a layer's backward ([`rebuild`]).
        h: shared [s.rows, s.f],
    }
}

crate::buffer_table! {
    /// Gradient buffers of the MLP half (one set reused by every layer).
    pub struct MlpGrads(s) {
        dh: always [s.rows, s.f],
        dgate: always [s.rows, s.f],
        dup: always [s.rows, s.f],
    }
}

/// Records `out = (act(xn·Wgateᵀ) ⊙ xn·Wupᵀ)·Wdownᵀ` (or `out +=`, [`Output`]) of block `layer`.
///
/// # Shapes
/// `xn`, `out`: (R, C).
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    model: &Model,
    rec: &mut Recorder,
    layer: usize,
    m: &MlpActs,
    act: Glu,
    xn: &GpuTensor,
    out: Output,
    adapter: Option<&dyn Adapter>,
) -> Result<()> {
    let lin = |t| linear(&model.weights.layers[layer], layer, t);
    lin(Target::Gate).forward(rec, xn, &m.gate, adapter)?;
    lin(Target::Up).forward(rec, xn, &m.up, adapter)?;
    glu_forward(rec, act, &m.gate, &m.up, &m.h)?;
    lin(Target::Down).forward_to(rec, &m.h, out, adapter)
}

/// Records `h = act(gate) ⊙ up` again from the saved gate and up (the shared `h` holds another
/// layer's before this one's backward).
pub(super) fn rebuild(rec: &mut Recorder, m: &MlpActs, act: Glu) -> Result<()> {
    glu_forward(rec, act, &m.gate, &m.up, &m.h)
}

/// Records the backward pass of [`forward`] from `dout`, writing the gradient of `xn` into `dxn`.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    model: &Model,
    rec: &mut Recorder,
    layer: usize,
    m: &MlpActs,
    act: Glu,
    xn: &GpuTensor,
    dout: &GpuTensor,
    g: &MlpGrads,
    dxn: &GpuTensor,
    adapter: Option<&dyn Adapter>,
) -> Result<()> {
    let lin = |t| linear(&model.weights.layers[layer], layer, t);
    lin(Target::Down).backward(rec, &m.h, dout, &g.dh, false, adapter)?;
    glu_backward(rec, act, &m.gate, &m.up, &g.dh, &g.dgate, &g.dup)?;
    lin(Target::Gate).backward(rec, xn, &g.dgate, dxn, false, adapter)?;
    lin(Target::Up).backward(rec, xn, &g.dup, dxn, true, adapter)
}
