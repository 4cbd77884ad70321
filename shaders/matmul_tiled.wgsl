// matmul_tiled — the GPU family's batched f32 product, one dispatch per product:
//   C[b] = alpha · op(A[b]) · op(B[b])   (+ C[b] with accumulate)
// op(A) = A (stored (M, K)) or Aᵀ (TRANS_A, stored (K, M)); op(B) = B (stored (K, N)) or Bᵀ
// (TRANS_B, stored (N, K)); item b of A starts at b · stride_a (0 broadcasts one matrix), of B
// at b · stride_b, of C at b · stride_c. A and B are read straight from their storage buffers.
//
// Bindings: 0 params, 1 a f32, 2 b f32, 3 c (batch, M, N) f32 (read too when accumulating).
// Shapes: any M, N, K (K = 0 gives alpha · 0); LoRA's products: (B*T, C) · (r, C)ᵀ and its
// gradients.
// Grid: (N / 64, M / 64, batch) workgroups of 256 (rounded up; the caller splits a dimension
// only past 65535 workgroups, through m_base / n_base / z_base). Tiles, register block and why:
// matmul_tile_common.wgsl. This is the scalar-load variant for any layout: each invocation
// loads BK / 4 values of each tile per step, consecutive invocations reading consecutive
// addresses (along K of an (M, K) A, along M of a transposed one; likewise for B);
// matmul_tiled_vec4 loads vec4s where every row the tiles read starts on a multiple of 4 values.

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

// op(A)[r, k] of item z, 0 outside the matrix.
fn a_at(z: u32, r: u32, k: u32) -> f32 {
    if (r >= params.m || k >= params.k) {
        return 0.0;
    }
    let off = z * params.stride_a;
    if (TRANS_A) {
        return a[off + k * params.m + r];
    }
    return a[off + r * params.k + k];
}

// op(B)[k, c] of item z, 0 outside the matrix.
fn b_at(z: u32, k: u32, c: u32) -> f32 {
    if (c >= params.n || k >= params.k) {
        return 0.0;
    }
    let off = z * params.stride_b;
    if (TRANS_B) {
        return b[off + c * params.k + k];
    }
    return b[off + k * params.n + c];
}

fn load_tiles(m0: u32, n0: u32, z: u32, k0: u32, lid: u32) {
    for (var j = 0u; j < BK / 4u; j++) { // 64 × BK values of each tile, BK / 4 per invocation
        let e = lid + j * 256u;
        // (tile row, k) of A and (k, tile column) of B, the stored-contiguous index fastest.
        let ra = select(e / BK, e % TILE, TRANS_A);
        let ka = select(e % BK, e / TILE, TRANS_A);
        put_a(ra, ka, a_at(z, m0 + ra, k0 + ka));
        let cb = select(e % TILE, e / BK, TRANS_B);
        let kb = select(e / TILE, e % BK, TRANS_B);
        put_b(cb, kb, b_at(z, k0 + kb, n0 + cb));
    }
}

// The shader-f16 variant (MATMUL_TILED_F16 in kernels.rs, same entry point): these sources
// after matmul_tile_f16.wgsl (f16 tiles, BK 32, f32 sums); same formula, bindings, shapes, grid.

@compute @workgroup_size(256)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = tile_origin(wid);
    tiled_product(o.x, o.y, o.z, params.k, lid);
}
