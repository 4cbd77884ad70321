// qmatmul_forward_common — shared by qmatmul_forward and qmatmul_forward_sg, no entry point: their params
// struct, bindings, row helpers and the dequantized 16-value weight tiles, written once; each
// kernel's header documents them.

struct Params {
    m0: u32,
    mb: u32,
    n: u32,
    ks: u32,
    k0: u32,
    klen: u32,
    row_bytes: u32,
    row_start: u32,
    rows: u32,
    has_bias: u32,
    accumulate: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> xs: array<vec4<f32>, 4096>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn store_row(i: u32, n0: u32, acc: vec4<f32>) {
    if (i >= params.mb) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let r = n0 + j;
        if (r < params.rows) {
            let col = params.row_start + r;
            let idx = (params.m0 + i) * params.n + col;
            var v = acc[j];
            if (params.has_bias != 0u) {
                v += bias[col];
            }
            if (params.accumulate != 0u) {
                v += y[idx];
            }
            y[idx] = v;
        }
    }
}

// The lane's 4 weight rows (starting at bytes rb.x..rb.w) at values k..k+15 (group g = k / 16),
// dequantized and transposed for mac16: tq[c] = (the 4 rows' weight k + 4q + c).
struct W16 {
    t0: mat4x4<f32>,
    t1: mat4x4<f32>,
    t2: mat4x4<f32>,
    t3: mat4x4<f32>,
}

fn wtiles16(rb: vec4<u32>, g: u32, k: u32) -> W16 {
    let s = wscales4(rb, g);
    return W16(transpose(wdeq4x4(rb, k, s)), transpose(wdeq4x4(rb, k + 4u, s)),
               transpose(wdeq4x4(rb, k + 8u, s)), transpose(wdeq4x4(rb, k + 12u, s)));
}
