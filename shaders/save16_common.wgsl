// save16_common — the 16-bit store of saved activations: up to four f32 tensors ("slots")
// packed two values per u32 word into one per-layer store, and back (save16_pack / _unpack).
//
// Formats: 0 = f16 (IEEE binary16: the matmul operands; a value past ±65504 becomes ±inf, so an
// overflow shows as a non-finite gradient, never as an indeterminate value), 1 = bf16 (the top
// 16 bits of the f32, rounded to nearest even: the residual stream, which needs f32's range).
// Slot s holds n[s] values at words word0[s] .. word0[s] + ceil(n[s] / 2) of the store; value
// 2j of the slot is the low half of its word j, value 2j + 1 the high half (0 past n[s]).
// One invocation per word of the four slots, in slot order (the grid is spread over x and y).

struct Params {
    n: vec4<u32>,
    word0: vec4<u32>,
    format: vec4<u32>,
    // The slots' words before each slot in this dispatch (0, w0, w0 + w1, w0 + w1 + w2) and all.
    first: vec4<u32>,
    words: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// An invocation's word: its slot s, its index j in the slot, the slot's format and the word's
// index in the store; `valid` is false past the dispatch's words.
struct Word {
    valid: bool,
    s: u32,
    j: u32,
    format: u32,
    at: u32,
}

// The word of the invocation at `gid` (the grid spread over x and y).
fn word_of(gid: vec3<u32>, nwg: vec3<u32>) -> Word {
    let w = gid.x + gid.y * nwg.x * 256u;
    var s = 0u;
    for (var k = 1u; k < 4u; k = k + 1u) {
        if (w >= params.first[k]) {
            s = k;
        }
    }
    let j = w - params.first[s];
    return Word(w < params.words, s, j, params.format[s], params.word0[s] + j);
}

fn encode(x: f32, format: u32) -> u32 {
    if (format == 1u) {
        let u = bitcast<u32>(x);
        return (u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u;
    }
    if (abs(x) > 65504.0) {
        return select(0x7c00u, 0xfc00u, x < 0.0);
    }
    return pack2x16float(vec2<f32>(x, 0.0)) & 0xffffu;
}

fn decode(h: u32, format: u32) -> f32 {
    if (format == 1u) {
        return bitcast<f32>(h << 16u);
    }
    return unpack2x16float(h).x;
}
