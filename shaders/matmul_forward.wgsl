// matmul_forward — batched f32 matrix product with optional transposes and accumulation:
//   C[b] = alpha · op(A[b]) · op(B[b])  (+ C[b] when accumulate != 0)
// op(A) is (M, K) and op(B) is (K, N): B stored (K, N), or (N, K) when TRANS_B.
// op(A) arrives staged by matmul_stage (row-major, rows padded to ks, zero beyond K) in a
// uniform buffer; one dispatch covers one batch item, one K slice [k0, k0 + klen) and a block
// of mb rows starting at row m0 (later K slices accumulate).
//
// Bindings: 0 params, 1 xs (mb, ks) f32 uniform, 2 b (batch, K, N) or (batch, N, K) f32 as
//           vec4, 3 c (batch, M, N) f32.
// Shapes: e.g. LoRA x·Aᵀ: op(A) = x (B*T, C), B = A_lora (r, C) with TRANS_B, C = (B*T, r).
// Each lane owns 4 columns of C; a workgroup shares TM rows (8, or 1 for the matrix-vector
// case), so op(A) reads are workgroup-uniform. VEC_B: B rows along the vec4 axis are aligned
// (N % 4 == 0 without TRANS_B, K % 4 == 0 with it), so B is read as whole vec4s.

struct Params {
    m0: u32,
    mb: u32,
    m: u32,
    n: u32,
    k: u32,
    k0: u32,
    klen: u32,
    ks: u32,
    b_off: u32,
    c_off: u32,
    accumulate: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> xs: array<vec4<f32>, 4096>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

override TRANS_B: bool = false;
override VEC_B: bool = false;
override TM: u32 = 8u;

fn bs(i: u32) -> f32 {
    return b[i >> 2u][i & 3u];
}

// op(B)[k..k+4, j] (k clamped to K - 1: the staged op(A) is zero there).
fn bcol(j: u32, k: u32) -> vec4<f32> {
    let K = params.k;
    if (TRANS_B && VEC_B) {
        return b[(params.b_off + j * K + k) >> 2u];
    }
    let k1 = min(k + 1u, K - 1u);
    let k2 = min(k + 2u, K - 1u);
    let k3 = min(k + 3u, K - 1u);
    if (TRANS_B) {
        let r = params.b_off + j * K;
        return vec4<f32>(bs(r + min(k, K - 1u)), bs(r + k1), bs(r + k2), bs(r + k3));
    }
    let o = params.b_off + j;
    let N = params.n;
    return vec4<f32>(bs(o + min(k, K - 1u) * N), bs(o + k1 * N), bs(o + k2 * N), bs(o + k3 * N));
}

// op(B)[k, j0..j0+4] as one aligned vec4 (VEC_B without TRANS_B).
fn brow(k: u32, j0: u32) -> vec4<f32> {
    return b[(params.b_off + min(k, params.k - 1u) * params.n + j0) >> 2u];
}

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

fn xrow(i: u32) -> u32 {
    return min(i, params.mb - 1u) * (params.ks / 4u);
}

// acc += a (1 x 4 over k) times the 4 x 4 block of op(B) given as 4 columns or 4 rows.
fn fma_cols(acc: vec4<f32>, a: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>) -> vec4<f32> {
    return acc + vec4<f32>(dot(a, w0), dot(a, w1), dot(a, w2), dot(a, w3));
}

fn fma_rows(acc: vec4<f32>, a: vec4<f32>, r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32>) -> vec4<f32> {
    return acc + a.x * r0 + a.y * r1 + a.z * r2 + a.w * r3;
}

@compute @workgroup_size(64)
fn matmul_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j0 = (wid.x * 64u + lid) * 4u;
    let i0 = wid.y * TM;
    let last = params.n - 1u;
    let jc0 = min(j0, last);
    let jc1 = min(j0 + 1u, last);
    let jc2 = min(j0 + 2u, last);
    let jc3 = min(j0 + 3u, last);
    let jr = min(j0, max(params.n, 4u) - 4u); // VEC_B rows (N % 4 == 0): aligned start
    var x: array<u32, 8>;
    for (var i = 0u; i < 8u; i++) {
        x[i] = xrow(i0 + i);
    }
    var acc: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    let rows_vec = !TRANS_B && VEC_B;
    for (var k = 0u; k < params.klen; k += 4u) {
        let kb = params.k0 + k;
        var w0: vec4<f32>;
        var w1: vec4<f32>;
        var w2: vec4<f32>;
        var w3: vec4<f32>;
        if (rows_vec) {
            w0 = brow(kb, jr);
            w1 = brow(kb + 1u, jr);
            w2 = brow(kb + 2u, jr);
            w3 = brow(kb + 3u, jr);
        } else {
            w0 = bcol(jc0, kb);
            w1 = bcol(jc1, kb);
            w2 = bcol(jc2, kb);
            w3 = bcol(jc3, kb);
        }
        let kv = k / 4u;
        for (var i = 0u; i < TM; i++) {
            let a = xs[x[i] + kv];
            if (rows_vec) {
                acc[i] = fma_rows(acc[i], a, w0, w1, w2, w3);
            } else {
                acc[i] = fma_cols(acc[i], a, w0, w1, w2, w3);
            }
        }
    }
    for (var i = 0u; i < TM; i++) {
        store_row(i0 + i, j0, acc[i]);
    }
}
