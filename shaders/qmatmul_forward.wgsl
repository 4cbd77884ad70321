// qmatmul_forward — y = x · Wᵀ + bias against a frozen weight W kept in its GGUF type and
// dequantized in the kernel (helpers in gguf_dequant.wgsl, type = override WTYPE).
//   y[m, row_start + r] = Σ_k x[m, k] · W[r, k] + bias[row_start + r]
// for the rows r of one weight chunk (a matrix larger than the binding limit is dispatched
// once per row chunk; y's row stride is the full N).
//
// Bindings: 0 params, 1 x (M, K) f32, 2 w (chunk rows, K) raw GGUF bytes as u32,
//           3 bias (N) f32 (ignored unless has_bias), 4 y (M, N) f32.
// Shapes: M = B*T tokens, K = C in features, N out features.
// Register blocking: each invocation computes TM (1 or 4) rows of x times 4 weight rows,
// reading 4 consecutive k at a time; the dequantized weights are reused across the TM rows.
// TM = 1 is the decode (matrix-vector) variant.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    row_bytes: u32,
    row_start: u32,
    rows: u32,
    has_bias: u32,
    n_tiles: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override TM: u32 = 4u;

fn x4(i: u32) -> vec4<f32> {
    return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

fn store_row(m: u32, n0: u32, acc: vec4<f32>) {
    if (m >= params.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let n = n0 + j;
        if (n < params.rows) {
            let col = params.row_start + n;
            var v = acc[j];
            if (params.has_bias != 0u) {
                v += bias[col];
            }
            y[m * params.n + col] = v;
        }
    }
}

@compute @workgroup_size(64)
fn qmatmul_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let tile = gid.x + gid.y * nwg.x * 64u;
    let m_tiles = (params.m + TM - 1u) / TM;
    if (tile >= m_tiles * params.n_tiles) {
        return;
    }
    let K = params.k;
    let n0 = (tile % params.n_tiles) * 4u;
    let m0 = (tile / params.n_tiles) * TM;
    // Out-of-range rows are clamped for the reads and skipped at the store.
    let last_n = params.rows - 1u;
    let rb0 = min(n0, last_n) * params.row_bytes;
    let rb1 = min(n0 + 1u, last_n) * params.row_bytes;
    let rb2 = min(n0 + 2u, last_n) * params.row_bytes;
    let rb3 = min(n0 + 3u, last_n) * params.row_bytes;
    let last_m = params.m - 1u;
    let xb0 = min(m0, last_m) * K;
    let xb1 = min(m0 + 1u, last_m) * K;
    let xb2 = min(m0 + 2u, last_m) * K;
    let xb3 = min(m0 + 3u, last_m) * K;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let k16 = K & ~15u; // quantized types always have K % 32 == 0
    for (var g = 0u; g < k16 / 16u; g++) {
        let s0 = wscale16(rb0, g);
        let s1 = wscale16(rb1, g);
        let s2 = wscale16(rb2, g);
        let s3 = wscale16(rb3, g);
        for (var k = g * 16u; k < g * 16u + 16u; k += 4u) {
            let w0 = wquant4(rb0, k) * s0.x + s0.y;
            let w1 = wquant4(rb1, k) * s1.x + s1.y;
            let w2 = wquant4(rb2, k) * s2.x + s2.y;
            let w3 = wquant4(rb3, k) * s3.x + s3.y;
            let a0 = x4(xb0 + k);
            acc0 += vec4<f32>(dot(a0, w0), dot(a0, w1), dot(a0, w2), dot(a0, w3));
            if (TM > 1u) {
                let a1 = x4(xb1 + k);
                acc1 += vec4<f32>(dot(a1, w0), dot(a1, w1), dot(a1, w2), dot(a1, w3));
                let a2 = x4(xb2 + k);
                acc2 += vec4<f32>(dot(a2, w0), dot(a2, w1), dot(a2, w2), dot(a2, w3));
                let a3 = x4(xb3 + k);
                acc3 += vec4<f32>(dot(a3, w0), dot(a3, w1), dot(a3, w2), dot(a3, w3));
            }
        }
    }
    for (var k = k16; k < K; k++) { // float types with K % 16 != 0
        let wk = vec4<f32>(wdeq1(rb0, k), wdeq1(rb1, k), wdeq1(rb2, k), wdeq1(rb3, k));
        acc0 += x[xb0 + k] * wk;
        if (TM > 1u) {
            acc1 += x[xb1 + k] * wk;
            acc2 += x[xb2 + k] * wk;
            acc3 += x[xb3 + k] * wk;
        }
    }
    store_row(m0, n0, acc0);
    if (TM > 1u) {
        store_row(m0 + 1u, n0, acc1);
        store_row(m0 + 2u, n0, acc2);
        store_row(m0 + 3u, n0, acc3);
    }
}
