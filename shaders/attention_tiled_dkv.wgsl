// attention_tiled_dkv — GPU family: attention backward, pass 2 (tiles in
// attention_tiled_common.wgsl), the same results as attention_backward_dkv.wgsl.
//
// Formula: cache row j of kv head g gets, over the query heads h of g and the queries t that
// see it (j ≤ pos0 + t < j + window), with p = e^(scale · q·k_j − lse) and ds = p (dout·v_j − delta)
// from pass 1's delta:
//   dv_j = Σ p dout,  dk_j = scale Σ ds q;  rows no query sees are zeros.
// Bindings: 0 params, 1 q (B, T, H, D) read, 2 k (B, S, KVH, D) read, 3 v (B, S, KVH, D) read,
//           4 dout (B, T, H, D) read, 5 lse (B, H, T) read, 6 delta (B, H, T) read,
//           7 dk (B, S, KVH, D) write, 8 dv (B, S, KVH, D) write.
// Grid: (ceil(S / 16), KVH, B) workgroups of 128; workgroup (x, g, b) owns cache rows
// 16x .. 16x + 15 (the tile's rows) and walks tiles of 32 queries (its columns).

@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;

var<workgroup> col_lse: array<f32, CT>;
var<workgroup> col_delta: array<f32, CT>;

fn load(src: u32, i: u32) -> f32 {
    if (src == SRC_DOUT) {
        return dout[i];
    }
    return load_qkv(src, i);
}

fn store(dst: u32, i: u32, x: f32) {
    if (dst == 0u) {
        dk[i] = x;
    } else {
        dv[i] = x;
    }
}

@compute @workgroup_size(128)
fn attention_tiled_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j0 = wid.x * RT;
    let g = wid.y;
    let b = wid.z;
    let r = lid / LANES;
    let lane = lid % LANES;
    let j = j0 + r;
    let group = params.h / params.kvh;
    // Queries that see any row of the tile: t_lo .. t_hi.
    let t_lo = max(j0, params.pos0) - params.pos0;
    let t_hi = end_query(min(j0 + RT, params.s) - 1u);
    var acc_dk: array<vec4<f32>, ACC4>;
    var acc_dv: array<vec4<f32>, ACC4>;
    for (var hh = 0u; hh < group; hh++) {
        let h = g * group + hh;
        for (var tc0 = t_lo; tc0 < t_hi; tc0 += CT) {
            workgroupBarrier();
            if (lid < CT) {
                let stat = (b * params.h + h) * params.t + tc0 + lid;
                let inside = tc0 + lid < params.t;
                col_lse[lid] = select(0.0, lse[min(stat, arrayLength(&lse) - 1u)], inside);
                col_delta[lid] = select(0.0, delta[min(stat, arrayLength(&delta) - 1u)], inside);
            }
            let s = tile_dots(lid, b, SRC_K, j0, g, SRC_Q, tc0, h);
            var p = vec4<f32>(0.0);
            for (var n = 0u; n < 4u; n++) {
                let c = lane + LANES * n;
                let seen = tc0 + c < params.t && j < params.s && sees(params.pos0 + tc0 + c, j);
                p[n] = select(0.0, exp(s[n] * params.scale - col_lse[c]), seen);
                tile_p[r * CT + c] = p[n];
            }
            tile_product(lid, b, SRC_DOUT, tc0, h, &acc_dv, 1.0);
            let dp = tile_dots(lid, b, SRC_V, j0, g, SRC_DOUT, tc0, h);
            for (var n = 0u; n < 4u; n++) {
                let c = lane + LANES * n;
                tile_p[r * CT + c] = p[n] * (dp[n] - col_delta[c]);
            }
            tile_product(lid, b, SRC_Q, tc0, h, &acc_dk, 1.0);
        }
    }
    if (j < params.s) {
        let row = ((b * params.s + j) * params.kvh + g) * params.d;
        store_row(lid, &acc_dk, row, params.scale, 0u);
        store_row(lid, &acc_dv, row, 1.0, 1u);
    }
}
