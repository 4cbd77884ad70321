//! The GPU family's f32 product (`shaders/matmul_tiled.wgsl`, `matmul_tiled_vec4.wgsl`, tiles
//! in `matmul_tile_common.wgsl`): what [`super::matmul::matmul`] runs when the device's
//! [`crate::gpu::KernelFamily`] is `Gpu`. A and B are read straight from their storage buffers
//! (no staging copy); 64 × 64 tiles of C per 256-invocation workgroup, BK = 16, a 4 × 4
//! register block per invocation (the shader header says why); **one dispatch per product**,
//! the batch in the grid's z dimension. A grid dimension is split into several dispatches only
//! past the adapter's workgroups-per-dimension limit (65,535 on most: M up to 4,194,240 rows
//! in one dispatch).
//!
//! The vec4 kernel is taken when every stored row of A and B is a multiple of 4 values long and
//! their batch strides are too ([`vec4_layout`]); the scalar kernel otherwise. Where the device
//! runs f16 operand tiles ([`crate::gpu::Gpu::f16_operands`]) both come as `_f16` variants
//! (`shaders/matmul_tile_f16.wgsl`: A and B rounded to f16 in workgroup memory, BK 32, sums and
//! C in f32).

use super::matmul_stage::MatmulShape;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Kernel, Recorder, kernels};

/// Rows and columns of C per workgroup (`TILE` in `matmul_tile_common.wgsl`).
pub(crate) const TILE: usize = 64;

/// Mirrors `Params` in `shaders/matmul_tiled_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    accumulate: u32,
    stride_a: u32,
    stride_b: u32,
    stride_c: u32,
    alpha: f32,
    m_base: u32,
    n_base: u32,
    z_base: u32,
    _pad: u32,
}

/// Whether `s` can run on `matmul_tiled_vec4`: the stored rows of A (K, or M when transposed)
/// and of B (N, or K when transposed) and both batch strides are multiples of 4, and K > 0.
pub(crate) fn vec4_layout(s: &MatmulShape) -> bool {
    let row_a = if s.trans_a { s.m } else { s.k };
    let row_b = if s.trans_b { s.k } else { s.n };
    s.k > 0 && [row_a, row_b, s.stride_a, s.stride_b].iter().all(|v| v.is_multiple_of(4))
}

/// The tiled kernel `s` runs on, with f32 or (`f16`) f16 tiles.
pub(crate) fn kernel(s: &MatmulShape, f16: bool) -> &'static Kernel {
    match (vec4_layout(s), f16) {
        (true, false) => &kernels::MATMUL_TILED_VEC4,
        (false, false) => &kernels::MATMUL_TILED,
        (true, true) => &kernels::MATMUL_TILED_VEC4_F16,
        (false, true) => &kernels::MATMUL_TILED_F16,
    }
}

/// Refuses f16 tiles (`f16`) on a device without shader-f16, whose pipelines could not be
/// created (the choice in [`crate::gpu::Gpu::f16_operands`] never asks for them there).
pub(crate) fn check_f16(gpu: &Gpu, f16: bool) -> Result<()> {
    if f16 && !gpu.features.shader_f16 {
        return Err(Error::invalid("f16 tiles", format!("the adapter {} has no shader-f16", gpu.report.name)));
    }
    Ok(())
}

/// One dispatch of a tiled grid: its first workgroup in each dimension and its size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GridPart {
    pub base: [u32; 3],
    pub size: [u32; 3],
}

/// The dispatches covering `groups` workgroups (x, y, z): one, unless a dimension passes the
/// adapter's `max_compute_workgroups_per_dimension`.
pub(crate) fn grid_parts(gpu: &Gpu, groups: [usize; 3]) -> Vec<GridPart> {
    let max = gpu.limits.max_compute_workgroups_per_dimension.max(1) as usize;
    let spans = |n: usize| (0..n.max(1)).step_by(max).map(move |b| (b as u32, max.min(n.max(1) - b) as u32));
    let mut parts = Vec::new();
    for (bz, sz) in spans(groups[2]) {
        for (by, sy) in spans(groups[1]) {
            for (bx, sx) in spans(groups[0]) {
                parts.push(GridPart { base: [bx, by, bz], size: [sx, sy, sz] });
            }
        }
    }
    parts
}

/// Records `C[b] = alpha · op(A[b]) · op(B[b])` (`+=` with `s.accumulate`) on the tiled
/// kernels, with f16 tiles if `f16` (the caller has checked that the device has shader-f16).
/// The caller has checked the buffers against the shape and that it is not empty.
pub(super) fn matmul_tiled(rec: &mut Recorder, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor, s: MatmulShape, f16: bool) -> Result<()> {
    let constants = [("TRANS_A", s.trans_a as u32 as f64), ("TRANS_B", s.trans_b as u32 as f64)];
    check_f16(rec.gpu, f16)?;
    let kernel = kernel(&s, f16);
    for part in grid_parts(rec.gpu, [s.n.div_ceil(TILE), s.m.div_ceil(TILE), s.batch]) {
        let params = Params {
            m: s.m as u32,
            n: s.n as u32,
            k: s.k as u32,
            accumulate: s.accumulate as u32,
            stride_a: s.stride_a as u32,
            stride_b: s.stride_b as u32,
            stride_c: s.stride_c as u32,
            alpha: s.alpha,
            m_base: part.base[1],
            n_base: part.base[0],
            z_base: part.base[2],
            _pad: 0,
        };
        rec.dispatch_with(kernel, &constants, &params, &[a.binding(), b.binding(), c.binding()], part.size);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::KernelFamily;
    use crate::ops::matmul::tests::{F16_EPS, abs_products, check_tiled};
    use crate::testing::{Rng, assert_within, test_gpu, test_gpu_f16, test_gpu_with};

    const TRANSPOSES: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

    /// Edges that are not multiples of the tile (64) or of BK (16), a single value, exact tiles,
    /// and vec4-aligned shapes (so both kernels run every transpose).
    #[test]
    fn matmul_tiled_all_transposes_odd_shapes() {
        if test_gpu().is_none() {
            return;
        }
        let mut rng = Rng::new(31);
        for (m, n, k) in [(1, 1, 1), (17, 33, 70), (130, 65, 257), (64, 64, 16), (132, 68, 36), (5, 3, 0)] {
            for (ta, tb) in TRANSPOSES {
                let s = MatmulShape { trans_a: ta, trans_b: tb, ..MatmulShape::new(m, n, k) };
                check_tiled(s, m * k, k * n, &mut rng);
            }
        }
    }

    /// Batches with dense and broadcast (stride 0) operands, accumulate and alpha, on both the
    /// scalar (odd rows) and the vec4 kernel.
    #[test]
    fn matmul_tiled_batched_broadcast_accumulate_alpha() {
        if test_gpu().is_none() {
            return;
        }
        let mut rng = Rng::new(32);
        for (m, n, k) in [(17, 33, 70), (68, 20, 36)] {
            for (ta, tb) in TRANSPOSES {
                let base = MatmulShape { trans_a: ta, trans_b: tb, ..MatmulShape::new(m, n, k) };
                let s = MatmulShape { stride_b: 0, alpha: 0.5, ..base.batched(3).accumulate() };
                check_tiled(s, 3 * m * k, k * n, &mut rng);
                let s = MatmulShape { stride_a: 0, alpha: -2.0, ..base.batched(2) };
                check_tiled(s, m * k, 2 * k * n, &mut rng);
                // Batch strides wider than the matrices (items with gaps between them).
                let s = MatmulShape { stride_a: m * k + 8, stride_b: k * n + 4, stride_c: m * n + 3, ..base.batched(2).accumulate() };
                check_tiled(s, 2 * (m * k + 8), 2 * (k * n + 4), &mut rng);
            }
        }
    }

    /// LoRA's products at SmolLM2's training shape (M = 2048 tokens + 2, C = 576, r = 24):
    /// u = x · Aᵀ and dA = duᵀ · x.
    #[test]
    fn matmul_tiled_training_shapes() {
        if test_gpu().is_none() {
            return;
        }
        let mut rng = Rng::new(33);
        let (t, c, r) = (2050, 576, 24);
        check_tiled(MatmulShape::new(t, r, c).trans_b(), t * c, r * c, &mut rng);
        check_tiled(MatmulShape::new(r, c, t).trans_a().accumulate(), t * r, t * c, &mut rng);
    }

    /// On a device of the GPU family `matmul` picks the tiled kernel (f32 tiles, or f16 tiles on
    /// the f16 device) and records one dispatch for a whole batched product.
    #[test]
    fn matmul_gpu_family_is_one_dispatch_per_product() {
        for gpu in [test_gpu_with(KernelFamily::Gpu), test_gpu_f16()].into_iter().flatten() {
            let mut rng = Rng::new(34);
            let s = MatmulShape::new(130, 65, 257).batched(3).trans_b();
            let name = if gpu.f16_operands { "matmul_tiled (f16 tiles)" } else { "matmul_tiled" };
            assert_eq!(crate::ops::matmul::kernel_name(gpu, &s), name);
            let (a, b) = (rng.normal_vec(3 * 130 * 257, 1.0), rng.normal_vec(3 * 65 * 257, 1.0));
            let (ga, gb, gc) = (
                GpuTensor::from_slice(gpu, &[a.len()], &a),
                GpuTensor::from_slice(gpu, &[b.len()], &b),
                GpuTensor::zeros(gpu, &[3 * 130 * 65]),
            );
            let mut rec = Recorder::new(gpu);
            crate::ops::matmul::matmul(&mut rec, &ga, &gb, &gc, s).unwrap();
            assert_eq!(rec.dispatches, 1);
            let got = pollster::block_on(gc.read(rec)).unwrap();
            let want = crate::ops::matmul::matmul_cpu(&a, &b, &vec![0.0; 3 * 130 * 65], s);
            // f16 tiles: both operands rounded, |error| <= (2 · 2^-11 + 2^-22) Σ|a||b|.
            let scale = if gpu.f16_operands { abs_products(&a, &b, s) } else { vec![0.0; want.len()] };
            assert_within(&got, &want, |i, w| 1e-4 + 1e-4 * w.abs() + 2.01 * F16_EPS * scale[i], &format!("matmul on {name}"));
        }
    }

    #[test]
    fn matmul_tiled_vec4_only_for_aligned_rows() {
        let s = MatmulShape::new(17, 33, 70);
        assert!(!vec4_layout(&s), "K = 70 rows of A are not vec4 aligned");
        assert!(vec4_layout(&MatmulShape::new(17, 36, 72)));
        // Transposed A is stored (K, M): M = 17 is its row.
        assert!(!vec4_layout(&MatmulShape::new(17, 36, 72).trans_a()));
        assert!(!vec4_layout(&MatmulShape::new(4, 4, 0)));
    }

    #[test]
    fn matmul_tiled_grid_splits_only_past_the_limit() {
        let Some(gpu) = test_gpu() else { return };
        let max = gpu.limits.max_compute_workgroups_per_dimension as usize;
        assert_eq!(grid_parts(gpu, [9, max, 3]).len(), 1);
        let parts = grid_parts(gpu, [9, max + 1, 3]);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], GridPart { base: [0, max as u32, 0], size: [9, 1, 3] });
    }
}
