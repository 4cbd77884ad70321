// dora_magnitude_backward — the gradient of DoRA's magnitude, a gather over tokens (one
// invocation per output feature i, no atomics):
//   dm[i] = (ACCUMULATE ? dm[i] : 0) + Σ_t dy[t,i]·z[t,i] / norm[i]
// with z = x·Wᵀ + s·(x·Aᵀ)·Bᵀ (the branch's pre-scale output, bias excluded). With dy = z = Wᵀ
// rows and norm = 1 it gives the squared row norms ‖W_i‖² (DoRA's init).
//
// Bindings: 0 params, 1 dy (ROWS, COLS) read, 2 z (ROWS, COLS) read, 3 norm (COLS) read,
//           4 dm (COLS) read_write.
// Shapes: ROWS = B·T tokens, COLS = OUT features.

struct Params {
    rows: u32,
    cols: u32,
    accumulate: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> norm: array<f32>;
@group(0) @binding(4) var<storage, read_write> dm: array<f32>;

@compute @workgroup_size(64)
fn dora_magnitude_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= params.cols) {
        return;
    }
    var sum = 0.0;
    for (var t = 0u; t < params.rows; t = t + 1u) {
        let e = t * params.cols + i;
        sum = sum + dy[e] * z[e];
    }
    var acc = 0.0;
    if (params.accumulate != 0u) {
        acc = dm[i];
    }
    dm[i] = acc + sum / norm[i];
}
