//! Batched f32 matrix product `C[b] = alpha · op(A[b]) · op(B[b])`, optionally accumulated
//! into `C` (`C += ...`, for gradient accumulation), with transpose flags and batch strides
//! (stride 0 broadcasts one matrix over the batch). Used for the LoRA products and their
//! gradients; frozen weights in GGUF types go through [`super::qmatmul`] instead.
//!
//! `shaders/matmul_stage.wgsl` copies op(A) and op(B)ᵀ into uniform buffers in K slices of 64;
//! `shaders/matmul_forward.wgsl` is register-blocked: each invocation computes 16 rows × 4
//! columns of `C` (1 × 4 when `M < 16`) over up to four K slices per dispatch. Where the
//! adapter has subgroups of ≥ 8 lanes, `shaders/matmul_forward_sg.wgsl` takes `M >= 16`:
//! 32 rows × 4 columns per invocation, the rows of op(A) loaded once per subgroup and shared
//! with `subgroupBroadcast`. On CPU adapters with subgroups (llvmpipe) the texture path of
//! [`super::matmul_tex`] takes `M >= 16` instead: operands in read-only storage textures,
//! all of K per dispatch, 1.3–3× `matmul_forward_sg` there (see docs/lavapipe.md for what
//! each kind of load costs on llvmpipe).
//!
//! All of the above is the CPU kernel family. On a device of the GPU family
//! ([`crate::gpu::KernelFamily::Gpu`]) every product runs on [`super::matmul_tiled`] instead:
//! workgroup-memory tiles read straight from the tensors, one dispatch per product.

use crate::error::{Error, Result};
use super::matmul_stage::{Operand, stage};
pub use super::matmul_stage::MatmulShape;
use super::qmatmul::BLOCK_FLOATS;
use crate::gpu::{GpuTensor, Recorder, kernels};

/// Mirrors `Params` in `shaders/matmul_forward.wgsl` and `shaders/matmul_forward_sg.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    m0: u32,
    mb: u32,
    n0: u32,
    n: u32,
    c_off: u32,
    accumulate: u32,
    alpha: f32,
    /// K slices of this dispatch holding values (the others are skipped).
    slices: u32,
}

/// Values of K per staged slice (one uniform row of `matmul_forward`: 256 bytes, a valid
/// uniform binding offset on every adapter).
const KSLICE: usize = 64;
/// Rows of op(A) and columns of op(B) per `matmul_forward` dispatch (64 KiB of each).
const BLOCK: usize = BLOCK_FLOATS / KSLICE;
/// K slices per `matmul_forward` dispatch (two uniform bindings each; 4 → 9 uniform buffers
/// with the params, within WebGPU's 12 per stage). More slices per dispatch means fewer
/// read-modify-writes of `C`, whose per-lane storage accesses are slow on llvmpipe.
const SLICES_PER_DISPATCH: usize = 4;
/// Invocations per workgroup of both kernels (4 columns each): a 256-column block is
/// split into 4 workgroups so that a partial last block (N = 576) computes no idle columns.
const WORKGROUP: usize = 16;
/// Rows of C per workgroup of `matmul_forward_sg`.
const SG_ROWS: usize = 32;

fn block(buffer: &wgpu::Buffer, first_row: usize) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset: (first_row * KSLICE * 4) as u64,
        size: std::num::NonZeroU64::new((BLOCK_FLOATS * 4) as u64),
    })
}

/// Records `C[b] = alpha · op(A[b]) · op(B[b])` (`+= ` with `shape.accumulate`).
///
/// op(A) and op(B)ᵀ are first staged (transposed if needed, zero-padded, in K slices of 64)
/// into uniform buffers by `matmul_stage`; then one `matmul_forward` (or `matmul_forward_sg`)
/// dispatch per batch item, four K slices, block of 256 rows and block of 256 columns.
///
/// # Shapes
/// `a`: `(batch, m, k)` or `(batch, k, m)` with `trans_a` (or one matrix with `stride_a = 0`);
/// `b`: `(batch, k, n)` or `(batch, n, k)` with `trans_b`; `c`: `(batch, m, n)`.
/// Errors if a buffer is too small for the shape and strides.
pub fn matmul(rec: &mut Recorder, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor, shape: MatmulShape) -> Result<()> {
    let variant = Variant::choose(rec.gpu, &shape);
    matmul_with(rec, a, b, c, shape, variant)
}

/// The kernel [`matmul`] runs `shape` on with this adapter (its WGSL entry point, and
/// `(f16 tiles)` for the tiled kernels' f16 variants), for reports.
pub fn kernel_name(gpu: &crate::gpu::Gpu, shape: &MatmulShape) -> String {
    match Variant::choose(gpu, shape) {
        Variant::Plain => kernels::MATMUL_FORWARD.entry.into(),
        Variant::Subgroup => kernels::MATMUL_FORWARD_SG.entry.into(),
        Variant::Texture => kernels::MATMUL_FORWARD_TEX.entry.into(),
        Variant::Tiled { f16: false } => super::matmul_tiled::kernel(shape, false).entry.into(),
        Variant::Tiled { f16: true } => format!("{} (f16 tiles)", super::matmul_tiled::kernel(shape, true).entry),
    }
}

/// The kernels a product can run on.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// `matmul_forward`: any adapter, any shape.
    Plain,
    /// `matmul_forward_sg`: subgroups of ≥ 8 lanes, `m >= 16`.
    Subgroup,
    /// `matmul_forward_tex` (see [`super::matmul_tex`]): CPU adapters with subgroups, `m >= 16`,
    /// operands that fit in textures.
    Texture,
    /// `matmul_tiled` / `matmul_tiled_vec4` (see [`super::matmul_tiled`]): the GPU family, any
    /// shape, one dispatch per product; their f16-tile variants with `f16` (needs shader-f16).
    Tiled { f16: bool },
}

impl Variant {
    /// The fastest kernel this adapter runs `s` on. The texture kernel was tuned on llvmpipe
    /// (256 accumulators per lane would spill on a GPU), so GPUs keep the uniform-buffer kernels.
    fn choose(gpu: &crate::gpu::Gpu, s: &MatmulShape) -> Variant {
        if gpu.family == crate::gpu::KernelFamily::Gpu {
            Variant::Tiled { f16: gpu.f16_operands }
        } else if s.m < 16 || !gpu.subgroup_kernels {
            Variant::Plain
        } else if gpu.cpu && super::matmul_tex::fits(gpu, s) {
            Variant::Texture
        } else {
            Variant::Subgroup
        }
    }
}

/// [`matmul`] on the kernel `variant` chosen by the caller (`Subgroup` and `Texture` need
/// `m >= 16` and subgroups; `Texture` also [`super::matmul_tex::fits`]).
fn matmul_with(rec: &mut Recorder, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor, shape: MatmulShape, variant: Variant) -> Result<()> {
    let s = shape;
    let need = |stride: usize, len: usize| (s.batch.max(1) - 1) * stride + len;
    for (name, t, n) in [
        ("A", a, need(s.stride_a, s.m * s.k)),
        ("B", b, need(s.stride_b, s.k * s.n)),
        ("C", c, need(s.stride_c, s.m * s.n)),
    ] {
        if t.len() < n {
            return Err(Error::invalid(
                format!("matmul {name}"),
                format!("{:?} holds {} values, the shape {s:?} needs {n}", t.shape, t.len()),
            ));
        }
    }
    if s.batch == 0 || s.m == 0 || s.n == 0 {
        return Ok(());
    }
    match variant {
        Variant::Texture => return super::matmul_tex::matmul_tex(rec, a, b, c, s),
        Variant::Tiled { f16 } => return super::matmul_tiled::matmul_tiled(rec, a, b, c, s, f16),
        Variant::Plain | Variant::Subgroup => {}
    }
    // op(A) rows and op(B)ᵀ rows (= columns of op(B)), each (slices, batch, rows, KSLICE).
    let batch_a = if s.stride_a == 0 { 1 } else { s.batch };
    let batch_b = if s.stride_b == 0 { 1 } else { s.batch };
    let (xa, zero_a) = stage(rec, &Operand { x: a, batch: batch_a, rows: s.m, stride: s.stride_a, trans: s.trans_a }, s.k, KSLICE)?;
    let (xb, zero_b) = stage(rec, &Operand { x: b, batch: batch_b, rows: s.n, stride: s.stride_b, trans: !s.trans_b }, s.k, KSLICE)?;
    let slices = s.k.div_ceil(KSLICE).max(1);
    let tm = if s.m < 16 { 1 } else { 16 };
    let constants = [("TM", tm as f64)];
    let sg = tm == 16 && variant == Variant::Subgroup;
    let (kernel, constants): (&kernels::Kernel, &[(&str, f64)]) =
        if sg { (&kernels::MATMUL_FORWARD_SG, &[]) } else { (&kernels::MATMUL_FORWARD, &constants) };
    for bi in 0..s.batch {
        let (ba, bb) = (bi.min(batch_a - 1), bi.min(batch_b - 1));
        for si in (0..slices).step_by(SLICES_PER_DISPATCH) {
            for n0 in (0..s.n).step_by(BLOCK) {
                for m0 in (0..s.m).step_by(BLOCK) {
                    let mb = BLOCK.min(s.m - m0);
                    let params = MatmulParams {
                        m0: m0 as u32,
                        mb: mb as u32,
                        n0: n0 as u32,
                        n: s.n as u32,
                        c_off: (bi * s.stride_c) as u32,
                        accumulate: (s.accumulate || si > 0) as u32,
                        alpha: s.alpha,
                        slices: (slices - si).min(SLICES_PER_DISPATCH) as u32,
                    };
                    // (xs, bt) per K slice; the zero slack after the staged values past K.
                    let mut bindings = Vec::with_capacity(2 * SLICES_PER_DISPATCH + 1);
                    for sj in si..si + SLICES_PER_DISPATCH {
                        if sj < slices {
                            bindings.push(block(&xa, (sj * batch_a + ba) * s.m + m0));
                            bindings.push(block(&xb, (sj * batch_b + bb) * s.n + n0));
                        } else {
                            bindings.push(block(&xa, zero_a));
                            bindings.push(block(&xb, zero_b));
                        }
                    }
                    bindings.push(c.binding());
                    let nb = BLOCK.min(s.n - n0);
                    let grid = [nb.div_ceil(4 * WORKGROUP) as u32, mb.div_ceil(if sg { SG_ROWS } else { tm }) as u32, 1];
                    rec.dispatch_with(kernel, constants, &params, &bindings, grid);
                }
            }
        }
    }
    Ok(())
}

/// CPU reference of [`matmul`]: returns the new `C` (`c` is the old one, read when accumulating).
pub fn matmul_cpu(a: &[f32], b: &[f32], c: &[f32], s: MatmulShape) -> Vec<f32> {
    let mut out = c.to_vec();
    for bi in 0..s.batch {
        let (ab, bb, cb) = (bi * s.stride_a, bi * s.stride_b, bi * s.stride_c);
        for i in 0..s.m {
            for j in 0..s.n {
                let mut acc = 0f64;
                for k in 0..s.k {
                    let av = if s.trans_a { a[ab + k * s.m + i] } else { a[ab + i * s.k + k] };
                    let bv = if s.trans_b { b[bb + j * s.k + k] } else { b[bb + k * s.n + j] };
                    acc += av as f64 * bv as f64;
                }
                let o = &mut out[cb + i * s.n + j];
                *o = s.alpha * acc as f32 + if s.accumulate { *o } else { 0.0 };
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close, assert_within, test_gpu};

    /// Checks every kernel this adapter can run the shape on (the GPU family's tiled kernels,
    /// with f16 tiles too where the adapter has shader-f16, on any adapter).
    fn check(shape: MatmulShape, a_len: usize, b_len: usize, rng: &mut Rng) {
        let gpu = test_gpu().unwrap();
        check_tiled(shape, a_len, b_len, rng);
        check_with(shape, a_len, b_len, rng, Variant::Plain);
        if shape.m >= 16 && gpu.subgroup_kernels {
            check_with(shape, a_len, b_len, rng, Variant::Subgroup);
            if crate::ops::matmul_tex::fits(gpu, &shape) {
                check_with(shape, a_len, b_len, rng, Variant::Texture);
            }
        }
    }

    /// Checks the GPU family's tiled kernels alone (on any adapter): f32 tiles, and f16 tiles
    /// where the adapter has shader-f16.
    pub(crate) fn check_tiled(shape: MatmulShape, a_len: usize, b_len: usize, rng: &mut Rng) {
        check_with(shape, a_len, b_len, rng, Variant::Tiled { f16: false });
        if test_gpu().unwrap().features.shader_f16 {
            check_with(shape, a_len, b_len, rng, Variant::Tiled { f16: true });
        }
    }

    /// `|alpha| · Σ_k |op(A)[i, k]| · |op(B)[k, j]|` per element of C: the scale of the error
    /// that rounding the operands to f16 can cause.
    pub(crate) fn abs_products(a: &[f32], b: &[f32], s: MatmulShape) -> Vec<f32> {
        let abs = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<_>>();
        let s = MatmulShape { alpha: s.alpha.abs(), accumulate: false, ..s };
        matmul_cpu(&abs(a), &abs(b), &vec![0.0; s.batch * s.stride_c], s)
    }

    /// Unit roundoff of f16 (11 significant bits, round to nearest): a value rounded to f16 is
    /// off by at most `F16_EPS · |value|` (normal range).
    pub(crate) const F16_EPS: f32 = 1.0 / 2048.0;

    fn check_with(shape: MatmulShape, a_len: usize, b_len: usize, rng: &mut Rng, variant: Variant) {
        let gpu = test_gpu().unwrap();
        let c_len = shape.batch * shape.stride_c;
        let (a, b, c0) = (rng.normal_vec(a_len, 1.0), rng.normal_vec(b_len, 1.0), rng.normal_vec(c_len, 1.0));
        let (ga, gb, gc) = (
            GpuTensor::from_slice(gpu, &[a_len], &a),
            GpuTensor::from_slice(gpu, &[b_len], &b),
            GpuTensor::from_slice(gpu, &[c_len], &c0),
        );
        let mut rec = Recorder::new(gpu);
        matmul_with(&mut rec, &ga, &gb, &gc, shape, variant).unwrap();
        let got = pollster::block_on(gc.read(rec)).unwrap();
        // Sums of k products of unit normals: |C| ~ sqrt(k); f32 rounding ~1e-6 relative.
        let atol = 1e-5 * (shape.k as f32).sqrt().max(1.0);
        let want = matmul_cpu(&a, &b, &c0, shape);
        let what = format!("matmul ({variant:?}) {shape:?}");
        if variant != (Variant::Tiled { f16: true }) {
            return assert_close(&got, &want, atol, 1e-4, &what);
        }
        // f16 tiles: a' = a(1 + δa), b' = b(1 + δb), |δ| <= 2^-11, so each product is off by at
        // most (2 · 2^-11 + 2^-22)|a||b|; sums in f32 as above.
        let scale = abs_products(&a, &b, shape);
        assert_within(&got, &want, |i, w| atol + 1e-4 * w.abs() + 2.01 * F16_EPS * scale[i], &what);
        // And the tiles really are f16: an f32-exact result would mean they are not.
        let max_diff = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f32::max);
        if shape.m * shape.n * shape.k >= 64 {
            assert!(max_diff > 1e-5 * scale.iter().fold(0.0, |m: f32, v| m.max(*v)), "{what}: max |diff| {max_diff:.3e} is f32-exact");
        }
    }

    #[test]
    fn matmul_all_transposes_odd_shapes() {
        if test_gpu().is_none() {
            return;
        }
        let mut rng = Rng::new(11);
        for (m, n, k) in [(13, 17, 19), (1, 37, 64), (1, 5, 3), (4, 4, 4), (6, 9, 33), (19, 24, 36), (21, 17, 1030), (259, 261, 67), (40, 128, 128), (17, 9, 0)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let mut s = MatmulShape::new(m, n, k);
                s.trans_a = ta;
                s.trans_b = tb;
                check(s, m * k, k * n, &mut rng);
            }
        }
    }

    #[test]
    fn matmul_batched_broadcast_accumulate_alpha() {
        if test_gpu().is_none() {
            return;
        }
        let mut rng = Rng::new(12);
        let (m, n, k) = (13, 17, 19);
        // Batch 2, B broadcast (stride 0), accumulate with alpha 0.5, both transposes.
        let s = MatmulShape { stride_b: 0, alpha: 0.5, ..MatmulShape::new(m, n, k).batched(2).accumulate().trans_a() };
        check(s, 2 * m * k, k * n, &mut rng);
        // A broadcast, B batched and transposed, plain overwrite.
        let s = MatmulShape { stride_a: 0, ..MatmulShape::new(5, 7, 8).batched(3).trans_b() };
        check(s, 5 * 8, 3 * 7 * 8, &mut rng);
        // M = 1 (matrix-vector path), batch 2, accumulate.
        check(MatmulShape::new(1, 33, 20).batched(2).accumulate(), 2 * 20, 2 * 20 * 33, &mut rng);
        // M >= 8 (8-row blocks), batch 3, N % 4 == 0 (vec4 rows of B).
        check(MatmulShape::new(17, 12, 10).batched(3), 3 * 17 * 10, 3 * 10 * 12, &mut rng);
        // M >= 16 (register-tiled, subgroup and texture kernels): two row tiles and a partial
        // column tile, batched with a broadcast operand, accumulated and scaled.
        let (m, n, k) = (33, 70, 100);
        let s = MatmulShape { stride_b: 0, alpha: 0.5, ..MatmulShape::new(m, n, k).batched(2).accumulate().trans_a() };
        check(s, 2 * m * k, k * n, &mut rng);
        let s = MatmulShape { stride_a: 0, alpha: -2.0, ..MatmulShape::new(m, n, k).batched(3).trans_b() };
        check(s, m * k, 3 * n * k, &mut rng);
        // Rows of 64 values (copied into textures as stored), K not a multiple of 8.
        check(MatmulShape::new(20, 64, 12).batched(2).accumulate(), 2 * 20 * 12, 2 * 12 * 64, &mut rng);
    }

    /// K of many 64-value slices (and past lavapipe's ~65535 loop iterations per invocation
    /// if a kernel looped over all of K): later dispatches accumulate.
    #[test]
    fn matmul_k_slices() {
        if test_gpu().is_none() {
            return;
        }
        let mut rng = Rng::new(13);
        let (m, n, k) = (9, 6, 16384 + 6);
        check(MatmulShape::new(m, n, k).trans_b(), m * k, k * n, &mut rng);
        check(MatmulShape::new(m, n, k).trans_a().accumulate(), m * k, k * n, &mut rng);
        // M >= 16: the register-tiled (and subgroup) kernel over 257 slices.
        check(MatmulShape::new(17, n, k).trans_b(), 17 * k, k * n, &mut rng);
    }

    #[test]
    fn matmul_rejects_small_buffers() {
        let Some(gpu) = test_gpu() else { return };
        let t = GpuTensor::zeros(gpu, &[4, 4]);
        let mut rec = Recorder::new(gpu);
        assert!(matmul(&mut rec, &t, &t, &t, MatmulShape::new(4, 5, 4)).is_err());
    }
}
