// attention_tiled_dq — GPU family: attention backward, pass 1 (tiles in
// attention_tiled_common.wgsl), the same results as attention_backward_dq.wgsl.
//
// Formula: with p_j = e^(scale · q·k_j − lse) over the keys the query sees (rebuilt from the
// forward's lse), dp_j = dout·v_j and delta = dout·out (= Σ_j p_j dp_j):
//   ds_j = p_j (dp_j − delta),  dq = scale Σ_j ds_j k_j;  delta is written for pass 2.
// Bindings: 0 params, 1 q (B, T, H, D) read, 2 k (B, S, KVH, D) read, 3 v (B, S, KVH, D) read,
//           4 out (B, T, H, D) read, 5 dout (B, T, H, D) read, 6 lse (B, H, T) read,
//           7 dq (B, T, H, D) write, 8 delta (B, H, T) write.
// Grid: (ceil(T / 16), H, B) workgroups of 128, as attention_tiled_forward.

@group(0) @binding(4) var<storage, read> out: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> lse: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;

var<workgroup> row_lse: array<f32, RT>;
var<workgroup> row_delta: array<f32, RT>;

fn load(src: u32, i: u32) -> f32 {
    if (src == SRC_DOUT) {
        return dout[i];
    }
    return load_qkv(src, i);
}

fn store(dst: u32, i: u32, x: f32) {
    dq[i] = x;
}

@compute @workgroup_size(128)
fn attention_tiled_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let w = query_tile(wid);
    let r = lid / LANES;
    let lane = lid % LANES;
    let t = w.t0 + r;
    let row = ((w.b * params.t + t) * params.h + w.h) * params.d;
    // delta = dout · out: eight partial sums per row (tile_p as scratch), then their total.
    var part = 0.0;
    if (t < params.t) {
        for (var d = lane; d < params.d; d += LANES) {
            part += dout[row + d] * out[row + d];
        }
    }
    tile_p[lid] = part;
    workgroupBarrier();
    if (lid < RT) {
        var sum = 0.0;
        for (var i = 0u; i < LANES; i++) {
            sum += tile_p[lid * LANES + i];
        }
        row_delta[lid] = sum;
        row_lse[lid] = 0.0;
        if (w.t0 + lid < params.t) {
            let stat = (w.b * params.h + w.h) * params.t + w.t0 + lid;
            delta[stat] = sum;
            row_lse[lid] = lse[stat];
        }
    }
    var acc: array<vec4<f32>, ACC4>;
    let j_end = params.pos0 + min(w.t0 + RT, params.t);
    for (var j0 = first_key(params.pos0 + w.t0); j0 < j_end; j0 += CT) {
        let s = tile_dots(lid, w.b, SRC_Q, w.t0, w.h, SRC_K, j0, w.g);
        let dp = tile_dots(lid, w.b, SRC_DOUT, w.t0, w.h, SRC_V, j0, w.g);
        for (var n = 0u; n < 4u; n++) {
            let c = lane + LANES * n;
            let seen = t < params.t && sees(params.pos0 + t, j0 + c);
            let p = select(0.0, exp(s[n] * params.scale - row_lse[r]), seen);
            tile_p[r * CT + c] = p * (dp[n] - row_delta[r]);
        }
        tile_product(lid, w.b, SRC_K, j0, w.g, &acc, 1.0);
    }
    if (t < params.t) {
        store_row(lid, &acc, row, params.scale, 0u);
    }
}
