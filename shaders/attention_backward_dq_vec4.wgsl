// attention_backward_dq_vec4 — attention_backward_dq.wgsl for head dims that are a multiple of
// 4: the same formulas with vec4 loads and accumulators. First pass of the causal GQA attention
// backward (after attention_common.wgsl): rebuilds the softmax from the saved logsumexp and
// gathers dq.
//   delta[b, h, t] = dout[b, t, h, :] . out[b, t, h, :]          (= sum_j p_j dp_j)
//   p_j  = exp(scale * q . k_j - lse[b, h, t])   for the keys the forward saw: with
//          p = pos0 + t, j = p + 1 - min(p + 1, window) ..= p  (first_key, attention_common)
//   dp_j = dout[b, t, h, :] . v_j
//   dq[b, t, h, :] = scale * sum_j p_j (dp_j - delta) k_j        (k_j = k[b, j, h / (H/KVH), :])
// One invocation per (b, h, t) row; delta is written for attention_backward_dkv. Each dispatch
// sums the keys j in [lo, hi) (attention_common.wgsl); chunks after the first add to dq.
//
// Bindings (rows of D floats read as D/4 vec4s):
//           0 params, 1 q (B, T, H, D) read, 2 k (B, S, KVH, D) read, 3 v (B, S, KVH, D) read,
//           4 out (B, T, H, D) read, 5 dout (B, T, H, D) read, 6 lse (B, H, T) read,
//           7 dq (B, T, H, D) write, 8 delta (B, H, T) write.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> out: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> dout: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> lse: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;

@compute @workgroup_size(64)
fn attention_backward_dq_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.x + gid.y * nwg.x * 64u; // (b, h, t) flattened, the layout of lse and delta
    if (row >= params.b * params.h * params.t) {
        return;
    }
    let d = params.d / 4u;
    let t = row % params.t;
    let h = (row / params.t) % params.h;
    let b = row / (params.t * params.h);
    let g = h / (params.h / params.kvh);
    let q_base = ((b * params.t + t) * params.h + h) * d;

    var qv: array<vec4<f32>, MAX_D / 4u>;
    var dov: array<vec4<f32>, MAX_D / 4u>;
    var acc: array<vec4<f32>, MAX_D / 4u>;
    var dlt4 = vec4<f32>(0.0);
    for (var i = 0u; i < d; i++) {
        qv[i] = q[q_base + i] * params.scale;
        dov[i] = dout[q_base + i];
        dlt4 += dov[i] * out[q_base + i];
    }
    let dlt = dlt4.x + dlt4.y + dlt4.z + dlt4.w;
    let row_lse = lse[row];
    let last = params.pos0 + t;
    let j_end = min(last + 1u, params.hi);
    for (var j = max(first_key(last), params.lo); j < j_end; j++) {
        let kv_base = ((b * params.s + j) * params.kvh + g) * d;
        var score4 = vec4<f32>(0.0);
        var dp4 = vec4<f32>(0.0);
        for (var i = 0u; i < d; i++) {
            score4 += qv[i] * k[kv_base + i];
            dp4 += dov[i] * v[kv_base + i];
        }
        let score = score4.x + score4.y + score4.z + score4.w;
        let dp = dp4.x + dp4.y + dp4.z + dp4.w;
        let ds = exp(score - row_lse) * (dp - dlt);
        for (var i = 0u; i < d; i++) {
            acc[i] += ds * k[kv_base + i];
        }
    }
    if ((params.flags & CONTINUE) != 0u) {
        for (var i = 0u; i < d; i++) {
            dq[q_base + i] += acc[i] * params.scale;
        }
    } else {
        for (var i = 0u; i < d; i++) {
            dq[q_base + i] = acc[i] * params.scale;
        }
    }
    delta[row] = dlt;
}
