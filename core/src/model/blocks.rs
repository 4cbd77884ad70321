//! The architectures' blocks, listed once: each architecture file (`llama.rs`, …) declares its
//! block's buffer tables and its forward and backward; this file maps [`Arch`] to them, so the
//! model-level loops ([`super::forward`], [`super::backward`]) never name an architecture.

use super::buffers::{BufferSpec, Shapes};
use super::config::{Arch, ModelConfig};
use super::kv_cache::KvCache;
use super::linear::Adapter;
use super::{Model, gemma3, llama};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::rmsnorm::rmsnorm_forward;
use crate::ops::swiglu::Glu;

/// The forward activations of one block, of its architecture (a few per model: the size
/// difference of the variants does not matter).
#[allow(clippy::large_enum_variant)]
pub enum BlockActs {
    Llama(llama::BlockActs),
    Gemma3(gemma3::BlockActs),
}

/// The gradient buffers of one block's backward pass, of its architecture.
#[allow(clippy::large_enum_variant)]
pub enum BlockGrads {
    Llama(llama::BlockGrads),
    Gemma3(gemma3::BlockGrads),
}

impl BlockActs {
    /// Allocates the block's table (`training`: with what only backward reads).
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, s: &Shapes, training: bool) -> BlockActs {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => BlockActs::Llama(llama::BlockActs::new(gpu, s, training)),
            Arch::Gemma3 => BlockActs::Gemma3(gemma3::BlockActs::new(gpu, s, training)),
        }
    }

    /// Another layer's table ([`BlockActs::new`]), sharing `first`'s `shared` rows (and with
    /// `sixteen` its rows of the 16-bit store).
    pub fn new_sharing(gpu: &Gpu, s: &Shapes, training: bool, first: &BlockActs, sixteen: bool) -> BlockActs {
        match first {
            BlockActs::Llama(f) => BlockActs::Llama(llama::BlockActs::new_sharing(gpu, s, training, f, sixteen)),
            BlockActs::Gemma3(f) => BlockActs::Gemma3(gemma3::BlockActs::new_sharing(gpu, s, training, f, sixteen)),
        }
    }

    /// The rows a 16-bit store keeps ([`super::store16`]), in table order.
    pub fn rows16(&self) -> Vec<(&GpuTensor, super::buffers::Format16)> {
        match self {
            BlockActs::Llama(b) => b.rows16(),
            BlockActs::Gemma3(b) => b.rows16(),
        }
    }

    /// The block's table.
    pub fn specs(cfg: &ModelConfig, s: &Shapes) -> Vec<BufferSpec> {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => llama::BlockActs::specs(s),
            Arch::Gemma3 => gemma3::BlockActs::specs(s),
        }
    }
}

impl BlockGrads {
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, s: &Shapes) -> BlockGrads {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => BlockGrads::Llama(llama::BlockGrads::new(gpu, s, true)),
            Arch::Gemma3 => BlockGrads::Gemma3(gemma3::BlockGrads::new(gpu, s, true)),
        }
    }

    pub fn specs(cfg: &ModelConfig, s: &Shapes) -> Vec<BufferSpec> {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => llama::BlockGrads::specs(s),
            Arch::Gemma3 => gemma3::BlockGrads::specs(s),
        }
    }
}

/// What a block's forward or backward works on besides its own buffers.
pub struct BlockIo<'a> {
    pub layer: usize,
    /// Forward: the residual stream (R, C), updated in place. Backward: its gradient, updated
    /// in place from the block's output to its input.
    pub stream: &'a GpuTensor,
    /// (R, C) scratch for a half's projection before the residual add (forward only).
    pub proj: &'a GpuTensor,
    /// The KV cache: the forward writes the layer's keys and values at `pos0`; the backward
    /// reads them (a training pass: pos0 = 0, capacity T).
    pub cache: &'a KvCache,
    pub pos0: usize,
    pub adapter: Option<&'a dyn Adapter>,
}

/// A block table's two pre-norms as (saved input, normed output, 1/rms): attention's, MLP's.
macro_rules! pre_norm_rows {
    ($n:expr) => {
        [(&$n.x_in, &$n.xn1, &$n.rstd1), (&$n.x_mid, &$n.xn2, &$n.rstd2)]
    };
}

impl Model {
    /// Records the forward pass of block `io.layer` into `b`.
    pub(crate) fn block_forward(&self, rec: &mut Recorder, b: &BlockActs, io: &BlockIo) -> Result<()> {
        match b {
            BlockActs::Llama(b) => llama::forward(self, rec, b, io),
            BlockActs::Gemma3(b) => gemma3::forward(self, rec, b, io),
        }
    }

    /// Records what block `io.layer`'s backward reads but its table shares with the other layers
    /// (`shared` rows: normed inputs, the gated activation), rebuilt from the rows `b` saved.
    pub(crate) fn block_rebuild(&self, rec: &mut Recorder, b: &BlockActs, io: &BlockIo) -> Result<()> {
        // Both architectures share the same rows: the two pre-norms' outputs and the MLP's h.
        let (pre_norms, m, act) = match b {
            BlockActs::Llama(b) => (pre_norm_rows!(b.norms), &b.mlp, Glu::Silu),
            BlockActs::Gemma3(b) => (pre_norm_rows!(b.norms), &b.mlp, Glu::GeluTanh),
        };
        let lw = &self.weights.layers[io.layer];
        for ((x, xn, rstd), w) in pre_norms.into_iter().zip([&lw.attn_norm, &lw.ffn_norm]) {
            rmsnorm_forward(rec, super::backward::saved(x)?, w, self.config.norm_eps, xn, rstd)?;
        }
        super::mlp::rebuild(rec, m, act)
    }

    /// Records the backward pass of block `io.layer` from the saved (or recomputed) `b`.
    pub(crate) fn block_backward(&self, rec: &mut Recorder, b: &BlockActs, g: &BlockGrads, io: &BlockIo) -> Result<()> {
        match (b, g) {
            (BlockActs::Llama(b), BlockGrads::Llama(g)) => llama::backward(self, rec, b, g, io),
            (BlockActs::Gemma3(b), BlockGrads::Gemma3(g)) => gemma3::backward(self, rec, b, g, io),
            _ => Err(crate::Error::invalid("backward", "the gradient buffers belong to another architecture")),
        }
    }
}

/// The factor the token embeddings are multiplied by after the gather: √C for Gemma 3 (in f32,
/// as transformers computes it), none for the others.
pub fn embedding_scale(cfg: &ModelConfig) -> Option<f32> {
    (cfg.arch == Arch::Gemma3).then(|| (cfg.dim as f32).sqrt())
}
