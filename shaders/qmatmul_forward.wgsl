// qmatmul_forward — y = x · Wᵀ + bias against a frozen weight W kept in its GGUF type and
// dequantized in the kernel (helpers in gguf_dequant.wgsl, type = override WTYPE):
//   y[m0 + i, row_start + r] (+)= Σ_{k < klen} xs[i, k] · W[r, k0 + k]  (+ bias[row_start + r])
// One dispatch covers a block of x rows (copied into a uniform buffer, row stride ks) times
// one row chunk of W times one slice of K; the caller loops over blocks, chunks and slices
// (later K slices accumulate, the first adds the bias). y's row stride is the full N.
//
// Bindings: 0 params, 1 xs (block rows, ks) f32 uniform, 2 w (chunk rows, K) raw GGUF bytes
//           as u32, 3 bias (N) f32 (read only if has_bias), 4 y (M, N) f32.
// Shapes: M = B*T tokens, K = C in features, N out features.
// Each lane owns 4 weight rows; a workgroup shares TM x rows (16, 8, or 1 for decode), so each
// dequantized weight is reused TM times (on CPU adapters every per-lane load is a gather).
// With subgroups, qmatmul_forward_sg replaces this kernel for TM = 16.

// Params, bindings and helpers: qmatmul_forward_common.wgsl (shared with qmatmul_forward_sg).

@compute @workgroup_size(64)
fn qmatmul_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n0 = (wid.x * 64u + lid) * 4u;
    let i0 = wid.y * TM;
    let last = params.rows - 1u;
    let rb0 = min(n0, last) * params.row_bytes;
    let rb1 = min(n0 + 1u, last) * params.row_bytes;
    let rb2 = min(n0 + 2u, last) * params.row_bytes;
    let rb3 = min(n0 + 3u, last) * params.row_bytes;
    let x0 = xrow(i0);
    let x1 = xrow(i0 + 1u);
    let x2 = xrow(i0 + 2u);
    let x3 = xrow(i0 + 3u);
    let x4 = xrow(i0 + 4u);
    let x5 = xrow(i0 + 5u);
    let x6 = xrow(i0 + 6u);
    let x7 = xrow(i0 + 7u);
    let x8 = xrow(i0 + 8u);
    let x9 = xrow(i0 + 9u);
    let x10 = xrow(i0 + 10u);
    let x11 = xrow(i0 + 11u);
    let x12 = xrow(i0 + 12u);
    let x13 = xrow(i0 + 13u);
    let x14 = xrow(i0 + 14u);
    let x15 = xrow(i0 + 15u);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    var acc8 = vec4<f32>(0.0);
    var acc9 = vec4<f32>(0.0);
    var acc10 = vec4<f32>(0.0);
    var acc11 = vec4<f32>(0.0);
    var acc12 = vec4<f32>(0.0);
    var acc13 = vec4<f32>(0.0);
    var acc14 = vec4<f32>(0.0);
    var acc15 = vec4<f32>(0.0);
    let k16 = params.klen & ~15u; // quantized types: klen % 256 == 0
    let g0 = params.k0 / 16u;
    for (var g = 0u; g < k16 / 16u; g++) {
        let s0 = wscale16(rb0, g0 + g);
        let s1 = wscale16(rb1, g0 + g);
        let s2 = wscale16(rb2, g0 + g);
        let s3 = wscale16(rb3, g0 + g);
        for (var q = 0u; q < 4u; q++) {
            let k = g * 16u + q * 4u;
            let w0 = wquant4(rb0, params.k0 + k) * s0.x + s0.y;
            let w1 = wquant4(rb1, params.k0 + k) * s1.x + s1.y;
            let w2 = wquant4(rb2, params.k0 + k) * s2.x + s2.y;
            let w3 = wquant4(rb3, params.k0 + k) * s3.x + s3.y;
            let kv = k / 4u;
            var a = xs[x0 + kv];
            acc0 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
            if (TM > 1u) {
                a = xs[x1 + kv];
                acc1 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x2 + kv];
                acc2 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x3 + kv];
                acc3 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x4 + kv];
                acc4 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x5 + kv];
                acc5 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x6 + kv];
                acc6 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x7 + kv];
                acc7 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
            }
            if (TM > 8u) {
                a = xs[x8 + kv];
                acc8 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x9 + kv];
                acc9 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x10 + kv];
                acc10 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x11 + kv];
                acc11 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x12 + kv];
                acc12 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x13 + kv];
                acc13 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x14 + kv];
                acc14 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
                a = xs[x15 + kv];
                acc15 += vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
            }
        }
    }
    for (var k = k16; k < params.klen; k++) { // float types with K % 16 != 0
        let kk = params.k0 + k;
        let wk = vec4<f32>(wdeq1(rb0, kk), wdeq1(rb1, kk), wdeq1(rb2, kk), wdeq1(rb3, kk));
        let kv = k / 4u;
        let c = k % 4u;
        acc0 += xs[x0 + kv][c] * wk;
        if (TM > 1u) {
            acc1 += xs[x1 + kv][c] * wk;
            acc2 += xs[x2 + kv][c] * wk;
            acc3 += xs[x3 + kv][c] * wk;
            acc4 += xs[x4 + kv][c] * wk;
            acc5 += xs[x5 + kv][c] * wk;
            acc6 += xs[x6 + kv][c] * wk;
            acc7 += xs[x7 + kv][c] * wk;
        }
        if (TM > 8u) {
            acc8 += xs[x8 + kv][c] * wk;
            acc9 += xs[x9 + kv][c] * wk;
            acc10 += xs[x10 + kv][c] * wk;
            acc11 += xs[x11 + kv][c] * wk;
            acc12 += xs[x12 + kv][c] * wk;
            acc13 += xs[x13 + kv][c] * wk;
            acc14 += xs[x14 + kv][c] * wk;
            acc15 += xs[x15 + kv][c] * wk;
        }
    }
    store_row(i0, n0, acc0);
    if (TM > 1u) {
        store_row(i0 + 1u, n0, acc1);
        store_row(i0 + 2u, n0, acc2);
        store_row(i0 + 3u, n0, acc3);
        store_row(i0 + 4u, n0, acc4);
        store_row(i0 + 5u, n0, acc5);
        store_row(i0 + 6u, n0, acc6);
        store_row(i0 + 7u, n0, acc7);
    }
    if (TM > 8u) {
        store_row(i0 + 8u, n0, acc8);
        store_row(i0 + 9u, n0, acc9);
        store_row(i0 + 10u, n0, acc10);
        store_row(i0 + 11u, n0, acc11);
        store_row(i0 + 12u, n0, acc12);
        store_row(i0 + 13u, n0, acc13);
        store_row(i0 + 14u, n0, acc14);
        store_row(i0 + 15u, n0, acc15);
    }
}
