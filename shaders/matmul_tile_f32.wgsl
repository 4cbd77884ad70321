// matmul_tile_f32 — the tile precision of the GPU family's f32 products (matmul_tiled,
// matmul_tiled_vec4, qmatmul_tiled_forward, qmatmul_tiled_backward), no entry point; first in
// their sources. tile_a / tile_b: the scalar type of the A / B tile in workgroup memory
// (matmul_tile_common.wgsl); BK: contraction values per tile step. f32 tiles of 64 × 16 take
// 4 KiB each. The f16 variants swap this file for matmul_tile_f16.wgsl / qmatmul_tile_f16.wgsl.

alias tile_a = f32;
alias tile_b = f32;
const BK: u32 = 16u;
