enable f16;
// qmatmul_tile_f16 — the tile precision of QMATMUL_TILED_FORWARD_F16 and
// QMATMUL_TILED_BACKWARD_F16 (kernels.rs: the frozen-weight products' shader-f16 variants), no entry
// point; first in their sources (`enable f16;` must precede every declaration). The weight
// tile (B: W dequantized, wvalues4) holds f16 — every dequantized value rounded once to f16,
// |error| <= 2^-11 |w| (exact for F16 and BF16 weights of normal range) — while the activation
// tile (A: x in the forward, dy in the input gradient) stays f32, so small gradients neither
// lose bits nor flush to zero; products and sums in f32, outputs in f32.
// BK = 32: 64 × 32 f32 + 64 × 32 f16 = 12 KiB (within WebGPU's guaranteed 16 KiB), half the
// barrier pairs per K of the f32 kernels' BK 16 and two 16-value weight groups per row per step.

alias tile_a = f32;
alias tile_b = f16;
const BK: u32 = 32u;
