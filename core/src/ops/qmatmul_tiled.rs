//! The GPU family's products against frozen GGUF weights (`shaders/qmatmul_tiled_forward.wgsl`,
//! `qmatmul_tiled_backward.wgsl`; tiles in `matmul_tile_common.wgsl`): what
//! [`super::qmatmul::qmatmul_forward`] and [`super::qmatmul::qmatmul_backward_input`] run when
//! the device's [`crate::gpu::KernelFamily`] is `Gpu`. The weight type is the override constant
//! `WTYPE` as in the CPU family's kernels; 64 × 64 output tiles, BK = 16, the weight tile
//! dequantized into workgroup memory, x / dy read from storage (no staging copy). One dispatch
//! per weight row chunk (a weight over the storage-binding limit is stored in chunks; the
//! backward's later chunks accumulate), the grid split only past the adapter's workgroup limit
//! per dimension. With `f16` (where the device runs f16 tiles, [`crate::gpu::Gpu::f16_tiles`])
//! the `_F16` kernels keep the dequantized weight tile in f16 (`shaders/qmatmul_tile_f16.wgsl`:
//! BK 32; x / dy tiles, sums and outputs in f32).

use super::matmul_tiled::{GridPart, TILE, check_f16, grid_parts};
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

/// Records `y = x · Wᵀ + bias` (`y +=` with `add`) for `m` rows; the caller has checked the
/// shapes (none empty).
///
/// # Shapes
/// `x`: `(M, K)`, `w`: `(N, K)`, `bias`: `(N)`, `y`: `(M, N)`.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(rec: &mut Recorder, x: &GpuTensor, w: &Weight, bias: Option<&GpuTensor>, y: &GpuTensor, m: usize, add: bool, f16: bool) -> Result<()> {
    check_f16(rec.gpu, f16)?;
    let kernel = if f16 { &kernels::QMATMUL_TILED_FORWARD_F16 } else { &kernels::QMATMUL_TILED_FORWARD };
    let constants = [("WTYPE", w.ty as u32 as f64)];
    let bias_binding = bias.unwrap_or(x);
    for chunk in &w.chunks {
        for part in grid_parts(rec.gpu, [chunk.rows.div_ceil(TILE), m.div_ceil(TILE), 1]) {
            let params = Params::new(w, chunk, m, &part, bias.is_some(), add);
            let bindings = [x.binding(), chunk.buffer.as_entire_binding(), bias_binding.binding(), y.binding()];
            rec.dispatch_with(kernel, &constants, &params, &bindings, part.size);
        }
    }
    Ok(())
}

/// Records `dx = dy · W` (`dx += dy · W` with `accumulate`) for `m` rows; the caller has
/// checked the shapes (none empty). Chunks after the first accumulate.
///
/// # Shapes
/// `dy`: `(M, N)`, `w`: `(N, K)`, `dx`: `(M, K)`.
pub(super) fn backward_input(rec: &mut Recorder, dy: &GpuTensor, w: &Weight, dx: &GpuTensor, accumulate: bool, m: usize, f16: bool) -> Result<()> {
    check_f16(rec.gpu, f16)?;
    let kernel = if f16 { &kernels::QMATMUL_TILED_BACKWARD_F16 } else { &kernels::QMATMUL_TILED_BACKWARD };
    let constants = [("WTYPE", w.ty as u32 as f64)];
    for (c, chunk) in w.chunks.iter().enumerate() {
        for part in grid_parts(rec.gpu, [w.cols.div_ceil(TILE), m.div_ceil(TILE), 1]) {
            let params = Params::new(w, chunk, m, &part, false, accumulate || c > 0);
            let bindings = [dy.binding(), chunk.buffer.as_entire_binding(), dx.binding()];
            rec.dispatch_with(kernel, &constants, &params, &bindings, part.size);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::qmatmul::tests::{check_backward, check_forward, variants, weight};
    use super::super::qmatmul::{Kernels, qmatmul_backward_input, qmatmul_forward, qmatmul_forward_with};
    use crate::gpu::{GpuTensor, KernelFamily, Recorder};
    use crate::quant::GgmlType;
    use crate::testing::{Rng, test_gpu, test_gpu_f16, test_gpu_with};

    /// The tiled kernels: f32 tiles, and f16 weight tiles where the adapter has shader-f16.
    fn tiled(gpu: &crate::gpu::Gpu) -> Vec<Kernels> {
        variants(gpu).into_iter().filter(|v| matches!(v, Kernels::Tiled { .. })).collect()
    }

    /// Forward (with bias) on the tiled kernels for every GGUF type: odd M across two row tiles,
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
                for variant in tiled(gpu) {
                    check_forward(gpu, variant, &x, (&w, &bytes), Some(&b), &format!("qmatmul_tiled_forward {ty:?} chunks={chunks}"));
                }
            }
        }
    }

    /// Input gradient, accumulated, for every GGUF type (every kernel, the tiled ones among them):
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

    /// Float weights with K not a multiple of 4, 16 or 32 (the value-by-value edge of the weight tile).
    #[test]
    fn qmatmul_tiled_float_types_with_odd_k() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(43);
        for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
            for k in [19, 70] {
                let (m, n) = (66, 13);
                let (w, bytes) = weight(ty, n, k, 2, &mut rng);
                let x = rng.normal_vec(m * k, 1.0);
                for variant in tiled(gpu) {
                    check_forward(gpu, variant, &x, (&w, &bytes), None, &format!("qmatmul_tiled_forward {ty:?}"));
                }
                check_backward(gpu, &mut rng, ty, m, n, k, 2, true);
            }
        }
    }

    /// The f16 variant really rounds the weight tile: Q8_0 values (an f16 scale times an 8-bit
    /// integer) need up to 19 significant bits, so its result differs from the f32 kernel's by
    /// more than f32 rounding, and by no more than the f16 bound (checked in check_forward).
    #[test]
    fn qmatmul_tiled_f16_rounds_the_weight_tile() {
        let Some(gpu) = test_gpu().filter(|g| g.features.shader_f16) else { return };
        let mut rng = Rng::new(45);
        let (m, n, k) = (40, 70, 96);
        let (w, _) = weight(GgmlType::Q8_0, n, k, 1, &mut rng);
        let x = rng.normal_vec(m * k, 1.0);
        let gx = GpuTensor::from_slice(gpu, &[m, k], &x);
        let run = |variant| {
            let gy = GpuTensor::zeros(gpu, &[m, n]);
            let mut rec = Recorder::new(gpu);
            qmatmul_forward_with(&mut rec, &gx, &w, None, &gy, false, variant).unwrap();
            pollster::block_on(gy.read(rec)).unwrap()
        };
        let (f32_tiles, f16_tiles) = (run(Kernels::Tiled { f16: false }), run(Kernels::Tiled { f16: true }));
        let max_diff = f32_tiles.iter().zip(&f16_tiles).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(max_diff > 1e-4, "f16 and f32 weight tiles agree to {max_diff:.3e}: is the tile f16?");
    }

    /// On a device of the GPU family both products are one dispatch per weight chunk, with f32
    /// and with f16 tiles.
    #[test]
    fn qmatmul_gpu_family_is_one_dispatch_per_chunk() {
        let gpus = [test_gpu_with(KernelFamily::Gpu), test_gpu_f16()];
        for gpu in gpus.into_iter().flatten() {
            let mut rng = Rng::new(44);
            let (m, n, k) = (300, 70, 64);
            for chunks in [1, 3] {
                let bytes = crate::quant::quantize::random_blocks(GgmlType::Q8_0, n * k / 32, 1.0, &mut rng);
                let limit = (n.div_ceil(chunks) * GgmlType::Q8_0.row_bytes(k)) as u64;
                let w = crate::weights::Weight::upload_with_limit(gpu, "w", GgmlType::Q8_0, n, k, &bytes, limit).unwrap();
                let (x, y, dx) = (GpuTensor::zeros(gpu, &[m, k]), GpuTensor::zeros(gpu, &[m, n]), GpuTensor::zeros(gpu, &[m, k]));
                let mut rec = Recorder::new(gpu);
                qmatmul_forward(&mut rec, &x, &w, None, &y).unwrap();
                assert_eq!(rec.dispatches as usize, chunks, "forward dispatches with {chunks} chunks, f16 tiles {}", gpu.f16_tiles);
                qmatmul_backward_input(&mut rec, &y, &w, &dx, false).unwrap();
                assert_eq!(rec.dispatches as usize, 2 * chunks, "backward dispatches with {chunks} chunks");
                rec.submit();
            }
        }
    }
}
