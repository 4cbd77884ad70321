// last_token_forward — the classification head's pooling: the hidden state of each sequence's
// last real token, pooled[b, k] = hidden[last[b], k]
//
// Bindings (last_token_common.wgsl): 0 params, 1 src = hidden (N, C) read, 2 last (B) u32 read,
// 3 dst = pooled (B, C) read_write.
// Shapes: N = tokens of the batch (rows flattened), C = hidden size, B = sequences; each
// invocation writes one element of pooled. An index last[b] ≥ N gives a zero row (the caller
// checks the indices on the host first).

@compute @workgroup_size(256)
fn last_token_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.b * params.c) {
        return;
    }
    let row = last[i / params.c];
    if (row >= params.n) {
        dst[i] = 0.0;
        return;
    }
    dst[i] = src[row * params.c + i % params.c];
}
