// grad_norm — global L2 norm of several gradient tensors and clip_grad_norm_'s scale, in two
// passes (WGSL has no float atomics):
//   grad_norm_partial (once per tensor): dst[offset + w] = sum of src[i]^2 over the elements
//     of workgroup w (grid-stride over the tensor, shared-memory reduction)
//   grad_norm_finish (one workgroup):     norm = sqrt(sum_j src[j]) over n partials
//     dst[0] = norm
//     dst[1] = min(max_norm / (norm + 1e-6), 1)    (torch.nn.utils.clip_grad_norm_), or 1 when
//              max_norm <= 0 (clipping off)
//
// Bindings (both entry points): 0 params, 1 src read, 2 dst read_write.
//   partial: src = gradient (N), dst = partials (P), written at offset .. offset + workgroups.
//   finish:  src = partials (P), dst = out (2) = [norm, clip scale].
// Shapes: N = elements of one gradient tensor; P = total partials over all tensors.

struct Params {
    n: u32,
    offset: u32,
    max_norm: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> red: array<f32, 256>;

fn reduce_sum(lid: u32, value: f32) -> f32 {
    red[lid] = value;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            red[lid] += red[lid + stride];
        }
        workgroupBarrier();
    }
    return red[0];
}

@compute @workgroup_size(256)
fn grad_norm_partial(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let stride = nwg.x * 256u;
    var s = 0.0;
    for (var i = wid.x * 256u + lid; i < params.n; i += stride) {
        let g = src[i];
        s += g * g;
    }
    let total = reduce_sum(lid, s);
    if (lid == 0u) {
        dst[params.offset + wid.x] = total;
    }
}

@compute @workgroup_size(256)
fn grad_norm_finish(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < params.n; i += 256u) {
        s += src[i];
    }
    let total = reduce_sum(lid, s);
    if (lid == 0u) {
        let norm = sqrt(total);
        dst[0] = norm;
        var scale = 1.0;
        if (params.max_norm > 0.0) {
            scale = min(params.max_norm / (norm + 1e-6), 1.0);
        }
        dst[1] = scale;
    }
}
