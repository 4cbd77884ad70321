// attention_forward — causal scaled-dot-product attention with grouped-query heads (GQA),
// reading keys and values from a KV cache, optionally over a sliding window:
//   g = h / (H / KVH)                                  (the kv head of query head h)
//   p = pos0 + t                                       (the query's absolute position)
//   s_j = scale * q[b, t, h, :] . k[b, j, g, :]        for j = p + 1 - min(p + 1, window) ..= p
//   out[b, t, h, :] = sum_j softmax(s)_j * v[b, j, g, :]
//   lse[b, h, t]    = log(sum_j exp(s_j))              (saved for the backward pass)
// One invocation per (b, h, t) row with an online softmax over the keys (running max m,
// running sum l, rescaled accumulator): no barriers, no workgroup memory. Each dispatch takes
// the keys j in [lo, hi) (attention_common.wgsl); between chunks m is kept in lse, l in lsum and
// the unnormalised accumulator in out; the LAST chunk writes out = acc / l, lse = m + log(l).
//
// Bindings: 0 params, 1 q (B, T, H, D) read, 2 k (B, S, KVH, D) read, 3 v (B, S, KVH, D) read,
//           4 out (B, T, H, D) write, 5 lse (B, H, T) write, 6 lsum (B, H, T) scratch
//           (one float when there is a single chunk: never touched then).
// Shapes: S = cache capacity (S >= pos0 + T; training passes S = T, pos0 = 0), D <= MAX_D;
//         window in 1 ..= S (S: plain causal). Decode (T = 1) may read a cache longer than window.
// Params and MAX_D come from attention_common.wgsl, concatenated before this file.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> lsum: array<f32>;

@compute @workgroup_size(64)
fn attention_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.x + gid.y * nwg.x * 64u; // (b, h, t) flattened, the layout of lse
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
    for (var i = 0u; i < d; i++) {
        qv[i] = q[q_base + i] * params.scale;
    }
    var acc: array<f32, MAX_D>;
    var m = -3.0e38;
    var l = 0.0;
    if ((params.flags & CONTINUE) != 0u) {
        m = lse[row];
        l = lsum[row];
        for (var i = 0u; i < d; i++) {
            acc[i] = out[q_base + i];
        }
    }
    let last = params.pos0 + t;
    let j_end = min(last + 1u, params.hi);
    for (var j = max(first_key(last), params.lo); j < j_end; j++) {
        let kv_base = ((b * params.s + j) * params.kvh + g) * d;
        var score = 0.0;
        for (var i = 0u; i < d; i++) {
            score += qv[i] * k[kv_base + i];
        }
        if (score > m) {
            // New maximum: rescale what was summed so far.
            let correction = exp(m - score);
            l *= correction;
            for (var i = 0u; i < d; i++) {
                acc[i] *= correction;
            }
            m = score;
        }
        let p = exp(score - m);
        l += p;
        for (var i = 0u; i < d; i++) {
            acc[i] += p * v[kv_base + i];
        }
    }
    if ((params.flags & LAST) == 0u) {
        for (var i = 0u; i < d; i++) {
            out[q_base + i] = acc[i];
        }
        lse[row] = m;
        lsum[row] = l;
        return;
    }
    let inv_l = 1.0 / l;
    for (var i = 0u; i < d; i++) {
        out[q_base + i] = acc[i] * inv_l;
    }
    lse[row] = m + log(l);
}
