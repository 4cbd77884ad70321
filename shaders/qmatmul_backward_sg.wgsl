// qmatmul_backward_sg — qmatmul_backward (same formula, params, bindings and shapes) for
// adapters with subgroups of at least 8 lanes, used when a workgroup shares TM = 16 dy rows:
//   dx[m0 + i, k] (+)= Σ_{c < nlen} dys[i, c] · W[r0 + c, k]
// Per 4 dy columns, lane s of each subgroup loads rows s and 8+s of the workgroup's 16 dy
// rows, and every lane gets each row with subgroupBroadcast(·, constant lane) (lanes 0..7).
//
// Bindings: 0 params, 1 dys (block rows, ks) f32 uniform, 2 w (chunk rows, K) raw GGUF bytes
//           as u32, 3 dx (M, K) f32.
// Shapes: M = B*T tokens, N out features, K = C in features.
// Why and subgroup sizes: as qmatmul_forward_sg (2 gathered vec4 per 4 columns instead of
// 16 on llvmpipe; correct for any subgroup size >= 8: lanes 0..7 of every subgroup are
// active, each lane loads rows sid & 7 and 8 + (sid & 7) of the same 16, no early return).
// Accumulates with fma chains (mac4, qmatmul_common.wgsl).

// Params, bindings and helpers: qmatmul_backward_common.wgsl (shared with qmatmul_backward).

// Invocations per workgroup (4 output columns each): 64, or 16 on CPU adapters, where a
// dispatch of few, wide workgroups leaves one of the CPU threads idle for part of it.
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn qmatmul_backward_sg(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let k0 = (wid.x * WG + lid) * 4u;
    // Read inside the row; values of k >= K (float types with K % 4 != 0) are never stored.
    let kr = min(k0, (params.k - 1u) & ~3u);
    let i0 = wid.y * 16u;
    let xq0 = xrow(i0 + (sid & 7u));
    let xq1 = xrow(i0 + 8u + (sid & 7u));
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
        let a0 = xs[xq0 + cv];
        let a1 = xs[xq1 + cv];
        acc0 = mac4(acc0, wm, subgroupBroadcast(a0, 0u));
        {
            acc1 = mac4(acc1, wm, subgroupBroadcast(a0, 1u));
            acc2 = mac4(acc2, wm, subgroupBroadcast(a0, 2u));
            acc3 = mac4(acc3, wm, subgroupBroadcast(a0, 3u));
            acc4 = mac4(acc4, wm, subgroupBroadcast(a0, 4u));
            acc5 = mac4(acc5, wm, subgroupBroadcast(a0, 5u));
            acc6 = mac4(acc6, wm, subgroupBroadcast(a0, 6u));
            acc7 = mac4(acc7, wm, subgroupBroadcast(a0, 7u));
        }
        {
            acc8 = mac4(acc8, wm, subgroupBroadcast(a1, 0u));
            acc9 = mac4(acc9, wm, subgroupBroadcast(a1, 1u));
            acc10 = mac4(acc10, wm, subgroupBroadcast(a1, 2u));
            acc11 = mac4(acc11, wm, subgroupBroadcast(a1, 3u));
            acc12 = mac4(acc12, wm, subgroupBroadcast(a1, 4u));
            acc13 = mac4(acc13, wm, subgroupBroadcast(a1, 5u));
            acc14 = mac4(acc14, wm, subgroupBroadcast(a1, 6u));
            acc15 = mac4(acc15, wm, subgroupBroadcast(a1, 7u));
        }
    }
    store_row(i0, k0, acc0);
    {
        store_row(i0 + 1u, k0, acc1);
        store_row(i0 + 2u, k0, acc2);
        store_row(i0 + 3u, k0, acc3);
        store_row(i0 + 4u, k0, acc4);
        store_row(i0 + 5u, k0, acc5);
        store_row(i0 + 6u, k0, acc6);
        store_row(i0 + 7u, k0, acc7);
    }
    {
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
