// attention_tiled_common — the GPU family's flash-style attention tiles, shared by
// attention_tiled_forward.wgsl, attention_tiled_dq.wgsl and attention_tiled_dkv.wgsl
// (concatenated after attention_common.wgsl, whose Params, first_key and end_query they use;
// Params.lo, hi and flags are unused: every pass is one dispatch, whatever T and S).
//
// A workgroup of WG = 128 invocations works on one tile pair at a time: RT = 16 "rows" (queries
// in forward and dq, cache rows in dk/dv) against CT = 32 "columns" (cache rows in forward and
// dq, queries in dk/dv). Head dims are staged DC = 64 at a time (D = 256: four chunks) into
// workgroup memory as vec4, rows padded to DC4P vec4 against bank conflicts:
//   tile_r (RT × DC), tile_c (CT × DC), tile_p (RT × CT scores, probabilities or their
//   gradients): 15,104 bytes, plus at most 256 bytes of row statistics per shader, under
//   WebGPU's guaranteed 16,384 bytes of workgroup memory.
// Invocation lid owns the tile entries (r, c) = (lid / 8, lid % 8 + 8 n), n < 4, of the scores
// (component n of a vec4), and dims (lid % 8) · 8 .. + 8 of every chunk of its row r in the
// output accumulators (ACC4 vec4s: 32 floats at D = 256).
//
// Bindings 1 q, 2 k, 3 v are declared here (every pass reads them); each shader declares the
// rest and defines load(src, i), element i of its binding src (load_qkv for the three here,
// dout for SRC_DOUT), so the staging below is written once. Forced onto lavapipe (tests), these kernels obey its
// loop limit (attention_chunks.rs) only for the test shapes: about 520 (forward), 830 (dq) and
// 980 (dk/dv per query head) loop passes per tile at D = 256.

const WG: u32 = 128u;
const RT: u32 = 16u;
const CT: u32 = 32u;
const DC: u32 = 64u;
const DC4: u32 = 16u;
const DC4P: u32 = 17u;
const LANES: u32 = 8u;
const NCH_MAX: u32 = 4u; // MAX_D / DC
const ACC4: u32 = 8u;    // NCH_MAX · 8 dims / 4
// A masked score; never a real one.
const NEG: f32 = -3.0e38;

const SRC_Q: u32 = 0u;
const SRC_K: u32 = 1u;
const SRC_V: u32 = 2u;
const SRC_DOUT: u32 = 3u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;

var<workgroup> tile_r: array<vec4<f32>, 272>; // RT × DC4P
var<workgroup> tile_c: array<vec4<f32>, 544>; // CT × DC4P
var<workgroup> tile_p: array<f32, 512>;       // RT × CT

fn load_qkv(src: u32, i: u32) -> f32 {
    switch src {
        case SRC_Q: { return q[i]; }
        case SRC_K: { return k[i]; }
        default: { return v[i]; }
    }
}

// Where a forward or dq workgroup (x, h, b) works: queries t0 .. t0 + 15 of head h, batch row
// b, kv head g. From the workgroup id alone, so that loops bounded by it stay uniform (Tint's
// uniformity analysis follows every field of a value built from the invocation index).
struct QueryTile {
    t0: u32,
    h: u32,
    b: u32,
    g: u32,
}

fn query_tile(wid: vec3<u32>) -> QueryTile {
    return QueryTile(wid.x * RT, wid.y, wid.z, wid.y / (params.h / params.kvh));
}

// Chunks of DC dims in a head.
fn d_chunks() -> u32 {
    return (params.d + DC - 1u) / DC;
}

// Whether the query at absolute position p sees cache row j.
fn sees(p: u32, j: u32) -> bool {
    return j >= first_key(p) && j <= p;
}

// Stages dims d0 .. d0 + DC of rows row0 .. of tensor src (head `head` of batch row b; queries
// (B, T, H, D) for SRC_Q and SRC_DOUT, cache rows (B, S, KVH, D) for SRC_K and SRC_V) into
// tile_c (CT rows) or tile_r (RT rows); rows past the tensor and dims past D are zeros.
fn stage(lid: u32, src: u32, b: u32, row0: u32, head: u32, d0: u32, into_c: bool) {
    let query_layout = src == SRC_Q || src == SRC_DOUT;
    let rows = select(params.s, params.t, query_layout);
    let heads = select(params.kvh, params.h, query_layout);
    let slots = select(RT, CT, into_c) * DC4 / WG;
    for (var n = 0u; n < slots; n++) {
        let slot = lid + n * WG;
        let row = slot / DC4;
        let e4 = slot % DC4;
        var x = vec4<f32>(0.0);
        if (row0 + row < rows) {
            let base = ((b * rows + row0 + row) * heads + head) * params.d;
            let d = d0 + 4u * e4;
            for (var i = 0u; i < 4u; i++) {
                if (d + i < params.d) {
                    x[i] = load(src, base + d + i);
                }
            }
        }
        if (into_c) {
            tile_c[row * DC4P + e4] = x;
        } else {
            tile_r[row * DC4P + e4] = x;
        }
    }
}

// s[n] += tile_r[r] · tile_c[lane + 8 n] over the staged chunk.
fn tile_scores(lid: u32, s: ptr<function, vec4<f32>>) {
    let r = lid / LANES;
    let lane = lid % LANES;
    for (var e = 0u; e < DC4; e++) {
        let a = tile_r[r * DC4P + e];
        (*s).x += dot(a, tile_c[lane * DC4P + e]);
        (*s).y += dot(a, tile_c[(lane + 8u) * DC4P + e]);
        (*s).z += dot(a, tile_c[(lane + 16u) * DC4P + e]);
        (*s).w += dot(a, tile_c[(lane + 24u) * DC4P + e]);
    }
}

// The accumulators of chunk ch (dims lane · 8 .. + 8): acc = corr · acc + Σ_c tile_p[r][c] tile_c[c].
fn tile_accumulate(lid: u32, acc: ptr<function, array<vec4<f32>, ACC4>>, ch: u32, corr: f32) {
    let r = lid / LANES;
    let lane = lid % LANES;
    var lo = (*acc)[2u * ch] * corr;
    var hi = (*acc)[2u * ch + 1u] * corr;
    for (var c = 0u; c < CT; c++) {
        let p = tile_p[r * CT + c];
        lo += p * tile_c[c * DC4P + 2u * lane];
        hi += p * tile_c[c * DC4P + 2u * lane + 1u];
    }
    (*acc)[2u * ch] = lo;
    (*acc)[2u * ch + 1u] = hi;
}

// The scores of the tile's rows (rows row0_r .. of tensor src_r, head head_r) against its
// columns (rows row0_c .. of src_c, head head_c) over all of D, each chunk staged in turn:
// component n is this invocation's entry (r, lane + 8 n).
fn tile_dots(lid: u32, b: u32, src_r: u32, row0_r: u32, head_r: u32, src_c: u32, row0_c: u32, head_c: u32) -> vec4<f32> {
    var s = vec4<f32>(0.0);
    for (var ch = 0u; ch < NCH_MAX; ch++) {
        if (ch >= d_chunks()) {
            break;
        }
        workgroupBarrier();
        stage(lid, src_r, b, row0_r, head_r, ch * DC, false);
        stage(lid, src_c, b, row0_c, head_c, ch * DC, true);
        workgroupBarrier();
        tile_scores(lid, &s);
    }
    return s;
}

// acc = corr · acc + tile_p · (rows row0_c .. of tensor src_c, head head_c), over all of D.
fn tile_product(lid: u32, b: u32, src_c: u32, row0_c: u32, head_c: u32, acc: ptr<function, array<vec4<f32>, ACC4>>, corr: f32) {
    for (var ch = 0u; ch < NCH_MAX; ch++) {
        if (ch >= d_chunks()) {
            break;
        }
        workgroupBarrier();
        stage(lid, src_c, b, row0_c, head_c, ch * DC, true);
        workgroupBarrier();
        tile_accumulate(lid, acc, ch, corr);
    }
}

// Writes factor · acc (this invocation's dims of its row, whose first element is `base`) into the
// shader's output binding dst through store(dst, i, x), which each shader defines.
fn store_row(lid: u32, acc: ptr<function, array<vec4<f32>, ACC4>>, base: u32, factor: f32, dst: u32) {
    let lane = lid % LANES;
    for (var ch = 0u; ch < NCH_MAX; ch++) {
        for (var i = 0u; i < 8u; i++) {
            let d = ch * DC + lane * 8u + i;
            if (d < params.d) {
                store(dst, base + d, (*acc)[2u * ch + i / 4u][i % 4u] * factor);
            }
        }
    }
}
