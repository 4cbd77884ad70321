// matmul_tiled_common — shared by matmul_tiled and matmul_tiled_vec4 (no entry point): their
// params, the output binding, the transposes and the epilogue; matmul_tiled.wgsl's header
// documents them.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    accumulate: u32,
    stride_a: u32,
    stride_b: u32,
    stride_c: u32,
    alpha: f32,
    // First tile row, tile column and batch item of this dispatch (non-zero only when a grid
    // dimension would pass 65535 workgroups).
    m_base: u32,
    n_base: u32,
    z_base: u32,
    _pad: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store4(z: u32, row: u32, col0: u32, v: vec4<f32>) {
    if (row >= params.m) {
        return;
    }
    let base = z * params.stride_c + row * params.n;
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j;
        if (col < params.n) {
            var out = params.alpha * v[j];
            if (params.accumulate != 0u) {
                out += c[base + col];
            }
            c[base + col] = out;
        }
    }
}

// Tile origin and batch item of workgroup wid.
fn tile_origin(wid: vec3<u32>) -> vec3<u32> {
    return vec3<u32>((params.m_base + wid.y) * TILE, (params.n_base + wid.x) * TILE, params.z_base + wid.z);
}
