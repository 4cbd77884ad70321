//! The texture path of [`super::matmul::matmul`] for CPU adapters (llvmpipe) with subgroups:
//! op(A) goes into a read-only rgba32float storage texture as rows, op(B) as rows of op(B)ᵀ (`trans_b`) or as
//! stored (k, n) rows, and `shaders/matmul_forward_tex.wgsl` reads them over the whole of K in
//! one dispatch per batch item, writing `C` once.
//!
//! An operand whose stored rows already have a 256-byte pitch (64 values) is copied into its
//! texture as it is; otherwise (or transposed A) `matmul_stage` first writes its rows
//! zero-padded to 64 values.
//!
//! Why textures on llvmpipe: a storage-texture load fetches 4 values per lane as one 16-byte
//! load, where a buffer load with a runtime address gathers each value lane by lane (figures
//! in the kernel's header); and a texture holds all of K
//! (uniform bindings hold 64 KiB), so `C`, whose per-lane stores are slow, is written once
//! instead of once per 256 values of k. Measured in docs/lavapipe.md.

use super::matmul_stage::{MatmulShape, Operand, stage};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder, kernels};

/// Row pitch of a buffer-to-texture copy (256 bytes), in values: staged rows are padded to it.
const PITCH: usize = 64;
/// Rows and columns of C per workgroup, and values of k per step (see the kernel's header).
const TILE_ROWS: usize = 32;
const TILE_COLS: usize = 64;
const K_STEP: usize = 8;

/// Mirrors `Params` in `shaders/matmul_forward_tex.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k8: u32,
    a_row0: u32,
    b_row0: u32,
    c_off: u32,
    _pad: u32,
    alpha: f32,
}

/// Items of each operand that differ (1 when its batch stride is 0).
fn batches(s: &MatmulShape) -> (usize, usize) {
    (if s.stride_a == 0 { 1 } else { s.batch }, if s.stride_b == 0 { 1 } else { s.batch })
}

/// Whether the adapter reads rgba32float storage textures and both operands of `s` fit in
/// 2-D textures of it (K = 0 is left to the other kernels).
pub(super) fn fits(gpu: &Gpu, s: &MatmulShape) -> bool {
    if !gpu.rgba32f_storage_read || s.k == 0 {
        return false;
    }
    let max = gpu.limits.max_texture_dimension_2d as usize;
    let (batch_a, batch_b) = batches(s);
    let k8 = s.k.next_multiple_of(K_STEP);
    let (b_width, b_height) = if s.trans_b { (s.k, batch_b * s.n) } else { (s.n, batch_b * k8) };
    s.k.next_multiple_of(PITCH) / 4 <= max
        && batch_a * s.m <= max
        && b_width.next_multiple_of(PITCH) / 4 <= max
        && b_height <= max
}

/// Records `C[b] = alpha · op(A[b]) · op(B[b])` (`+=` with `s.accumulate`) on the texture
/// path. The caller has checked the buffers against the shape, and [`fits`].
pub(super) fn matmul_tex(rec: &mut Recorder, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor, s: MatmulShape) -> Result<()> {
    let (batch_a, batch_b) = batches(&s);
    let k8 = s.k.next_multiple_of(K_STEP);
    let ta = texture(rec, &Operand { x: a, batch: batch_a, rows: s.m, stride: s.stride_a, trans: s.trans_a }, s.k, s.m)?;
    // op(B) as rows of op(B)ᵀ when B is stored (n, k), else as stored: k rows (k8 per item) of n.
    let tb = if s.trans_b {
        texture(rec, &Operand { x: b, batch: batch_b, rows: s.n, stride: s.stride_b, trans: false }, s.k, s.n)?
    } else {
        texture(rec, &Operand { x: b, batch: batch_b, rows: s.k, stride: s.stride_b, trans: false }, s.n, k8)?
    };
    let constants = [("ACCUMULATE", s.accumulate as u32 as f64), ("B_COLS", !s.trans_b as u32 as f64)];
    let grid = [s.n.div_ceil(TILE_COLS) as u32, s.m.div_ceil(TILE_ROWS) as u32, 1];
    for bi in 0..s.batch {
        let params = Params {
            m: s.m as u32,
            n: s.n as u32,
            k8: k8 as u32,
            a_row0: (bi.min(batch_a - 1) * s.m) as u32,
            b_row0: (bi.min(batch_b - 1) * if s.trans_b { s.n } else { k8 }) as u32,
            c_off: (bi * s.stride_c) as u32,
            _pad: 0,
            alpha: s.alpha,
        };
        let bindings = [wgpu::BindingResource::TextureView(&ta), wgpu::BindingResource::TextureView(&tb), c.binding()];
        rec.dispatch_with(&kernels::MATMUL_FORWARD_TEX, &constants, &params, &bindings, grid);
    }
    Ok(())
}

/// An rgba32float texture holding `op.rows` rows of `len` values of `op(X)` for each of
/// `op.batch` items, item `b` from texture row `b · rows_per_item` (rows past `op.rows` are
/// zero), 4 values per texel and zero past `len`. `op(X)` is copied as stored when its rows
/// have a 256-byte pitch and its items are dense (or one), else staged by `matmul_stage`.
fn texture(rec: &mut Recorder, op: &Operand, len: usize, rows_per_item: usize) -> Result<wgpu::TextureView> {
    let direct = !op.trans && len.is_multiple_of(PITCH) && (op.batch == 1 || op.stride == op.rows * len);
    let (source, pitch) = if direct {
        (op.x.buffer.clone(), len)
    } else {
        let pitch = len.next_multiple_of(PITCH);
        (stage(rec, op, len, pitch)?.0, pitch)
    };
    let width = (pitch / 4) as u32;
    let texture = rec.gpu.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("matmul operand"),
        size: wgpu::Extent3d { width, height: (op.batch * rows_per_item) as u32, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    // One copy when the items follow each other in both, else one per item.
    let (copies, rows) = if rows_per_item == op.rows { (1, op.batch * op.rows) } else { (op.batch, op.rows) };
    for item in 0..copies {
        rec.encoder().copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: &source,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: (item * op.rows * pitch * 4) as u64,
                    bytes_per_row: Some((pitch * 4) as u32),
                    rows_per_image: None,
                },
            },
            wgpu::TexelCopyTextureInfo {
                texture: &texture,
                mip_level: 0,
                origin: wgpu::Origin3d { x: 0, y: (item * rows_per_item) as u32, z: 0 },
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::Extent3d { width, height: rows as u32, depth_or_array_layers: 1 },
        );
    }
    Ok(texture.create_view(&wgpu::TextureViewDescriptor::default()))
}
