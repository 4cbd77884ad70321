// attention_backward_dq — first pass of the causal GQA attention backward (after
// attention_common.wgsl): rebuilds the softmax from the saved logsumexp and gathers dq.
//   delta[b, h, t] = dout[b, t, h, :] . out[b, t, h, :]          (= sum_j p_j dp_j)
//   p_j  = exp(scale * q . k_j - lse[b, h, t])   for the keys the forward saw: with
//          p = pos0 + t, j = p + 1 - min(p + 1, window) ..= p  (first_key, attention_common)
//   dp_j = dout[b, t, h, :] . v_j
//   dq[b, t, h, :] = scale * sum_j p_j (dp_j - delta) k_j        (k_j = k[b, j, h / (H/KVH), :])
// One invocation per (b, h, t) row; delta is written for attention_backward_dkv. Each dispatch
// sums the keys j in [lo, hi) (attention_common.wgsl); chunks after the first add to dq.
//
// Bindings: 0 params, 1 q (B, T, H, D) read, 2 k (B, S, KVH, D) read, 3 v (B, S, KVH, D) read,
//           4 out (B, T, H, D) read, 5 dout (B, T, H, D) read, 6 lse (B, H, T) read,
//           7 dq (B, T, H, D) write, 8 delta (B, H, T) write.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> out: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> lse: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;

@compute @workgroup_size(64)
fn attention_backward_dq(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.x + gid.y * nwg.x * 64u; // (b, h, t) flattened, the layout of lse and delta
    if (row >= params.b * params.h * params.t) {
        return;
    }
    let d = params.d;
    let t = row % params.t;
    let h = (row / params.t) % params.h;
    let b = row / (params.t * params.h);
    let g = h / (params.h / params.kvh);
    let q_base = ((b * params.t + t) * params.h + h) * d;

    var qv: array<f32, MAX_D>;
    var dov: array<f32, MAX_D>;
    var acc: array<f32, MAX_D>;
    var dlt = 0.0;
    for (var i = 0u; i < d; i++) {
        qv[i] = q[q_base + i] * params.scale;
        dov[i] = dout[q_base + i];
        dlt += dov[i] * out[q_base + i];
    }
    let row_lse = lse[row];
    let last = params.pos0 + t;
    let j_end = min(last + 1u, params.hi);
    for (var j = max(first_key(last), params.lo); j < j_end; j++) {
        let kv_base = ((b * params.s + j) * params.kvh + g) * d;
        var score = 0.0;
        var dp = 0.0;
        for (var i = 0u; i < d; i++) {
            score += qv[i] * k[kv_base + i];
            dp += dov[i] * v[kv_base + i];
        }
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
