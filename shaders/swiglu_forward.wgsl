// swiglu_forward — the gated activation of the MLP (after swiglu_common.wgsl):
//   h = act(gate) * up,   act = silu (ACT = 0, SwiGLU: Llama, Qwen2) or gelu_tanh (ACT = 1,
//   GeGLU: Gemma 3); see swiglu_common.wgsl for both formulas.
//
// Bindings: 0 params, 1 gate (R, F) read, 2 up (R, F) read, 3 h (R, F) write.
// Shapes: R = B*T rows, F = ffn dim; one invocation per element, N = R*F.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> h: array<f32>;

@compute @workgroup_size(256)
fn swiglu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n) {
        return;
    }
    h[i] = gate_act(gate[i]).x * up[i];
}
