// rope_common — shared by rope_forward.wgsl and rope_backward.wgsl (concatenated before them).
// Rotates pairs (i, i + D/2) of each head vector (Hugging Face "rotate_half" / NeoX layout):
//   angle = (pos0 + t) * inv_freq[i],  c = cos(angle),  s = sign * sin(angle)
//   x1' = x1 * c - x2 * s,   x2' = x2 * c + x1 * s
// sign = +1 forward, -1 backward (the transpose of a rotation is the rotation by -angle).
//
// Bindings: 0 params, 1 inv_freq (D/2) read, 2 x (B, T, NH, D) read_write (in place).
// Shapes: NH = H for queries or KVH for keys; one invocation per pair, B*T*NH*D/2 in all.

struct Params {
    b: u32,
    t: u32,
    nh: u32,
    d: u32,
    pos0: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

fn rope_rotate(idx: u32, sign: f32) {
    let half = params.d / 2u;
    if (idx >= params.b * params.t * params.nh * half) {
        return;
    }
    let i = idx % half;
    let row = idx / half; // (b, t, head) flattened
    let t = (row / params.nh) % params.t;
    // The angle in f32, as Hugging Face computes it, then reduced to [-pi, pi] (Cody-Waite,
    // 2*pi in three parts) because sin/cos are only accurate there on many GPUs.
    let angle = f32(params.pos0 + t) * inv_freq[i];
    let k = round(angle * 0.15915494);
    let r = ((angle - k * 6.28125) - k * 0.0019353072) - k * 1.0253376e-11;
    let c = cos(r);
    let s = sign * sin(r);
    let base = row * params.d;
    let x1 = x[base + i];
    let x2 = x[base + i + half];
    x[base + i] = x1 * c - x2 * s;
    x[base + i + half] = x2 * c + x1 * s;
}
