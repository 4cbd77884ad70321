//! The model-level forward pass, recorded into one [`Recorder`]: embed → blocks → final norm,
//! with an optional [`Adapter`] on any linear of any block; logits are projected only for the
//! rows the caller asks for ([`Model::logits`]).
//!
//! ```text
//! x = embed(ids)                                   (R, C), R = B·T
//! per layer:  block_forward(x)                      the architecture's block (llama.rs, …)
//! hidden = rmsnorm(x) · output_norm                (R, C)
//! ```
//! Inference shares one block set across layers; training keeps one per layer — exactly what the
//! backward pass reads (llm.c style: forward saves, backward reads) — or, with activation
//! recomputation ([`Saved::LayerInputs`]), only each layer's input, from which
//! [`super::backward`] re-runs the block.

use super::blocks::{BlockActs, BlockIo};
use super::buffers::{BufferSpec, Shapes};
use super::config::ModelConfig;
use super::kv_cache::KvCache;
use super::store16::Store16;
use super::linear::Adapter;
use super::Model;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::{embedding, qmatmul, rmsnorm};

/// Which activations a forward pass keeps for the backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Inference: one block set shared by all layers, no residuals.
    Nothing,
    /// Training: one block set per layer (everything backward reads).
    AllLayers,
    /// Training, saved in 16 bits: as `AllLayers`, but the tables' large rows (`as f16` /
    /// `as bf16`) are one f32 set, and each layer's values of them and its keys and values go to
    /// the layer's 16-bit store ([`super::store16`]), unpacked before its backward.
    AllLayers16,
    /// Training with activation recomputation: only the residual stream entering each layer,
    /// plus one shared block set; backward re-runs each block's forward from its input.
    LayerInputs,
}

impl Saved {
    /// Whether this is a training pass (the tables' `training` rows are allocated).
    pub fn training(self) -> bool {
        self != Saved::Nothing
    }

    /// Whether every layer keeps its own block set.
    pub fn per_layer(self) -> bool {
        matches!(self, Saved::AllLayers | Saved::AllLayers16)
    }

    /// What a training pass keeps, in words (`anytune bench` prints it).
    pub fn describe(self) -> &'static str {
        match self {
            Saved::Nothing => "no activations (inference)",
            Saved::AllLayers => "every layer's activations in f32",
            Saved::AllLayers16 => "every layer's activations in 16 bits (f16 matmul operands, keys and values; bf16 residuals)",
            Saved::LayerInputs => "each layer's input (the rest recomputed)",
        }
    }

    /// Whether the large activations are saved in 16-bit stores.
    pub fn sixteen(self) -> bool {
        self == Saved::AllLayers16
    }

    /// Layers of KV cache a training pass keeps: all when each layer's keys stay in it; one
    /// when they are recomputed or go to the 16-bit stores (each layer's attention reads its
    /// keys right after writing or unpacking them).
    pub fn cache_layers(self, cfg: &ModelConfig) -> usize {
        if self == Saved::AllLayers { cfg.n_layers } else { 1 }
    }

    /// Block sets and saved layer inputs a pass keeps: (one per layer or one shared, one per
    /// layer with recomputation or none).
    pub fn counts(self, cfg: &ModelConfig) -> (usize, usize) {
        let per = |on: bool, off: usize| if on { cfg.n_layers } else { off };
        (per(self.per_layer(), 1), per(self == Saved::LayerInputs, 0))
    }
}

crate::buffer_table! {
    /// The model-level buffers of one pass around the blocks.
    pub struct Stream(s) {
        /// The residual stream.
        x: always [s.rows, s.c],
        /// Output of a block's projections before the residual add (scratch).
        proj: always [s.rows, s.c],
        /// Residual stream entering the final norm.
        x_final: training [s.rows, s.c],
        rstd_final: always [s.rows],
        /// Final-normed hidden states.
        hidden: always [s.rows, s.c],
    }
}

/// Every buffer of one forward pass over `batch` sequences of `t` tokens.
pub struct Activations {
    pub batch: usize,
    pub t: usize,
    pub stream: Stream,
    /// One per layer with [`Saved::AllLayers`] (their `shared` rows one set of buffers, rebuilt
    /// per layer before its backward), one otherwise ([`Activations::block`]).
    pub blocks: Vec<BlockActs>,
    /// [`Saved::LayerInputs`]: the residual stream entering each layer.
    pub layer_inputs: Vec<GpuTensor>, // per layer (R, C)
    /// [`Saved::AllLayers16`]: each layer's 16-bit store.
    pub store16: Option<Store16>,
}

impl Activations {
    /// Buffers for `batch × t` tokens; `training` keeps one block set per layer and the residuals.
    pub fn new(gpu: &Gpu, cfg: &ModelConfig, batch: usize, t: usize, training: bool) -> Self {
        Self::saving(gpu, cfg, batch, t, if training { Saved::AllLayers } else { Saved::Nothing })
    }

    /// Buffers for `batch × t` tokens that keep what `saved` says.
    pub fn saving(gpu: &Gpu, cfg: &ModelConfig, batch: usize, t: usize, saved: Saved) -> Self {
        let s = Shapes::new(cfg, batch, t);
        let (n_blocks, n_inputs) = saved.counts(cfg);
        Activations {
            batch,
            t,
            stream: Stream::new(gpu, &s, saved.training()),
            blocks: block_sets(gpu, cfg, &s, saved, n_blocks),
            layer_inputs: (0..n_inputs).map(|_| GpuTensor::zeros(gpu, &[s.rows, s.c])).collect(),
            store16: saved.sixteen().then(|| Store16::new(gpu, cfg, &s)),
        }
    }

    /// Every buffer [`Activations::saving`] allocates, as (what, count, spec) for the memory
    /// estimate: the stream, the block table (once per kept set) and the layer inputs.
    pub fn specs(cfg: &ModelConfig, batch: usize, t: usize, saved: Saved) -> Vec<(usize, BufferSpec)> {
        let s = Shapes::new(cfg, batch, t);
        let (n_blocks, n_inputs) = saved.counts(cfg);
        let keep = |spec: &BufferSpec| spec.allocated(saved.training());
        let mut out: Vec<(usize, BufferSpec)> = Stream::specs(&s).into_iter().filter(keep).map(|b| (1, b)).collect();
        out.extend(BlockActs::specs(cfg, &s).into_iter().filter(keep).map(|b| (b.count(n_blocks, saved.sixteen()), b)));
        if saved.sixteen() {
            out.extend(Store16::specs(cfg, &s));
        }
        if n_inputs > 0 {
            let input = BufferSpec::new("layer_input", vec![s.rows, s.c], super::buffers::Kept::Training);
            out.push((n_inputs, input));
        }
        out
    }

    /// The block buffers `layer` writes (the one set unless one is kept per layer).
    pub fn block(&self, layer: usize) -> &BlockActs {
        &self.blocks[layer.min(self.blocks.len() - 1)]
    }

    /// The final-normed hidden states `(R, C)`.
    pub fn hidden(&self) -> &GpuTensor {
        &self.stream.hidden
    }
}

/// `n` block tables (n ≥ 1): the first allocated, the others sharing its `shared` rows (and
/// those of the 16-bit store when `saved` says so).
fn block_sets(gpu: &Gpu, cfg: &ModelConfig, s: &Shapes, saved: Saved, n: usize) -> Vec<BlockActs> {
    let first = BlockActs::new(gpu, cfg, s, saved.training());
    let others: Vec<BlockActs> = (1..n).map(|_| BlockActs::new_sharing(gpu, s, saved.training(), &first, saved.sixteen())).collect();
    std::iter::once(first).chain(others).collect()
}

impl Model {
    /// Records the forward pass of `ids` at positions `cache.len ..`, appending to the cache,
    /// with the model's adapter if it has one. Returns the final-normed hidden states `(T, C)`.
    ///
    /// # Shapes
    /// `ids`: (T) with T ≥ 1 and `cache.len + T <= cache.capacity`.
    pub fn forward(&self, rec: &mut Recorder, ids: &[u32], cache: &mut KvCache) -> Result<GpuTensor> {
        let acts = Activations::new(rec.gpu, &self.config, 1, ids.len(), false);
        let adapter = self.adapter.as_ref().map(|a| a.inference(rec.gpu, ids.len()));
        self.forward_into(rec, ids, cache, adapter.as_deref(), &acts)?;
        Ok(acts.stream.hidden)
    }

    /// Records the forward pass of `acts.batch` sequences of `acts.t` tokens (`ids` row-major
    /// `(B, T)`) into `acts`, with `adapter` (whose pass may apply training-only behaviour such
    /// as LoRA dropout), at positions `cache.len ..` of a cache with `B` rows. Advances
    /// `cache.len` by T.
    ///
    /// # Shapes
    /// `ids`: (B, T) row-major, B = `acts.batch`, T = `acts.t`.
    pub fn forward_into(
        &self,
        rec: &mut Recorder,
        ids: &[u32],
        cache: &mut KvCache,
        adapter: Option<&dyn Adapter>,
        acts: &Activations,
    ) -> Result<()> {
        let (t, rows) = (acts.t, acts.batch * acts.t);
        let pos0 = cache.len;
        if t == 0 || ids.len() != rows {
            return Err(Error::invalid("tokens", format!("{} token ids for a batch of {} × {t}", ids.len(), acts.batch)));
        }
        if pos0 + t > cache.capacity {
            return Err(Error::invalid(
                "sequence length",
                format!("{} tokens exceed the context of {} positions", pos0 + t, cache.capacity),
            ));
        }
        self.check_ids(ids)?;
        let (w, st) = (&self.weights, &acts.stream);
        let ids_buf = embedding::GpuIds::from_slice(rec.gpu, ids);
        match super::blocks::embedding_scale(&self.config) {
            Some(scale) => embedding::embedding_forward_scaled(rec, &ids_buf, &w.token_embd, scale, &st.x)?,
            None => embedding::embedding_forward(rec, &ids_buf, &w.token_embd, &st.x)?,
        }
        for layer in 0..w.layers.len() {
            if let Some(saved) = acts.layer_inputs.get(layer) {
                rec.copy(&st.x.buffer, 0, &saved.buffer, 0, st.x.buffer.size());
            }
            let io = BlockIo { layer, stream: &st.x, proj: &st.proj, cache, pos0, adapter };
            self.block_forward(rec, acts.block(layer), &io)?;
            if let Some(store) = &acts.store16 {
                store.pack(rec, acts.block(layer), cache, layer)?;
            }
        }
        if let Some(x_final) = &st.x_final {
            rec.copy(&st.x.buffer, 0, &x_final.buffer, 0, st.x.buffer.size());
        }
        rmsnorm::rmsnorm_forward(rec, &st.x, &w.output_norm, self.config.norm_eps, &st.hidden, &st.rstd_final)?;
        cache.len += t;
        Ok(())
    }

    /// Records the logits `(n, V)` of rows `start .. start + n` of the hidden states `hidden` (R, C).
    pub fn logits(&self, rec: &mut Recorder, hidden: &GpuTensor, start: usize, n: usize) -> Result<GpuTensor> {
        let gpu = rec.gpu;
        let rows = GpuTensor::zeros(gpu, &[n, self.config.dim]);
        let logits = GpuTensor::zeros(gpu, &[n, self.config.vocab_size]);
        self.logits_into(rec, hidden, start, &rows, &logits)?;
        Ok(logits)
    }

    /// [`Model::logits`] into caller-owned buffers (training reuses them every step): `rows`
    /// `(n, C)` receives the hidden rows `start..start + n`, `logits` `(n, V)` their logits, with
    /// `n = rows.shape[0]`.
    pub fn logits_into(&self, rec: &mut Recorder, hidden: &GpuTensor, start: usize, rows: &GpuTensor, logits: &GpuTensor) -> Result<()> {
        let (n, c) = (rows.shape[0], self.config.dim);
        rec.copy(&hidden.buffer, (start * c * 4) as u64, &rows.buffer, 0, (n * c * 4) as u64);
        qmatmul::qmatmul_forward(rec, rows, self.weights.lm_head(), None, logits)
    }

    /// Refuses token ids outside the vocabulary with a clear error.
    pub fn check_ids(&self, ids: &[u32]) -> Result<()> {
        embedding::check_ids(ids, self.config.vocab_size)
    }
}
