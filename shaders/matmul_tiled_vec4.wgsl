// matmul_tiled_vec4 — matmul_tiled (same formula, bindings, shapes, grid and tiles: see its
// header) with A and B read as vec4s: taken when every stored row is a multiple of 4 values
// long (K for an (M, K) A or an (N, K) B, M for a (K, M) A, N for a (K, N) B) and the batch
// strides are multiples of 4, so each vec4 is one aligned 16-byte load and a row's edge falls
// on a vec4 boundary. Each invocation loads BK / 16 vec4s of each tile per step.
// The shader-f16 variant (MATMUL_TILED_VEC4_F16, same entry point): after matmul_tile_f16.wgsl.

@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;

fn load_tiles(m0: u32, n0: u32, z: u32, k0: u32, lid: u32) {
    let zero = vec4<f32>(0.0);
    for (var p = 0u; p < BK; p += 16u) { // 16 values of k per pass, one vec4 per invocation
        if (TRANS_A) { // stored (K, M): tile rows 4q..4q+3 at one k
            let k = p + lid / 16u;
            let q = lid % 16u;
            let ok = k0 + k < params.k && m0 + 4u * q < params.m;
            let i = (z * params.stride_a + (k0 + k) * params.m + m0 + 4u * q) / 4u;
            ta[k * 16u + q] = vec4<tile_a>(select(zero, a[min(i, arrayLength(&a) - 1u)], ok));
        } else { // stored (M, K): values k..k+3 of tile row r
            let r = lid / 4u;
            let k = p + (lid % 4u) * 4u;
            let ok = m0 + r < params.m && k0 + k < params.k;
            let i = (z * params.stride_a + (m0 + r) * params.k + k0 + k) / 4u;
            put_a4(r, k, select(zero, a[min(i, arrayLength(&a) - 1u)], ok));
        }
        if (TRANS_B) { // stored (N, K): values k..k+3 of tile column c
            let c = lid / 4u;
            let k = p + (lid % 4u) * 4u;
            let ok = n0 + c < params.n && k0 + k < params.k;
            let i = (z * params.stride_b + (n0 + c) * params.k + k0 + k) / 4u;
            put_b4(c, k, select(zero, b[min(i, arrayLength(&b) - 1u)], ok));
        } else { // stored (K, N): tile columns 4q..4q+3 at one k
            let k = p + lid / 16u;
            let q = lid % 16u;
            let ok = k0 + k < params.k && n0 + 4u * q < params.n;
            let i = (z * params.stride_b + (k0 + k) * params.n + n0 + 4u * q) / 4u;
            tb[k * 16u + q] = vec4<tile_b>(select(zero, b[min(i, arrayLength(&b) - 1u)], ok));
        }
    }
}

@compute @workgroup_size(256)
fn matmul_tiled_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = tile_origin(wid);
    tiled_product(o.x, o.y, o.z, params.k, lid);
}
