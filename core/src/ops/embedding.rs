//! Token embedding: `out[t, :] = table[ids[t], :] · scale`, gathered from a frozen table in its
//! GGUF type (SmolLM2's is Q8_0, 49152 × 576) and dequantized in the kernel. `scale` is 1 except
//! for Gemma, whose embeddings are multiplied by `√C` ([`embedding_forward_scaled`]; free, in the
//! same kernel). The table is frozen and LoRA never adapts embeddings, so there is no backward
//! kernel (nothing upstream of the embedding needs a gradient, the scale included). Also
//! [`GpuIds`], the u32 buffer that holds token ids.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder, grid_1d, kernels};
use crate::quant::dequant::dequantize;
use crate::weights::Weight;
use wgpu::util::DeviceExt;

/// Token ids (u32) on the GPU, e.g. a `(B, T)` batch flattened.
#[derive(Debug)]
pub struct GpuIds {
    pub buffer: wgpu::Buffer,
    pub len: usize,
}

impl GpuIds {
    /// Uploads `ids` (an empty slice gets a one-element buffer, as wgpu refuses empty bindings).
    pub fn from_slice(gpu: &Gpu, ids: &[u32]) -> GpuIds {
        let contents: &[u32] = if ids.is_empty() { &[0] } else { ids };
        let buffer = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("token ids"),
            contents: bytemuck::cast_slice(contents),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        });
        GpuIds { buffer, len: ids.len() }
    }

    /// Overwrites the first `ids.len()` ids (queued before the next submit).
    pub fn write(&self, gpu: &Gpu, ids: &[u32]) {
        gpu.queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(ids));
    }
}

/// Mirrors `Params` in `shaders/embedding_forward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct EmbeddingParams {
    t: u32,
    c: u32,
    row_bytes: u32,
    row_start: u32,
    rows: u32,
    vocab: u32,
    first: u32,
    scale: f32,
}

/// Errors unless every id is below `vocab`; call before [`embedding_forward`] with the host ids.
pub fn check_ids(ids: &[u32], vocab: usize) -> Result<()> {
    match ids.iter().position(|&id| id as usize >= vocab) {
        Some(i) => Err(Error::invalid("token id", format!("id {} at position {i} is not below the vocabulary size {vocab}", ids[i]))),
        None => Ok(()),
    }
}

/// Records `out[t, :] = table[ids[t], :]`. Ids out of range give zero rows (validate them
/// first with [`check_ids`]).
///
/// # Shapes
/// `ids`: `(T)` (T = B*T tokens), `table`: `(vocab, C)`, `out`: `(T, C)`.
pub fn embedding_forward(rec: &mut Recorder, ids: &GpuIds, table: &Weight, out: &GpuTensor) -> Result<()> {
    embedding_forward_scaled(rec, ids, table, 1.0, out)
}

/// Records `out[t, :] = table[ids[t], :] · scale` in f32 (Gemma 3: `scale = √C`, the
/// `embed_scale` of transformers' `Gemma3TextScaledWordEmbedding`). `scale` must be finite.
///
/// # Shapes
/// As [`embedding_forward`].
pub fn embedding_forward_scaled(rec: &mut Recorder, ids: &GpuIds, table: &Weight, scale: f32, out: &GpuTensor) -> Result<()> {
    if !scale.is_finite() {
        return Err(Error::invalid("embedding scale", format!("{scale} is not finite (Gemma: sqrt(hidden_size))")));
    }
    let (t, c) = (ids.len, table.cols);
    if out.len() != t * c {
        return Err(Error::invalid(
            "embedding_forward out",
            format!("{:?} does not fit {t} tokens of {} ({} wide)", out.shape, table.name, c),
        ));
    }
    if t == 0 || c == 0 {
        return Ok(());
    }
    let constants = [("WTYPE", table.ty as u32 as f64)];
    for (i, chunk) in table.chunks.iter().enumerate() {
        let params = EmbeddingParams {
            t: t as u32,
            c: c as u32,
            row_bytes: table.ty.row_bytes(c) as u32,
            row_start: chunk.row_start as u32,
            rows: chunk.rows as u32,
            vocab: table.rows as u32,
            first: (i == 0) as u32,
            scale,
        };
        let bindings = [ids.buffer.as_entire_binding(), chunk.buffer.as_entire_binding(), out.binding()];
        rec.dispatch_with(&kernels::EMBEDDING_FORWARD, &constants, &params, &bindings, grid_1d(t * c, 64));
    }
    Ok(())
}

/// CPU reference of [`embedding_forward`] (zero rows for out-of-range ids).
pub fn embedding_forward_cpu(ids: &[u32], table: &Weight, table_bytes: &[u8]) -> Result<Vec<f32>> {
    embedding_forward_scaled_cpu(ids, table, table_bytes, 1.0)
}

/// CPU reference of [`embedding_forward_scaled`]: each gathered value times `scale` in f32.
pub fn embedding_forward_scaled_cpu(ids: &[u32], table: &Weight, table_bytes: &[u8], scale: f32) -> Result<Vec<f32>> {
    let c = table.cols;
    let rows = dequantize(table.ty, table_bytes, table.rows * c)?;
    let mut out = vec![0f32; ids.len() * c];
    for (t, &id) in ids.iter().enumerate() {
        if (id as usize) < table.rows {
            for (o, &x) in out[t * c..(t + 1) * c].iter_mut().zip(&rows[id as usize * c..(id as usize + 1) * c]) {
                *o = x * scale;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::GgmlType;
    use crate::quant::quantize::random_blocks;
    use crate::testing::{Rng, assert_close, test_gpu};

    #[test]
    fn embedding_every_type_chunked_matches_cpu() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(31);
        for ty in GgmlType::ALL {
            let c = if ty.block_size() == 256 { 256 } else { 96 };
            let vocab = 23;
            let bytes = random_blocks(ty, vocab * c / ty.block_size(), 1.0, &mut rng);
            // 8 rows per chunk: 3 chunks.
            let table = Weight::upload_with_limit(gpu, "tok", ty, vocab, c, &bytes, (8 * ty.row_bytes(c)) as u64).unwrap();
            assert_eq!(table.chunks.len(), 3);
            let ids: Vec<u32> = vec![0, 22, 7, 8, 16, 15, 3, 22, 40];
            let gids = GpuIds::from_slice(gpu, &ids);
            let out = GpuTensor::from_slice(gpu, &[ids.len(), c], &vec![9.0; ids.len() * c]);
            let mut rec = Recorder::new(gpu);
            embedding_forward(&mut rec, &gids, &table, &out).unwrap();
            let got = pollster::block_on(out.read(rec)).unwrap();
            let want = embedding_forward_cpu(&ids, &table, &bytes).unwrap();
            // Dequantization is the same arithmetic on both sides: near exact.
            assert_close(&got, &want, 1e-6, 1e-6, &format!("embedding {ty:?}"));
        }
    }

    /// Gemma's `√C` scale on a BF16 and a Q8_0 table (chunked), bad ids still zero rows; a
    /// non-finite scale is refused by name.
    #[test]
    fn embedding_scaled_matches_cpu() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(32);
        let (vocab, c) = (19, 640);
        let scale = (c as f32).sqrt();
        for ty in [GgmlType::BF16, GgmlType::Q8_0] {
            let bytes = random_blocks(ty, vocab * c / ty.block_size(), 1.0, &mut rng);
            let table = Weight::upload_with_limit(gpu, "tok", ty, vocab, c, &bytes, (8 * ty.row_bytes(c)) as u64).unwrap();
            let ids: Vec<u32> = vec![3, 18, 0, 25, 9];
            let gids = GpuIds::from_slice(gpu, &ids);
            let out = GpuTensor::from_slice(gpu, &[ids.len(), c], &vec![9.0; ids.len() * c]);
            let mut rec = Recorder::new(gpu);
            embedding_forward_scaled(&mut rec, &gids, &table, scale, &out).unwrap();
            let got = pollster::block_on(out.read(rec)).unwrap();
            let want = embedding_forward_scaled_cpu(&ids, &table, &bytes, scale).unwrap();
            assert_close(&got, &want, 1e-6, 1e-6, &format!("scaled embedding {ty:?}"));
            // Against the unscaled gather on the same device: one f32 multiply, exact.
            let mut rec = Recorder::new(gpu);
            embedding_forward(&mut rec, &gids, &table, &out).unwrap();
            let plain = pollster::block_on(out.read(rec)).unwrap();
            assert!(plain.iter().zip(&got).all(|(p, g)| *g == p * scale), "scale applied once, in f32");
            let mut rec = Recorder::new(gpu);
            let e = embedding_forward_scaled(&mut rec, &gids, &table, f32::NAN, &out).unwrap_err().to_string();
            assert!(e.contains("embedding scale"), "{e}");
        }
    }

    #[test]
    fn check_ids_names_the_bad_position() {
        assert!(check_ids(&[1, 2, 3], 4).is_ok());
        let e = check_ids(&[1, 9, 3], 4).unwrap_err().to_string();
        assert!(e.contains("position 1"), "{e}");
    }
}
