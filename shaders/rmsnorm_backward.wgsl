// rmsnorm_backward — gradient of y = x * rstd * w with respect to x (w is frozen: no dw):
//   dot[r]   = sum_c(dy[r, c] * w[c] * x[r, c])
//   dx[r, c] = rstd[r] * w[c] * dy[r, c] - rstd[r]^3 / C * x[r, c] * dot[r]
// With params.accumulate = 1, dx += (the residual stream's gradient adds up); else dx = .
//
// Bindings: 0 params, 1 x (R, C) read, 2 w (C) read, 3 rstd (R) read (saved by the forward),
//           4 dy (R, C) read, 5 dx (R, C) read_write.
// Shapes: R = B*T rows, C = model dim (any size).
//
// Two entry points with the same bindings, as in rmsnorm_forward.wgsl:
// rmsnorm_backward (one invocation per row) and rmsnorm_backward_wg (one workgroup per row).

struct Params {
    rows: u32,
    c: u32,
    accumulate: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

fn rmsnorm_dx(r: u32, i: u32, dot: f32) -> f32 {
    let idx = r * params.c + i;
    let s = rstd[r];
    let g = s * w[i] * dy[idx] - s * s * s / f32(params.c) * x[idx] * dot;
    if (params.accumulate != 0u) {
        return dx[idx] + g;
    }
    return g;
}

@compute @workgroup_size(64)
fn rmsnorm_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= params.rows) {
        return;
    }
    let base = r * params.c;
    var dot = 0.0;
    for (var i = 0u; i < params.c; i++) {
        dot += dy[base + i] * w[i] * x[base + i];
    }
    for (var i = 0u; i < params.c; i++) {
        dx[base + i] = rmsnorm_dx(r, i, dot);
    }
}

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn rmsnorm_backward_wg(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    // Uniform control flow: every invocation of the workgroup reaches the barriers.
    let r = wid.x + wid.y * nwg.x;
    let in_range = r < params.rows;
    let base = r * params.c;
    var dot = 0.0;
    if (in_range) {
        for (var i = lid; i < params.c; i += 64u) {
            dot += dy[base + i] * w[i] * x[base + i];
        }
    }
    partial[lid] = dot;
    workgroupBarrier();
    for (var stride = 32u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    if (in_range) {
        for (var i = lid; i < params.c; i += 64u) {
            dx[base + i] = rmsnorm_dx(r, i, total);
        }
    }
}
