// qmatmul_tiled_common — shared by qmatmul_tiled_forward and qmatmul_tiled_backward (no entry
// point): their params (one struct for both; the kernels' headers say what each field means)
// and one invocation's part of a weight tile, dequantized to f32.

// m: rows of x / dy; n: N (row stride of y / dy); k: K; row_bytes: bytes per weight row;
// row_start, rows: the chunk's first row and rows; m_base, n_base: first workgroup of this
// dispatch (non-zero only past 65535 per dimension).
struct Params {
    m: u32,
    n: u32,
    k: u32,
    row_bytes: u32,
    row_start: u32,
    rows: u32,
    has_bias: u32,
    accumulate: u32,
    m_base: u32,
    n_base: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// Values k..k+3 of chunk row `row` (k % 4 == 0), dequantized with the affine map of their
// 16-value group (every GGUF type shares one per 16 values: gguf_dequant.wgsl); 0 past the
// chunk or past K (float types with K % 4 != 0 read their last values one by one).
fn wvalues4(row: u32, k: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (row < params.rows) {
        let rb = row * params.row_bytes;
        if (k + 4u <= params.k) {
            let s = wscale16(rb, k / 16u);
            v = fma(wquant4(rb, k), vec4<f32>(s.x), vec4<f32>(s.y));
        } else {
            for (var c = 0u; c < 4u; c++) {
                if (k + c < params.k) {
                    v[c] = wdeq1(rb, k + c);
                }
            }
        }
    }
    return v;
}
