// qmatmul_backward_common — shared by qmatmul_backward and qmatmul_backward_sg, no entry point: their params
// struct, bindings and row helpers, written once; each kernel's header documents them.

struct Params {
    m0: u32,
    mb: u32,
    k: u32,
    ks: u32,
    r0: u32,
    nlen: u32,
    row_bytes: u32,
    rows: u32,
    accumulate: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> xs: array<vec4<f32>, 4096>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn store_row(i: u32, k0: u32, acc: vec4<f32>) {
    if (i >= params.mb) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let k = k0 + j;
        if (k < params.k) {
            let idx = (params.m0 + i) * params.k + k;
            var v = acc[j];
            if (params.accumulate != 0u) {
                v += dx[idx];
            }
            dx[idx] = v;
        }
    }
}

// Weight rows r..r+3 (clamped to the chunk) at k..k+3, as the columns of a matrix.
fn wrows4(r: u32, k: u32) -> mat4x4<f32> {
    let rb = wrow_bytes(r);
    return wdeq4x4(rb, k, wscales4(rb, k >> 4u));
}
