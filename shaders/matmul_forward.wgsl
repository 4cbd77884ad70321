// matmul_forward — batched f32 matrix product with optional transposes and accumulation:
//   C[b] = alpha · op(A[b]) · op(B[b])  (+ C[b] when accumulate != 0)
// op(A) is (M, K): A stored (M, K), or (K, M) when TRANS_A; op(B) is (K, N): B stored (K, N),
// or (N, K) when TRANS_B. Batch b starts at b * stride_{a,b,c} (stride 0 = broadcast).
//
// Bindings: 0 params, 1 a, 2 b, 3 c (batch, M, N).
// Shapes: e.g. LoRA x·Aᵀ: a = x (B*T, C), b = A (r, C) with TRANS_B, c = (B*T, r).
// Register blocking: each invocation computes a TM x 4 tile of C (TM = 4, or 1 for the
// matrix-vector case M < 4), reading 4 consecutive k of each row/column per step.

struct Params {
    batch: u32,
    m: u32,
    n: u32,
    k: u32,
    stride_a: u32,
    stride_b: u32,
    stride_c: u32,
    accumulate: u32,
    alpha: f32,
    m_tiles: u32,
    n_tiles: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override TM: u32 = 4u;

// op(A)[i, k..k+4] with base = batch offset + row offset of i.
fn a4(base: u32, k: u32) -> vec4<f32> {
    let s = select(1u, params.m, TRANS_A);
    let i = base + k * s;
    return vec4<f32>(a[i], a[i + s], a[i + 2u * s], a[i + 3u * s]);
}

fn b4(base: u32, k: u32) -> vec4<f32> {
    let s = select(params.n, 1u, TRANS_B);
    let i = base + k * s;
    return vec4<f32>(b[i], b[i + s], b[i + 2u * s], b[i + 3u * s]);
}

fn store_row(cb: u32, i: u32, j0: u32, acc: vec4<f32>) {
    if (i >= params.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if (j0 + j < params.n) {
            let idx = cb + i * params.n + j0 + j;
            var v = params.alpha * acc[j];
            if (params.accumulate != 0u) {
                v += c[idx];
            }
            c[idx] = v;
        }
    }
}

@compute @workgroup_size(64)
fn matmul_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let tile = gid.x + gid.y * nwg.x * 64u;
    let per_batch = params.m_tiles * params.n_tiles;
    if (tile >= params.batch * per_batch) {
        return;
    }
    let bi = tile / per_batch;
    let t = tile % per_batch;
    let j0 = (t % params.n_tiles) * 4u;
    let i0 = (t / params.n_tiles) * TM;
    let K = params.k;
    // Row offsets of op(A) rows i0.. and op(B) columns j0.. (clamped; skipped at the store).
    let sa = select(K, 1u, TRANS_A);
    let sb = select(1u, K, TRANS_B);
    let ab = bi * params.stride_a;
    let bb = bi * params.stride_b;
    let last_i = params.m - 1u;
    let last_j = params.n - 1u;
    let ar0 = ab + min(i0, last_i) * sa;
    let ar1 = ab + min(i0 + 1u, last_i) * sa;
    let ar2 = ab + min(i0 + 2u, last_i) * sa;
    let ar3 = ab + min(i0 + 3u, last_i) * sa;
    let bc0 = bb + min(j0, last_j) * sb;
    let bc1 = bb + min(j0 + 1u, last_j) * sb;
    let bc2 = bb + min(j0 + 2u, last_j) * sb;
    let bc3 = bb + min(j0 + 3u, last_j) * sb;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let k4 = K & ~3u;
    for (var k = 0u; k < k4; k += 4u) {
        let w0 = b4(bc0, k);
        let w1 = b4(bc1, k);
        let w2 = b4(bc2, k);
        let w3 = b4(bc3, k);
        let x0 = a4(ar0, k);
        acc0 += vec4<f32>(dot(x0, w0), dot(x0, w1), dot(x0, w2), dot(x0, w3));
        if (TM > 1u) {
            let x1 = a4(ar1, k);
            acc1 += vec4<f32>(dot(x1, w0), dot(x1, w1), dot(x1, w2), dot(x1, w3));
            let x2 = a4(ar2, k);
            acc2 += vec4<f32>(dot(x2, w0), dot(x2, w1), dot(x2, w2), dot(x2, w3));
            let x3 = a4(ar3, k);
            acc3 += vec4<f32>(dot(x3, w0), dot(x3, w1), dot(x3, w2), dot(x3, w3));
        }
    }
    let sak = select(1u, params.m, TRANS_A);
    let sbk = select(params.n, 1u, TRANS_B);
    for (var k = k4; k < K; k++) {
        let wk = vec4<f32>(b[bc0 + k * sbk], b[bc1 + k * sbk], b[bc2 + k * sbk], b[bc3 + k * sbk]);
        acc0 += a[ar0 + k * sak] * wk;
        if (TM > 1u) {
            acc1 += a[ar1 + k * sak] * wk;
            acc2 += a[ar2 + k * sak] * wk;
            acc3 += a[ar3 + k * sak] * wk;
        }
    }
    let cb = bi * params.stride_c;
    store_row(cb, i0, j0, acc0);
    if (TM > 1u) {
        store_row(cb, i0 + 1u, j0, acc1);
        store_row(cb, i0 + 2u, j0, acc2);
        store_row(cb, i0 + 3u, j0, acc3);
    }
}
