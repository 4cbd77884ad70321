// embedding_backward — gradient of out[t, :] = table[ids[t], :] * scale with respect to the
// table (full fine-tuning), a deterministic scatter-add without float atomics:
//   dtable[rows[u], c] += scale * sum_{j in offsets[u] .. offsets[u+1]} dy[positions[j], c]
// The host groups the token positions by id (CSR: `rows` = the distinct ids of the batch,
// `positions` = token indices sorted by id, stable, `offsets` = start of each id's run), so one
// invocation per (distinct id u, column c) sums its tokens in token order. Rows of ids not in
// the batch are untouched: clear dtable before the first micro-batch of a step.
//
// Bindings: 0 params, 1 rows (U) u32, 2 offsets (U + 1) u32, 3 positions (T) u32,
//           4 dy (T, C) f32 read, 5 dtable (vocab, C) f32 read_write.
// Shapes: U = distinct ids, T = B*T tokens, C = embedding width.

struct Params {
    u: u32,
    c: u32,
    scale: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read> positions: array<u32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(64)
fn embedding_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= params.u * params.c) {
        return;
    }
    let u = i / params.c;
    let c = i % params.c;
    var acc = 0.0;
    for (var j = offsets[u]; j < offsets[u + 1u]; j++) {
        acc += dy[positions[j] * params.c + c];
    }
    let o = rows[u] * params.c + c;
    dtable[o] = dtable[o] + acc * params.scale;
}
