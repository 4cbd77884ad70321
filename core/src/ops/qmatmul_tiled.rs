//! The GPU family's products against frozen GGUF weights (`shaders/qmatmul_tiled_forward.wgsl`,
//! `qmatmul_tiled_backward.wgsl`; tiles in `matmul_tile_common.wgsl`): what
//! [`super::qmatmul::qmatmul_forward`] and [`super::qmatmul::qmatmul_backward_input`] run when
//! the device's [`crate::gpu::KernelFamily`] is `Gpu`. The weight type is the override constant
//! `WTYPE` as in the CPU family's kernels; 64 × 64 output tiles, BK = 16, the weight tile
//! dequantized into workgroup memory, x / dy read from storage (no staging copy). One dispatch
//! per weight row chunk (a weight over the storage-binding limit is stored in chunks; the
//! backward's later chunks accumulate), the grid split only past the adapter's workgroup limit
//! per dimension.

use super::matmul_tiled::{GridPart, TILE, grid_parts};
use crate::error::Result;
use crate::gpu::{GpuTensor, Recorder, kernels};
use crate::weights::{Weight, WeightChunk};

/// Mirrors `Params` in `shaders/qmatmul_tiled_common.wgsl` (both kernels).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    row_bytes: u32,
    row_start: u32,
    rows: u32,
    has_bias: u32,
    accumulate: u32,
    m_base: u32,
    n_base: u32,
    _pad: [u32; 2],
}

impl Params {
    /// The params of one dispatch: `m` rows against `chunk` of `w`, grid `part`.
    fn new(w: &Weight, chunk: &WeightChunk, m: usize, part: &GridPart, has_bias: bool, accumulate: bool) -> Params {
        Params {
            m: m as u32,
            n: w.rows as u32,
            k: w.cols as u32,
            row_bytes: w.ty.row_bytes(w.cols) as u32,
            row_start: chunk.row_start as u32,
            rows: chunk.rows as u32,
            has_bias: has_bias as u32,
            accumulate: accumulate as u32,
            m_base: part.base[1],
            n_base: part.base[0],
            _pad: [0; 2],
        }
    }
}

/// Records `y = x · Wᵀ + bias` for `m` rows; the caller has checked the shapes (none empty).
///
/// # Shapes
/// `x`: `(M, K)`, `w`: `(N, K)`, `bias`: `(N)`, `y`: `(M, N)`.
pub(super) fn forward(rec: &mut Recorder, x: &GpuTensor, w: &Weight, bias: Option<&GpuTensor>, y: &GpuTensor, m: usize) -> Result<()> {
    let constants = [("WTYPE", w.ty as u32 as f64)];
    let bias_binding = bias.unwrap_or(x);
    for chunk in &w.chunks {
        for part in grid_parts(rec.gpu, [chunk.rows.div_ceil(TILE), m.div_ceil(TILE), 1]) {
            let params = Params::new(w, chunk, m, &part, bias.is_some(), false);
            let bindings = [x.binding(), chunk.buffer.as_entire_binding(), bias_binding.binding(), y.binding()];
            rec.dispatch_with(&kernels::QMATMUL_TILED_FORWARD, &constants, &params, &bindings, part.size);
        }
    }
    Ok(())
}

/// Records `dx = dy · W` (`dx += dy · W` with `accumulate`) for `m` rows; the caller has
/// checked the shapes (none empty). Chunks after the first accumulate.
///
/// # Shapes
/// `dy`: `(M, N)`, `w`: `(N, K)`, `dx`: `(M, K)`.
pub(super) fn backward_input(rec: &mut Recorder, dy: &GpuTensor, w: &Weight, dx: &GpuTensor, accumulate: bool, m: usize) -> Result<()> {
    let constants = [("WTYPE", w.ty as u32 as f64)];
    for (c, chunk) in w.chunks.iter().enumerate() {
        for part in grid_parts(rec.gpu, [w.cols.div_ceil(TILE), m.div_ceil(TILE), 1]) {
            let params = Params::new(w, chunk, m, &part, false, accumulate || c > 0);
            let bindings = [dy.binding(), chunk.buffer.as_entire_binding(), dx.binding()];
            rec.dispatch_with(&kernels::QMATMUL_TILED_BACKWARD, &constants, &params, &bindings, part.size);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::qmatmul::tests::{atol, check_backward, weight};
    use super::super::qmatmul::{Kernels, qmatmul_backward_input, qmatmul_forward, qmatmul_forward_cpu, qmatmul_forward_with};
    use crate::gpu::{GpuTensor, KernelFamily, Recorder};
    use crate::quant::GgmlType;
    use crate::testing::{Rng, assert_close, test_gpu, test_gpu_with};

    /// Forward (with bias) on the tiled kernel for every GGUF type: odd M across two row tiles,
    /// N not a multiple of the tile, one and three weight chunks, and a single row (decode).
    #[test]
    fn qmatmul_tiled_forward_every_type_matches_cpu() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(41);
        for ty in GgmlType::ALL {
            let k = if ty.block_size() == 256 { 512 } else { 96 };
            for (m, n, chunks) in [(67, 70, 1), (67, 70, 3), (1, 9, 1)] {
                let (w, bytes) = weight(ty, n, k, chunks, &mut rng);
                let (x, b) = (rng.normal_vec(m * k, 1.0), rng.normal_vec(n, 1.0));
                let (gx, gb, gy) = (GpuTensor::from_slice(gpu, &[m, k], &x), GpuTensor::from_slice(gpu, &[n], &b), GpuTensor::zeros(gpu, &[m, n]));
                let mut rec = Recorder::new(gpu);
                qmatmul_forward_with(&mut rec, &gx, &w, Some(&gb), &gy, Kernels::Tiled).unwrap();
                let got = pollster::block_on(gy.read(rec)).unwrap();
                let want = qmatmul_forward_cpu(&x, &w, &bytes, Some(&b)).unwrap();
                assert_close(&got, &want, atol(k), 1e-4, &format!("qmatmul_tiled_forward {ty:?} m={m} n={n} k={k} chunks={chunks}"));
            }
        }
    }

    /// Input gradient, accumulated, for every GGUF type (every kernel, the tiled one among them):
    /// odd M, N across several BK steps and chunks, K over two column tiles.
    #[test]
    fn qmatmul_tiled_backward_every_type_matches_cpu() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(42);
        for ty in GgmlType::ALL {
            let k = if ty.block_size() == 256 { 256 } else { 96 };
            check_backward(gpu, &mut rng, ty, 67, 45, k, 3, true);
            check_backward(gpu, &mut rng, ty, 1, 21, k, 1, false);
        }
    }

    /// Float weights with K not a multiple of 4 or 16 (the value-by-value edge of the weight tile).
    #[test]
    fn qmatmul_tiled_float_types_with_odd_k() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(43);
        for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
            for k in [19, 70] {
                let (m, n) = (66, 13);
                let (w, bytes) = weight(ty, n, k, 2, &mut rng);
                let x = rng.normal_vec(m * k, 1.0);
                let (gx, gy) = (GpuTensor::from_slice(gpu, &[m, k], &x), GpuTensor::zeros(gpu, &[m, n]));
                let mut rec = Recorder::new(gpu);
                qmatmul_forward_with(&mut rec, &gx, &w, None, &gy, Kernels::Tiled).unwrap();
                let got = pollster::block_on(gy.read(rec)).unwrap();
                assert_close(&got, &qmatmul_forward_cpu(&x, &w, &bytes, None).unwrap(), atol(k), 1e-4, &format!("qmatmul_tiled_forward {ty:?} k={k}"));
                check_backward(gpu, &mut rng, ty, m, n, k, 2, true);
            }
        }
    }

    /// On a device of the GPU family both products are one dispatch per weight chunk.
    #[test]
    fn qmatmul_gpu_family_is_one_dispatch_per_chunk() {
        let Some(gpu) = test_gpu_with(KernelFamily::Gpu) else { return };
        let mut rng = Rng::new(44);
        let (m, n, k) = (300, 70, 64);
        for chunks in [1, 3] {
            let bytes = crate::quant::quantize::random_blocks(GgmlType::Q8_0, n * k / 32, 1.0, &mut rng);
            let limit = (n.div_ceil(chunks) * GgmlType::Q8_0.row_bytes(k)) as u64;
            let w = crate::weights::Weight::upload_with_limit(gpu, "w", GgmlType::Q8_0, n, k, &bytes, limit).unwrap();
            let (x, y, dx) = (GpuTensor::zeros(gpu, &[m, k]), GpuTensor::zeros(gpu, &[m, n]), GpuTensor::zeros(gpu, &[m, k]));
            let mut rec = Recorder::new(gpu);
            qmatmul_forward(&mut rec, &x, &w, None, &y).unwrap();
            assert_eq!(rec.dispatches as usize, chunks, "forward dispatches with {chunks} chunks");
            qmatmul_backward_input(&mut rec, &y, &w, &dx, false).unwrap();
            assert_eq!(rec.dispatches as usize, 2 * chunks, "backward dispatches with {chunks} chunks");
            rec.submit();
        }
    }
}
