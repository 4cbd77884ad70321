// swiglu_common — shared by swiglu_forward.wgsl and swiglu_backward.wgsl (concatenated before
// them): the params struct and a sigmoid that never overflows (exp of a non-positive number only).

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}
