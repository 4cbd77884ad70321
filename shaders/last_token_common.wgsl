// last_token_common — the params and bindings shared by last_token_forward and
// last_token_backward (each file's header says what src and dst hold).
//
// Bindings: 0 params, 1 src read, 2 last (B) u32 read, 3 dst read_write.
// Shapes: B = sequences, C = hidden size, N = tokens of the batch (rows flattened).

struct Params {
    b: u32,
    c: u32,
    n: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> last: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
