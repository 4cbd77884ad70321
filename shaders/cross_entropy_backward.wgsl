// cross_entropy_backward — gradient of the mean cross-entropy with respect to the logits,
// written IN PLACE over the logits of one chunk (they are not needed after the backward pass,
// and this saves a second (R, V) buffer):
//   logits[r, v] <- (exp(logits[r, v] - lse[o+r]) - (v == targets[o+r])) * scale
//   logits[r, v] <- 0                                 for ignored rows (target u32::MAX or >= V)
// scale = 1 / (number of non-ignored targets in the whole batch), times any loss scale.
//
// Bindings: 0 params, 1 targets (N) u32 read, 2 lse (N) read (saved by cross_entropy_forward),
//           3 logits (R, V) read_write: in = logits, out = dlogits.
// Shapes: R = rows of the chunk, V = vocabulary size, N = B*T >= o + R (o = params.offset).
// One invocation per element (grid over R*V, spread over x and y, see grid_1d).

struct Params {
    rows: u32,
    v: u32,
    offset: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(256)
fn cross_entropy_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let v = params.v;
    if (i >= params.rows * v) {
        return;
    }
    let r = i / v;
    let c = i - r * v;
    let o = params.offset + r;
    let t = targets[o];
    if (t >= v) {
        logits[i] = 0.0;
        return;
    }
    var p = exp(logits[i] - lse[o]);
    if (c == t) {
        p -= 1.0;
    }
    logits[i] = p * params.scale;
}
