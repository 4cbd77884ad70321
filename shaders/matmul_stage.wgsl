// matmul_stage — copies op(A) (or op(B)ᵀ, with the transpose flag flipped) of a batched matmul
// into the row-major, zero-padded layout that matmul_forward reads through uniform buffers:
//   out[s, b, i, kk] = op(A[b])[i, s*kslice + kk]  for kk < min(kslice, K - s*kslice), else 0
// op(A)[i, k] = A[b*stride_a + i*K + k], or A[b*stride_a + k*M + i] when TRANS_A.
//
// Bindings: 0 params, 1 a (any), 2 out (slices, batch_a, M, ks) f32, written as vec4 (ks % 4 == 0).
// Shapes: M rows of op(A) (e.g. B*T tokens), K the reduction length.
// One invocation per (row i, batch item b, slice s) on a 3-D grid (x: rows / 64, y: b, z: s),
// looping over the ks values of its slice: no index divisions (on llvmpipe every integer
// division is 8 scalar divides, and they made this copy a third of a matmul's time), and
// consecutive iterations of a lane stay in the same cache lines for both layouts of A.

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
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

override TRANS_A: bool = false;

// op(A)[i, k] of batch item base, or 0 when kk >= kn (past K).
fn load(base: u32, i: u32, k: u32, kk: u32, kn: u32) -> f32 {
    if (kk >= kn) {
        return 0.0;
    }
    if (TRANS_A) {
        return a[base + k * params.m + i];
    }
    return a[base + i * params.k + k];
}

@compute @workgroup_size(64)
fn matmul_stage(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let b = gid.y;
    let s = gid.z;
    if (i >= params.m) {
        return;
    }
    let base = b * params.stride_a;
    let dst = ((s * params.batch_a + b) * params.m + i) * (params.ks / 4u);
    let k0 = s * params.kslice;
    let kn = min(params.kslice, params.k - min(k0, params.k));
    for (var kq = 0u; kq < params.ks / 4u; kq++) {
        let kk = kq * 4u;
        let k = k0 + kk;
        out[dst + kq] = vec4<f32>(
            load(base, i, k, kk, kn),
            load(base, i, k + 1u, kk + 1u, kn),
            load(base, i, k + 2u, kk + 2u, kn),
            load(base, i, k + 3u, kk + 3u, kn),
        );
    }
}
