// matmul_forward_common — shared by matmul_forward and matmul_forward_sg, no entry point: their params
// struct, bindings and row helpers, written once; each kernel's header documents them.

struct Params {
    m0: u32,
    mb: u32,
    n0: u32,
    n: u32,
    c_off: u32,
    accumulate: u32,
    alpha: f32,
    slices: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> xs0: array<vec4<f32>, 4096>;
@group(0) @binding(2) var<uniform> bt0: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<uniform> xs1: array<vec4<f32>, 4096>;
@group(0) @binding(4) var<uniform> bt1: array<vec4<f32>, 4096>;
@group(0) @binding(5) var<uniform> xs2: array<vec4<f32>, 4096>;
@group(0) @binding(6) var<uniform> bt2: array<vec4<f32>, 4096>;
@group(0) @binding(7) var<uniform> xs3: array<vec4<f32>, 4096>;
@group(0) @binding(8) var<uniform> bt3: array<vec4<f32>, 4096>;
@group(0) @binding(9) var<storage, read_write> c: array<f32>;

fn store_row(i: u32, j0: u32, acc: vec4<f32>) {
    if (i >= params.mb) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if (j0 + j < params.n) {
            let idx = params.c_off + (params.m0 + i) * params.n + j0 + j;
            var v = params.alpha * acc[j];
            if (params.accumulate != 0u) {
                v += c[idx];
            }
            c[idx] = v;
        }
    }
}

// acc += a (1 x 4 over k) times the 4 columns w0..w3 (4 values of k each).
fn fma_cols(acc: vec4<f32>, a: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>) -> vec4<f32> {
    return acc + vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
}

// Row i of the op(A) block (clamped), as a vec4 index base.
fn xrow(i: u32) -> u32 {
    return min(i, params.mb - 1u) * 16u;
}
