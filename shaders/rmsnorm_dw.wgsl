// rmsnorm_dw — gradient of y = x * rstd * w with respect to the norm weight w (full fine-tuning):
//   dw[c] (+)= sum_r(dy[r, c] * x[r, c] * rstd[r])      (= sum over rows of dy ⊙ x̂)
// One invocation per column c, looping over the rows in order: deterministic, no atomics.
// With params.accumulate = 1, dw += (gradient accumulation over micro-batches); else dw = .
//
// Bindings: 0 params, 1 x (R, C) read, 2 rstd (R) read (saved by the forward),
//           3 dy (R, C) read, 4 dw (C) read_write.
// Shapes: R = B*T rows, C = normalised width (model dim, or head_dim for per-head norms).

struct Params {
    rows: u32,
    c: u32,
    accumulate: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(64)
fn rmsnorm_dw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= params.c) {
        return;
    }
    var acc = 0.0;
    for (var r = 0u; r < params.rows; r++) {
        let idx = r * params.c + i;
        acc += dy[idx] * x[idx] * rstd[r];
    }
    if (params.accumulate != 0u) {
        acc += dw[i];
    }
    dw[i] = acc;
}
