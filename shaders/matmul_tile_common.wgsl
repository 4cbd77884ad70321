// matmul_tile_common — shared by the GPU family's tiled products (matmul_tiled,
// matmul_tiled_vec4, qmatmul_tiled_forward, qmatmul_tiled_backward and their _f16 variants),
// no entry point: the workgroup-memory tiles, the 4×4 register block of one invocation, and
// the loop over the contraction. A tile precision file comes first in the sources and defines
// tile_a, tile_b (the tiles' scalar types) and BK (matmul_tile_f32.wgsl: f32, f32, 16;
// matmul_tile_f16.wgsl: f16, f16, 32; qmatmul_tile_f16.wgsl: f32, f16, 32). The including
// kernel defines
//   fn load_tiles(m0: u32, n0: u32, z: u32, k0: u32, lid: u32)  (fills ta and tb at k0, zeros
//                                                                  past the matrix edges)
//   fn store4(z: u32, row: u32, col0: u32, v: vec4<f32>)        (C[row, col0..col0+3], bounds
//                                                                  checked)
//
// A workgroup of 256 invocations computes a 64 × 64 tile of C = op(A) · op(B) (rows m0.., columns
// n0.., batch item z), stepping over the contraction in slices of BK: each step fills
//   ta[k * 16 + r / 4][r % 4] = op(A)[m0 + r, k0 + k]   (r < 64, k < BK; rounded to tile_a)
//   tb[k * 16 + c / 4][c % 4] = op(B)[k0 + k, n0 + c]   (c < 64; rounded to tile_b)
// then invocation (tx, ty) = (lid % 16, lid / 16) adds rows 4ty..4ty+3 × columns 4tx..4tx+3:
// per k one vec4 of ta, one of tb (widened to f32), 16 f32 fma.
// Why these sizes (f32 tiles; the f16 files say what they change): 64 × 64 × 16 tiles take 8 KiB of
// workgroup memory (WebGPU guarantees 16 KiB, so two workgroups fit where only the minimum exists);
// 256 invocations is WebGPU's guaranteed maximum (8 NVIDIA warps, 4 AMD wavefronts per workgroup);
// a 4 × 4 block per invocation gives 16 fma per two 16-byte workgroup-memory loads, with 16
// accumulators and 8 operand registers, far from spilling on any GPU. Each tile value of A and B is
// read from storage once per workgroup: 64 × reuse of every loaded value. Larger blocks (8 × 8,
// 128-wide tiles) would double the reuse but leave fewer workgroups for the small products of LoRA
// (N = r).

const TILE: u32 = 64u;

var<workgroup> ta: array<vec4<tile_a>, BK * 16u>;
var<workgroup> tb: array<vec4<tile_b>, BK * 16u>;

// Rows 4ty..4ty+3 of an invocation's block of C, 4 columns each.
struct Block {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

// ta / tb entry of tile row r (of op(A)) / tile column c (of op(B)) at contraction index k.
fn put_a(r: u32, k: u32, v: f32) {
    ta[k * 16u + (r >> 2u)][r & 3u] = tile_a(v);
}

fn put_b(c: u32, k: u32, v: f32) {
    tb[k * 16u + (c >> 2u)][c & 3u] = tile_b(v);
}

// Values k..k+3 of tile row r / tile column c.
fn put_a4(r: u32, k: u32, v: vec4<f32>) {
    for (var j = 0u; j < 4u; j++) {
        put_a(r, k + j, v[j]);
    }
}

fn put_b4(c: u32, k: u32, v: vec4<f32>) {
    for (var j = 0u; j < 4u; j++) {
        put_b(c, k + j, v[j]);
    }
}

// The block of invocation (tx, ty) plus the product of the current tiles.
fn tile_mac(acc: Block, tx: u32, ty: u32) -> Block {
    var s = acc;
    for (var k = 0u; k < BK; k++) {
        let a = vec4<f32>(ta[k * 16u + ty]);
        let b = vec4<f32>(tb[k * 16u + tx]);
        s.r0 = fma(vec4<f32>(a.x), b, s.r0);
        s.r1 = fma(vec4<f32>(a.y), b, s.r1);
        s.r2 = fma(vec4<f32>(a.z), b, s.r2);
        s.r3 = fma(vec4<f32>(a.w), b, s.r3);
    }
    return s;
}

// The whole product of one workgroup: `depth` values of the contraction (uniform: a param).
fn tiled_product(m0: u32, n0: u32, z: u32, depth: u32, lid: u32) {
    var acc = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    let tx = lid & 15u;
    let ty = lid >> 4u;
    for (var k0 = 0u; k0 < depth; k0 += BK) {
        load_tiles(m0, n0, z, k0, lid);
        workgroupBarrier();
        acc = tile_mac(acc, tx, ty);
        workgroupBarrier();
    }
    let row = m0 + ty * 4u;
    let col = n0 + tx * 4u;
    store4(z, row, col, acc.r0);
    store4(z, row + 1u, col, acc.r1);
    store4(z, row + 2u, col, acc.r2);
    store4(z, row + 3u, col, acc.r3);
}
