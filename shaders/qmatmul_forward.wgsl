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
// Accumulates with fma chains (mac16, qmatmul_common.wgsl),
// each accumulator assigned once per 16 values of k (a loop-carried assignment costs a blend).

// Params, bindings and helpers: qmatmul_forward_common.wgsl (shared with qmatmul_forward_sg).

@compute @workgroup_size(64)
fn qmatmul_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n0 = (wid.x * 64u + lid) * 4u;
    let i0 = wid.y * TM;
    let rb = wrow_bytes(n0);
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
        let wt = wtiles16(rb, g0 + g, params.k0 + g * 16u);
        let kv = g * 4u;
        acc0 = mac16(acc0, wt.t0, wt.t1, wt.t2, wt.t3, xs[x0 + kv], xs[x0 + kv + 1u], xs[x0 + kv + 2u], xs[x0 + kv + 3u]);
        if (TM > 1u) {
            acc1 = mac16(acc1, wt.t0, wt.t1, wt.t2, wt.t3, xs[x1 + kv], xs[x1 + kv + 1u], xs[x1 + kv + 2u], xs[x1 + kv + 3u]);
            acc2 = mac16(acc2, wt.t0, wt.t1, wt.t2, wt.t3, xs[x2 + kv], xs[x2 + kv + 1u], xs[x2 + kv + 2u], xs[x2 + kv + 3u]);
            acc3 = mac16(acc3, wt.t0, wt.t1, wt.t2, wt.t3, xs[x3 + kv], xs[x3 + kv + 1u], xs[x3 + kv + 2u], xs[x3 + kv + 3u]);
            acc4 = mac16(acc4, wt.t0, wt.t1, wt.t2, wt.t3, xs[x4 + kv], xs[x4 + kv + 1u], xs[x4 + kv + 2u], xs[x4 + kv + 3u]);
            acc5 = mac16(acc5, wt.t0, wt.t1, wt.t2, wt.t3, xs[x5 + kv], xs[x5 + kv + 1u], xs[x5 + kv + 2u], xs[x5 + kv + 3u]);
            acc6 = mac16(acc6, wt.t0, wt.t1, wt.t2, wt.t3, xs[x6 + kv], xs[x6 + kv + 1u], xs[x6 + kv + 2u], xs[x6 + kv + 3u]);
            acc7 = mac16(acc7, wt.t0, wt.t1, wt.t2, wt.t3, xs[x7 + kv], xs[x7 + kv + 1u], xs[x7 + kv + 2u], xs[x7 + kv + 3u]);
        }
        if (TM > 8u) {
            acc8 = mac16(acc8, wt.t0, wt.t1, wt.t2, wt.t3, xs[x8 + kv], xs[x8 + kv + 1u], xs[x8 + kv + 2u], xs[x8 + kv + 3u]);
            acc9 = mac16(acc9, wt.t0, wt.t1, wt.t2, wt.t3, xs[x9 + kv], xs[x9 + kv + 1u], xs[x9 + kv + 2u], xs[x9 + kv + 3u]);
            acc10 = mac16(acc10, wt.t0, wt.t1, wt.t2, wt.t3, xs[x10 + kv], xs[x10 + kv + 1u], xs[x10 + kv + 2u], xs[x10 + kv + 3u]);
            acc11 = mac16(acc11, wt.t0, wt.t1, wt.t2, wt.t3, xs[x11 + kv], xs[x11 + kv + 1u], xs[x11 + kv + 2u], xs[x11 + kv + 3u]);
            acc12 = mac16(acc12, wt.t0, wt.t1, wt.t2, wt.t3, xs[x12 + kv], xs[x12 + kv + 1u], xs[x12 + kv + 2u], xs[x12 + kv + 3u]);
            acc13 = mac16(acc13, wt.t0, wt.t1, wt.t2, wt.t3, xs[x13 + kv], xs[x13 + kv + 1u], xs[x13 + kv + 2u], xs[x13 + kv + 3u]);
            acc14 = mac16(acc14, wt.t0, wt.t1, wt.t2, wt.t3, xs[x14 + kv], xs[x14 + kv + 1u], xs[x14 + kv + 2u], xs[x14 + kv + 3u]);
            acc15 = mac16(acc15, wt.t0, wt.t1, wt.t2, wt.t3, xs[x15 + kv], xs[x15 + kv + 1u], xs[x15 + kv + 2u], xs[x15 + kv + 3u]);
        }
    }
    for (var k = k16; k < params.klen; k++) { // float types with K % 16 != 0
        let kk = params.k0 + k;
        let wk = vec4<f32>(wdeq1(rb.x, kk), wdeq1(rb.y, kk), wdeq1(rb.z, kk), wdeq1(rb.w, kk));
        let kv = k / 4u;
        let c = k % 4u;
        acc0 = fma(vec4<f32>(xs[x0 + kv][c]), wk, acc0);
        if (TM > 1u) {
            acc1 = fma(vec4<f32>(xs[x1 + kv][c]), wk, acc1);
            acc2 = fma(vec4<f32>(xs[x2 + kv][c]), wk, acc2);
            acc3 = fma(vec4<f32>(xs[x3 + kv][c]), wk, acc3);
            acc4 = fma(vec4<f32>(xs[x4 + kv][c]), wk, acc4);
            acc5 = fma(vec4<f32>(xs[x5 + kv][c]), wk, acc5);
            acc6 = fma(vec4<f32>(xs[x6 + kv][c]), wk, acc6);
            acc7 = fma(vec4<f32>(xs[x7 + kv][c]), wk, acc7);
        }
        if (TM > 8u) {
            acc8 = fma(vec4<f32>(xs[x8 + kv][c]), wk, acc8);
            acc9 = fma(vec4<f32>(xs[x9 + kv][c]), wk, acc9);
            acc10 = fma(vec4<f32>(xs[x10 + kv][c]), wk, acc10);
            acc11 = fma(vec4<f32>(xs[x11 + kv][c]), wk, acc11);
            acc12 = fma(vec4<f32>(xs[x12 + kv][c]), wk, acc12);
            acc13 = fma(vec4<f32>(xs[x13 + kv][c]), wk, acc13);
            acc14 = fma(vec4<f32>(xs[x14 + kv][c]), wk, acc14);
            acc15 = fma(vec4<f32>(xs[x15 + kv][c]), wk, acc15);
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
