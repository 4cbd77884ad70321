//! The model-level backward pass, recorded after the training forward pass that saved its
//! [`Activations`]: the head's input gradient, the final norm, then each block's backward from
//! the last layer down to the lowest adapted one (nothing below has a gradient). The base is
//! frozen: dX flows through every op and the [`Adapter`] accumulates its own gradients.
//!
//! ```text
//! d_rows = dlogits · W_lm                       (chunk, C)   Model::logits_backward
//! dx = rmsnorm_backward(d_hidden)               residual gradient (R, C)
//! per layer, last to first:  block_backward(dx)  the architecture's block (llama.rs, …)
//! ```
//! Without recomputation each layer's table is its own except its `shared` rows (normed
//! inputs, the gated activation: one set of buffers for all layers), which are rebuilt from the
//! layer's saved rows before its backward ([`Model::block_rebuild`]); saved in 16 bits
//! ([`super::Saved::AllLayers16`]), the layer's store is unpacked first.
//! With activation recomputation ([`super::Saved::LayerInputs`]) the forward pass kept only
//! each layer's input; before each layer's backward the block is re-run from its input into the
//! one shared block set and the one-layer KV cache (the top layer's are still there from the
//! forward pass). An adapter with training-only randomness (LoRA dropout) must give the re-run
//! the same masks as the forward: LoRA regenerates them from the same key.

use super::blocks::{BlockGrads, BlockIo};
use super::buffers::{BufferSpec, Kept, Shapes};
use super::forward::Activations;
use super::kv_cache::KvCache;
use super::linear::{Adapter, Norm};
use super::Model;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::{qmatmul, rmsnorm};

/// Gradient buffers of one backward pass (reused across layers).
pub struct Grads {
    /// The residual stream's gradient.
    dx: GpuTensor, // (R, C)
    block: BlockGrads,
}

impl Grads {
    /// Buffers for `batch × t` tokens.
    pub fn new(gpu: &Gpu, model: &Model, batch: usize, t: usize) -> Grads {
        let s = Shapes::new(&model.config, batch, t);
        Grads { dx: GpuTensor::zeros(gpu, &[s.rows, s.c]), block: BlockGrads::new(gpu, &model.config, &s) }
    }

    /// What [`Grads::new`] allocates.
    pub fn specs(model: &super::ModelConfig, batch: usize, t: usize) -> Vec<BufferSpec> {
        let s = Shapes::new(model, batch, t);
        let mut specs = vec![BufferSpec::new("dx", vec![s.rows, s.c], Kept::Training)];
        specs.extend(BlockGrads::specs(model, &s));
        specs
    }
}

/// A buffer that only a training forward pass keeps, or the error that says backward needs one.
pub(super) fn saved(buffer: &Option<GpuTensor>) -> Result<&GpuTensor> {
    buffer.as_ref().ok_or_else(|| Error::invalid("activations", "backward needs the activations of a training forward pass"))
}

impl Model {
    /// Records `d_rows = dlogits · W_lm`: the gradient of the hidden rows whose logits the loss
    /// head took (`d_rows` written).
    ///
    /// # Shapes
    /// `dlogits`: (n, V), `d_rows`: (n, C).
    pub fn logits_backward(&self, rec: &mut Recorder, dlogits: &GpuTensor, d_rows: &GpuTensor) -> Result<()> {
        qmatmul::qmatmul_backward_input(rec, dlogits, self.weights.lm_head(), d_rows, false)
    }

    /// Records the backward pass from `d_hidden` (R, C), the gradient of the loss with respect
    /// to the final-normed hidden states; `adapter` accumulates its gradients (it must be the
    /// forward's pass). `acts` and `cache` are those of the training forward pass
    /// ([`super::Saved::AllLayers`] and a cache of capacity T holding each layer's keys and values,
    /// or [`super::Saved::LayerInputs`] and a one-layer [`KvCache::with_layers`]).
    pub fn backward(
        &self,
        rec: &mut Recorder,
        adapter: &dyn Adapter,
        acts: &Activations,
        cache: &KvCache,
        d_hidden: &GpuTensor,
        g: &Grads,
    ) -> Result<()> {
        let Some(lowest) = adapter.lowest_layer() else { return Ok(()) };
        let (w, st) = (&self.weights, &acts.stream);
        adapter.norm_backward(rec, Norm::Output, saved(&st.x_final)?, &st.rstd_final, d_hidden)?;
        rmsnorm::rmsnorm_backward(rec, saved(&st.x_final)?, &w.output_norm, &st.rstd_final, d_hidden, &g.dx, false)?;
        let top = w.layers.len() - 1;
        for layer in (lowest..w.layers.len()).rev() {
            let b = acts.block(layer);
            let io = BlockIo { layer, stream: &st.x, proj: &st.proj, cache, pos0: 0, adapter: Some(adapter) };
            // The top layer's buffers still hold its forward; below it, the shared rows (or,
            // with recomputation, the whole set) hold another layer's.
            if layer != top {
                match acts.layer_inputs.get(layer) {
                    Some(input) => {
                        rec.copy(&input.buffer, 0, &st.x.buffer, 0, input.buffer.size());
                        self.block_forward(rec, b, &io)?;
                    }
                    None => {
                        if let Some(store) = &acts.store16 {
                            store.unpack(rec, b, cache, layer)?;
                        }
                        self.block_rebuild(rec, b, &io)?
                    }
                }
            }
            self.block_backward(rec, b, &g.block, &BlockIo { stream: &g.dx, ..io })?;
        }
        Ok(())
    }

    /// After [`Model::backward`] reached layer 0: hands the embedding output's gradient and the
    /// batch's `ids` to [`Adapter::embedding_backward`] (full fine-tuning's dE).
    pub fn embedding_backward(&self, rec: &mut Recorder, adapter: &dyn Adapter, ids: &[u32], g: &Grads) -> Result<()> {
        if adapter.lowest_layer() != Some(0) {
            return Ok(());
        }
        let scale = super::blocks::embedding_scale(&self.config).unwrap_or(1.0);
        adapter.embedding_backward(rec, ids, &g.dx, scale)
    }
}
