// qmatmul_tiled_forward — the GPU family's y = x · Wᵀ + bias against a frozen weight W kept in
// its GGUF type (type = override WTYPE; dequantizers in gguf_dequant.wgsl), one dispatch per
// weight row chunk:
//   y[i, row_start + r] = Σ_k x[i, k] · W[r, k]  (+ bias[row_start + r])  (+ y with accumulate)
// for the chunk's rows r < rows (a weight over the storage-binding limit is stored in chunks).
//
// Bindings: 0 params, 1 x (M, K) f32, 2 w (chunk rows, K) raw GGUF bytes as u32,
//           3 bias (N) f32 (read only if has_bias), 4 y (M, N) f32.
// Shapes: M = B*T tokens, K = C in features, N out features.
// Grid: (rows / 64, M / 64) workgroups of 256 (rounded up; split past 65535 through m_base / n_base).
// Tiles (64 × 64 of y, BK = 16 (32 in the f16 variant), a 4 × 4 block per invocation):
// matmul_tile_common.wgsl, with op(A) = x and op(B) = Wᵀ. Each step dequantizes the weight tile —
// 64 rows × BK / 16 16-value groups, each sharing one affine map (wscale16) in every GGUF type —
// into workgroup memory: invocation (r, q) = (lid / 4, lid % 4) dequantizes values 4q..4q+3 of each
// group of row r, so a weight is dequantized once per workgroup and reused by its 64 rows of x. x
// is read from storage, consecutive invocations along K. Float types with K % 16 != 0 read their
// last group value by value (wdeq1).
// The shader-f16 variant (QMATMUL_TILED_FORWARD_F16 in kernels.rs, same entry point): these
// sources after qmatmul_tile_f16.wgsl (weight tile f16, x tile f32, BK 32); same formula,
// bindings, shapes and grid.

// Params: qmatmul_tiled_common.wgsl.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// Weight tiles: wvalues4 in qmatmul_tiled_common.wgsl.

fn load_tiles(m0: u32, n0: u32, z: u32, k0: u32, lid: u32) {
    for (var j = 0u; j < BK / 4u; j++) {
        let e = lid + j * 256u;
        let r = e / BK;
        let k = e % BK;
        var v = 0.0;
        if (m0 + r < params.m && k0 + k < params.k) {
            v = x[(m0 + r) * params.k + k0 + k];
        }
        put_a(r, k, v);
    }
    let c = lid / 4u;
    for (var p = 0u; p < BK; p += 16u) { // one 16-value group of 64 rows per pass
        let q = p + (lid % 4u) * 4u;
        put_b4(c, q, wvalues4(n0 + c, k0 + q));
    }
}

fn store4(z: u32, row: u32, col0: u32, v: vec4<f32>) {
    if (row >= params.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let r = col0 + j;
        if (r < params.rows) {
            let col = params.row_start + r;
            let idx = row * params.n + col;
            var out = v[j];
            if (params.has_bias != 0u) {
                out += bias[col];
            }
            if (params.accumulate != 0u) {
                out += y[idx];
            }
            y[idx] = out;
        }
    }
}

@compute @workgroup_size(256)
fn qmatmul_tiled_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    tiled_product((params.m_base + wid.y) * TILE, (params.n_base + wid.x) * TILE, 0u, params.k, lid);
}
