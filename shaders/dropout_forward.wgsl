// dropout_forward — inverted dropout of a LoRA input (mask from dropout_common.wgsl):
//   y[i] = keep(i) ? x[i] * scale : 0          scale = 1 / (1 - p)
//
// Bindings: 0 params, 1 x (N) read, 2 y (N) read_write.
// Shapes: N = B*T*C (any length; grid spread over x and y, see grid_1d).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn dropout_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n) {
        return;
    }
    var out = 0.0;
    if (dropout_keep(i)) {
        out = x[i] * params.scale;
    }
    y[i] = out;
}
