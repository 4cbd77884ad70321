// attention_common — shared by attention_forward.wgsl, attention_backward_dq.wgsl and
// attention_backward_dkv.wgsl (concatenated before them): the params struct (mirrored by
// AttentionParams in core/src/ops/attention.rs) and the largest head dim.
// B batch, T query tokens, H query heads, KVH kv heads, D head dim, S cache rows,
// pos0 the absolute position of query 0, scale = 1 / sqrt(D) unless set (Gemma 3:
// 1 / sqrt(query_pre_attn_scalar)), window = keys each query sees, in 1 ..= S.
//
// Mask: the query at absolute position p sees keys j with p - window < j <= p, the window most
// recent positions including its own (transformers' sliding_window_overlay keeps
// kv_idx > q_idx - sliding_window, and'ed with the causal kv_idx <= q_idx). window = S is plain
// causal (the host passes S for "no window"), so no kernel branches on it.
//
// Chunks (core/src/ops/attention_chunks.rs): lavapipe stops an invocation's loops after 65 535
// iterations in all, so each pass runs as one or more dispatches over a chunk [lo, hi) of key
// positions (forward, dq) or query rows (dk/dv); flags & CONTINUE: an earlier chunk ran
// (continue from its results), flags & LAST: the last chunk.

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
    window: u32,
    lo: u32,
    hi: u32,
    flags: u32,
}

const CONTINUE: u32 = 1u;
const LAST: u32 = 2u;

// The first key the query at absolute position p sees (it sees first_key(p) ..= p).
fn first_key(p: u32) -> u32 {
    return p + 1u - min(p + 1u, params.window);
}

// One past the last query row t that sees cache row j (queries t0 .. end_query(j) with
// t0 = max(j, pos0) - pos0): absolute positions j <= pos0 + t < j + window.
fn end_query(j: u32) -> u32 {
    return min(params.t, max(j + params.window, params.pos0) - params.pos0);
}
