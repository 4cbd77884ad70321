// embedding_forward — token embedding gather from a frozen table in its GGUF type, scaled:
//   out[t, c] = table[ids[t], c] * scale      (scale = 1, or sqrt(C) for Gemma; f32 multiply)
// for the ids that fall in one row chunk [row_start, row_start + rows) of the table
// (dispatched once per chunk). Ids >= vocab are written as zeros by the first chunk's
// dispatch (the caller validates ids before; this only keeps reads in bounds).
//
// Bindings: 0 params, 1 ids (T) u32, 2 w (chunk rows, C) raw GGUF bytes as u32, 3 out (T, C) f32.
// Shapes: T = B*T tokens, C = embedding width, vocab = table rows.

struct Params {
    t: u32,
    c: u32,
    row_bytes: u32,
    row_start: u32,
    rows: u32,
    vocab: u32,
    first: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn embedding_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= params.t * params.c) {
        return;
    }
    let id = ids[i / params.c];
    let c = i % params.c;
    if (id >= params.vocab) {
        if (params.first != 0u) {
            out[i] = 0.0;
        }
        return;
    }
    if (id < params.row_start || id >= params.row_start + params.rows) {
        return;
    }
    out[i] = wdeq1((id - params.row_start) * params.row_bytes, c) * params.scale;
}
