// qmatmul_backward — input gradient of y = x · Wᵀ against a frozen GGUF weight W (helpers in
// gguf_dequant.wgsl, type = override WTYPE):
//   dx[m0 + i, k] (+)= Σ_{c < nlen} dys[i, c] · W[r0 + c, k]
// The forward's structure with N and K swapped: one dispatch covers a block of dy rows (one
// slice of nlen columns, copied into a uniform buffer, row stride ks, zero padded) times the
// matching rows r0.. of one weight row chunk; the caller loops over blocks and slices (all but
// the first slice accumulate). W is frozen, so there is no dW.
//
// Bindings: 0 params, 1 dys (block rows, ks) f32 uniform, 2 w (chunk rows, K) raw GGUF bytes
//           as u32, 3 dx (M, K) f32.
// Shapes: M = B*T tokens, N out features, K = C in features.
// Each lane owns 4 consecutive k of dx (W rows are read 4 at a time at k..k+3, the same reads
// as the forward's); a workgroup shares TM dy rows (16, 8 or 1), so each dequantized weight is
// reused TM times. With subgroups, qmatmul_backward_sg replaces this kernel for TM = 16.
// Accumulates with fma chains (mac4, qmatmul_common.wgsl).

// Params, bindings and helpers: qmatmul_backward_common.wgsl (shared with qmatmul_backward_sg).

@compute @workgroup_size(64)
fn qmatmul_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let k0 = (wid.x * 64u + lid) * 4u;
    // Read inside the row; values of k >= K (float types with K % 4 != 0) are never stored.
    let kr = min(k0, (params.k - 1u) & ~3u);
    let i0 = wid.y * TM;
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
    // Groups of 4 dy columns; past nlen the staged dy is zero (and the rows are clamped).
    for (var cv = 0u; cv < (params.nlen + 3u) / 4u; cv++) {
        let wm = wrows4(params.r0 + cv * 4u, kr);
        acc0 = mac4(acc0, wm, xs[x0 + cv]);
        if (TM > 1u) {
            acc1 = mac4(acc1, wm, xs[x1 + cv]);
            acc2 = mac4(acc2, wm, xs[x2 + cv]);
            acc3 = mac4(acc3, wm, xs[x3 + cv]);
            acc4 = mac4(acc4, wm, xs[x4 + cv]);
            acc5 = mac4(acc5, wm, xs[x5 + cv]);
            acc6 = mac4(acc6, wm, xs[x6 + cv]);
            acc7 = mac4(acc7, wm, xs[x7 + cv]);
        }
        if (TM > 8u) {
            acc8 = mac4(acc8, wm, xs[x8 + cv]);
            acc9 = mac4(acc9, wm, xs[x9 + cv]);
            acc10 = mac4(acc10, wm, xs[x10 + cv]);
            acc11 = mac4(acc11, wm, xs[x11 + cv]);
            acc12 = mac4(acc12, wm, xs[x12 + cv]);
            acc13 = mac4(acc13, wm, xs[x13 + cv]);
            acc14 = mac4(acc14, wm, xs[x14 + cv]);
            acc15 = mac4(acc15, wm, xs[x15 + cv]);
        }
    }
    store_row(i0, k0, acc0);
    if (TM > 1u) {
        store_row(i0 + 1u, k0, acc1);
        store_row(i0 + 2u, k0, acc2);
        store_row(i0 + 3u, k0, acc3);
        store_row(i0 + 4u, k0, acc4);
        store_row(i0 + 5u, k0, acc5);
        store_row(i0 + 6u, k0, acc6);
        store_row(i0 + 7u, k0, acc7);
    }
    if (TM > 8u) {
        store_row(i0 + 8u, k0, acc8);
        store_row(i0 + 9u, k0, acc9);
        store_row(i0 + 10u, k0, acc10);
        store_row(i0 + 11u, k0, acc11);
        store_row(i0 + 12u, k0, acc12);
        store_row(i0 + 13u, k0, acc13);
        store_row(i0 + 14u, k0, acc14);
        store_row(i0 + 15u, k0, acc15);
    }
}
