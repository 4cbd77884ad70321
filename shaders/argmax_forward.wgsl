// argmax_forward — whether each row's largest logit is its target (token accuracy), for one
// chunk of rows of the lm head (the same chunks as cross_entropy_forward):
//   a[r]      = argmax_v logits[r, v]            (ties → the lowest v, as torch.argmax)
//   hit[o+r]  = a[r] == targets[o+r] ? 1 : 0     (0 where the target is ignored, >= V)
// One workgroup of 256 per row: each invocation scans v = lid, lid + 256, … keeping the first
// maximum it meets, then a shared-memory reduction keeps (larger value, else smaller index).
//
// Bindings: 0 params, 1 logits (R, V) read, 2 targets (N) u32 read, 3 hit (N) read_write.
// Shapes: R = rows of the chunk, V = vocabulary size, N = B*T >= o + R (o = params.offset).

struct Params {
    rows: u32,
    v: u32,
    offset: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> hit: array<f32>;

var<workgroup> best_val: array<f32, 256>;
var<workgroup> best_idx: array<u32, 256>;

@compute @workgroup_size(256)
fn argmax_forward(
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
    var mi = 0xffffffffu;
    if (counted) {
        for (var i = lid; i < v; i += 256u) {
            let x = logits[base + i];
            if (x > m || mi == 0xffffffffu) {
                m = x;
                mi = i;
            }
        }
    }
    best_val[lid] = m;
    best_idx[lid] = mi;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (lid < stride) {
            let ov = best_val[lid + stride];
            let oi = best_idx[lid + stride];
            let take = oi != 0xffffffffu && (best_idx[lid] == 0xffffffffu || ov > best_val[lid]
                || (ov == best_val[lid] && oi < best_idx[lid]));
            if (take) {
                best_val[lid] = ov;
                best_idx[lid] = oi;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u && r < params.rows) {
        var h = 0.0;
        if (counted && best_idx[0] == t) {
            h = 1.0;
        }
        hit[o] = h;
    }
}
