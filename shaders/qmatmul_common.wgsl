// qmatmul_common — shared by qmatmul_forward and qmatmul_backward (no entry point): the rows
// of the operand staged in the uniform binding `xs` that one workgroup reads.
// The including kernel's Params has `mb` (rows in this block) and `ks` (row stride, floats).
// Also the fma helpers of their inner loops.

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

// acc + Σ_q m_q · a_q: 16 products per output in one fma chain, so that the loop assigns each
// accumulator once per 16 values of k (on llvmpipe every assignment of a loop variable is a
// masked blend plus a spill store).
fn mac16(acc: vec4<f32>, m0: mat4x4<f32>, m1: mat4x4<f32>, m2: mat4x4<f32>, m3: mat4x4<f32>,
         a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>) -> vec4<f32> {
    return mac4(mac4(mac4(mac4(acc, m0, a0), m1, a1), m2, a2), m3, a3);
}
