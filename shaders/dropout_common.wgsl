// dropout_common — shared by dropout_forward.wgsl and dropout_backward.wgsl (concatenated
// before them): the params struct and the counter-based mask, so the backward pass regenerates
// the forward's mask from (seed, step, layer, index) instead of storing it:
//   h    = hash(index + hash(layer + hash(step + hash(seed))))     (u32 wrapping arithmetic)
//   u    = f32(h >> 8) * 2^-24                                     (uniform in [0, 1), exact)
//   keep = u >= p
// hash = "lowbias32" (Chris Wellons' integer hash). The CPU reference in dropout.rs is the
// same code bit for bit.

struct Params {
    n: u32,
    seed: u32,
    step: u32,
    layer: u32,
    p: f32,
    scale: f32,
    accumulate: u32,
    _pad0: u32,
}

fn lowbias32(x0: u32) -> u32 {
    var x = x0;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn dropout_keep(i: u32) -> bool {
    let key = lowbias32(params.layer + lowbias32(params.step + lowbias32(params.seed)));
    let h = lowbias32(i + key);
    return f32(h >> 8u) * (1.0 / 16777216.0) >= params.p;
}
