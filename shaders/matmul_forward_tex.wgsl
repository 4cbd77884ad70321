// matmul_forward_tex — matmul_forward (same formula) for CPU adapters (llvmpipe) with subgroups
// of at least 8 lanes, both operands read from read-only rgba32float storage textures over
// the whole of K:
//   C[b] = alpha · op(A[b]) · op(B[b])  (+ C[b] when ACCUMULATE)
// ta holds op(A) as rows: texel (t, a_row0 + i) = op(A)[i, 4t..4t+3]. tb holds op(B) either
// as columns (B_COLS = false: texel (t, b_row0 + j) = op(B)[4t..4t+3, j], i.e. rows of op(B)ᵀ)
// or as it is stored (B_COLS = true: texel (t, b_row0 + k) = op(B)[k, 4t..4t+3]). Values of k
// up to k8 (K rounded up to 8) must be there, zero past K; columns are clamped to the texture.
//
// A workgroup of 8 invocations (one subgroup) owns 32 rows × 64 columns of C; lane s owns
// columns 8s..8s+7 of them for all 32 rows (64 vec4 accumulators, as 32 Acc pairs). Per 8
// values of k: 16 texel loads of op(B), 8 of op(A) (lane s loads rows s, 8+s, 16+s, 24+s)
// shared with subgroupBroadcast(·, constant lane), and 2048 multiply-adds.
//
// Bindings: 0 params, 1 ta rgba32f, 2 tb rgba32f, 3 c (batch, M, N) f32.
// Grid: (ceil(N / 64), ceil(M / 32), 1), one dispatch per batch item.
// Why (measured on Mesa 22.3 llvmpipe; see ARCHITECTURE.md, lavapipe notes):
// - a storage-texture load of a texel is 8 16-byte loads and a 4×8 transpose, ~1.3 instructions
//   per value, where a load with a runtime address costs ~2.8 per value from a uniform buffer
//   and ~12 from a storage buffer (lane by lane), and a sampled texture ~4.7 (mip-level lookups
//   per lane); textures also hold all of K, so C is written once, not once per 256 values of k;
// - llvmpipe has no fused multiply-add (fma() is a vmulps and a vaddps, as a * b + c is), so
//   a multiply-add costs 2 instructions; the tiling keeps loads, broadcasts and spills below
//   that (about 3 instructions per multiply-add in all);
// - every assignment to a var inside a loop costs a masked blend (plus a spill): each
//   accumulator is assigned once per 8 values of k, from a chain of 8 multiply-adds.

struct Params {
    m: u32,
    n: u32,
    k8: u32,
    a_row0: u32,
    b_row0: u32,
    c_off: u32,
    _pad: u32,
    alpha: f32,
}

// Add the product to C (a pipeline constant: the loads of C cost code and compile time).
override ACCUMULATE: bool = false;
// op(B) in tb as stored (k, n) instead of as rows of op(B)ᵀ.
override B_COLS: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var ta: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var tb: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// 8 values of k (k0..k7) of 4 columns: kN = (col0[kN], col1[kN], col2[kN], col3[kN]).
struct K8 {
    k0: vec4<f32>,
    k1: vec4<f32>,
    k2: vec4<f32>,
    k3: vec4<f32>,
    k4: vec4<f32>,
    k5: vec4<f32>,
    k6: vec4<f32>,
    k7: vec4<f32>,
}

// One row's 8 columns: lo = columns 0..3, hi = columns 4..7 of the lane.
struct Acc {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

// Texels (4 values of k) of 4 columns at k and k + 4, transposed to 8 values of k.
fn k8(c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, c3: vec4<f32>,
      d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>) -> K8 {
    return K8(
        vec4<f32>(c0.x, c1.x, c2.x, c3.x), vec4<f32>(c0.y, c1.y, c2.y, c3.y),
        vec4<f32>(c0.z, c1.z, c2.z, c3.z), vec4<f32>(c0.w, c1.w, c2.w, c3.w),
        vec4<f32>(d0.x, d1.x, d2.x, d3.x), vec4<f32>(d0.y, d1.y, d2.y, d3.y),
        vec4<f32>(d0.z, d1.z, d2.z, d3.z), vec4<f32>(d0.w, d1.w, d2.w, d3.w),
    );
}

// acc + the row's 8 values of k (a: k0..3, b: k4..7) times w, as a chain of 8 fma's.
fn fma8(acc: vec4<f32>, a: vec4<f32>, b: vec4<f32>, w: K8) -> vec4<f32> {
    let r0 = fma(vec4<f32>(a.x), w.k0, acc);
    let r1 = fma(vec4<f32>(a.y), w.k1, r0);
    let r2 = fma(vec4<f32>(a.z), w.k2, r1);
    let r3 = fma(vec4<f32>(a.w), w.k3, r2);
    let r4 = fma(vec4<f32>(b.x), w.k4, r3);
    let r5 = fma(vec4<f32>(b.y), w.k5, r4);
    let r6 = fma(vec4<f32>(b.z), w.k6, r5);
    return fma(vec4<f32>(b.w), w.k7, r6);
}

fn row(acc: Acc, a: vec4<f32>, b: vec4<f32>, lo: K8, hi: K8) -> Acc {
    return Acc(fma8(acc.lo, a, b, lo), fma8(acc.hi, a, b, hi));
}

// Values k..k+7 of 4 of the lane's columns: rows c.x..c.w of tb (op(B)ᵀ rows), or with
// B_COLS texel column x of rows b_row0 + k.. of tb.
fn load_w(k: u32, c: vec4<i32>, x: i32) -> K8 {
    if (B_COLS) {
        let r = i32(params.b_row0 + k);
        return K8(textureLoad(tb, vec2<i32>(x, r)), textureLoad(tb, vec2<i32>(x, r + 1)),
                  textureLoad(tb, vec2<i32>(x, r + 2)), textureLoad(tb, vec2<i32>(x, r + 3)),
                  textureLoad(tb, vec2<i32>(x, r + 4)), textureLoad(tb, vec2<i32>(x, r + 5)),
                  textureLoad(tb, vec2<i32>(x, r + 6)), textureLoad(tb, vec2<i32>(x, r + 7)));
    }
    let t = i32(k / 4u);
    return k8(textureLoad(tb, vec2<i32>(t, c.x)), textureLoad(tb, vec2<i32>(t, c.y)),
              textureLoad(tb, vec2<i32>(t, c.z)), textureLoad(tb, vec2<i32>(t, c.w)),
              textureLoad(tb, vec2<i32>(t + 1, c.x)), textureLoad(tb, vec2<i32>(t + 1, c.y)),
              textureLoad(tb, vec2<i32>(t + 1, c.z)), textureLoad(tb, vec2<i32>(t + 1, c.w)));
}

// Writes row i of the tile (8 columns from j0), scaled and accumulated, clipped to (M, N).
// Loads of C past N read a neighbour (or 0 past the buffer) and are never stored.
fn store_row(i: u32, j0: u32, acc: Acc) {
    if (i >= params.m) {
        return;
    }
    let base = params.c_off + i * params.n + j0;
    var lo = params.alpha * acc.lo;
    var hi = params.alpha * acc.hi;
    if (ACCUMULATE) {
        lo += vec4<f32>(c[base], c[base + 1u], c[base + 2u], c[base + 3u]);
        hi += vec4<f32>(c[base + 4u], c[base + 5u], c[base + 6u], c[base + 7u]);
    }
    let left = select(0u, params.n - j0, j0 < params.n);
    if (left > 0u) { c[base] = lo.x; }
    if (left > 1u) { c[base + 1u] = lo.y; }
    if (left > 2u) { c[base + 2u] = lo.z; }
    if (left > 3u) { c[base + 3u] = lo.w; }
    if (left > 4u) { c[base + 4u] = hi.x; }
    if (left > 5u) { c[base + 5u] = hi.y; }
    if (left > 6u) { c[base + 6u] = hi.z; }
    if (left > 7u) { c[base + 7u] = hi.w; }
}

@compute @workgroup_size(8)
fn matmul_forward_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sid: u32) {
    let s = sid & 7u;
    let j0 = wid.x * 64u + s * 8u;
    let i0 = wid.y * 32u;
    // Rows past M are clamped for loading (and never stored).
    let am = params.m - 1u;
    let ra0 = i32(params.a_row0 + min(i0 + s, am));
    let ra1 = i32(params.a_row0 + min(i0 + 8u + s, am));
    let ra2 = i32(params.a_row0 + min(i0 + 16u + s, am));
    let ra3 = i32(params.a_row0 + min(i0 + 24u + s, am));
    // Columns past N are clamped for loading (and never stored): as rows of tb, or as texel
    // columns of it (B_COLS).
    let bn = params.n - 1u;
    let clo = vec4<i32>(vec4<u32>(params.b_row0) + min(vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(bn)));
    let chi = vec4<i32>(vec4<u32>(params.b_row0) + min(vec4<u32>(j0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(bn)));
    let xlast = i32(textureDimensions(tb).x) - 1;
    let xlo = min(i32(j0 / 4u), xlast);
    let xhi = min(i32(j0 / 4u) + 1, xlast);
    let z = Acc(vec4<f32>(0.0), vec4<f32>(0.0));
    var acc0 = z; var acc1 = z; var acc2 = z; var acc3 = z; var acc4 = z; var acc5 = z; var acc6 = z; var acc7 = z;
    var acc8 = z; var acc9 = z; var acc10 = z; var acc11 = z; var acc12 = z; var acc13 = z; var acc14 = z; var acc15 = z;
    var acc16 = z; var acc17 = z; var acc18 = z; var acc19 = z; var acc20 = z; var acc21 = z; var acc22 = z; var acc23 = z;
    var acc24 = z; var acc25 = z; var acc26 = z; var acc27 = z; var acc28 = z; var acc29 = z; var acc30 = z; var acc31 = z;
    for (var k = 0u; k < params.k8; k += 8u) {
        let lo = load_w(k, clo, xlo);
        let hi = load_w(k, chi, xhi);
        let kt = i32(k / 4u);
        let kh = kt + 1;
        // a<q>, b<q>: k0..3 and k4..7 of row 8q + s.
        let a0 = textureLoad(ta, vec2<i32>(kt, ra0));
        let b0 = textureLoad(ta, vec2<i32>(kh, ra0));
        let a1 = textureLoad(ta, vec2<i32>(kt, ra1));
        let b1 = textureLoad(ta, vec2<i32>(kh, ra1));
        let a2 = textureLoad(ta, vec2<i32>(kt, ra2));
        let b2 = textureLoad(ta, vec2<i32>(kh, ra2));
        let a3 = textureLoad(ta, vec2<i32>(kt, ra3));
        let b3 = textureLoad(ta, vec2<i32>(kh, ra3));
        acc0 = row(acc0, subgroupBroadcast(a0, 0u), subgroupBroadcast(b0, 0u), lo, hi);
        acc1 = row(acc1, subgroupBroadcast(a0, 1u), subgroupBroadcast(b0, 1u), lo, hi);
        acc2 = row(acc2, subgroupBroadcast(a0, 2u), subgroupBroadcast(b0, 2u), lo, hi);
        acc3 = row(acc3, subgroupBroadcast(a0, 3u), subgroupBroadcast(b0, 3u), lo, hi);
        acc4 = row(acc4, subgroupBroadcast(a0, 4u), subgroupBroadcast(b0, 4u), lo, hi);
        acc5 = row(acc5, subgroupBroadcast(a0, 5u), subgroupBroadcast(b0, 5u), lo, hi);
        acc6 = row(acc6, subgroupBroadcast(a0, 6u), subgroupBroadcast(b0, 6u), lo, hi);
        acc7 = row(acc7, subgroupBroadcast(a0, 7u), subgroupBroadcast(b0, 7u), lo, hi);
        acc8 = row(acc8, subgroupBroadcast(a1, 0u), subgroupBroadcast(b1, 0u), lo, hi);
        acc9 = row(acc9, subgroupBroadcast(a1, 1u), subgroupBroadcast(b1, 1u), lo, hi);
        acc10 = row(acc10, subgroupBroadcast(a1, 2u), subgroupBroadcast(b1, 2u), lo, hi);
        acc11 = row(acc11, subgroupBroadcast(a1, 3u), subgroupBroadcast(b1, 3u), lo, hi);
        acc12 = row(acc12, subgroupBroadcast(a1, 4u), subgroupBroadcast(b1, 4u), lo, hi);
        acc13 = row(acc13, subgroupBroadcast(a1, 5u), subgroupBroadcast(b1, 5u), lo, hi);
        acc14 = row(acc14, subgroupBroadcast(a1, 6u), subgroupBroadcast(b1, 6u), lo, hi);
        acc15 = row(acc15, subgroupBroadcast(a1, 7u), subgroupBroadcast(b1, 7u), lo, hi);
        acc16 = row(acc16, subgroupBroadcast(a2, 0u), subgroupBroadcast(b2, 0u), lo, hi);
        acc17 = row(acc17, subgroupBroadcast(a2, 1u), subgroupBroadcast(b2, 1u), lo, hi);
        acc18 = row(acc18, subgroupBroadcast(a2, 2u), subgroupBroadcast(b2, 2u), lo, hi);
        acc19 = row(acc19, subgroupBroadcast(a2, 3u), subgroupBroadcast(b2, 3u), lo, hi);
        acc20 = row(acc20, subgroupBroadcast(a2, 4u), subgroupBroadcast(b2, 4u), lo, hi);
        acc21 = row(acc21, subgroupBroadcast(a2, 5u), subgroupBroadcast(b2, 5u), lo, hi);
        acc22 = row(acc22, subgroupBroadcast(a2, 6u), subgroupBroadcast(b2, 6u), lo, hi);
        acc23 = row(acc23, subgroupBroadcast(a2, 7u), subgroupBroadcast(b2, 7u), lo, hi);
        acc24 = row(acc24, subgroupBroadcast(a3, 0u), subgroupBroadcast(b3, 0u), lo, hi);
        acc25 = row(acc25, subgroupBroadcast(a3, 1u), subgroupBroadcast(b3, 1u), lo, hi);
        acc26 = row(acc26, subgroupBroadcast(a3, 2u), subgroupBroadcast(b3, 2u), lo, hi);
        acc27 = row(acc27, subgroupBroadcast(a3, 3u), subgroupBroadcast(b3, 3u), lo, hi);
        acc28 = row(acc28, subgroupBroadcast(a3, 4u), subgroupBroadcast(b3, 4u), lo, hi);
        acc29 = row(acc29, subgroupBroadcast(a3, 5u), subgroupBroadcast(b3, 5u), lo, hi);
        acc30 = row(acc30, subgroupBroadcast(a3, 6u), subgroupBroadcast(b3, 6u), lo, hi);
        acc31 = row(acc31, subgroupBroadcast(a3, 7u), subgroupBroadcast(b3, 7u), lo, hi);
    }
    store_row(i0 + 0u, j0, acc0);
    store_row(i0 + 1u, j0, acc1);
    store_row(i0 + 2u, j0, acc2);
    store_row(i0 + 3u, j0, acc3);
    store_row(i0 + 4u, j0, acc4);
    store_row(i0 + 5u, j0, acc5);
    store_row(i0 + 6u, j0, acc6);
    store_row(i0 + 7u, j0, acc7);
    store_row(i0 + 8u, j0, acc8);
    store_row(i0 + 9u, j0, acc9);
    store_row(i0 + 10u, j0, acc10);
    store_row(i0 + 11u, j0, acc11);
    store_row(i0 + 12u, j0, acc12);
    store_row(i0 + 13u, j0, acc13);
    store_row(i0 + 14u, j0, acc14);
    store_row(i0 + 15u, j0, acc15);
    store_row(i0 + 16u, j0, acc16);
    store_row(i0 + 17u, j0, acc17);
    store_row(i0 + 18u, j0, acc18);
    store_row(i0 + 19u, j0, acc19);
    store_row(i0 + 20u, j0, acc20);
    store_row(i0 + 21u, j0, acc21);
    store_row(i0 + 22u, j0, acc22);
    store_row(i0 + 23u, j0, acc23);
    store_row(i0 + 24u, j0, acc24);
    store_row(i0 + 25u, j0, acc25);
    store_row(i0 + 26u, j0, acc26);
    store_row(i0 + 27u, j0, acc27);
    store_row(i0 + 28u, j0, acc28);
    store_row(i0 + 29u, j0, acc29);
    store_row(i0 + 30u, j0, acc30);
    store_row(i0 + 31u, j0, acc31);
}
