// dora_scale_forward — scales a matrix by a per-row or per-column factor (DoRA's g = m / norm):
//   y[e] = (ACCUMULATE ? y[e] : 0) + (v[j] + offset)·x[e]
//   j = e % COLS (by column: x is (ROWS, OUT), v per output feature)
//   j = e / COLS (BY_ROW: x is (OUT, R), v per row, e.g. g ⊙ B)
//
// Bindings: 0 params, 1 v (COLS or ROWS) read, 2 x (N) read, 3 y (N) read_write.
// Shapes: N = ROWS·COLS (x and y), any length (grid spread over x and y, see grid_1d).

struct Params {
    n: u32,
    cols: u32,
    offset: f32,
    // bit 0: accumulate into y; bit 1: v indexed by row.
    flags: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn dora_scale_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e >= params.n) {
        return;
    }
    var j = e % params.cols;
    if ((params.flags & 2u) != 0u) {
        j = e / params.cols;
    }
    var acc = 0.0;
    if ((params.flags & 1u) != 0u) {
        acc = y[e];
    }
    y[e] = acc + (v[j] + params.offset) * x[e];
}
