//! A frozen linear layer with an optional adapter, forward and backward side by side — the one
//! seam where LoRA (and later DoRA or full fine-tuning) plugs into a model:
//!
//! ```text
//! forward:   y  = x · Wᵀ (+ b)               frozen, W in its stored format (qmatmul)
//!            adapter.forward(base, x, y)     y += the adapter's term (it sees the base output
//!                                            and the frozen linear itself, as DoRA needs)
//! backward:  dx (+)= dy · W                  frozen: no weight gradient of the base
//!            adapter.backward(base, x, dy, dx)  dx += its input gradient; its own gradients +=
//! ```
//! The model knows only the [`Adapter`] trait; `crate::lora` implements it.

use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::names::LayerTensor;
use crate::model::ModelConfig;
use crate::ops::qmatmul;
use crate::weights::Weight;

/// A linear layer of a block (the seven of a Llama-family block; adapters attach to them). Shapes: C = dim, H = heads,
/// KVH = key/value heads, D = head_dim, F = ffn_dim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `q_proj`: C → H·D.
    Q,
    /// `k_proj`: C → KVH·D.
    K,
    /// `v_proj`: C → KVH·D.
    V,
    /// `o_proj`: H·D → C.
    O,
    /// `gate_proj`: C → F.
    Gate,
    /// `up_proj`: C → F.
    Up,
    /// `down_proj`: F → C.
    Down,
}

impl Target {
    /// All seven, in block order (PEFT's `all-linear` for Llama-family models).
    pub const ALL: [Target; 7] = [
        Target::Q,
        Target::K,
        Target::V,
        Target::O,
        Target::Gate,
        Target::Up,
        Target::Down,
    ];

    /// Position in [`Target::ALL`] (slot index in per-layer arrays).
    pub fn index(self) -> usize {
        self as usize
    }

    /// PEFT / Hugging Face module name: `q_proj`, …, `down_proj`.
    pub fn peft_name(self) -> &'static str {
        match self {
            Target::Q => "q_proj",
            Target::K => "k_proj",
            Target::V => "v_proj",
            Target::O => "o_proj",
            Target::Gate => "gate_proj",
            Target::Up => "up_proj",
            Target::Down => "down_proj",
        }
    }

    /// The target called `name` (`q_proj`, …).
    pub fn from_peft_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.peft_name() == name)
    }

    /// The base weight it adapts (for tensor names in either format).
    pub fn layer_tensor(self) -> LayerTensor {
        match self {
            Target::Q => LayerTensor::Q,
            Target::K => LayerTensor::K,
            Target::V => LayerTensor::V,
            Target::O => LayerTensor::O,
            Target::Gate => LayerTensor::Gate,
            Target::Up => LayerTensor::Up,
            Target::Down => LayerTensor::Down,
        }
    }

    /// `(in_features, out_features)` of the base linear layer in `model`.
    pub fn features(self, model: &ModelConfig) -> (usize, usize) {
        let (c, f) = (model.dim, model.ffn_dim);
        let (q, kv) = (
            model.n_heads * model.head_dim,
            model.n_kv_heads * model.head_dim,
        );
        match self {
            Target::Q => (c, q),
            Target::K | Target::V => (c, kv),
            Target::O => (q, c),
            Target::Gate | Target::Up => (c, f),
            Target::Down => (f, c),
        }
    }
}

/// Where a linear sits: its block and which of the block's linears.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Site {
    pub layer: usize,
    pub target: Target,
}

/// A parameter outside the linears, for adapters that train it (full fine-tuning): the hooks
/// [`Adapter::norm_backward`], [`Adapter::head_backward`], [`Adapter::embedding_backward`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Norm {
    /// Block `layer`'s norm before attention.
    Attn(usize),
    /// Block `layer`'s norm before the MLP.
    Ffn(usize),
    /// Block `layer`'s per-head RMSNorm of the queries, `(D)` over `B·T·H` rows (Qwen3, Gemma 3).
    Q(usize),
    /// Block `layer`'s per-head RMSNorm of the keys, `(D)` over `B·T·KVH` rows.
    K(usize),
    /// Gemma 3: block `layer`'s norm of the attention output, before the residual add.
    PostAttn(usize),
    /// Gemma 3: block `layer`'s norm of the MLP output, before the residual add.
    PostFfn(usize),
    /// The final norm.
    Output,
}

/// An adapter's view of one pass (forward, or forward then backward) over `rows` tokens: it owns
/// whatever it saves between the two (LoRA's `u = x·Aᵀ`), so the model allocates nothing for it.
pub trait Adapter {
    /// Whether `site` is adapted.
    fn adapts(&self, site: Site) -> bool;
    /// The lowest adapted layer (backward stops there: nothing below has a gradient).
    fn lowest_layer(&self) -> Option<usize>;
    /// `y += adapter(x)` for the frozen linear `base` (its site, weight and bias); on entry `y`
    /// holds the base output `x·Wᵀ (+ b)`.
    ///
    /// # Shapes
    /// `x`: (R, in), `y`: (R, out).
    fn forward(&self, rec: &mut Recorder, base: &Linear<'_>, x: &GpuTensor, y: &GpuTensor) -> Result<()>;
    /// Whether [`Adapter::forward`] at `site` only adds its term to `y` and reads nothing of
    /// it (LoRA), so the base product may go straight into a tensor that holds other values
    /// (the residual stream, [`Linear::forward_add`]). False by default: DoRA rescales `y`.
    fn adds_to_output(&self, _site: Site) -> bool {
        false
    }
    /// `dx += ∂adapter/∂x · dy` and the adapter's parameter gradients `+=`.
    ///
    /// # Shapes
    /// `x`: (R, in) as in the forward, `dy`: (R, out), `dx`: (R, in).
    fn backward(&self, rec: &mut Recorder, base: &Linear<'_>, x: &GpuTensor, dy: &GpuTensor, dx: &GpuTensor) -> Result<()>;
    /// Called in the backward pass of RMSNorm `norm` with its input `x` (R, C), saved `rstd` (R)
    /// and output gradient `dy` (R, C) — per-head norms: (R·H, D), (R·H), (R·H, D); the default
    /// does nothing (the norm weight is frozen).
    fn norm_backward(&self, _rec: &mut Recorder, _norm: Norm, _x: &GpuTensor, _rstd: &GpuTensor, _dy: &GpuTensor) -> Result<()> {
        Ok(())
    }
    /// Called by the loss head with the final-normed `rows` (n, C) and their `dlogits` (n, V);
    /// the default does nothing (the lm_head is frozen).
    fn head_backward(&self, _rec: &mut Recorder, _rows: &GpuTensor, _dlogits: &GpuTensor) -> Result<()> {
        Ok(())
    }
    /// Called after the lowest layer's backward with the batch's token `ids`, the gradient of
    /// the embedding output `d_embed` (R, C) and the forward's embedding `scale`; the default
    /// does nothing (the embedding is frozen).
    fn embedding_backward(&self, _rec: &mut Recorder, _ids: &[u32], _d_embed: &GpuTensor, _scale: f32) -> Result<()> {
        Ok(())
    }
}

/// An adapter's weights on the GPU, applied at inference (generation, scoring, evaluation).
/// Send + Sync natively, like the GPU buffers it holds (not on wasm, where they are not).
pub trait AdapterWeights: wgpu::WasmNotSendSync {
    /// The adapter for one inference pass over `rows` tokens, its scratch allocated here.
    fn inference<'a>(&'a self, gpu: &Gpu, rows: usize) -> Box<dyn Adapter + 'a>;
    /// One line for `anytune info`: kind, rank, scale, adapted linears, parameters.
    fn describe(&self) -> String;
}

/// Where a linear's output goes: written into a tensor, or added to one (the residual stream),
/// with a scratch tensor for an adapter that needs the output alone ([`Linear::forward_add`]).
#[derive(Clone, Copy)]
pub enum Output<'a> {
    Write(&'a GpuTensor),
    Add { to: &'a GpuTensor, scratch: &'a GpuTensor },
}

/// A frozen linear layer: a stored-format weight `(out, in)` and an optional f32 bias `(out)`.
#[derive(Clone, Copy)]
pub struct Linear<'w> {
    pub weight: &'w Weight,
    pub bias: Option<&'w GpuTensor>,
    pub site: Site,
}

impl Linear<'_> {
    /// Records `y = x·Wᵀ (+ b)`, then the adapter's term if it adapts this linear.
    ///
    /// # Shapes
    /// `x`: (R, in), `y`: (R, out) (written).
    pub fn forward(&self, rec: &mut Recorder, x: &GpuTensor, y: &GpuTensor, adapter: Option<&dyn Adapter>) -> Result<()> {
        qmatmul::qmatmul_forward(rec, x, self.weight, self.bias, y)?;
        match adapter {
            Some(a) if a.adapts(self.site) => a.forward(rec, self, x, y),
            _ => Ok(()),
        }
    }

    /// [`Linear::forward`] or [`Linear::forward_add`], as `out` says.
    pub fn forward_to(&self, rec: &mut Recorder, x: &GpuTensor, out: Output, adapter: Option<&dyn Adapter>) -> Result<()> {
        match out {
            Output::Write(y) => self.forward(rec, x, y, adapter),
            Output::Add { to, scratch } => self.forward_add(rec, x, to, scratch, adapter),
        }
    }

    /// Records `y += x·Wᵀ (+ b) + adapter(x)`: the product added to `y` in the kernel's epilogue
    /// (no add of its own) where the adapter only adds its term ([`Adapter::adds_to_output`]);
    /// else written into `scratch`, then added.
    ///
    /// # Shapes
    /// `x`: (R, in), `y`, `scratch`: (R, out).
    pub fn forward_add(&self, rec: &mut Recorder, x: &GpuTensor, y: &GpuTensor, scratch: &GpuTensor, adapter: Option<&dyn Adapter>) -> Result<()> {
        let adapted = adapter.filter(|a| a.adapts(self.site));
        match adapted {
            Some(a) if !a.adds_to_output(self.site) => {
                self.forward(rec, x, scratch, adapter)?;
                crate::ops::add::add_forward(rec, y, scratch);
                Ok(())
            }
            _ => {
                qmatmul::qmatmul_forward_add(rec, x, self.weight, self.bias, y)?;
                adapted.map_or(Ok(()), |a| a.forward(rec, self, x, y))
            }
        }
    }

    /// Records `dx (+)= dy·W` (added when `accumulate`, else written), then the adapter's input
    /// gradient and parameter gradients. `x` is the forward's input.
    ///
    /// # Shapes
    /// `x`: (R, in), `dy`: (R, out), `dx`: (R, in).
    pub fn backward(
        &self,
        rec: &mut Recorder,
        x: &GpuTensor,
        dy: &GpuTensor,
        dx: &GpuTensor,
        accumulate: bool,
        adapter: Option<&dyn Adapter>,
    ) -> Result<()> {
        qmatmul::qmatmul_backward_input(rec, dy, self.weight, dx, accumulate)?;
        match adapter {
            Some(a) if a.adapts(self.site) => a.backward(rec, self, x, dy, dx),
            _ => Ok(()),
        }
    }
}
