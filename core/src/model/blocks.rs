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
            Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => BlockGrads::Llama(llama::BlockGrads::new(gpu, s)),
            Arch::Gemma3 => BlockGrads::Gemma3(gemma3::BlockGrads::new(gpu, s)),
        }
    }

    pub fn specs(cfg: &ModelConfig, s: &Shapes) -> Vec<BufferSpec> {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => llama::BlockGrads::specs(s),
            Arch::Gemma3 => gemma3::BlockGrads::specs(s),
        }
    }
}

impl Model {
    /// Records block `layer` on the residual stream `x` (in place; `proj` is scratch) into `b`,
    /// writing its keys and values at `pos0` of the cache.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn block_forward(
        &self,
        rec: &mut Recorder,
        layer: usize,
        b: &BlockActs,
        x: &GpuTensor,
        proj: &GpuTensor,
        cache: &KvCache,
        pos0: usize,
        adapter: Option<&dyn Adapter>,
    ) -> Result<()> {
        match b {
            BlockActs::Llama(b) => llama::forward(self, rec, layer, b, x, proj, cache, pos0, adapter),
            BlockActs::Gemma3(b) => gemma3::forward(self, rec, layer, b, x, proj, cache, pos0, adapter),
        }
    }

    /// Records the backward pass of block `layer`: `dx` (the residual gradient) in place.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn block_backward(
        &self,
        rec: &mut Recorder,
        layer: usize,
        b: &BlockActs,
        cache: &KvCache,
        g: &BlockGrads,
        dx: &GpuTensor,
        adapter: Option<&dyn Adapter>,
    ) -> Result<()> {
        match (b, g) {
            (BlockActs::Llama(b), BlockGrads::Llama(g)) => llama::backward(self, rec, layer, b, cache, g, dx, adapter),
            (BlockActs::Gemma3(b), BlockGrads::Gemma3(g)) => gemma3::backward(self, rec, layer, b, cache, g, dx, adapter),
            _ => Err(crate::Error::invalid("backward", "the gradient buffers belong to another architecture")),
        }
    }
}

/// The factor the token embeddings are multiplied by after the gather: √C for Gemma 3 (in f32,
/// as transformers computes it), none for the others.
pub fn embedding_scale(cfg: &ModelConfig) -> Option<f32> {
    (cfg.arch == Arch::Gemma3).then(|| (cfg.dim as f32).sqrt())
}
