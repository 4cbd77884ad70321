//! The frozen base model on the GPU: matrices in their stored type ([`Weight`]), norms and
//! biases as f32. Loaded from a [`Checkpoint`] after checking every shape against the config.

use super::checkpoint::Checkpoint;
use super::config::{Arch, ModelConfig};
use super::names::{LayerTensor, ModelTensor, Naming, unpermute_rows};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor};
use crate::quant::dequant::dequantize;
use crate::weights::Weight;

/// One transformer block.
pub struct LayerWeights {
    pub attn_norm: GpuTensor, // (C)
    pub wq: Weight,           // (H*D, C)
    pub wk: Weight,           // (KVH*D, C)
    pub wv: Weight,           // (KVH*D, C)
    pub bq: Option<GpuTensor>, // (H*D)
    pub bk: Option<GpuTensor>, // (KVH*D)
    pub bv: Option<GpuTensor>, // (KVH*D)
    pub wo: Weight,           // (C, H*D)
    pub ffn_norm: GpuTensor,  // (C)
    pub w_gate: Weight,       // (F, C)
    pub w_up: Weight,         // (F, C)
    pub w_down: Weight,       // (C, F)
    /// Per-head RMSNorm of q and k (Qwen3, Gemma 3).
    pub q_norm: Option<GpuTensor>, // (D)
    pub k_norm: Option<GpuTensor>, // (D)
    /// Gemma 3: the norms after attention and after the MLP (`ffn_norm` is the one before it).
    pub post_attn_norm: Option<GpuTensor>, // (C)
    pub post_ffn_norm: Option<GpuTensor>,  // (C)
}

/// The whole model.
pub struct ModelWeights {
    pub token_embd: Weight,     // (V, C)
    pub layers: Vec<LayerWeights>,
    pub output_norm: GpuTensor, // (C)
    /// `None` when tied to `token_embd`.
    pub output: Option<Weight>, // (V, C)
}

/// The checkpoint must hold exactly `n_layers` blocks: the last one's norm present, none after
/// it (a layer count that disagrees with the tensors is refused before anything is allocated).
fn check_layer_count(n_layers: usize, ckpt: &Checkpoint) -> Result<()> {
    let norm = |i: usize| ckpt.naming.layer(i, LayerTensor::AttnNorm);
    let (last, next) = (norm(n_layers.saturating_sub(1)), norm(n_layers));
    if !ckpt.contains(&last) {
        let what = format!("the configuration gives {n_layers} layers but tensor {last} (of the last one) is missing");
        return Err(Error::format(&ckpt.file, what));
    }
    if ckpt.contains(&next) {
        let what = format!("the configuration gives {n_layers} layers but the file also holds {next}");
        return Err(Error::format(&ckpt.file, what));
    }
    Ok(())
}

impl ModelWeights {
    /// Uploads every tensor of `ckpt`, checking shapes against `cfg`.
    pub fn load(gpu: &Gpu, cfg: &ModelConfig, ckpt: &Checkpoint) -> Result<ModelWeights> {
        let (c, f, v) = (cfg.dim, cfg.ffn_dim, cfg.vocab_size);
        let q = cfg.n_heads * cfg.head_dim;
        let kv = cfg.n_kv_heads * cfg.head_dim;
        let naming = ckpt.naming;
        let matrix = |name: &str, rows: usize, cols: usize, permuted_heads: Option<usize>| -> Result<Weight> {
            let (ty, bytes) = ckpt.get_shaped(name, &[rows, cols])?;
            match permuted_heads {
                Some(heads) if ckpt.qk_permuted => {
                    let row_bytes = ty.row_bytes(cols);
                    let mut reordered = Vec::with_capacity(bytes.len());
                    for src in unpermute_rows(heads, cfg.head_dim) {
                        reordered.extend_from_slice(&bytes[src * row_bytes..(src + 1) * row_bytes]);
                    }
                    Weight::upload(gpu, name, ty, rows, cols, &reordered)
                }
                _ => Weight::upload(gpu, name, ty, rows, cols, bytes),
            }
        };
        let vector = |name: &str, len: usize| -> Result<GpuTensor> {
            let (ty, bytes) = ckpt.get_shaped(name, &[len])?;
            Ok(GpuTensor::from_slice(gpu, &[len], &dequantize(ty, bytes, len)?))
        };
        let bias = |name: &str, len: usize| -> Result<Option<GpuTensor>> {
            if cfg.qkv_bias { vector(name, len).map(Some) } else { Ok(None) }
        };
        // Gemma's RMSNorm is x·(1 + w): Hugging Face stores w, llama.cpp's converter w + 1.
        let gemma = cfg.arch == Arch::Gemma3;
        let norm_offset = if gemma && naming == Naming::HuggingFace { 1.0 } else { 0.0 };
        let norm = |name: &str, len: usize| -> Result<GpuTensor> {
            let (ty, bytes) = ckpt.get_shaped(name, &[len])?;
            let w: Vec<f32> = dequantize(ty, bytes, len)?.into_iter().map(|w| w + norm_offset).collect();
            Ok(GpuTensor::from_slice(gpu, &[len], &w))
        };
        let norm_if = |on: bool, name: &str, len: usize| on.then(|| norm(name, len)).transpose();

        check_layer_count(cfg.n_layers, ckpt)?;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for i in 0..cfg.n_layers {
            let name = |t: LayerTensor| naming.layer(i, t);
            let qk_norm = cfg.arch.qk_norm();
            layers.push(LayerWeights {
                attn_norm: norm(&name(LayerTensor::AttnNorm), c)?,
                wq: matrix(&name(LayerTensor::Q), q, c, Some(cfg.n_heads))?,
                wk: matrix(&name(LayerTensor::K), kv, c, Some(cfg.n_kv_heads))?,
                wv: matrix(&name(LayerTensor::V), kv, c, None)?,
                bq: bias(&name(LayerTensor::QBias), q)?,
                bk: bias(&name(LayerTensor::KBias), kv)?,
                bv: bias(&name(LayerTensor::VBias), kv)?,
                wo: matrix(&name(LayerTensor::O), c, q, None)?,
                ffn_norm: norm(&name(if gemma { LayerTensor::PreFfnNorm } else { LayerTensor::FfnNorm }), c)?,
                w_gate: matrix(&name(LayerTensor::Gate), f, c, None)?,
                w_up: matrix(&name(LayerTensor::Up), f, c, None)?,
                w_down: matrix(&name(LayerTensor::Down), c, f, None)?,
                q_norm: norm_if(qk_norm, &name(LayerTensor::QNorm), cfg.head_dim)?,
                k_norm: norm_if(qk_norm, &name(LayerTensor::KNorm), cfg.head_dim)?,
                post_attn_norm: norm_if(gemma, &name(LayerTensor::PostAttnNorm), c)?,
                post_ffn_norm: norm_if(gemma, &name(LayerTensor::PostFfnNorm), c)?,
            });
        }
        let output_name = naming.model(ModelTensor::Output);
        let output = if cfg.tied_embeddings && !ckpt.contains(output_name) {
            None
        } else {
            Some(matrix(output_name, v, c, None)?)
        };
        Ok(ModelWeights {
            token_embd: matrix(naming.model(ModelTensor::Embedding), v, c, None)?,
            layers,
            output_norm: norm(naming.model(ModelTensor::OutputNorm), c)?,
            output,
        })
    }

    /// The logits projection: `output`, or the embedding when tied.
    pub fn lm_head(&self) -> &Weight {
        self.output.as_ref().unwrap_or(&self.token_embd)
    }

    /// Bytes the weights take on the GPU.
    pub fn gpu_bytes(&self) -> u64 {
        let t = |t: &GpuTensor| t.buffer.size();
        let o = |t: &Option<GpuTensor>| t.as_ref().map_or(0, |t| t.buffer.size());
        let layers: u64 = self
            .layers
            .iter()
            .map(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down].iter().map(|w| w.gpu_bytes()).sum::<u64>()
                    + t(&l.attn_norm)
                    + t(&l.ffn_norm)
                    + o(&l.bq)
                    + o(&l.bk)
                    + o(&l.bv)
                    + [&l.q_norm, &l.k_norm, &l.post_attn_norm, &l.post_ffn_norm].into_iter().map(o).sum::<u64>()
            })
            .sum();
        layers + self.token_embd.gpu_bytes() + t(&self.output_norm) + self.output.as_ref().map_or(0, |w| w.gpu_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::TensorInfo;
    use crate::model::names::Naming;

    #[test]
    fn the_layer_count_must_match_the_blocks_present() {
        let names: Vec<String> = (0..3).map(|i| Naming::Gguf.layer(i, LayerTensor::AttnNorm)).collect();
        let bytes = [0u8; 4];
        let mut ck = Checkpoint::new("m.gguf", Naming::Gguf, false);
        for name in &names {
            ck.insert(&TensorInfo { name: name.clone(), ty_id: 0, shape: vec![1], offset: 0, size: 4 }, &bytes);
        }
        assert!(check_layer_count(3, &ck).is_ok());
        let err = check_layer_count(1 << 12, &ck).unwrap_err().to_string();
        assert!(err.contains("m.gguf") && err.contains("4096 layers but tensor blk.4095.attn_norm.weight"), "{err}");
        let err = check_layer_count(2, &ck).unwrap_err().to_string();
        assert!(err.contains("2 layers but the file also holds blk.2.attn_norm.weight"), "{err}");
    }
}
