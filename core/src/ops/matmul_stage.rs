//! The shape of an f32 product ([`MatmulShape`]) and the staging of its operands
//! (`shaders/matmul_stage.wgsl`): op(X) copied, transposed if needed and zero-padded, in K
//! slices, into a buffer that [`super::matmul`] binds as 64 KiB uniform blocks and
//! [`super::matmul_tex`] copies into textures.

use super::qmatmul::BLOCK_FLOATS;
use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, kernels};

/// The problem of one [`super::matmul::matmul`] call. `op(A)` is `(m, k)` and `op(B)` is `(k, n)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatmulShape {
    /// Number of products in the batch (≥ 1).
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// `A` is stored `(k, m)` and used transposed (default false: stored `(m, k)`).
    pub trans_a: bool,
    /// `B` is stored `(n, k)` and used transposed (default false: stored `(k, n)`).
    /// `x · Wᵀ` with a PyTorch-layout weight is `trans_b = true`.
    pub trans_b: bool,
    /// Add the product to the existing `C` instead of overwriting it (default false).
    pub accumulate: bool,
    /// Scale of the product (default 1.0; e.g. the LoRA scale `alpha / r`).
    pub alpha: f32,
    /// Elements between consecutive batch items of `A`; 0 = the same `A` for every item.
    /// Default (from [`MatmulShape::new`]): `m * k`.
    pub stride_a: usize,
    /// As `stride_a` for `B`; default `k * n`.
    pub stride_b: usize,
    /// As `stride_a` for `C` (never 0); default `m * n`.
    pub stride_c: usize,
}

impl MatmulShape {
    /// A plain `(m, k) · (k, n)` product: batch 1, no transposes, overwrite, alpha 1, dense strides.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        MatmulShape {
            batch: 1,
            m,
            n,
            k,
            trans_a: false,
            trans_b: false,
            accumulate: false,
            alpha: 1.0,
            stride_a: m * k,
            stride_b: k * n,
            stride_c: m * n,
        }
    }

    /// `batch` products with dense strides.
    pub fn batched(self, batch: usize) -> Self {
        MatmulShape { batch, ..self }
    }

    pub fn trans_a(self) -> Self {
        MatmulShape { trans_a: true, ..self }
    }

    pub fn trans_b(self) -> Self {
        MatmulShape { trans_b: true, ..self }
    }

    pub fn accumulate(self) -> Self {
        MatmulShape { accumulate: true, ..self }
    }

    /// Floating-point operations of the product (2·batch·m·n·k).
    pub fn flops(&self) -> f64 {
        2.0 * (self.batch * self.m * self.n * self.k) as f64
    }
}

/// Mirrors `Params` in `shaders/matmul_stage.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct StageParams {
    batch_a: u32,
    m: u32,
    k: u32,
    stride_a: u32,
    kslice: u32,
    ks: u32,
    total: u32,
    _pad: u32,
}

/// One operand of a product as rows to stage: `op(X)[i, k] = x[b*stride + i*k_len + k]` (or
/// `x[b*stride + k*rows + i]` with `trans`) for `batch` items of `rows` rows.
pub(crate) struct Operand<'t> {
    pub x: &'t GpuTensor,
    pub batch: usize,
    pub rows: usize,
    pub stride: usize,
    pub trans: bool,
}

/// A staging buffer of `total` floats (plus one block of zeros, so that every 64 KiB uniform
/// binding stays in bounds and a zero block can be bound; its first row is returned), filled
/// by `matmul_stage` with the rows of `op(X)` (rows, k) in slices of `kslice` values of k
/// (zero past k): layout (slices, batch, rows, kslice).
pub(crate) fn stage(rec: &mut Recorder, op: &Operand, k: usize, kslice: usize) -> Result<(wgpu::Buffer, usize)> {
    let Operand { x, batch, rows, stride, trans } = *op;
    let gpu = rec.gpu;
    let slices = k.div_ceil(kslice).max(1);
    let total = slices * batch * rows * kslice;
    if (total * 4) as u64 > gpu.max_binding() {
        return Err(Error::TooLarge {
            what: format!("matmul stages {} MiB of one operand ({batch} x {rows} x {k})", (total * 4) >> 20),
            limit: format!("{} bytes per storage binding", gpu.max_binding()),
        });
    }
    if batch > 65535 || slices > 65535 {
        return Err(Error::invalid("matmul shape", format!("batch {batch} and K slices {slices} must each be at most 65535 (workgroup grid limit)")));
    }
    let staged = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("matmul staged operand"),
        size: ((total + BLOCK_FLOATS) * 4) as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let params = StageParams {
        batch_a: batch as u32,
        m: rows as u32,
        k: k as u32,
        stride_a: stride as u32,
        kslice: kslice as u32,
        ks: kslice as u32,
        total: total as u32,
        _pad: 0,
    };
    let out = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: &staged,
        offset: 0,
        size: std::num::NonZeroU64::new((total * 4) as u64),
    });
    let constants = [("TRANS_A", trans as u32 as f64)];
    let grid = [rows.div_ceil(64) as u32, batch as u32, slices as u32];
    rec.dispatch_with(&kernels::MATMUL_STAGE, &constants, &params, &[x.binding(), out], grid);
    Ok((staged, total / kslice))
}
