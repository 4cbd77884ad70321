// attention_tiled_forward — GPU family: attention forward, flash-style (tiles in
// attention_tiled_common.wgsl), the same results as attention_forward.wgsl.
//
// Formula: query t of head h (kv head g = h / (H / KVH), absolute position p = pos0 + t) sees
// the cache rows first_key(p) ≤ j ≤ p; s_j = scale · q·k_j;
//   out = Σ_j e^(s_j − m) v_j / Σ_j e^(s_j − m),  lse = m + log Σ_j e^(s_j − m),
// with the row max m and the sums updated key tile by key tile (online softmax): no (T, S)
// matrix exists anywhere, only a 16 × 32 tile of it in workgroup memory.
// Bindings: 0 params, 1 q (B, T, H, D) read, 2 k (B, S, KVH, D) read, 3 v (B, S, KVH, D) read,
//           4 out (B, T, H, D) write, 5 lse (B, H, T) write.
// Grid: (ceil(T / 16), H, B) workgroups of 128; workgroup (x, h, b) owns queries 16x .. 16x + 15
// and walks the key tiles of 32 that any of them sees.

@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

var<workgroup> row_m: array<f32, RT>;
var<workgroup> row_l: array<f32, RT>;
var<workgroup> row_corr: array<f32, RT>;

fn load(src: u32, i: u32) -> f32 {
    return load_qkv(src, i);
}

fn store(dst: u32, i: u32, x: f32) {
    out[i] = x;
}

@compute @workgroup_size(128)
fn attention_tiled_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let w = query_tile(wid);
    let r = lid / LANES;
    let lane = lid % LANES;
    let t = w.t0 + r;
    if (lid < RT) {
        row_m[lid] = NEG;
        row_l[lid] = 0.0;
    }
    var acc: array<vec4<f32>, ACC4>;
    let j_end = params.pos0 + min(w.t0 + RT, params.t);
    for (var j0 = first_key(params.pos0 + w.t0); j0 < j_end; j0 += CT) {
        let s = tile_dots(lid, w.b, SRC_Q, w.t0, w.h, SRC_K, j0, w.g);
        for (var n = 0u; n < 4u; n++) {
            let c = lane + LANES * n;
            let seen = t < params.t && sees(params.pos0 + t, j0 + c);
            tile_p[r * CT + c] = select(NEG, s[n] * params.scale, seen);
        }
        workgroupBarrier();
        // Online softmax, one invocation per query row: the tile's probabilities in place, and
        // the factor that rescales what the row accumulated before.
        if (lid < RT) {
            let m_old = row_m[lid];
            var m_new = m_old;
            for (var c = 0u; c < CT; c++) {
                m_new = max(m_new, tile_p[lid * CT + c]);
            }
            var l = 0.0;
            for (var c = 0u; c < CT; c++) {
                let x = tile_p[lid * CT + c];
                let p = select(exp(x - m_new), 0.0, x == NEG);
                tile_p[lid * CT + c] = p;
                l += p;
            }
            let corr = exp(m_old - m_new);
            row_corr[lid] = corr;
            row_l[lid] = row_l[lid] * corr + l;
            row_m[lid] = m_new;
        }
        workgroupBarrier(); // row_corr, read below as an argument
        tile_product(lid, w.b, SRC_V, j0, w.g, &acc, row_corr[r]);
    }
    if (t < params.t) {
        store_row(lid, &acc, ((w.b * params.t + t) * params.h + w.h) * params.d, 1.0 / row_l[r], 0u);
        if (lane == 0u) {
            lse[(w.b * params.h + w.h) * params.t + t] = row_m[r] + log(row_l[r]);
        }
    }
}
