// matmul_forward — batched f32 matrix product with optional transposes and accumulation:
//   C[b] = alpha · op(A[b]) · op(B[b])  (+ C[b] when accumulate != 0)
// op(A) is (M, K) and op(B) is (K, N). Both arrive staged by matmul_stage in K slices of 64
// (zero beyond K) in uniform buffers: xs<s> = rows m0.. of op(A), 64 values of k each;
// bt<s> = columns n0..n0+256 of op(B), 64 values of k each (op(B)ᵀ rows). One dispatch covers
// one batch item, up to 4 K slices (params.slices of them hold values; the loops over the
// others are skipped), a block of mb ≤ 256 rows and one block of 256 columns; later
// dispatches accumulate into C.
//
// Workgroups of 16 invocations (x: 64-column groups of the 256-column block, y: row tiles).
// Bindings: 0 params, 1 xs0 (mb, 64) f32 uniform, 2 bt0 (256, 64) f32 uniform, 3 xs1, 4 bt1,
//           5 xs2, 6 bt2, 7 xs3, 8 bt3 (as xs0, bt0), 9 c (batch, M, N) f32.
// Shapes: e.g. LoRA x·Aᵀ: op(A) = x (B*T, C), B = A_lora (r, C) with TRANS_B, C = (B*T, r).
// Each lane owns 4 columns of C and a workgroup TM rows (16, or 1 for the matrix-vector case).
// Why this layout: on CPU adapters (llvmpipe) every lane-dependent load is a per-lane gather,
// and uniform-buffer gathers are far cheaper than storage ones: hence both operands in
// uniform buffers and TM rows reusing each gathered column of op(B). Four slices per dispatch
// because each dispatch ends with a read-modify-write of C through slow per-lane storage
// accesses. With subgroups, matmul_forward_sg replaces this kernel for M >= 16.
// The rows are written out, one named accumulator each, and the four slice loops are
// identical: keep them so when editing.

// Params, bindings and helpers: matmul_forward_common.wgsl (shared with matmul_forward_sg).
override TM: u32 = 16u;

@compute @workgroup_size(16)
fn matmul_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let jl = (wid.x * 16u + lid) * 4u; // first of this lane's 4 columns within the 256-column block
    let i0 = wid.y * TM;
    let x0 = xrow(i0 + 0u);
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
    for (var kv = 0u; kv < 16u; kv++) {
        let w0 = bt0[jl * 16u + 0u + kv];
        let w1 = bt0[jl * 16u + 16u + kv];
        let w2 = bt0[jl * 16u + 32u + kv];
        let w3 = bt0[jl * 16u + 48u + kv];
        acc0 = fma_cols(acc0, xs0[x0 + kv], w0, w1, w2, w3);
        if (TM > 1u) {
            acc1 = fma_cols(acc1, xs0[x1 + kv], w0, w1, w2, w3);
            acc2 = fma_cols(acc2, xs0[x2 + kv], w0, w1, w2, w3);
            acc3 = fma_cols(acc3, xs0[x3 + kv], w0, w1, w2, w3);
            acc4 = fma_cols(acc4, xs0[x4 + kv], w0, w1, w2, w3);
            acc5 = fma_cols(acc5, xs0[x5 + kv], w0, w1, w2, w3);
            acc6 = fma_cols(acc6, xs0[x6 + kv], w0, w1, w2, w3);
            acc7 = fma_cols(acc7, xs0[x7 + kv], w0, w1, w2, w3);
            acc8 = fma_cols(acc8, xs0[x8 + kv], w0, w1, w2, w3);
            acc9 = fma_cols(acc9, xs0[x9 + kv], w0, w1, w2, w3);
            acc10 = fma_cols(acc10, xs0[x10 + kv], w0, w1, w2, w3);
            acc11 = fma_cols(acc11, xs0[x11 + kv], w0, w1, w2, w3);
            acc12 = fma_cols(acc12, xs0[x12 + kv], w0, w1, w2, w3);
            acc13 = fma_cols(acc13, xs0[x13 + kv], w0, w1, w2, w3);
            acc14 = fma_cols(acc14, xs0[x14 + kv], w0, w1, w2, w3);
            acc15 = fma_cols(acc15, xs0[x15 + kv], w0, w1, w2, w3);
        }
    }
    for (var kv = 0u; kv < select(0u, 16u, params.slices > 1u); kv++) {
        let w0 = bt1[jl * 16u + 0u + kv];
        let w1 = bt1[jl * 16u + 16u + kv];
        let w2 = bt1[jl * 16u + 32u + kv];
        let w3 = bt1[jl * 16u + 48u + kv];
        acc0 = fma_cols(acc0, xs1[x0 + kv], w0, w1, w2, w3);
        if (TM > 1u) {
            acc1 = fma_cols(acc1, xs1[x1 + kv], w0, w1, w2, w3);
            acc2 = fma_cols(acc2, xs1[x2 + kv], w0, w1, w2, w3);
            acc3 = fma_cols(acc3, xs1[x3 + kv], w0, w1, w2, w3);
            acc4 = fma_cols(acc4, xs1[x4 + kv], w0, w1, w2, w3);
            acc5 = fma_cols(acc5, xs1[x5 + kv], w0, w1, w2, w3);
            acc6 = fma_cols(acc6, xs1[x6 + kv], w0, w1, w2, w3);
            acc7 = fma_cols(acc7, xs1[x7 + kv], w0, w1, w2, w3);
            acc8 = fma_cols(acc8, xs1[x8 + kv], w0, w1, w2, w3);
            acc9 = fma_cols(acc9, xs1[x9 + kv], w0, w1, w2, w3);
            acc10 = fma_cols(acc10, xs1[x10 + kv], w0, w1, w2, w3);
            acc11 = fma_cols(acc11, xs1[x11 + kv], w0, w1, w2, w3);
            acc12 = fma_cols(acc12, xs1[x12 + kv], w0, w1, w2, w3);
            acc13 = fma_cols(acc13, xs1[x13 + kv], w0, w1, w2, w3);
            acc14 = fma_cols(acc14, xs1[x14 + kv], w0, w1, w2, w3);
            acc15 = fma_cols(acc15, xs1[x15 + kv], w0, w1, w2, w3);
        }
    }
    for (var kv = 0u; kv < select(0u, 16u, params.slices > 2u); kv++) {
        let w0 = bt2[jl * 16u + 0u + kv];
        let w1 = bt2[jl * 16u + 16u + kv];
        let w2 = bt2[jl * 16u + 32u + kv];
        let w3 = bt2[jl * 16u + 48u + kv];
        acc0 = fma_cols(acc0, xs2[x0 + kv], w0, w1, w2, w3);
        if (TM > 1u) {
            acc1 = fma_cols(acc1, xs2[x1 + kv], w0, w1, w2, w3);
            acc2 = fma_cols(acc2, xs2[x2 + kv], w0, w1, w2, w3);
            acc3 = fma_cols(acc3, xs2[x3 + kv], w0, w1, w2, w3);
            acc4 = fma_cols(acc4, xs2[x4 + kv], w0, w1, w2, w3);
            acc5 = fma_cols(acc5, xs2[x5 + kv], w0, w1, w2, w3);
            acc6 = fma_cols(acc6, xs2[x6 + kv], w0, w1, w2, w3);
            acc7 = fma_cols(acc7, xs2[x7 + kv], w0, w1, w2, w3);
            acc8 = fma_cols(acc8, xs2[x8 + kv], w0, w1, w2, w3);
            acc9 = fma_cols(acc9, xs2[x9 + kv], w0, w1, w2, w3);
            acc10 = fma_cols(acc10, xs2[x10 + kv], w0, w1, w2, w3);
            acc11 = fma_cols(acc11, xs2[x11 + kv], w0, w1, w2, w3);
            acc12 = fma_cols(acc12, xs2[x12 + kv], w0, w1, w2, w3);
            acc13 = fma_cols(acc13, xs2[x13 + kv], w0, w1, w2, w3);
            acc14 = fma_cols(acc14, xs2[x14 + kv], w0, w1, w2, w3);
            acc15 = fma_cols(acc15, xs2[x15 + kv], w0, w1, w2, w3);
        }
    }
    for (var kv = 0u; kv < select(0u, 16u, params.slices > 3u); kv++) {
        let w0 = bt3[jl * 16u + 0u + kv];
        let w1 = bt3[jl * 16u + 16u + kv];
        let w2 = bt3[jl * 16u + 32u + kv];
        let w3 = bt3[jl * 16u + 48u + kv];
        acc0 = fma_cols(acc0, xs3[x0 + kv], w0, w1, w2, w3);
        if (TM > 1u) {
            acc1 = fma_cols(acc1, xs3[x1 + kv], w0, w1, w2, w3);
            acc2 = fma_cols(acc2, xs3[x2 + kv], w0, w1, w2, w3);
            acc3 = fma_cols(acc3, xs3[x3 + kv], w0, w1, w2, w3);
            acc4 = fma_cols(acc4, xs3[x4 + kv], w0, w1, w2, w3);
            acc5 = fma_cols(acc5, xs3[x5 + kv], w0, w1, w2, w3);
            acc6 = fma_cols(acc6, xs3[x6 + kv], w0, w1, w2, w3);
            acc7 = fma_cols(acc7, xs3[x7 + kv], w0, w1, w2, w3);
            acc8 = fma_cols(acc8, xs3[x8 + kv], w0, w1, w2, w3);
            acc9 = fma_cols(acc9, xs3[x9 + kv], w0, w1, w2, w3);
            acc10 = fma_cols(acc10, xs3[x10 + kv], w0, w1, w2, w3);
            acc11 = fma_cols(acc11, xs3[x11 + kv], w0, w1, w2, w3);
            acc12 = fma_cols(acc12, xs3[x12 + kv], w0, w1, w2, w3);
            acc13 = fma_cols(acc13, xs3[x13 + kv], w0, w1, w2, w3);
            acc14 = fma_cols(acc14, xs3[x14 + kv], w0, w1, w2, w3);
            acc15 = fma_cols(acc15, xs3[x15 + kv], w0, w1, w2, w3);
        }
    }
    let j0 = params.n0 + jl;
    store_row(i0, j0, acc0);
    if (TM > 1u) {
        store_row(i0 + 1u, j0, acc1);
        store_row(i0 + 2u, j0, acc2);
        store_row(i0 + 3u, j0, acc3);
        store_row(i0 + 4u, j0, acc4);
        store_row(i0 + 5u, j0, acc5);
        store_row(i0 + 6u, j0, acc6);
        store_row(i0 + 7u, j0, acc7);
        store_row(i0 + 8u, j0, acc8);
        store_row(i0 + 9u, j0, acc9);
        store_row(i0 + 10u, j0, acc10);
        store_row(i0 + 11u, j0, acc11);
        store_row(i0 + 12u, j0, acc12);
        store_row(i0 + 13u, j0, acc13);
        store_row(i0 + 14u, j0, acc14);
        store_row(i0 + 15u, j0, acc15);
    }
}
