// qmatmul_forward_sg — qmatmul_forward (same formula, params, bindings and shapes) for
// adapters with subgroups of at least 8 lanes, used when a workgroup shares TM = 16 rows of x:
//   y[m0 + i, row_start + r] (+)= Σ_{k < klen} xs[i, k] · W[r, k0 + k]  (+ bias[row_start + r])
// Per 4 values of k, lane s of each subgroup loads rows s and 8+s of the workgroup's 16 rows
// of x, and every lane gets each row with subgroupBroadcast(·, constant lane) (lanes 0..7).
//
// Bindings: 0 params, 1 xs (block rows, ks) f32 uniform, 2 w (chunk rows, K) raw GGUF bytes
//           as u32, 3 bias (N) f32 (read only if has_bias), 4 y (M, N) f32.
// Shapes: M = B*T tokens, K = C in features, N out features.
// Why: on llvmpipe a load whose address is a runtime value is gathered lane by lane even when
// all lanes read the same row; here 2 gathered vec4 per 4 values of k instead of 16 (see
// matmul_forward_sg and ARCHITECTURE.md, lavapipe notes).
// Any subgroup size >= 8 works: lanes 0..7 of every subgroup are active (the WG >= 8 invocations
// of a workgroup fill subgroups from invocation 0; a subgroup larger than WG has its first WG
// lanes active), every lane loads rows sid & 7 and 8 + (sid & 7), and the broadcasts read
// only lanes 0..7; all lanes of a workgroup share the same 16 rows. The broadcasts sit in
// uniform control flow (no early return; loop bounds come from params).
// Accumulates with fma chains (mac16, qmatmul_common.wgsl),
// each accumulator assigned once per 16 values of k (a loop-carried assignment costs a blend).

// Params, bindings and helpers: qmatmul_forward_common.wgsl (shared with qmatmul_forward).

// Invocations per workgroup (4 output columns each): 64, or 16 on CPU adapters, where a
// dispatch of few, wide workgroups leaves one of the CPU threads idle for part of it.
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn qmatmul_forward_sg(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) sid: u32,
) {
    let n0 = (wid.x * WG + lid) * 4u;
    let i0 = wid.y * 16u;
    let rb = wrow_bytes(n0);
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
    let k16 = params.klen & ~15u; // quantized types: klen % 256 == 0
    let g0 = params.k0 / 16u;
    for (var g = 0u; g < k16 / 16u; g++) {
        let wt = wtiles16(rb, g0 + g, params.k0 + g * 16u);
        let kv = g * 4u;
        // rows 0..7: lane s holds row 0 + s
        let a00 = xs[xq0 + kv];
        let a01 = xs[xq0 + kv + 1u];
        let a02 = xs[xq0 + kv + 2u];
        let a03 = xs[xq0 + kv + 3u];
        // rows 8..15: lane s holds row 8 + s
        let a10 = xs[xq1 + kv];
        let a11 = xs[xq1 + kv + 1u];
        let a12 = xs[xq1 + kv + 2u];
        let a13 = xs[xq1 + kv + 3u];
        acc0 = mac16(acc0, wt.t0, wt.t1, wt.t2, wt.t3,
                    subgroupBroadcast(a00, 0u), subgroupBroadcast(a01, 0u), subgroupBroadcast(a02, 0u), subgroupBroadcast(a03, 0u));
        {
            acc1 = mac16(acc1, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a00, 1u), subgroupBroadcast(a01, 1u), subgroupBroadcast(a02, 1u), subgroupBroadcast(a03, 1u));
            acc2 = mac16(acc2, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a00, 2u), subgroupBroadcast(a01, 2u), subgroupBroadcast(a02, 2u), subgroupBroadcast(a03, 2u));
            acc3 = mac16(acc3, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a00, 3u), subgroupBroadcast(a01, 3u), subgroupBroadcast(a02, 3u), subgroupBroadcast(a03, 3u));
            acc4 = mac16(acc4, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a00, 4u), subgroupBroadcast(a01, 4u), subgroupBroadcast(a02, 4u), subgroupBroadcast(a03, 4u));
            acc5 = mac16(acc5, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a00, 5u), subgroupBroadcast(a01, 5u), subgroupBroadcast(a02, 5u), subgroupBroadcast(a03, 5u));
            acc6 = mac16(acc6, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a00, 6u), subgroupBroadcast(a01, 6u), subgroupBroadcast(a02, 6u), subgroupBroadcast(a03, 6u));
            acc7 = mac16(acc7, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a00, 7u), subgroupBroadcast(a01, 7u), subgroupBroadcast(a02, 7u), subgroupBroadcast(a03, 7u));
        }
        {
            acc8 = mac16(acc8, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a10, 0u), subgroupBroadcast(a11, 0u), subgroupBroadcast(a12, 0u), subgroupBroadcast(a13, 0u));
            acc9 = mac16(acc9, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a10, 1u), subgroupBroadcast(a11, 1u), subgroupBroadcast(a12, 1u), subgroupBroadcast(a13, 1u));
            acc10 = mac16(acc10, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a10, 2u), subgroupBroadcast(a11, 2u), subgroupBroadcast(a12, 2u), subgroupBroadcast(a13, 2u));
            acc11 = mac16(acc11, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a10, 3u), subgroupBroadcast(a11, 3u), subgroupBroadcast(a12, 3u), subgroupBroadcast(a13, 3u));
            acc12 = mac16(acc12, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a10, 4u), subgroupBroadcast(a11, 4u), subgroupBroadcast(a12, 4u), subgroupBroadcast(a13, 4u));
            acc13 = mac16(acc13, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a10, 5u), subgroupBroadcast(a11, 5u), subgroupBroadcast(a12, 5u), subgroupBroadcast(a13, 5u));
            acc14 = mac16(acc14, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a10, 6u), subgroupBroadcast(a11, 6u), subgroupBroadcast(a12, 6u), subgroupBroadcast(a13, 6u));
            acc15 = mac16(acc15, wt.t0, wt.t1, wt.t2, wt.t3,
                        subgroupBroadcast(a10, 7u), subgroupBroadcast(a11, 7u), subgroupBroadcast(a12, 7u), subgroupBroadcast(a13, 7u));
        }
    }
    for (var k = k16; k < params.klen; k++) { // float types with K % 16 != 0
        let kk = params.k0 + k;
        let wk = vec4<f32>(wdeq1(rb.x, kk), wdeq1(rb.y, kk), wdeq1(rb.z, kk), wdeq1(rb.w, kk));
        let kv = k / 4u;
        let c = k % 4u;
        let b0 = xs[xq0 + kv][c];
        let b1 = xs[xq1 + kv][c];
        acc0 = fma(vec4<f32>(subgroupBroadcast(b0, 0u)), wk, acc0);
        {
            acc1 = fma(vec4<f32>(subgroupBroadcast(b0, 1u)), wk, acc1);
            acc2 = fma(vec4<f32>(subgroupBroadcast(b0, 2u)), wk, acc2);
            acc3 = fma(vec4<f32>(subgroupBroadcast(b0, 3u)), wk, acc3);
            acc4 = fma(vec4<f32>(subgroupBroadcast(b0, 4u)), wk, acc4);
            acc5 = fma(vec4<f32>(subgroupBroadcast(b0, 5u)), wk, acc5);
            acc6 = fma(vec4<f32>(subgroupBroadcast(b0, 6u)), wk, acc6);
            acc7 = fma(vec4<f32>(subgroupBroadcast(b0, 7u)), wk, acc7);
        }
        {
            acc8 = fma(vec4<f32>(subgroupBroadcast(b1, 0u)), wk, acc8);
            acc9 = fma(vec4<f32>(subgroupBroadcast(b1, 1u)), wk, acc9);
            acc10 = fma(vec4<f32>(subgroupBroadcast(b1, 2u)), wk, acc10);
            acc11 = fma(vec4<f32>(subgroupBroadcast(b1, 3u)), wk, acc11);
            acc12 = fma(vec4<f32>(subgroupBroadcast(b1, 4u)), wk, acc12);
            acc13 = fma(vec4<f32>(subgroupBroadcast(b1, 5u)), wk, acc13);
            acc14 = fma(vec4<f32>(subgroupBroadcast(b1, 6u)), wk, acc14);
            acc15 = fma(vec4<f32>(subgroupBroadcast(b1, 7u)), wk, acc15);
        }
    }
    store_row(i0, n0, acc0);
    {
        store_row(i0 + 1u, n0, acc1);
        store_row(i0 + 2u, n0, acc2);
        store_row(i0 + 3u, n0, acc3);
        store_row(i0 + 4u, n0, acc4);
        store_row(i0 + 5u, n0, acc5);
        store_row(i0 + 6u, n0, acc6);
        store_row(i0 + 7u, n0, acc7);
    }
    {
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
