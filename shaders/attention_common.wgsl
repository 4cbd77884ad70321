// attention_common — shared by attention_forward.wgsl, attention_backward_dq.wgsl and
// attention_backward_dkv.wgsl (concatenated before them): the params struct (mirrored by
// AttentionParams in core/src/ops/attention.rs) and the largest head dim.
// B batch, T query tokens, H query heads, KVH kv heads, D head dim, S cache rows,
// pos0 the absolute position of query 0, scale = 1 / sqrt(D).

// Per-invocation accumulators are fixed-size private arrays of this many floats.
const MAX_D: u32 = 256u;

struct Params {
    b: u32,
    t: u32,
    h: u32,
    kvh: u32,
    d: u32,
    s: u32,
    pos0: u32,
    scale: f32,
}
