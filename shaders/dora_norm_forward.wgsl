// dora_norm_forward — DoRA's weight norm of each output row, from the frozen W's parts
// (PEFT get_weight_norm: ‖W + s·B·A‖ over in, then detached), and the factor g = m / norm:
//   norm[i] = sqrt(max(w2[i] + Σ_k B[i,k]·(2s·P[k,i] + s²·Q[i,k]), 0))
//   g[i]    = m[i] / norm[i]            (INIT: first m[i] = norm[i], so g[i] = 1)
// with w2[i] = ‖W_i‖², P = A·Wᵀ (r, out), Q = B·(A·Aᵀ) (out, r): the expansion
// ‖W_i + s·B_i·A‖² = ‖W_i‖² + 2s·B_i·(A·W_iᵀ) + s²·B_i·(A·Aᵀ)·B_iᵀ.
//
// Bindings: 0 params, 1 w2 (OUT) read, 2 b (OUT, R) read, 3 p (R, OUT) read,
//           4 q (OUT, R) read, 5 m (OUT) read_write (written when INIT), 6 norm (OUT) read_write,
//           7 g (OUT) read_write.
// Shapes: OUT = out features of the adapted linear, R = LoRA rank. One invocation per row i.

struct Params {
    out_features: u32,
    r: u32,
    scale: f32,
    init: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w2: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> p: array<f32>;
@group(0) @binding(4) var<storage, read> q: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
@group(0) @binding(6) var<storage, read_write> norm: array<f32>;
@group(0) @binding(7) var<storage, read_write> g: array<f32>;

@compute @workgroup_size(64)
fn dora_norm_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= params.out_features) {
        return;
    }
    let s = params.scale;
    var sq = w2[i];
    for (var k = 0u; k < params.r; k = k + 1u) {
        let bik = b[i * params.r + k];
        sq = sq + bik * (2.0 * s * p[k * params.out_features + i] + s * s * q[i * params.r + k]);
    }
    let n = sqrt(max(sq, 0.0));
    norm[i] = n;
    if (params.init != 0u) {
        m[i] = n;
    }
    g[i] = m[i] / n;
}
