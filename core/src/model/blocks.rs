//! The architectures' blocks, listed once: each architecture file (`llama.rs`, …) declares its
//! block's buffer tables and its forward and backward; this file maps [`Arch`] to them, so the
//! model-level loops ([`super::forward`], [`super::backward`]) never name an architecture.

use super::buffers::{BufferSpec, Shapes};
use super::config::{Arch, ModelConfig};
use super::kv_cache::KvCache;
use super::linear::Adapter;
use super::{Model, llama};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};

/// The forward activations of one block, of its architecture.
pub enum BlockActs {
    Llama(llama::BlockActs),
}

/// The gradient buffers of one block's backward pass, of its architecture.
pub enum BlockGrads {
    Llama(llama::BlockGrads),
}

impl BlockActs {
    /// Allocates the block's table (`training`: with what only backward reads).
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, s: &Shapes, training: bool) -> BlockActs {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 => BlockActs::Llama(llama::BlockActs::new(gpu, s, training)),
        }
    }

    /// The block's table.
    pub fn specs(cfg: &ModelConfig, s: &Shapes) -> Vec<BufferSpec> {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 => llama::BlockActs::specs(s),
        }
    }
}

impl BlockGrads {
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, s: &Shapes) -> BlockGrads {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 => BlockGrads::Llama(llama::BlockGrads::new(gpu, s, true)),
        }
    }

    pub fn specs(cfg: &ModelConfig, s: &Shapes) -> Vec<BufferSpec> {
        match cfg.arch {
            Arch::Llama | Arch::Qwen2 => llama::BlockGrads::specs(s),
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
        }
    }
}
