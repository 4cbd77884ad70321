// attention_forward_vec4 — attention_forward (see attention_forward.wgsl for the formula) for
// head dims that are a multiple of 4: q, k, v and out are read and written as vec4, and the
// accumulators are vec4 arrays (a quarter of the loop iterations and private-array accesses).
//
// Bindings: 0 params, 1 q (B, T, H, D/4) read, 2 k (B, S, KVH, D/4) read,
//           3 v (B, S, KVH, D/4) read, 4 out (B, T, H, D/4) write, 5 lse (B, H, T) write,
//           6 lsum (B, H, T) scratch between key chunks (as attention_forward).
// Shapes: as attention_forward (window included), with D % 4 == 0 and D <= MAX_D
// (attention_common.wgsl).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> lsum: array<f32>;

@compute @workgroup_size(64)
fn attention_forward_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.x + gid.y * nwg.x * 64u; // (b, h, t) flattened, the layout of lse
    if (row >= params.b * params.h * params.t) {
        return;
    }
    let d4 = params.d / 4u;
    let t = row % params.t;
    let h = (row / params.t) % params.h;
    let b = row / (params.t * params.h);
    let g = h / (params.h / params.kvh);
    let q_base = ((b * params.t + t) * params.h + h) * d4;

    var qv: array<vec4<f32>, MAX_D / 4u>;
    for (var i = 0u; i < d4; i++) {
        qv[i] = q[q_base + i] * params.scale;
    }
    var acc: array<vec4<f32>, MAX_D / 4u>;
    var m = -3.0e38;
    var l = 0.0;
    if ((params.flags & CONTINUE) != 0u) {
        m = lse[row];
        l = lsum[row];
        for (var i = 0u; i < d4; i++) {
            acc[i] = out[q_base + i];
        }
    }
    let last = params.pos0 + t;
    let j_end = min(last + 1u, params.hi);
    for (var j = max(first_key(last), params.lo); j < j_end; j++) {
        let kv_base = ((b * params.s + j) * params.kvh + g) * d4;
        var dots = vec4<f32>(0.0);
        for (var i = 0u; i < d4; i++) {
            dots += qv[i] * k[kv_base + i];
        }
        let score = dots.x + dots.y + dots.z + dots.w;
        if (score > m) {
            let correction = exp(m - score);
            l *= correction;
            for (var i = 0u; i < d4; i++) {
                acc[i] *= correction;
            }
            m = score;
        }
        let p = exp(score - m);
        l += p;
        for (var i = 0u; i < d4; i++) {
            acc[i] += p * v[kv_base + i];
        }
    }
    if ((params.flags & LAST) == 0u) {
        for (var i = 0u; i < d4; i++) {
            out[q_base + i] = acc[i];
        }
        lse[row] = m;
        lsum[row] = l;
        return;
    }
    let inv_l = 1.0 / l;
    for (var i = 0u; i < d4; i++) {
        out[q_base + i] = acc[i] * inv_l;
    }
    lse[row] = m + log(l);
}
