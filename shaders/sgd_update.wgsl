// sgd_update — one step of torch.optim.SGD (maximize=False), in place:
//   g = grad[i] * grad_scale * clip[scale_index] + weight_decay * p
//   with momentum (momentum != 0):
//     b = g                                          on the first step (step == 1)
//     b = momentum * b + (1 - dampening) * g         afterwards (1 - dampening from the host, f64)
//     g = g + momentum * b  (nesterov)  or  g = b
//   p = p - lr * g
//
// Bindings: 0 params, 1 grad (N) read, 2 clip (any length >= scale_index + 1) read,
//           3 param (N) read_write, 4 buf (N) read_write (momentum buffer; unused without momentum).
// Shapes: N = number of parameters of one tensor (any length; grid spread over x and y).

struct Params {
    n: u32,
    step: u32,
    scale_index: u32,
    nesterov: u32,
    lr: f32,
    momentum: f32,
    one_minus_dampening: f32,
    weight_decay: f32,
    grad_scale: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> clip: array<f32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> buf: array<f32>;

@compute @workgroup_size(256)
fn sgd_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n) {
        return;
    }
    let p = param[i];
    var g = grad[i] * params.grad_scale * clip[params.scale_index] + params.weight_decay * p;
    if (params.momentum != 0.0) {
        var b = g;
        if (params.step > 1u) {
            b = params.momentum * buf[i] + params.one_minus_dampening * g;
        }
        buf[i] = b;
        if (params.nesterov != 0u) {
            g = g + params.momentum * b;
        } else {
            g = b;
        }
    }
    param[i] = p - params.lr * g;
}
