// cross_entropy_forward — softmax cross-entropy over the vocabulary for one chunk of rows,
// numerically stable (max-subtracted), saving the logsumexp for the backward pass:
//   m[r]     = max_v logits[r, v]
//   lse[o+r] = m[r] + log(sum_v exp(logits[r, v] - m[r]))
//   loss[o+r] = lse[o+r] - logits[r, targets[o+r]]
// A target of u32::MAX (or any value >= V) is ignored: loss = 0, lse = 0, no work.
// The logits are one chunk of R rows of the batch (the caller projects the lm head chunk by
// chunk); targets, loss and lse cover the whole batch and are indexed at o + r (o = params.offset).
//
// Bindings: 0 params, 1 logits (R, V) read, 2 targets (N) u32 read, 3 loss (N) read_write,
//           4 lse (N) read_write.
// Shapes: R = rows of the chunk, V = vocabulary size, N = B*T >= o + R.
//
// Two entry points with the same bindings:
// - cross_entropy_forward: one invocation per row, plain loops over V (no barriers).
// - cross_entropy_forward_wg: one workgroup of 256 per row, shared-memory max and sum
//   reductions (much faster for V = 49152 and few rows; see cross_entropy.rs).

struct Params {
    rows: u32,
    v: u32,
    offset: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;

@compute @workgroup_size(16)
fn cross_entropy_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 16u;
    if (r >= params.rows) {
        return;
    }
    let v = params.v;
    let o = params.offset + r;
    let t = targets[o];
    if (t >= v) {
        loss[o] = 0.0;
        lse[o] = 0.0;
        return;
    }
    let base = r * v;
    var m = logits[base];
    for (var i = 1u; i < v; i++) {
        m = max(m, logits[base + i]);
    }
    var s = 0.0;
    for (var i = 0u; i < v; i++) {
        s += exp(logits[base + i] - m);
    }
    let l = m + log(s);
    lse[o] = l;
    loss[o] = l - logits[base + t];
}

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn cross_entropy_forward_wg(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    // Uniform control flow: every invocation reaches every barrier; `counted` masks the work.
    let r = wid.x + wid.y * nwg.x;
    let v = params.v;
    let o = params.offset + r;
    var t = v;
    if (r < params.rows) {
        t = targets[o];
    }
    let counted = t < v;
    let base = r * v;

    var m = -3.402823e38;
    if (counted) {
        for (var i = lid; i < v; i += 256u) {
            m = max(m, logits[base + i]);
        }
    }
    red[lid] = m;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            red[lid] = max(red[lid], red[lid + stride]);
        }
        workgroupBarrier();
    }
    let row_max = red[0];
    workgroupBarrier();

    var s = 0.0;
    if (counted) {
        for (var i = lid; i < v; i += 256u) {
            s += exp(logits[base + i] - row_max);
        }
    }
    red[lid] = s;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            red[lid] += red[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u && r < params.rows) {
        if (counted) {
            let l = row_max + log(red[0]);
            lse[o] = l;
            loss[o] = l - logits[base + t];
        } else {
            lse[o] = 0.0;
            loss[o] = 0.0;
        }
    }
}
