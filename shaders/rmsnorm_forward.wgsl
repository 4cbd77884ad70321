// rmsnorm_forward — RMSNorm over the last dimension, saving rstd for the backward pass:
//   rstd[r] = 1 / sqrt(mean_c(x[r, c]^2) + eps)
//   y[r, c] = x[r, c] * rstd[r] * w[c]
//
// Bindings: 0 params, 1 x (R, C) read, 2 w (C) read, 3 y (R, C) write, 4 rstd (R) write.
// Shapes: R = B*T rows, C = model dim (any size).
//
// Two entry points with the same bindings:
// - rmsnorm_forward: one invocation per row, a plain loop (no barriers; best on software
//   Vulkan such as lavapipe where workgroup barriers are expensive, and for small C).
// - rmsnorm_forward_wg: one workgroup of 64 per row, a shared-memory tree reduction (coalesced
//   loads; better on real GPUs and for large C with few rows).

struct Params {
    rows: u32,
    c: u32,
    eps: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;

@compute @workgroup_size(64)
fn rmsnorm_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= params.rows) {
        return;
    }
    let c = params.c;
    let base = r * c;
    var ss = 0.0;
    for (var i = 0u; i < c; i++) {
        let v = x[base + i];
        ss += v * v;
    }
    let s = inverseSqrt(ss / f32(c) + params.eps);
    for (var i = 0u; i < c; i++) {
        y[base + i] = x[base + i] * s * w[i];
    }
    rstd[r] = s;
}

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn rmsnorm_forward_wg(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    // Uniform control flow: every invocation of the workgroup reaches the barriers.
    let r = wid.x + wid.y * nwg.x;
    let in_range = r < params.rows;
    let c = params.c;
    let base = r * c;
    var ss = 0.0;
    if (in_range) {
        for (var i = lid; i < c; i += 64u) {
            let v = x[base + i];
            ss += v * v;
        }
    }
    partial[lid] = ss;
    workgroupBarrier();
    for (var stride = 32u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    let s = inverseSqrt(partial[0] / f32(c) + params.eps);
    if (in_range) {
        for (var i = lid; i < c; i += 64u) {
            y[base + i] = x[base + i] * s * w[i];
        }
        if (lid == 0u) {
            rstd[r] = s;
        }
    }
}
