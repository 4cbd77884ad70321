// dropout_backward — gradient of dropout_forward with the same regenerated mask:
//   g = keep(i) ? dy[i] * scale : 0
//   dx[i] = g  or, with params.accumulate = 1, dx[i] += g (the input also feeds the frozen
//   base layer, whose input gradient is already in dx)
//
// Bindings: 0 params, 1 dy (N) read, 2 dx (N) read_write.
// Shapes: N = B*T*C (any length; grid spread over x and y, see grid_1d).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn dropout_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n) {
        return;
    }
    var g = 0.0;
    if (dropout_keep(i)) {
        g = dy[i] * params.scale;
    }
    if (params.accumulate != 0u) {
        g += dx[i];
    }
    dx[i] = g;
}
