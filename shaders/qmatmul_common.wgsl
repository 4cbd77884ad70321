// qmatmul_common — shared by qmatmul_forward and qmatmul_backward (no entry point): the rows
// of the operand staged in the uniform binding `xs` that one workgroup reads.
// The including kernel's Params has `mb` (rows in this block), `ks` (row stride, floats),
// `rows` (weight rows in the chunk) and `row_bytes`.
// Also the fma helpers of their inner loops and the reads of 4 weight rows at once.

override TM: u32 = 8u; // rows per workgroup: 1, 8 or 16

// Row i of the staged block (clamped), as a vec4 index base.
fn xrow(i: u32) -> u32 {
    return min(i, params.mb - 1u) * (params.ks / 4u);
}

// acc + m · a, i.e. acc + Σ_c m[c] · a[c], as one chain of fma (fused on GPUs; llvmpipe has
// no fused multiply-add, and an fma is a multiply and an add there, as dot() is).
fn mac4(acc: vec4<f32>, m: mat4x4<f32>, a: vec4<f32>) -> vec4<f32> {
    return fma(m[3], vec4<f32>(a.w), fma(m[2], vec4<f32>(a.z),
               fma(m[1], vec4<f32>(a.y), fma(m[0], vec4<f32>(a.x), acc))));
}

// A dequantized group of 4 weights: q · s.x + s.y (the scale pair of wscale16), as one fma.
fn wdeq4(q: vec4<f32>, s: vec2<f32>) -> vec4<f32> {
    return fma(q, vec4<f32>(s.x), vec4<f32>(s.y));
}

// Byte offsets of weight rows r..r+3 of the chunk (clamped to its last row).
fn wrow_bytes(r: u32) -> vec4<u32> {
    return min(vec4<u32>(r) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.rows - 1u)) * params.row_bytes;
}

// Scale pairs (wscale16) of group g of the 4 rows at byte offsets rb: column c = row c.
fn wscales4(rb: vec4<u32>, g: u32) -> mat4x2<f32> {
    return mat4x2<f32>(wscale16(rb.x, g), wscale16(rb.y, g), wscale16(rb.z, g), wscale16(rb.w, g));
}

// Values k..k+3 of the 4 rows at byte offsets rb, dequantized with their scales s (of the
// group holding k): column c = row c.
fn wdeq4x4(rb: vec4<u32>, k: u32, s: mat4x2<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(wdeq4(wquant4(rb.x, k), s[0]), wdeq4(wquant4(rb.y, k), s[1]),
                       wdeq4(wquant4(rb.z, k), s[2]), wdeq4(wquant4(rb.w, k), s[3]));
}

// acc + Σ_q m_q · a_q: 16 products per output in one fma chain, so that the loop assigns each
// accumulator once per 16 values of k (on llvmpipe every assignment of a loop variable is a
// masked blend plus a spill store).
fn mac16(acc: vec4<f32>, m0: mat4x4<f32>, m1: mat4x4<f32>, m2: mat4x4<f32>, m3: mat4x4<f32>,
         a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>) -> vec4<f32> {
    return mac4(mac4(mac4(mac4(acc, m0, a0), m1, a1), m2, a2), m3, a3);
}
