// matmul_stage — copies op(A) (or op(B)ᵀ, with the transpose flag flipped) of a batched matmul
// into the row-major, zero-padded layout that matmul_forward reads through uniform buffers:
//   out[s, b, i, kk] = op(A[b])[i, s*kslice + kk]  for kk < min(kslice, K - s*kslice), else 0
// op(A)[i, k] = A[b*stride_a + i*K + k], or A[b*stride_a + k*M + i] when TRANS_A.
//
// Bindings: 0 params, 1 a (any), 2 out (slices, batch_a, M, ks) f32.
// Shapes: M rows of op(A) (e.g. B*T tokens), K the reduction length.

struct Params {
    batch_a: u32,
    m: u32,
    k: u32,
    stride_a: u32,
    kslice: u32,
    ks: u32,
    total: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override TRANS_A: bool = false;

@compute @workgroup_size(64)
fn matmul_stage(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * 64u;
    if (idx >= params.total) {
        return;
    }
    let kk = idx % params.ks;
    let row = idx / params.ks; // (s * batch_a + b) * M + i
    let i = row % params.m;
    let sb = row / params.m;
    let b = sb % params.batch_a;
    let s = sb / params.batch_a;
    let k = s * params.kslice + kk;
    var v = 0.0;
    if (kk < params.kslice && k < params.k) {
        let base = b * params.stride_a;
        v = select(a[base + i * params.k + k], a[base + k * params.m + i], TRANS_A);
    }
    out[idx] = v;
}
