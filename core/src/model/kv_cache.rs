//! The key/value cache of generation: per layer, keys and values of every position so far,
//! laid out `(S, KVH, D)` (S = capacity) so one decode step appends with a buffer copy.

use super::buffers::{BufferSpec, Kept};
use super::config::ModelConfig;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor};

pub struct KvCache {
    pub k: Vec<GpuTensor>, // per layer (B, S, KVH, D)
    pub v: Vec<GpuTensor>, // per layer (B, S, KVH, D)
    pub capacity: usize,
    /// Positions filled so far.
    pub len: usize,
}

impl KvCache {
    /// A cache for `capacity` positions; fails with a clear error when one layer's cache would
    /// exceed the adapter's storage-binding limit.
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, capacity: usize) -> Result<KvCache> {
        Self::batched(gpu, cfg, 1, capacity)
    }

    /// A cache for `batch` sequences of `capacity` positions each (training uses one of
    /// capacity T: after the forward pass it holds the keys and values backward needs).
    pub fn batched(gpu: &Gpu, cfg: &ModelConfig, batch: usize, capacity: usize) -> Result<KvCache> {
        Self::with_layers(gpu, cfg, batch, capacity, cfg.n_layers)
    }

    /// Keys and values of `layer` (those of the one shared layer in a one-layer cache).
    pub fn layer(&self, layer: usize) -> (&GpuTensor, &GpuTensor) {
        let i = layer.min(self.k.len().saturating_sub(1));
        (&self.k[i], &self.v[i])
    }

    /// The k and v buffers of a cache of `layers` layers, as (count, spec), for the memory estimate.
    pub fn specs(cfg: &ModelConfig, batch: usize, capacity: usize, layers: usize) -> [(usize, BufferSpec); 2] {
        let shape = vec![batch, capacity, cfg.n_kv_heads, cfg.head_dim];
        ["k_cache", "v_cache"].map(|name| (layers, BufferSpec::new(name, shape.clone(), Kept::Always)))
    }

    /// A cache of `layers` layers. 1: one layer's cache shared by every layer ([`KvCache::layer`]),
    /// for training with activation recomputation, where each layer's attention (forward, or
    /// recomputed before its backward) reads its keys right after writing them.
    pub fn with_layers(gpu: &Gpu, cfg: &ModelConfig, batch: usize, capacity: usize, layers: usize) -> Result<KvCache> {
        let row = cfg.n_kv_heads * cfg.head_dim;
        let bytes = (batch * capacity * row * 4) as u64;
        if bytes > gpu.max_binding() {
            return Err(Error::TooLarge {
                what: format!("a KV cache of {capacity} positions takes {bytes} bytes per layer"),
                limit: format!("{} bytes per storage binding", gpu.max_binding()),
            });
        }
        let shape = [batch, capacity, cfg.n_kv_heads, cfg.head_dim];
        let k = (0..layers).map(|_| GpuTensor::zeros(gpu, &shape)).collect();
        let v = (0..layers).map(|_| GpuTensor::zeros(gpu, &shape)).collect();
        Ok(KvCache { k, v, capacity, len: 0 })
    }

    /// Forgets every position (the buffers are reused).
    pub fn clear(&mut self) {
        self.len = 0;
    }
}
