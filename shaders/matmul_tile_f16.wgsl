enable f16;
// matmul_tile_f16 — the tile precision of MATMUL_TILED_F16 and MATMUL_TILED_VEC4_F16 (kernels.rs:
// the f32 matmul's shader-f16 variants), no entry point; first in their sources (`enable f16;` must
// precede every declaration). Both tiles hold f16: A and B values are rounded to f16 as they
// are loaded from storage (|error| <= 2^-11 |value| each), every product is taken and summed
// in f32 registers (matmul_tile_common.wgsl's tile_mac), C is written in f32.
// BK = 32: f16 halves a tile's bytes, and we spend that on depth rather than on a wider tile:
// 2 × 64 × 32 f16 = 8 KiB, the same workgroup memory as the f32 kernels' BK 16 (two workgroups
// still fit WebGPU's guaranteed 16 KiB), but half the barrier pairs per K and twice the loads
// in flight per step; the 64 × 64 tile, 256 invocations and 4 × 4 block stay, so the small
// LoRA products (N = r) keep as many workgroups as before.

alias tile_a = f16;
alias tile_b = f16;
const BK: u32 = 32u;
