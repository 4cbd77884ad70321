// adamw_update — one step of torch.optim.AdamW (amsgrad=False, maximize=False), in place:
//   g     = grad[i] * grad_scale * clip[scale_index]      (clip: e.g. grad_norm's clip scale)
//   p     = (p - decay_center) * decay + decay_center     (decay = 1 - lr * weight_decay: decoupled;
//                                                          decay_center 0, or 1 for Gemma's 1 + w norms)
//   m     = m + (g - m) * one_minus_beta1                 (torch: exp_avg.lerp_(g, 1 - beta1))
//   v     = v * beta2 + one_minus_beta2 * g * g
//   p     = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t), decay and the 1 - beta
// terms computed on the host in f64 (as PyTorch does in Python floats), then rounded to f32;
// t = params.step (1 for the first step). lr and weight_decay are informational here.
//
// Bindings: 0 params, 1 grad (N) read, 2 clip (any length >= scale_index + 1) read,
//           3 param (N) read_write, 4 m (N) read_write, 5 v (N) read_write.
// Shapes: N = number of parameters of one tensor (any length; grid spread over x and y).

struct Params {
    n: u32,
    step: u32,
    scale_index: u32,
    _pad0: u32,
    lr: f32,
    weight_decay: f32,
    decay: f32,
    grad_scale: f32,
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    eps: f32,
    step_size: f32,
    bc2_sqrt: f32,
    decay_center: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> clip: array<f32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn adamw_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n) {
        return;
    }
    let g = grad[i] * params.grad_scale * clip[params.scale_index];
    let p = (param[i] - params.decay_center) * params.decay + params.decay_center;
    let mi = m[i] + (g - m[i]) * params.one_minus_beta1;
    let vi = v[i] * params.beta2 + params.one_minus_beta2 * g * g;
    let denom = sqrt(vi) / params.bc2_sqrt + params.eps;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - params.step_size * mi / denom;
}
