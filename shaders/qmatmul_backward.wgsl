// qmatmul_backward — input gradient of y = x · Wᵀ against a frozen GGUF weight W:
//   dx[m, k] (+)= Σ_r dy[m, row_start + r] · W[r, k]
// over the rows r of one weight chunk (dispatched once per chunk; later chunks accumulate).
// W is frozen, so there is no dW; dbias (if any) is a column sum done elsewhere.
//
// Bindings: 0 params, 1 dy (M, N) f32, 2 w (chunk rows, K) raw GGUF bytes as u32,
//           3 dx (M, K) f32.
// Shapes: M = B*T tokens, N out features, K = C in features.
// Each invocation owns 4 consecutive k of 4 rows of dx (gather, no atomics); the dequantized
// weights are reused across the 4 rows.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    row_bytes: u32,
    row_start: u32,
    rows: u32,
    accumulate: u32,
    k_tiles: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn store_row(m: u32, k0: u32, acc: vec4<f32>) {
    if (m >= params.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let k = k0 + j;
        if (k < params.k) {
            let i = m * params.k + k;
            var v = acc[j];
            if (params.accumulate != 0u) {
                v += dx[i];
            }
            dx[i] = v;
        }
    }
}

@compute @workgroup_size(64)
fn qmatmul_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let tile = gid.x + gid.y * nwg.x * 64u;
    let m_tiles = (params.m + 3u) / 4u;
    if (tile >= m_tiles * params.k_tiles) {
        return;
    }
    let K = params.k;
    let k0 = (tile % params.k_tiles) * 4u;
    let m0 = (tile / params.k_tiles) * 4u;
    let last_m = params.m - 1u;
    let d0 = min(m0, last_m) * params.n + params.row_start;
    let d1 = min(m0 + 1u, last_m) * params.n + params.row_start;
    let d2 = min(m0 + 2u, last_m) * params.n + params.row_start;
    let d3 = min(m0 + 3u, last_m) * params.n + params.row_start;
    let whole = k0 + 4u <= K; // else a float type with K % 4 != 0: read values one by one
    let last_k = K - 1u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var r = 0u; r < params.rows; r++) {
        let rb = r * params.row_bytes;
        var wv: vec4<f32>;
        if (whole) {
            let s = wscale16(rb, k0 >> 4u);
            wv = wquant4(rb, k0) * s.x + s.y;
        } else {
            wv = vec4<f32>(wdeq1(rb, k0), wdeq1(rb, min(k0 + 1u, last_k)),
                           wdeq1(rb, min(k0 + 2u, last_k)), wdeq1(rb, min(k0 + 3u, last_k)));
        }
        acc0 += dy[d0 + r] * wv;
        acc1 += dy[d1 + r] * wv;
        acc2 += dy[d2 + r] * wv;
        acc3 += dy[d3 + r] * wv;
    }
    store_row(m0, k0, acc0);
    store_row(m0 + 1u, k0, acc1);
    store_row(m0 + 2u, k0, acc2);
    store_row(m0 + 3u, k0, acc3);
}
