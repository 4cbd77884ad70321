// swiglu_backward — gradient of h = act(gate) * up (after swiglu_common.wgsl, which defines
// act and act' for ACT = 0 silu and ACT = 1 gelu_tanh):
//   dgate = dh * up * act'(gate)     silu'(x) = sig * (1 + x * (1 - sig)),  sig = sigmoid(x)
//                                    gelu_tanh'(x) = s + x s (1 - s) 2u',   s = sigmoid(2u),
//                                    u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
//   dup   = dh * act(gate)
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
    let a = gate_act(gate[i]);
    let d = dh[i];
    dgate[i] = d * up[i] * a.y;
    dup[i] = d * a.x;
}
