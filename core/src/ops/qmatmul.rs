//! Linear layers against frozen base weights kept in their GGUF type (any
//! [`crate::quant::GgmlType`]), dequantized inside the kernels (`shaders/gguf_dequant.wgsl`):
//! forward `y = x · Wᵀ + bias` and the input gradient `dx (+)= dy · W`. The base is frozen,
//! so there is no weight gradient here; LoRA's dA, dB go through [`super::matmul`].
//!
//! The weight type is the kernel's override constant `WTYPE` (one pipeline per type); a weight
//! split into row chunks is dispatched once per chunk. Where the adapter has subgroups of ≥ 8
//! lanes (natively, as for `matmul_forward_sg`), 16-row tiles go through
//! `shaders/qmatmul_forward_sg.wgsl` / `shaders/qmatmul_backward_sg.wgsl`: the rows of the
//! staged operand are loaded once per subgroup and shared with `subgroupBroadcast`
//! (`ANYTUNE_MATMUL_SG=0` forces the plain kernels).
//!
//! All of the above is the CPU kernel family. On a device of the GPU family
//! ([`crate::gpu::KernelFamily::Gpu`]) both products run on [`super::qmatmul_tiled`] instead:
//! weight tiles dequantized into workgroup memory, x / dy read from storage, one dispatch per
//! weight chunk.

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Kernel, Recorder, kernels};
use crate::quant::dequant::dequantize;
use crate::weights::Weight;

/// Mirrors `Params` in `shaders/qmatmul_forward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ForwardParams {
    m0: u32,
    mb: u32,
    n: u32,
    ks: u32,
    k0: u32,
    klen: u32,
    row_bytes: u32,
    row_start: u32,
    rows: u32,
    has_bias: u32,
    accumulate: u32,
    _pad: u32,
}

/// Mirrors `Params` in `shaders/qmatmul_backward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BackwardParams {
    m0: u32,
    mb: u32,
    k: u32,
    ks: u32,
    r0: u32,
    nlen: u32,
    row_bytes: u32,
    rows: u32,
    accumulate: u32,
    _pad: [u32; 3],
}

/// Floats in the uniform binding that holds a block of the shared operand
/// (`array<vec4<f32>, 4096>`: 64 KiB, the WebGPU minimum for `maxUniformBufferBindingSize`).
pub(crate) const BLOCK_FLOATS: usize = 4096 * 4;

/// An `(M, cols)` operand (x for the forward, dy for the backward) copied into a uniform-usage
/// buffer as column slices `(col0, len)` of ≤ [`BLOCK_FLOATS`] columns, each `(M, ks)` (rows
/// padded with zeros so that every row starts at a valid uniform binding offset), plus 64 KiB
/// of slack so every binding of [`BLOCK_FLOATS`] floats is in bounds.
pub(crate) struct Staged {
    buffer: wgpu::Buffer,
    m: usize,
    /// `(first column, columns)` of each slice.
    slices: Vec<(usize, usize)>,
    /// Row stride in floats.
    ks: usize,
    /// Rows of x per workgroup: 16 or 8, or 1 for decode (M < 8) and very wide slices.
    tm: usize,
    /// Rows per binding (a multiple of `tm`).
    block_rows: usize,
}

impl Staged {
    /// Copies the column `slices` of `x` `(m, cols)` inside `rec`.
    fn new(rec: &mut Recorder, x: &GpuTensor, m: usize, cols: usize, slices: Vec<(usize, usize)>) -> Staged {
        let widest = slices.iter().map(|s| s.1).max().unwrap_or(0);
        let align = (rec.gpu.limits.min_uniform_buffer_offset_alignment as usize / 4).max(4);
        let ks = widest.div_ceil(align) * align;
        let buffer = rec.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("qmatmul staged operand"),
            size: ((slices.len() * m * ks + BLOCK_FLOATS) * 4) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if slices.len() == 1 && ks == cols {
            rec.copy(&x.buffer, 0, &buffer, 0, (m * cols * 4) as u64);
        } else {
            for (s, &(c0, len)) in slices.iter().enumerate() {
                for i in 0..m {
                    let dst = (((s * m + i) * ks) * 4) as u64;
                    rec.copy(&x.buffer, ((i * cols + c0) * 4) as u64, &buffer, dst, (len * 4) as u64);
                }
            }
        }
        let block_rows = BLOCK_FLOATS / ks.max(1);
        let tm = if m >= 16 && block_rows >= 16 {
            16
        } else if m < 8 || block_rows < 8 {
            1
        } else {
            8
        };
        Staged { buffer, m, slices, ks, tm, block_rows: block_rows / tm * tm }
    }

    /// Row blocks `(m0, rows)` of one binding each.
    fn row_blocks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.m).step_by(self.block_rows.max(1)).map(|m0| (m0, self.block_rows.min(self.m - m0)))
    }

    /// The binding of rows `m0..` of slice `s`.
    fn block(&self, s: usize, m0: usize) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: ((s * self.m + m0) * self.ks * 4) as u64,
            size: std::num::NonZeroU64::new((BLOCK_FLOATS * 4) as u64),
        })
    }
}

/// `len` split into about-equal slices of at most `max` (lengths multiples of 4 but the last).
fn slices(start: usize, len: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let step = len.div_ceil(len.div_ceil(max).max(1)).next_multiple_of(4).min(max);
    (0..len).step_by(step.max(1)).map(move |c| (start + c, step.min(len - c)))
}

/// The kernels a product runs on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kernels {
    /// The CPU family's staged kernels: plain, or the subgroup ones with workgroups of this
    /// many invocations when 16 rows share a workgroup.
    Staged(Option<u32>),
    /// The GPU family's tiled kernels ([`super::qmatmul_tiled`]); their f16-weight-tile
    /// variants with `f16` (needs shader-f16).
    Tiled { f16: bool },
}

impl Kernels {
    /// The kernels of this device's family: tiled on the GPU family; else the subgroup kernels'
    /// workgroup size (16 on CPU adapters: see `WG` in their shaders) where they can run.
    fn of(gpu: &crate::gpu::Gpu) -> Kernels {
        if gpu.family == crate::gpu::KernelFamily::Gpu {
            Kernels::Tiled { f16: gpu.f16_tiles }
        } else {
            Kernels::Staged(gpu.subgroup_kernels.then_some(if gpu.cpu { 16 } else { 64 }))
        }
    }
}

/// The plain kernel, or the subgroup one with workgroups of `sg` invocations when 16 rows
/// share a workgroup; its pipeline constants; and the output columns per workgroup (4 per
/// invocation).
fn choose(tm: usize, sg: Option<u32>, w: &Weight, plain: &'static Kernel, subgroup: &'static Kernel) -> (&'static Kernel, Vec<(&'static str, f64)>, usize) {
    let mut constants = vec![("WTYPE", w.ty as u32 as f64), ("TM", tm as f64)];
    match sg {
        Some(wg) if tm == 16 => {
            constants.push(("WG", wg as f64));
            (subgroup, constants, 4 * wg as usize)
        }
        _ => (plain, constants, 256),
    }
}

fn check(what: &str, t: &GpuTensor, len: usize, w: &Weight) -> Result<()> {
    if t.len() != len {
        return Err(Error::invalid(
            what,
            format!("{:?} does not fit weight {} ({} x {}): expected {len} values", t.shape, w.name, w.rows, w.cols),
        ));
    }
    Ok(())
}

/// Records `y = x · Wᵀ + bias`.
///
/// x is first copied into a uniform buffer; one dispatch then covers up to 64 KiB of x rows
/// times one weight chunk times one slice of K (slices narrow enough for 16 rows per 64 KiB
/// when M ≥ 16; later slices accumulate into y).
///
/// # Shapes
/// `x`: `(M, K)` (M = B*T), `w`: `(N, K)`, `bias`: `(N)`, `y`: `(M, N)`.
/// `M` is taken from `y.len() / N`.
pub fn qmatmul_forward(rec: &mut Recorder, x: &GpuTensor, w: &Weight, bias: Option<&GpuTensor>, y: &GpuTensor) -> Result<()> {
    qmatmul_forward_with(rec, x, w, bias, y, false, Kernels::of(rec.gpu))
}

/// `y += x · Wᵀ (+ bias)`: [`qmatmul_forward`] added to what `y` holds, in the kernels'
/// epilogue (a projection straight into the residual stream, no add of its own).
pub fn qmatmul_forward_add(rec: &mut Recorder, x: &GpuTensor, w: &Weight, bias: Option<&GpuTensor>, y: &GpuTensor) -> Result<()> {
    qmatmul_forward_with(rec, x, w, bias, y, true, Kernels::of(rec.gpu))
}

/// [`qmatmul_forward`] (`add`: [`qmatmul_forward_add`]) on the kernels chosen by the caller.
pub(crate) fn qmatmul_forward_with(rec: &mut Recorder, x: &GpuTensor, w: &Weight, bias: Option<&GpuTensor>, y: &GpuTensor, add: bool, kernels: Kernels) -> Result<()> {
    let (n, k) = (w.rows, w.cols);
    let m = y.len().checked_div(n).unwrap_or(0);
    check("qmatmul_forward y", y, m * n, w)?;
    check("qmatmul_forward x", x, m * k, w)?;
    if let Some(b) = bias {
        check("qmatmul_forward bias", b, n, w)?;
    }
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let sg = match kernels {
        Kernels::Tiled { f16 } => return super::qmatmul_tiled::forward(rec, x, w, bias, y, m, add, f16),
        Kernels::Staged(sg) => sg,
    };
    // About-equal slices of K, each starting on a whole quant block (multiples of 256), no wider
    // than lets 16 (8) rows of x share a 64 KiB binding: K = 1536 (a down projection) runs as
    // 2 × 768 on the 16-row kernels instead of 8 rows per workgroup.
    let max = BLOCK_FLOATS / if m >= 16 { 16 } else if m >= 8 { 8 } else { 1 };
    let step = k.div_ceil(k.div_ceil(max)).next_multiple_of(256).min(BLOCK_FLOATS);
    let ranges = (0..k).step_by(step).map(|k0| (k0, step.min(k - k0))).collect();
    let staged = Staged::new(rec, x, m, k, ranges);
    let (kernel, constants, columns) = choose(staged.tm, sg, w, &kernels::QMATMUL_FORWARD, &kernels::QMATMUL_FORWARD_SG);
    let bias_binding = bias.unwrap_or(x);
    for (s, &(k0, klen)) in staged.slices.iter().enumerate() {
        for chunk in &w.chunks {
            for (m0, mb) in staged.row_blocks() {
                let params = ForwardParams {
                    m0: m0 as u32,
                    mb: mb as u32,
                    n: n as u32,
                    ks: staged.ks as u32,
                    k0: k0 as u32,
                    klen: klen as u32,
                    row_bytes: w.ty.row_bytes(k) as u32,
                    row_start: chunk.row_start as u32,
                    rows: chunk.rows as u32,
                    has_bias: (bias.is_some() && s == 0) as u32,
                    accumulate: (s > 0 || add) as u32,
                    _pad: 0,
                };
                let grid = [chunk.rows.div_ceil(columns) as u32, mb.div_ceil(staged.tm) as u32, 1];
                let bindings = [staged.block(s, m0), chunk.buffer.as_entire_binding(), bias_binding.binding(), y.binding()];
                rec.dispatch_with(kernel, &constants, &params, &bindings, grid);
            }
        }
    }
    Ok(())
}

/// Records the input gradient `dx = dy · W` (`dx += dy · W` with `accumulate`).
///
/// The forward's scheme with N and K swapped: dy is copied into a uniform buffer in slices of
/// N (each within one weight chunk; ≤ 1024 columns so that 16 rows fit a 64 KiB binding);
/// one dispatch covers a block of dy rows times one slice, later slices accumulate into dx.
///
/// # Shapes
/// `dy`: `(M, N)`, `w`: `(N, K)`, `dx`: `(M, K)`.
pub fn qmatmul_backward_input(rec: &mut Recorder, dy: &GpuTensor, w: &Weight, dx: &GpuTensor, accumulate: bool) -> Result<()> {
    qmatmul_backward_input_with(rec, dy, w, dx, accumulate, Kernels::of(rec.gpu))
}

/// [`qmatmul_backward_input`] on the kernels chosen by the caller.
pub(crate) fn qmatmul_backward_input_with(rec: &mut Recorder, dy: &GpuTensor, w: &Weight, dx: &GpuTensor, accumulate: bool, kernels: Kernels) -> Result<()> {
    let (n, k) = (w.rows, w.cols);
    let m = dx.len().checked_div(k).unwrap_or(0);
    check("qmatmul_backward_input dx", dx, m * k, w)?;
    check("qmatmul_backward_input dy", dy, m * n, w)?;
    if m == 0 || k == 0 {
        return Ok(());
    }
    if n == 0 {
        if !accumulate {
            rec.clear(dx);
        }
        return Ok(());
    }
    let sg = match kernels {
        Kernels::Tiled { f16 } => return super::qmatmul_tiled::backward_input(rec, dy, w, dx, accumulate, m, f16),
        Kernels::Staged(sg) => sg,
    };
    // Widest slice that still gives 16 (8) rows per binding.
    let max = BLOCK_FLOATS / if m >= 16 { 16 } else if m >= 8 { 8 } else { 1 };
    let mut ranges = Vec::new();
    let mut chunk_of = Vec::new();
    for (c, chunk) in w.chunks.iter().enumerate() {
        for r in slices(chunk.row_start, chunk.rows, max) {
            ranges.push(r);
            chunk_of.push(c);
        }
    }
    let staged = Staged::new(rec, dy, m, n, ranges);
    let (kernel, constants, columns) = choose(staged.tm, sg, w, &kernels::QMATMUL_BACKWARD, &kernels::QMATMUL_BACKWARD_SG);
    for (s, (&(n0, nlen), &c)) in staged.slices.iter().zip(&chunk_of).enumerate() {
        let chunk = &w.chunks[c];
        for (m0, mb) in staged.row_blocks() {
            let params = BackwardParams {
                m0: m0 as u32,
                mb: mb as u32,
                k: k as u32,
                ks: staged.ks as u32,
                r0: (n0 - chunk.row_start) as u32,
                nlen: nlen as u32,
                row_bytes: w.ty.row_bytes(k) as u32,
                rows: chunk.rows as u32,
                accumulate: (accumulate || s > 0) as u32,
                _pad: [0; 3],
            };
            let grid = [k.div_ceil(columns) as u32, mb.div_ceil(staged.tm) as u32, 1];
            let bindings = [staged.block(s, m0), chunk.buffer.as_entire_binding(), dx.binding()];
            rec.dispatch_with(kernel, &constants, &params, &bindings, grid);
        }
    }
    Ok(())
}

/// CPU reference of [`qmatmul_forward`]; `w_bytes` are the weight's GGUF bytes.
pub fn qmatmul_forward_cpu(x: &[f32], w: &Weight, w_bytes: &[u8], bias: Option<&[f32]>) -> Result<Vec<f32>> {
    let (n, k) = (w.rows, w.cols);
    let wf = dequantize(w.ty, w_bytes, n * k)?;
    let m = x.len() / k.max(1);
    let mut y = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k).map(|c| x[i * k + c] as f64 * wf[j * k + c] as f64).sum();
            y[i * n + j] = dot as f32 + bias.map_or(0.0, |b| b[j]);
        }
    }
    Ok(y)
}

/// CPU reference of [`qmatmul_backward_input`] (without accumulation).
pub fn qmatmul_backward_input_cpu(dy: &[f32], w: &Weight, w_bytes: &[u8]) -> Result<Vec<f32>> {
    let (n, k) = (w.rows, w.cols);
    let wf = dequantize(w.ty, w_bytes, n * k)?;
    let m = dy.len() / n.max(1);
    let mut dx = vec![0f32; m * k];
    for i in 0..m {
        for c in 0..k {
            let s: f64 = (0..n).map(|j| dy[i * n + j] as f64 * wf[j * k + c] as f64).sum();
            dx[i * k + c] = s as f32;
        }
    }
    Ok(dx)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::quant::GgmlType;
    use crate::quant::quantize::random_blocks;
    use crate::ops::matmul::tests::{F16_EPS, abs_products};
    use crate::ops::matmul_stage::MatmulShape;
    use crate::testing::{Rng, assert_close, assert_within, test_gpu};

    /// The GPU family's tiled kernels (with f16 weight tiles too where the adapter has
    /// shader-f16), the plain kernel and, where the adapter has subgroups, the subgroup kernel
    /// with both workgroup sizes (64 for GPUs, 16 for CPU adapters).
    pub(crate) fn variants(gpu: &crate::gpu::Gpu) -> Vec<Kernels> {
        let mut v = vec![Kernels::Tiled { f16: false }, Kernels::Staged(None)];
        if gpu.features.shader_f16 {
            v.push(Kernels::Tiled { f16: true });
        }
        if gpu.subgroup_kernels {
            v.extend([Kernels::Staged(Some(16)), Kernels::Staged(Some(64))]);
        }
        v
    }

    /// Random weight bytes of `ty`, uploaded with a binding limit that gives `chunks` chunks.
    pub(crate) fn weight(ty: GgmlType, n: usize, k: usize, chunks: usize, rng: &mut Rng) -> (Weight, Vec<u8>) {
        let gpu = test_gpu().unwrap();
        let bytes = random_blocks(ty, n * k / ty.block_size(), 1.0, rng);
        let limit = (n.div_ceil(chunks) * ty.row_bytes(k)) as u64;
        let w = Weight::upload_with_limit(gpu, "test.weight", ty, n, k, &bytes, limit).unwrap();
        assert_eq!(w.chunks.len(), chunks);
        (w, bytes)
    }

    /// Tolerance: products of values ~1 summed over K; 1e-4 relative to the typical magnitude
    /// sqrt(K) (the CPU reference accumulates in f64).
    pub(crate) fn atol(k: usize) -> f32 {
        1e-4 * (k as f32).sqrt()
    }

    /// Panics unless `got` matches `want` as `variant` should: within `atol` plus 1e-4 relative
    /// (f32 sums); with f16 weight tiles also `2^-11 · Σ |a| · |w|` per element, `scale`
    /// (each dequantized weight is rounded to f16 once, |δw| <= 2^-11 |w|; x / dy stay f32).
    pub(crate) fn assert_variant(got: &[f32], want: &[f32], variant: Kernels, atol: f32, scale: impl FnOnce() -> Vec<f32>, what: &str) {
        let what = format!("{what} ({variant:?})");
        if variant != (Kernels::Tiled { f16: true }) {
            return assert_close(got, want, atol, 1e-4, &what);
        }
        let scale = scale();
        assert_within(got, want, |i, w| atol + 1e-4 * w.abs() + 1.01 * F16_EPS * scale[i], &what);
    }

    /// Runs `y = x · Wᵀ (+ bias)` and `y += x · Wᵀ (+ bias)` on `variant` over a y holding
    /// other values and checks both against the CPU reference; `m` rows.
    pub(crate) fn check_forward(gpu: &crate::gpu::Gpu, variant: Kernels, x: &[f32], (w, bytes): (&Weight, &[u8]), bias: Option<&[f32]>, what: &str) {
        let (m, n, k) = (x.len() / w.cols, w.rows, w.cols);
        let gx = GpuTensor::from_slice(gpu, &[m, k], x);
        let gb = bias.map(|b| GpuTensor::from_slice(gpu, &[n], b));
        let y0: Vec<f32> = (0..m * n).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        let product = qmatmul_forward_cpu(x, w, bytes, bias).unwrap();
        for add in [false, true] {
            let gy = GpuTensor::from_slice(gpu, &[m, n], &y0);
            let mut rec = Recorder::new(gpu);
            qmatmul_forward_with(&mut rec, &gx, w, gb.as_ref(), &gy, add, variant).unwrap();
            let got = pollster::block_on(gy.read(rec)).unwrap();
            let want: Vec<f32> = if add { product.iter().zip(&y0).map(|(p, y)| p + y).collect() } else { product.clone() };
            let scale = || abs_products(x, &dequantize(w.ty, bytes, n * k).unwrap(), MatmulShape::new(m, n, k).trans_b());
            assert_variant(&got, &want, variant, atol(k), scale, &format!("{what} m={m} n={n} k={k} add={add}"));
        }
    }

    #[test]
    fn qmatmul_forward_every_type_matches_cpu() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(21);
        for ty in GgmlType::ALL {
            let k = if ty.block_size() == 256 { 256 } else { 64 };
            for (m, n, chunks, with_bias) in [(3, 37, 1, false), (6, 37, 3, true), (1, 9, 1, true), (19, 37, 3, true)] {
                let (w, bytes) = weight(ty, n, k, chunks, &mut rng);
                let x = rng.normal_vec(m * k, 1.0);
                let b = rng.normal_vec(n, 1.0);
                let gx = GpuTensor::from_slice(gpu, &[m, k], &x);
                let gb = GpuTensor::from_slice(gpu, &[n], &b);
                let gy = GpuTensor::zeros(gpu, &[m, n]);
                let mut rec = Recorder::new(gpu);
                qmatmul_forward(&mut rec, &gx, &w, with_bias.then_some(&gb), &gy).unwrap();
                let got = pollster::block_on(gy.read(rec)).unwrap();
                let want = qmatmul_forward_cpu(&x, &w, &bytes, with_bias.then_some(&b[..])).unwrap();
                let what = format!("qmatmul {ty:?} m={m} n={n} k={k} chunks={chunks} bias={with_bias}");
                assert_close(&got, &want, atol(k), 1e-4, &what);
            }
        }
    }

    /// Several x row blocks and K slices: K = 1536 with M = 19 (2 slices of 768, 16 rows per
    /// 64 KiB block), K > 16384 with M = 9 and M = 3.
    #[test]
    fn qmatmul_forward_row_blocks_and_k_slices() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(25);
        for (ty, m, n, k) in [(GgmlType::Q8_0, 19, 37, 1536), (GgmlType::Q4_1, 9, 5, 16384 + 256), (GgmlType::F16, 3, 6, 16384 + 4)] {
            let (w, bytes) = weight(ty, n, k, 1, &mut rng);
            let x = rng.normal_vec(m * k, 1.0);
            let b = rng.normal_vec(n, 1.0);
            let gx = GpuTensor::from_slice(gpu, &[m, k], &x);
            let gb = GpuTensor::from_slice(gpu, &[n], &b);
            let gy = GpuTensor::zeros(gpu, &[m, n]);
            let mut rec = Recorder::new(gpu);
            qmatmul_forward(&mut rec, &gx, &w, Some(&gb), &gy).unwrap();
            let got = pollster::block_on(gy.read(rec)).unwrap();
            let want = qmatmul_forward_cpu(&x, &w, &bytes, Some(&b)).unwrap();
            assert_close(&got, &want, atol(k), 1e-4, &format!("qmatmul {ty:?} m={m} n={n} k={k}"));
        }
    }

    #[test]
    fn qmatmul_float_types_with_odd_k() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(22);
        for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
            let (m, n, k) = (5, 13, 19);
            let (w, bytes) = weight(ty, n, k, 3, &mut rng);
            let x = rng.normal_vec(m * k, 1.0);
            let gx = GpuTensor::from_slice(gpu, &[m, k], &x);
            let gy = GpuTensor::zeros(gpu, &[m, n]);
            let mut rec = Recorder::new(gpu);
            qmatmul_forward(&mut rec, &gx, &w, None, &gy).unwrap();
            let got = pollster::block_on(gy.read(rec)).unwrap();
            let want = qmatmul_forward_cpu(&x, &w, &bytes, None).unwrap();
            assert_close(&got, &want, atol(k), 1e-4, &format!("qmatmul {ty:?} k={k}"));
            // Backward with the odd K too (accumulating onto ones).
            let dy = rng.normal_vec(m * n, 1.0);
            let gdy = GpuTensor::from_slice(gpu, &[m, n], &dy);
            let gdx = GpuTensor::from_slice(gpu, &[m, k], &vec![1.0; m * k]);
            let mut rec = Recorder::new(gpu);
            qmatmul_backward_input(&mut rec, &gdy, &w, &gdx, true).unwrap();
            let got = pollster::block_on(gdx.read(rec)).unwrap();
            let want: Vec<f32> = qmatmul_backward_input_cpu(&dy, &w, &bytes).unwrap().iter().map(|v| v + 1.0).collect();
            assert_close(&got, &want, atol(n), 1e-4, &format!("qmatmul_backward {ty:?} k={k}"));
        }
    }

    /// Both forward kernels (plain and, where the adapter has subgroups, `qmatmul_forward_sg`)
    /// with 16 rows per workgroup: a partial last workgroup, two row blocks (M = 300 > 256),
    /// the float tail loop (K % 16 != 0), several chunks, two K slices (K = 1536, Q4_K blocks),
    /// N = 150 (several workgroups of columns for either workgroup size).
    #[test]
    fn qmatmul_forward_subgroup_kernel_matches_cpu() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(26);
        for (ty, m, n, k, chunks) in [(GgmlType::Q4_1, 35, 37, 256, 3), (GgmlType::Q8_0, 300, 9, 64, 1), (GgmlType::F32, 21, 13, 19, 2), (GgmlType::Q4K, 17, 9, 1536, 1), (GgmlType::Q4_0, 20, 150, 64, 1)] {
            let (w, bytes) = weight(ty, n, k, chunks, &mut rng);
            let x = rng.normal_vec(m * k, 1.0);
            let b = rng.normal_vec(n, 1.0);
            for variant in variants(gpu) {
                check_forward(gpu, variant, &x, (&w, &bytes), Some(&b), &format!("qmatmul {ty:?}"));
            }
        }
    }

    /// `dx (+)= dy · W` on the GPU against the CPU reference for one shape.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_backward(gpu: &crate::gpu::Gpu, rng: &mut Rng, ty: GgmlType, m: usize, n: usize, k: usize, chunks: usize, accumulate: bool) {
        let (w, bytes) = weight(ty, n, k, chunks, rng);
        let dy = rng.normal_vec(m * n, 1.0);
        let dx0 = rng.normal_vec(m * k, 1.0);
        let mut want = qmatmul_backward_input_cpu(&dy, &w, &bytes).unwrap();
        if accumulate {
            want.iter_mut().zip(&dx0).for_each(|(a, b)| *a += b);
        }
        // The plain kernel and, where the adapter has subgroups, qmatmul_backward_sg.
        for variant in variants(gpu) {
            let gdy = GpuTensor::from_slice(gpu, &[m, n], &dy);
            let gdx = GpuTensor::from_slice(gpu, &[m, k], &dx0);
            let mut rec = Recorder::new(gpu);
            qmatmul_backward_input_with(&mut rec, &gdy, &w, &gdx, accumulate, variant).unwrap();
            let got = pollster::block_on(gdx.read(rec)).unwrap();
            let what = format!("qmatmul_backward {ty:?} m={m} n={n} k={k} chunks={chunks} acc={accumulate}");
            let scale = || abs_products(&dy, &dequantize(ty, &bytes, n * k).unwrap(), MatmulShape::new(m, k, n));
            assert_variant(&got, &want, variant, atol(n), scale, &what);
        }
    }

    #[test]
    fn qmatmul_backward_input_every_type_matches_cpu() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(23);
        for ty in GgmlType::ALL {
            let k = if ty.block_size() == 256 { 256 } else { 64 };
            for (m, n, chunks, accumulate) in [(3, 37, 1, false), (6, 37, 3, true)] {
                check_backward(gpu, &mut rng, ty, m, n, k, chunks, accumulate);
            }
        }
    }

    /// Several N slices (N > 1024 with M >= 16, slices inside chunks), 16- and 8-row tiles
    /// with partial row blocks (K = 1536 for Q8_0), and float K % 4 != 0.
    #[test]
    fn qmatmul_backward_input_slices_and_row_blocks() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(26);
        let cases = [
            (GgmlType::Q8_0, 19, 1100, 64, 1, false),
            (GgmlType::Q4_1, 35, 2100, 64, 3, true),
            (GgmlType::Q6K, 9, 1030, 256, 2, true),
            (GgmlType::Q8_0, 21, 37, 1536, 1, false),
            (GgmlType::F16, 17, 1029, 7, 1, true),
        ];
        for (ty, m, n, k, chunks, accumulate) in cases {
            check_backward(gpu, &mut rng, ty, m, n, k, chunks, accumulate);
        }
    }

    /// Q5_0, Q5_1, Q2_K, Q3_K and Q5_K on 16-row tiles (M >= 16), where the subgroup kernels
    /// run (the other types have cases above): forward and input gradient, plain kernel and
    /// both subgroup workgroup sizes, several blocks per row, partial workgroups, two chunks.
    #[test]
    fn qmatmul_q5_and_k_types_on_16_row_tiles() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(27);
        for ty in [GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2K, GgmlType::Q3K, GgmlType::Q5K] {
            let (m, n, k, chunks) = (17, 41, if ty.block_size() == 256 { 256 } else { 96 }, 2);
            let (w, bytes) = weight(ty, n, k, chunks, &mut rng);
            let x = rng.normal_vec(m * k, 1.0);
            for variant in variants(gpu) {
                check_forward(gpu, variant, &x, (&w, &bytes), None, &format!("qmatmul {ty:?}"));
            }
            check_backward(gpu, &mut rng, ty, m, n, k, chunks, true);
        }
    }

    #[test]
    fn qmatmul_rejects_mismatched_shapes() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(24);
        let (w, _) = weight(GgmlType::Q8_0, 8, 32, 1, &mut rng);
        let x = GpuTensor::zeros(gpu, &[2, 31]);
        let y = GpuTensor::zeros(gpu, &[2, 8]);
        let mut rec = Recorder::new(gpu);
        assert!(qmatmul_forward(&mut rec, &x, &w, None, &y).is_err());
    }
}
