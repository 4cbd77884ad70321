//! The per-layer 16-bit stores of a training forward that saves in 16 bits
//! ([`super::Saved::AllLayers16`]): the block tables' `as f16` / `as bf16` rows are one f32 set
//! for all layers and the KV cache one layer; after each layer's forward its values of them and
//! its keys and values are packed into the layer's store ([`crate::ops::save16`]), and unpacked
//! back into the f32 set and the cache before the layer's backward. The top layer has no store:
//! its backward comes right after the forward, which left its values in the f32 set.
//!
//! ```text
//! store[layer] = rows16(block) ‖ k_cache ‖ v_cache      two 16-bit values per u32 word
//! ```

use super::blocks::BlockActs;
use super::buffers::{BufferSpec, Format16, Kept, Shapes};
use super::config::ModelConfig;
use super::kv_cache::KvCache;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::save16::{save16, store_words};

/// One store per layer below the top, and the three one-value buffers that a dispatch of fewer
/// than four tensors binds.
pub struct Store16 {
    layers: Vec<GpuTensor>,
    spares: [GpuTensor; 3],
}

impl Store16 {
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, s: &Shapes) -> Store16 {
        let words = words(cfg, s);
        Store16 {
            layers: (1..cfg.n_layers).map(|_| GpuTensor::zeros(gpu, &[words])).collect(),
            spares: [(); 3].map(|_| GpuTensor::zeros(gpu, &[1])),
        }
    }

    /// What [`Store16::new`] allocates, as (count, spec).
    pub fn specs(cfg: &ModelConfig, s: &Shapes) -> [(usize, BufferSpec); 2] {
        [(cfg.n_layers.saturating_sub(1), BufferSpec::new("store16", vec![words(cfg, s)], Kept::Training)), (3, BufferSpec::new("store16_spare", vec![1], Kept::Training))]
    }

    /// Records the packing of `layer`'s values (in `block` and the cache) into its store
    /// (nothing for the top layer).
    pub fn pack(&self, rec: &mut Recorder, block: &BlockActs, cache: &KvCache, layer: usize) -> Result<()> {
        match self.layers.get(layer) {
            Some(store) => save16(rec, &slots(block, cache, layer), store, &self.spares, false),
            None => Ok(()),
        }
    }

    /// Records the unpacking of `layer`'s store (a layer below the top) into `block`'s f32 rows
    /// and the cache.
    pub fn unpack(&self, rec: &mut Recorder, block: &BlockActs, cache: &KvCache, layer: usize) -> Result<()> {
        let store = self.layers.get(layer).ok_or_else(|| Error::invalid("16-bit store", format!("layer {layer} has none (the top layer keeps its f32 values)")))?;
        save16(rec, &slots(block, cache, layer), store, &self.spares, true)
    }
}

/// The tensors of a store, in its order: the block's rows, then the layer's keys and values
/// (f16, as the matmul outputs they are).
fn slots<'a>(block: &'a BlockActs, cache: &'a KvCache, layer: usize) -> Vec<(&'a GpuTensor, Format16)> {
    let (k, v) = cache.layer(layer);
    let mut slots = block.rows16();
    slots.extend([(k, Format16::F16), (v, Format16::F16)]);
    slots
}

/// Words of one layer's store for these shapes: the training rows of the block table in a
/// store, and a cache layer of capacity T twice.
fn words(cfg: &ModelConfig, s: &Shapes) -> usize {
    let rows = BlockActs::specs(cfg, s).into_iter().filter(|b| b.store.is_some()).map(|b| b.values());
    let cache = KvCache::specs(cfg, s.batch, s.t, 1).map(|(_, b)| b.values());
    store_words(rows.chain(cache))
}
