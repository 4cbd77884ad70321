//! Frozen base weights on the GPU, in their stored format (any [`GgmlType`]: F32, F16, BF16,
//! Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K): the raw GGUF/safetensors bytes, uploaded unchanged and dequantized inside the
//! kernels. A matrix larger than the adapter's storage-binding limit is split into row chunks,
//! each its own buffer; ops dispatch once per chunk.

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::quant::GgmlType;
use wgpu::util::DeviceExt;

/// One row range of a [`Weight`], in its own buffer.
#[derive(Debug)]
pub struct WeightChunk {
    pub buffer: wgpu::Buffer,
    /// First row of the matrix held by this chunk.
    pub row_start: usize,
    pub rows: usize,
}

/// A frozen `(rows, cols)` matrix (PyTorch layout: `rows` = out features, `cols` = in features,
/// each row contiguous), kept in its stored type.
#[derive(Debug)]
pub struct Weight {
    pub name: String,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    pub chunks: Vec<WeightChunk>,
}

impl Weight {
    /// Uploads `bytes` (exactly `rows * ty.row_bytes(cols)` bytes) split into chunks of at most
    /// `max_binding` bytes (rows are never split). Buffers are padded to a multiple of 4 bytes
    /// because WGSL reads them as `array<u32>`.
    pub fn upload(gpu: &Gpu, name: &str, ty: GgmlType, rows: usize, cols: usize, bytes: &[u8]) -> Result<Weight> {
        Self::upload_with_limit(gpu, name, ty, rows, cols, bytes, gpu.max_binding())
    }

    /// [`upload`](Self::upload) with an explicit chunk limit (tests use a small one).
    pub fn upload_with_limit(
        gpu: &Gpu,
        name: &str,
        ty: GgmlType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
        max_binding: u64,
    ) -> Result<Weight> {
        if !cols.is_multiple_of(ty.block_size()) {
            return Err(Error::invalid(
                name,
                format!("{} rows of {cols} values are not a whole number of {}-value blocks", ty.name(), ty.block_size()),
            ));
        }
        let row_bytes = ty.row_bytes(cols);
        if bytes.len() != rows * row_bytes {
            return Err(Error::invalid(
                name,
                format!("expected {} bytes for {rows}x{cols} {}, found {}", rows * row_bytes, ty.name(), bytes.len()),
            ));
        }
        let rows_per_chunk = (max_binding as usize / row_bytes.max(1)).min(rows.max(1));
        if rows_per_chunk == 0 {
            return Err(Error::TooLarge {
                what: format!("one row of {name} takes {row_bytes} bytes"),
                limit: format!("{max_binding} bytes per storage binding"),
            });
        }
        let mut chunks = Vec::new();
        let mut row_start = 0;
        while row_start < rows.max(1) {
            let n = rows_per_chunk.min(rows - row_start);
            let slice = &bytes[row_start * row_bytes..(row_start + n) * row_bytes];
            let mut padded = slice.to_vec();
            padded.resize(slice.len().div_ceil(4).max(1) * 4, 0);
            let buffer = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(name),
                contents: &padded,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            });
            chunks.push(WeightChunk { buffer, row_start, rows: n });
            row_start += n;
            if rows == 0 {
                break;
            }
        }
        Ok(Weight { name: name.to_string(), ty, rows, cols, chunks })
    }

    /// Bytes this weight takes on the GPU.
    pub fn gpu_bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.buffer.size()).sum()
    }
}
