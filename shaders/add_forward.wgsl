// add_forward — residual add, in place: x[i] += y[i]
//
// Bindings: 0 params, 1 y (N) read, 2 x (N) read_write.
// Shapes: N = B*T*C (any length; the grid is spread over x and y, see grid_1d).

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn add_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n) {
        return;
    }
    x[i] = x[i] + y[i];
}
