// matmul_forward_sg — matmul_forward (same formula, params, bindings and staged layout) for
// adapters with subgroups of at least 8 lanes, used for M >= 16 on GPUs (CPU adapters run
// matmul_forward_tex, and this kernel only when the operands exceed the texture limits):
//   C[b] = alpha · op(A[b]) · op(B[b])  (+ C[b] when accumulate != 0)
// A workgroup owns 32 rows × 256 columns of C; each lane 4 columns × 32 rows (32 vec4
// accumulators). Per 4 values of k, lane s of a subgroup loads rows s, 8+s, 16+s, 24+s of
// op(A) and every lane gets each row with subgroupBroadcast(·, constant lane).
//
// Workgroups of 16 invocations (x: 64-column groups of the 256-column block, y: row tiles).
// Bindings: 0 params, 1 xs0 (mb, 64) f32 uniform, 2 bt0 (256, 64) f32 uniform, 3 xs1, 4 bt1,
//           5 xs2, 6 bt2, 7 xs3, 8 bt3 (as xs0, bt0), 9 c (batch, M, N) f32.
// Shapes: as matmul_forward (op(A) (M, K) staged as rows, op(B)ᵀ (N, K) staged as rows).
// Why: llvmpipe runs a subgroup as the 8 SIMD lanes of one AVX2 register, and a load whose
// address is a runtime value is gathered lane by lane (8 scalar loads) even when every lane
// reads the same address; a broadcast from a constant lane is one permute. Loads per 4 values
// of k and 32×4 outputs per lane: 4 vec4 of op(B) + 4 vec4 of op(A), instead of 4 + 32.
// Measured on lavapipe (Mesa 22.3, 2 shared cores): ~1.7× the plain kernel.

// Params, bindings and helpers: matmul_forward_common.wgsl (shared with matmul_forward).

@compute @workgroup_size(16)
fn matmul_forward_sg(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let jl = (wid.x * 16u + lid) * 4u; // first of this lane's 4 columns within the 256-column block
    let i0 = wid.y * 32u;
    let xq0 = xrow(i0 + 0u + (sid & 7u));
    let xq1 = xrow(i0 + 8u + (sid & 7u));
    let xq2 = xrow(i0 + 16u + (sid & 7u));
    let xq3 = xrow(i0 + 24u + (sid & 7u));
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
    var acc16 = vec4<f32>(0.0);
    var acc17 = vec4<f32>(0.0);
    var acc18 = vec4<f32>(0.0);
    var acc19 = vec4<f32>(0.0);
    var acc20 = vec4<f32>(0.0);
    var acc21 = vec4<f32>(0.0);
    var acc22 = vec4<f32>(0.0);
    var acc23 = vec4<f32>(0.0);
    var acc24 = vec4<f32>(0.0);
    var acc25 = vec4<f32>(0.0);
    var acc26 = vec4<f32>(0.0);
    var acc27 = vec4<f32>(0.0);
    var acc28 = vec4<f32>(0.0);
    var acc29 = vec4<f32>(0.0);
    var acc30 = vec4<f32>(0.0);
    var acc31 = vec4<f32>(0.0);
    for (var kv = 0u; kv < 16u; kv++) {
        let w0 = bt0[jl * 16u + 0u + kv];
        let w1 = bt0[jl * 16u + 16u + kv];
        let w2 = bt0[jl * 16u + 32u + kv];
        let w3 = bt0[jl * 16u + 48u + kv];
        let a0 = xs0[xq0 + kv];
        let a1 = xs0[xq1 + kv];
        let a2 = xs0[xq2 + kv];
        let a3 = xs0[xq3 + kv];
        acc0 = fma_cols(acc0, subgroupBroadcast(a0, 0u), w0, w1, w2, w3);
        acc1 = fma_cols(acc1, subgroupBroadcast(a0, 1u), w0, w1, w2, w3);
        acc2 = fma_cols(acc2, subgroupBroadcast(a0, 2u), w0, w1, w2, w3);
        acc3 = fma_cols(acc3, subgroupBroadcast(a0, 3u), w0, w1, w2, w3);
        acc4 = fma_cols(acc4, subgroupBroadcast(a0, 4u), w0, w1, w2, w3);
        acc5 = fma_cols(acc5, subgroupBroadcast(a0, 5u), w0, w1, w2, w3);
        acc6 = fma_cols(acc6, subgroupBroadcast(a0, 6u), w0, w1, w2, w3);
        acc7 = fma_cols(acc7, subgroupBroadcast(a0, 7u), w0, w1, w2, w3);
        acc8 = fma_cols(acc8, subgroupBroadcast(a1, 0u), w0, w1, w2, w3);
        acc9 = fma_cols(acc9, subgroupBroadcast(a1, 1u), w0, w1, w2, w3);
        acc10 = fma_cols(acc10, subgroupBroadcast(a1, 2u), w0, w1, w2, w3);
        acc11 = fma_cols(acc11, subgroupBroadcast(a1, 3u), w0, w1, w2, w3);
        acc12 = fma_cols(acc12, subgroupBroadcast(a1, 4u), w0, w1, w2, w3);
        acc13 = fma_cols(acc13, subgroupBroadcast(a1, 5u), w0, w1, w2, w3);
        acc14 = fma_cols(acc14, subgroupBroadcast(a1, 6u), w0, w1, w2, w3);
        acc15 = fma_cols(acc15, subgroupBroadcast(a1, 7u), w0, w1, w2, w3);
        acc16 = fma_cols(acc16, subgroupBroadcast(a2, 0u), w0, w1, w2, w3);
        acc17 = fma_cols(acc17, subgroupBroadcast(a2, 1u), w0, w1, w2, w3);
        acc18 = fma_cols(acc18, subgroupBroadcast(a2, 2u), w0, w1, w2, w3);
        acc19 = fma_cols(acc19, subgroupBroadcast(a2, 3u), w0, w1, w2, w3);
        acc20 = fma_cols(acc20, subgroupBroadcast(a2, 4u), w0, w1, w2, w3);
        acc21 = fma_cols(acc21, subgroupBroadcast(a2, 5u), w0, w1, w2, w3);
        acc22 = fma_cols(acc22, subgroupBroadcast(a2, 6u), w0, w1, w2, w3);
        acc23 = fma_cols(acc23, subgroupBroadcast(a2, 7u), w0, w1, w2, w3);
        acc24 = fma_cols(acc24, subgroupBroadcast(a3, 0u), w0, w1, w2, w3);
        acc25 = fma_cols(acc25, subgroupBroadcast(a3, 1u), w0, w1, w2, w3);
        acc26 = fma_cols(acc26, subgroupBroadcast(a3, 2u), w0, w1, w2, w3);
        acc27 = fma_cols(acc27, subgroupBroadcast(a3, 3u), w0, w1, w2, w3);
        acc28 = fma_cols(acc28, subgroupBroadcast(a3, 4u), w0, w1, w2, w3);
        acc29 = fma_cols(acc29, subgroupBroadcast(a3, 5u), w0, w1, w2, w3);
        acc30 = fma_cols(acc30, subgroupBroadcast(a3, 6u), w0, w1, w2, w3);
        acc31 = fma_cols(acc31, subgroupBroadcast(a3, 7u), w0, w1, w2, w3);
    }
    for (var kv = 0u; kv < select(0u, 16u, params.slices > 1u); kv++) {
        let w0 = bt1[jl * 16u + 0u + kv];
        let w1 = bt1[jl * 16u + 16u + kv];
        let w2 = bt1[jl * 16u + 32u + kv];
        let w3 = bt1[jl * 16u + 48u + kv];
        let a0 = xs1[xq0 + kv];
        let a1 = xs1[xq1 + kv];
        let a2 = xs1[xq2 + kv];
        let a3 = xs1[xq3 + kv];
        acc0 = fma_cols(acc0, subgroupBroadcast(a0, 0u), w0, w1, w2, w3);
        acc1 = fma_cols(acc1, subgroupBroadcast(a0, 1u), w0, w1, w2, w3);
        acc2 = fma_cols(acc2, subgroupBroadcast(a0, 2u), w0, w1, w2, w3);
        acc3 = fma_cols(acc3, subgroupBroadcast(a0, 3u), w0, w1, w2, w3);
        acc4 = fma_cols(acc4, subgroupBroadcast(a0, 4u), w0, w1, w2, w3);
        acc5 = fma_cols(acc5, subgroupBroadcast(a0, 5u), w0, w1, w2, w3);
        acc6 = fma_cols(acc6, subgroupBroadcast(a0, 6u), w0, w1, w2, w3);
        acc7 = fma_cols(acc7, subgroupBroadcast(a0, 7u), w0, w1, w2, w3);
        acc8 = fma_cols(acc8, subgroupBroadcast(a1, 0u), w0, w1, w2, w3);
        acc9 = fma_cols(acc9, subgroupBroadcast(a1, 1u), w0, w1, w2, w3);
        acc10 = fma_cols(acc10, subgroupBroadcast(a1, 2u), w0, w1, w2, w3);
        acc11 = fma_cols(acc11, subgroupBroadcast(a1, 3u), w0, w1, w2, w3);
        acc12 = fma_cols(acc12, subgroupBroadcast(a1, 4u), w0, w1, w2, w3);
        acc13 = fma_cols(acc13, subgroupBroadcast(a1, 5u), w0, w1, w2, w3);
        acc14 = fma_cols(acc14, subgroupBroadcast(a1, 6u), w0, w1, w2, w3);
        acc15 = fma_cols(acc15, subgroupBroadcast(a1, 7u), w0, w1, w2, w3);
        acc16 = fma_cols(acc16, subgroupBroadcast(a2, 0u), w0, w1, w2, w3);
        acc17 = fma_cols(acc17, subgroupBroadcast(a2, 1u), w0, w1, w2, w3);
        acc18 = fma_cols(acc18, subgroupBroadcast(a2, 2u), w0, w1, w2, w3);
        acc19 = fma_cols(acc19, subgroupBroadcast(a2, 3u), w0, w1, w2, w3);
        acc20 = fma_cols(acc20, subgroupBroadcast(a2, 4u), w0, w1, w2, w3);
        acc21 = fma_cols(acc21, subgroupBroadcast(a2, 5u), w0, w1, w2, w3);
        acc22 = fma_cols(acc22, subgroupBroadcast(a2, 6u), w0, w1, w2, w3);
        acc23 = fma_cols(acc23, subgroupBroadcast(a2, 7u), w0, w1, w2, w3);
        acc24 = fma_cols(acc24, subgroupBroadcast(a3, 0u), w0, w1, w2, w3);
        acc25 = fma_cols(acc25, subgroupBroadcast(a3, 1u), w0, w1, w2, w3);
        acc26 = fma_cols(acc26, subgroupBroadcast(a3, 2u), w0, w1, w2, w3);
        acc27 = fma_cols(acc27, subgroupBroadcast(a3, 3u), w0, w1, w2, w3);
        acc28 = fma_cols(acc28, subgroupBroadcast(a3, 4u), w0, w1, w2, w3);
        acc29 = fma_cols(acc29, subgroupBroadcast(a3, 5u), w0, w1, w2, w3);
        acc30 = fma_cols(acc30, subgroupBroadcast(a3, 6u), w0, w1, w2, w3);
        acc31 = fma_cols(acc31, subgroupBroadcast(a3, 7u), w0, w1, w2, w3);
    }
    for (var kv = 0u; kv < select(0u, 16u, params.slices > 2u); kv++) {
        let w0 = bt2[jl * 16u + 0u + kv];
        let w1 = bt2[jl * 16u + 16u + kv];
        let w2 = bt2[jl * 16u + 32u + kv];
        let w3 = bt2[jl * 16u + 48u + kv];
        let a0 = xs2[xq0 + kv];
        let a1 = xs2[xq1 + kv];
        let a2 = xs2[xq2 + kv];
        let a3 = xs2[xq3 + kv];
        acc0 = fma_cols(acc0, subgroupBroadcast(a0, 0u), w0, w1, w2, w3);
        acc1 = fma_cols(acc1, subgroupBroadcast(a0, 1u), w0, w1, w2, w3);
        acc2 = fma_cols(acc2, subgroupBroadcast(a0, 2u), w0, w1, w2, w3);
        acc3 = fma_cols(acc3, subgroupBroadcast(a0, 3u), w0, w1, w2, w3);
        acc4 = fma_cols(acc4, subgroupBroadcast(a0, 4u), w0, w1, w2, w3);
        acc5 = fma_cols(acc5, subgroupBroadcast(a0, 5u), w0, w1, w2, w3);
        acc6 = fma_cols(acc6, subgroupBroadcast(a0, 6u), w0, w1, w2, w3);
        acc7 = fma_cols(acc7, subgroupBroadcast(a0, 7u), w0, w1, w2, w3);
        acc8 = fma_cols(acc8, subgroupBroadcast(a1, 0u), w0, w1, w2, w3);
        acc9 = fma_cols(acc9, subgroupBroadcast(a1, 1u), w0, w1, w2, w3);
        acc10 = fma_cols(acc10, subgroupBroadcast(a1, 2u), w0, w1, w2, w3);
        acc11 = fma_cols(acc11, subgroupBroadcast(a1, 3u), w0, w1, w2, w3);
        acc12 = fma_cols(acc12, subgroupBroadcast(a1, 4u), w0, w1, w2, w3);
        acc13 = fma_cols(acc13, subgroupBroadcast(a1, 5u), w0, w1, w2, w3);
        acc14 = fma_cols(acc14, subgroupBroadcast(a1, 6u), w0, w1, w2, w3);
        acc15 = fma_cols(acc15, subgroupBroadcast(a1, 7u), w0, w1, w2, w3);
        acc16 = fma_cols(acc16, subgroupBroadcast(a2, 0u), w0, w1, w2, w3);
        acc17 = fma_cols(acc17, subgroupBroadcast(a2, 1u), w0, w1, w2, w3);
        acc18 = fma_cols(acc18, subgroupBroadcast(a2, 2u), w0, w1, w2, w3);
        acc19 = fma_cols(acc19, subgroupBroadcast(a2, 3u), w0, w1, w2, w3);
        acc20 = fma_cols(acc20, subgroupBroadcast(a2, 4u), w0, w1, w2, w3);
        acc21 = fma_cols(acc21, subgroupBroadcast(a2, 5u), w0, w1, w2, w3);
        acc22 = fma_cols(acc22, subgroupBroadcast(a2, 6u), w0, w1, w2, w3);
        acc23 = fma_cols(acc23, subgroupBroadcast(a2, 7u), w0, w1, w2, w3);
        acc24 = fma_cols(acc24, subgroupBroadcast(a3, 0u), w0, w1, w2, w3);
        acc25 = fma_cols(acc25, subgroupBroadcast(a3, 1u), w0, w1, w2, w3);
        acc26 = fma_cols(acc26, subgroupBroadcast(a3, 2u), w0, w1, w2, w3);
        acc27 = fma_cols(acc27, subgroupBroadcast(a3, 3u), w0, w1, w2, w3);
        acc28 = fma_cols(acc28, subgroupBroadcast(a3, 4u), w0, w1, w2, w3);
        acc29 = fma_cols(acc29, subgroupBroadcast(a3, 5u), w0, w1, w2, w3);
        acc30 = fma_cols(acc30, subgroupBroadcast(a3, 6u), w0, w1, w2, w3);
        acc31 = fma_cols(acc31, subgroupBroadcast(a3, 7u), w0, w1, w2, w3);
    }
    for (var kv = 0u; kv < select(0u, 16u, params.slices > 3u); kv++) {
        let w0 = bt3[jl * 16u + 0u + kv];
        let w1 = bt3[jl * 16u + 16u + kv];
        let w2 = bt3[jl * 16u + 32u + kv];
        let w3 = bt3[jl * 16u + 48u + kv];
        let a0 = xs3[xq0 + kv];
        let a1 = xs3[xq1 + kv];
        let a2 = xs3[xq2 + kv];
        let a3 = xs3[xq3 + kv];
        acc0 = fma_cols(acc0, subgroupBroadcast(a0, 0u), w0, w1, w2, w3);
        acc1 = fma_cols(acc1, subgroupBroadcast(a0, 1u), w0, w1, w2, w3);
        acc2 = fma_cols(acc2, subgroupBroadcast(a0, 2u), w0, w1, w2, w3);
        acc3 = fma_cols(acc3, subgroupBroadcast(a0, 3u), w0, w1, w2, w3);
        acc4 = fma_cols(acc4, subgroupBroadcast(a0, 4u), w0, w1, w2, w3);
        acc5 = fma_cols(acc5, subgroupBroadcast(a0, 5u), w0, w1, w2, w3);
        acc6 = fma_cols(acc6, subgroupBroadcast(a0, 6u), w0, w1, w2, w3);
        acc7 = fma_cols(acc7, subgroupBroadcast(a0, 7u), w0, w1, w2, w3);
        acc8 = fma_cols(acc8, subgroupBroadcast(a1, 0u), w0, w1, w2, w3);
        acc9 = fma_cols(acc9, subgroupBroadcast(a1, 1u), w0, w1, w2, w3);
        acc10 = fma_cols(acc10, subgroupBroadcast(a1, 2u), w0, w1, w2, w3);
        acc11 = fma_cols(acc11, subgroupBroadcast(a1, 3u), w0, w1, w2, w3);
        acc12 = fma_cols(acc12, subgroupBroadcast(a1, 4u), w0, w1, w2, w3);
        acc13 = fma_cols(acc13, subgroupBroadcast(a1, 5u), w0, w1, w2, w3);
        acc14 = fma_cols(acc14, subgroupBroadcast(a1, 6u), w0, w1, w2, w3);
        acc15 = fma_cols(acc15, subgroupBroadcast(a1, 7u), w0, w1, w2, w3);
        acc16 = fma_cols(acc16, subgroupBroadcast(a2, 0u), w0, w1, w2, w3);
        acc17 = fma_cols(acc17, subgroupBroadcast(a2, 1u), w0, w1, w2, w3);
        acc18 = fma_cols(acc18, subgroupBroadcast(a2, 2u), w0, w1, w2, w3);
        acc19 = fma_cols(acc19, subgroupBroadcast(a2, 3u), w0, w1, w2, w3);
        acc20 = fma_cols(acc20, subgroupBroadcast(a2, 4u), w0, w1, w2, w3);
        acc21 = fma_cols(acc21, subgroupBroadcast(a2, 5u), w0, w1, w2, w3);
        acc22 = fma_cols(acc22, subgroupBroadcast(a2, 6u), w0, w1, w2, w3);
        acc23 = fma_cols(acc23, subgroupBroadcast(a2, 7u), w0, w1, w2, w3);
        acc24 = fma_cols(acc24, subgroupBroadcast(a3, 0u), w0, w1, w2, w3);
        acc25 = fma_cols(acc25, subgroupBroadcast(a3, 1u), w0, w1, w2, w3);
        acc26 = fma_cols(acc26, subgroupBroadcast(a3, 2u), w0, w1, w2, w3);
        acc27 = fma_cols(acc27, subgroupBroadcast(a3, 3u), w0, w1, w2, w3);
        acc28 = fma_cols(acc28, subgroupBroadcast(a3, 4u), w0, w1, w2, w3);
        acc29 = fma_cols(acc29, subgroupBroadcast(a3, 5u), w0, w1, w2, w3);
        acc30 = fma_cols(acc30, subgroupBroadcast(a3, 6u), w0, w1, w2, w3);
        acc31 = fma_cols(acc31, subgroupBroadcast(a3, 7u), w0, w1, w2, w3);
    }
    let j0 = params.n0 + jl;
    store_row(i0 + 0u, j0, acc0);
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
    store_row(i0 + 16u, j0, acc16);
    store_row(i0 + 17u, j0, acc17);
    store_row(i0 + 18u, j0, acc18);
    store_row(i0 + 19u, j0, acc19);
    store_row(i0 + 20u, j0, acc20);
    store_row(i0 + 21u, j0, acc21);
    store_row(i0 + 22u, j0, acc22);
    store_row(i0 + 23u, j0, acc23);
    store_row(i0 + 24u, j0, acc24);
    store_row(i0 + 25u, j0, acc25);
    store_row(i0 + 26u, j0, acc26);
    store_row(i0 + 27u, j0, acc27);
    store_row(i0 + 28u, j0, acc28);
    store_row(i0 + 29u, j0, acc29);
    store_row(i0 + 30u, j0, acc30);
    store_row(i0 + 31u, j0, acc31);
}
