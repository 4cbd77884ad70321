// qmatmul_tiled_backward — the GPU family's input gradient of y = x · Wᵀ against a frozen GGUF
// weight W (type = override WTYPE; dequantizers in gguf_dequant.wgsl), one dispatch per weight
// row chunk (chunks after the first accumulate):
//   dx[i, k] (+)= Σ_{r < rows} dy[i, row_start + r] · W[r, k]
// W is frozen, so there is no dW; LoRA's gradients go through matmul.
//
// Bindings: 0 params, 1 dy (M, N) f32, 2 w (chunk rows, K) raw GGUF bytes as u32,
//           3 dx (M, K) f32 (read too when accumulating).
// Shapes: M = B*T tokens, N out features, K = C in features.
// Grid: (K / 64, M / 64) workgroups of 256 (rounded up; split past 65535 through m_base / n_base).
// Tiles (64 × 64 of dx, BK = 16 rows of W (32 in the f16 variant), a 4 × 4 block per invocation):
// matmul_tile_common.wgsl, with op(A) = dy's chunk columns and op(B) = W. Each step
// dequantizes BK weight rows × 64 values of k (4 groups of 16 per row) into workgroup memory,
// 16 rows per pass: invocation (r, q) = (lid / 16, lid % 16) dequantizes values 4q..4q+3 of
// row r, one vec4 in the tile. dy is read from storage, consecutive invocations along N.
// The shader-f16 variant (QMATMUL_TILED_BACKWARD_F16 in kernels.rs, same entry point): these
// sources after qmatmul_tile_f16.wgsl (weight tile f16, dy tile f32, BK 32); same formula,
// bindings, shapes and grid.

// Params: qmatmul_tiled_common.wgsl (has_bias unused here).

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// Weight tiles: wvalues4 in qmatmul_tiled_common.wgsl.

// m0: first row of dx, n0: first value of k (columns of dx), k0: first chunk row of W.
fn load_tiles(m0: u32, n0: u32, z: u32, k0: u32, lid: u32) {
    for (var j = 0u; j < BK / 4u; j++) {
        let e = lid + j * 256u;
        let r = e / BK;
        let c = e % BK;
        var v = 0.0;
        if (m0 + r < params.m && k0 + c < params.rows) {
            v = dy[(m0 + r) * params.n + params.row_start + k0 + c];
        }
        put_a(r, c, v);
    }
    let q = lid % 16u;
    for (var p = 0u; p < BK; p += 16u) { // 16 weight rows per pass
        let r = p + lid / 16u;
        tb[r * 16u + q] = vec4<tile_b>(wvalues4(k0 + r, n0 + 4u * q));
    }
}

fn store4(z: u32, row: u32, col0: u32, v: vec4<f32>) {
    if (row >= params.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let k = col0 + j;
        if (k < params.k) {
            let idx = row * params.k + k;
            var out = v[j];
            if (params.accumulate != 0u) {
                out += dx[idx];
            }
            dx[idx] = out;
        }
    }
}

@compute @workgroup_size(256)
fn qmatmul_tiled_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    tiled_product((params.m_base + wid.y) * TILE, (params.n_base + wid.x) * TILE, 0u, params.rows, lid);
}
