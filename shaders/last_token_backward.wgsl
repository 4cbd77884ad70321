// last_token_backward — the backward of last_token_forward, written as a gather (no float
// atomics): dhidden[n, k] = Σ_{b : last[b] = n} dpooled[b, k], zero for every other token
//
// Bindings (last_token_common.wgsl): 0 params, 1 src = dpooled (B, C) read, 2 last (B) u32
// read, 3 dst = dhidden (N, C) read_write.
// Shapes: as last_token_forward; each invocation owns one element of dhidden (overwritten) and
// loops over the B sequences (B is the batch size, small).

@compute @workgroup_size(256)
fn last_token_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n * params.c) {
        return;
    }
    let row = i / params.c;
    let k = i % params.c;
    var sum = 0.0;
    for (var b = 0u; b < params.b; b = b + 1u) {
        if (last[b] == row) {
            sum = sum + src[b * params.c + k];
        }
    }
    dst[i] = sum;
}
