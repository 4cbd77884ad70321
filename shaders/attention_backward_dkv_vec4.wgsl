// attention_backward_dkv_vec4 — attention_backward_dkv.wgsl for head dims that are a multiple
// of 4: the same formulas with vec4 loads and accumulators. Second pass of the causal GQA
// attention backward (after attention_common.wgsl): gathers dk and dv for one cache row j of
// one kv head g, summing over the query heads of its group and the query positions that see it
// (no atomics, no scatter):
//   for h in group(g), t with j <= pos0 + t < j + window (the queries whose window holds j):
//     p    = exp(scale * q[b, t, h, :] . k_j - lse[b, h, t])
//     dp   = dout[b, t, h, :] . v_j
//     dv_j += p * dout[b, t, h, :]
//     dk_j += scale * p * (dp - delta[b, h, t]) * q[b, t, h, :]
// Rows j >= pos0 + T (unused cache capacity), and rows no query's window reaches
// (j + window <= pos0), get zeros.
// One invocation per (b, g, j). Each dispatch sums the query rows t in [lo, hi)
// (attention_common.wgsl); chunks after the first add to dk and dv.
//
// Bindings (rows of D floats read as D/4 vec4s):
//           0 params, 1 q (B, T, H, D) read, 2 k (B, S, KVH, D) read, 3 v (B, S, KVH, D) read,
//           4 dout (B, T, H, D) read, 5 lse (B, H, T) read, 6 delta (B, H, T) read
//           (from attention_backward_dq), 7 dk (B, S, KVH, D) write, 8 dv (B, S, KVH, D) write.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dv: array<vec4<f32>>;

@compute @workgroup_size(64)
fn attention_backward_dkv_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.x + gid.y * nwg.x * 64u; // (b, g, j) flattened
    if (row >= params.b * params.kvh * params.s) {
        return;
    }
    let d = params.d / 4u;
    let j = row % params.s;
    let g = (row / params.s) % params.kvh;
    let b = row / (params.s * params.kvh);
    let kv_base = ((b * params.s + j) * params.kvh + g) * d;
    let group = params.h / params.kvh;

    var kv: array<vec4<f32>, MAX_D / 4u>;
    var vv: array<vec4<f32>, MAX_D / 4u>;
    var dk_acc: array<vec4<f32>, MAX_D / 4u>;
    var dv_acc: array<vec4<f32>, MAX_D / 4u>;
    for (var i = 0u; i < d; i++) {
        kv[i] = k[kv_base + i] * params.scale;
        vv[i] = v[kv_base + i];
    }
    // Query t (absolute position pos0 + t) sees row j when j <= pos0 + t < j + window.
    let t0 = max(max(j, params.pos0) - params.pos0, params.lo);
    let t1 = min(end_query(j), params.hi);
    for (var h = g * group; h < (g + 1u) * group; h++) {
        for (var t = t0; t < t1; t++) {
            let q_base = ((b * params.t + t) * params.h + h) * d;
            let stat = (b * params.h + h) * params.t + t;
            var score4 = vec4<f32>(0.0);
            var dp4 = vec4<f32>(0.0);
            for (var i = 0u; i < d; i++) {
                score4 += q[q_base + i] * kv[i];
                dp4 += dout[q_base + i] * vv[i];
            }
            let score = score4.x + score4.y + score4.z + score4.w;
            let dp = dp4.x + dp4.y + dp4.z + dp4.w;
            let p = exp(score - lse[stat]);
            let ds = p * (dp - delta[stat]);
            for (var i = 0u; i < d; i++) {
                dv_acc[i] += p * dout[q_base + i];
                dk_acc[i] += ds * q[q_base + i];
            }
        }
    }
    if ((params.flags & CONTINUE) != 0u) {
        for (var i = 0u; i < d; i++) {
            dk[kv_base + i] += dk_acc[i] * params.scale;
            dv[kv_base + i] += dv_acc[i];
        }
    } else {
        for (var i = 0u; i < d; i++) {
            dk[kv_base + i] = dk_acc[i] * params.scale;
            dv[kv_base + i] = dv_acc[i];
        }
    }
}
