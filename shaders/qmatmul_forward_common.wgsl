// qmatmul_forward_common — shared by qmatmul_forward and qmatmul_forward_sg, no entry point: their params
// struct, bindings and row helpers, written once; each kernel's header documents them.

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
