// swiglu_backward — gradient of h = silu(gate) * up (after swiglu_common.wgsl):
//   sig = sigmoid(gate)
//   dgate = dh * up * sig * (1 + gate * (1 - sig))     (silu'(x) = sig * (1 + x * (1 - sig)))
//   dup   = dh * gate * sig
//
// Bindings: 0 params, 1 gate (R, F) read, 2 up (R, F) read, 3 dh (R, F) read,
//           4 dgate (R, F) write, 5 dup (R, F) write.
// Shapes: R = B*T rows, F = ffn dim; one invocation per element, N = R*F.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read> dh: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;

@compute @workgroup_size(256)
fn swiglu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n) {
        return;
    }
    let g = gate[i];
    let sig = sigmoid(g);
    let d = dh[i];
    dgate[i] = d * up[i] * sig * (1.0 + g * (1.0 - sig));
    dup[i] = d * g * sig;
}
