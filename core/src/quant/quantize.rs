//! Reference quantizers of every [`GgmlType`], as ggml's `quantize_row_*_ref` (what
//! `llama-quantize` writes without an importance matrix): F32/F16/BF16 conversion,
//! Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 here, the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) in
//! [`super::kquantize`]. The export writes GGUF tensors with them; tests build weights with them.
//! [`random_blocks`] makes valid random blocks (random quants, small random scales) for kernel
//! tests, which need no realistic values.

use super::{GgmlType, kquantize};
use crate::error::{Error, Result};
use crate::testing::Rng;
use half::{bf16, f16};

/// Quantizes `x` as ggml's reference quantizer does. A length that is not a whole number of
/// `ty`'s blocks is refused (nothing is dropped or padded).
pub fn quantize(ty: GgmlType, x: &[f32]) -> Result<Vec<u8>> {
    let block = ty.block_size();
    if !x.len().is_multiple_of(block) {
        return Err(Error::invalid(
            format!("{} values", ty.name()),
            format!("{} values are not a whole number of {block}-value blocks", x.len()),
        ));
    }
    let mut out = Vec::with_capacity(x.len() / block * ty.block_bytes());
    let k = |f: fn(&[f32], &mut Vec<u8>), out: &mut Vec<u8>| x.chunks_exact(256).for_each(|b| f(b, out));
    match ty {
        GgmlType::F32 => out.extend(x.iter().flat_map(|v| v.to_le_bytes())),
        GgmlType::F16 => out.extend(x.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes())),
        GgmlType::BF16 => out.extend(x.iter().flat_map(|v| bf16::from_f32(*v).to_le_bytes())),
        GgmlType::Q8_0 => x.chunks_exact(32).for_each(|b| q8_0(b, &mut out)),
        GgmlType::Q4_0 => x.chunks_exact(32).for_each(|b| pack4(&grid_0(b, 8.0, &mut out), &mut out)),
        GgmlType::Q4_1 => x.chunks_exact(32).for_each(|b| pack4(&grid_1(b, 15, &mut out), &mut out)),
        GgmlType::Q5_0 => x.chunks_exact(32).for_each(|b| pack5(&grid_0(b, 16.0, &mut out), &mut out)),
        GgmlType::Q5_1 => x.chunks_exact(32).for_each(|b| pack5(&grid_1(b, 31, &mut out), &mut out)),
        GgmlType::Q2K => k(kquantize::q2_k, &mut out),
        GgmlType::Q3K => k(kquantize::q3_k, &mut out),
        GgmlType::Q4K => k(kquantize::q4_k, &mut out),
        GgmlType::Q5K => k(kquantize::q5_k, &mut out),
        GgmlType::Q6K => k(kquantize::q6_k, &mut out),
    }
    Ok(out)
}

/// `quantize_row_q8_0_ref`: `d = max|x| / 127`, `q = round(x / d)`.
fn q8_0(x: &[f32], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    out.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
}

/// ggml's `_0` reference grid of `2 * half` levels (`quantize_row_q4_0_ref`: half 8,
/// `quantize_row_q5_0_ref`: 16): writes `d = max / -half` (max = the value of largest
/// magnitude), returns `q = min(2 half - 1, (int8)(x / d + half + 0.5))`.
fn grid_0(x: &[f32], half: f32, out: &mut Vec<u8>) -> Vec<u8> {
    let max = x.iter().copied().fold(0f32, |m, v| if v.abs() > m.abs() { v } else { m });
    let d = max / -half;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    let (offset, top) = (half + 0.5, 2 * half as i8 - 1);
    x.iter().map(|v| ((v * id + offset) as i8).min(top) as u8).collect()
}

/// ggml's `_1` reference grid of `top + 1` levels (`quantize_row_q4_1_ref`: top 15,
/// `quantize_row_q5_1_ref`: 31): writes `d = (max - min) / top` and `m = min`, returns
/// `q = min(top, (int8)((x - m) / d + 0.5))`.
fn grid_1(x: &[f32], top: u8, out: &mut Vec<u8>) -> Vec<u8> {
    let min = x.iter().copied().fold(f32::INFINITY, f32::min);
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let d = (max - min) / top as f32;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    out.extend(f16::from_f32(min).to_le_bytes());
    x.iter().map(|v| (((v - min) * id + 0.5) as i8 as u8).min(top)).collect()
}

/// Packs 32 quants of 4 bits as Q4_0/Q4_1 store them: 16 bytes, quant j in the low nibble of
/// byte j, quant j + 16 in its high nibble.
fn pack4(q: &[u8], out: &mut Vec<u8>) {
    out.extend((0..16).map(|j| (q[j] & 0xF) | ((q[j + 16] & 0xF) << 4)));
}

/// Packs 32 quants of 5 bits as Q5_0/Q5_1 store them: `qh` (bit j = bit 4 of quant j, a
/// little-endian u32), then the low 4 bits as [`pack4`].
fn pack5(q: &[u8], out: &mut Vec<u8>) {
    let qh = q.iter().enumerate().fold(0u32, |h, (j, &v)| h | (((v >> 4) as u32 & 1) << j));
    out.extend(qh.to_le_bytes());
    pack4(q, out);
}

/// The f16 scales of a random K-quant block: `(byte offset, a, b)`, each set to
/// `scale * (a + b * u)` with `u` uniform in [0, 1), so that values stay of magnitude about
/// `scale` given the type's largest sub-block scale and quant (in the comments).
fn k_scales(ty: GgmlType) -> &'static [(usize, f32, f32)] {
    match ty {
        // x = d * sc * q - dmin * m with sc, m < 16 and q < 4.
        GgmlType::Q2K => &[(80, 1.0 / 48.0, 1.0 / 24.0), (82, 0.0, 1.0 / 24.0)],
        // x = d * sc * q with -32 <= sc < 32 and -4 <= q < 4.
        GgmlType::Q3K => &[(108, 1.0 / 128.0, 1.0 / 64.0)],
        // x = d * sc * q - dmin * m with sc, m < 64 and q < 16.
        GgmlType::Q4K => &[(0, 1.0 / 800.0, 1.0 / 400.0), (2, 0.0, 1.0 / 100.0)],
        // x = d * sc * q - dmin * m with sc, m < 64 and q < 32.
        GgmlType::Q5K => &[(0, 1.0 / 1600.0, 1.0 / 800.0), (2, 0.0, 1.0 / 100.0)],
        // x = d * sc * (q - 32) with |sc| < 128 and |q - 32| <= 32.
        GgmlType::Q6K => &[(208, 1.0 / 4000.0, 1.0 / 2000.0)],
        _ => &[],
    }
}

/// `blocks` valid random blocks of `ty`, with values of magnitude about `scale`: random quant
/// bytes and small random f16 scales. For float types, random normal values.
pub fn random_blocks(ty: GgmlType, blocks: usize, scale: f32, rng: &mut Rng) -> Vec<u8> {
    let n = blocks * ty.block_size();
    let h = |v: f32| f16::from_f32(v).to_le_bytes();
    match ty {
        GgmlType::Q2K | GgmlType::Q3K | GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K => (0..blocks)
            .flat_map(|_| {
                let mut b: Vec<u8> = (0..ty.block_bytes()).map(|_| rng.below(256) as u8).collect();
                for &(at, a, spread) in k_scales(ty) {
                    b[at..at + 2].copy_from_slice(&h(scale * (a + spread * rng.uniform())));
                }
                b
            })
            .collect(),
        _ => {
            let x = rng.normal_vec(n, scale);
            quantize(ty, &x).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::dequant::dequantize;

    /// Quantize → dequantize stays within one quantization step of each block.
    #[test]
    fn round_trips_are_within_one_step() {
        let mut rng = Rng::new(7);
        let x = rng.normal_vec(32 * 20, 1.0);
        let cases = [(GgmlType::Q8_0, 254.0), (GgmlType::Q4_0, 16.0), (GgmlType::Q4_1, 15.0), (GgmlType::Q5_0, 32.0), (GgmlType::Q5_1, 31.0)];
        for (ty, levels) in cases {
            let y = dequantize(ty, &quantize(ty, &x).unwrap(), x.len()).unwrap();
            for (bx, by) in x.chunks(32).zip(y.chunks(32)) {
                let range = bx.iter().fold(0f32, |a, v| a.max(v.abs())) * 2.0;
                let step = range / levels;
                for (a, b) in bx.iter().zip(by) {
                    // Q4_0's asymmetric grid and f16 rounding of d: allow one full step.
                    assert!((a - b).abs() <= step * 1.01, "{ty:?}: {a} -> {b} (step {step})");
                }
            }
        }
        for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
            let y = dequantize(ty, &quantize(ty, &x).unwrap(), x.len()).unwrap();
            let rel = if ty == GgmlType::BF16 { 1.0 / 128.0 } else { 1.0 / 1024.0 };
            for (a, b) in x.iter().zip(&y) {
                assert!((a - b).abs() <= rel * a.abs(), "{ty:?}: {a} -> {b}");
            }
        }
    }

    #[test]
    fn q8_0_matches_hand_computed_block() {
        let mut x = [0f32; 32];
        x[0] = 127.0;
        x[1] = -63.6;
        let b = quantize(GgmlType::Q8_0, &x).unwrap();
        assert_eq!(&b[0..2], &f16::from_f32(1.0).to_le_bytes());
        assert_eq!((b[2] as i8, b[3] as i8), (127, -64));
    }

    #[test]
    fn random_k_blocks_have_the_right_size_and_are_finite() {
        let mut rng = Rng::new(3);
        for ty in [GgmlType::Q2K, GgmlType::Q3K, GgmlType::Q4K, GgmlType::Q5K, GgmlType::Q6K] {
            let b = random_blocks(ty, 3, 1.0, &mut rng);
            assert_eq!(b.len(), 3 * ty.block_bytes());
            let y = dequantize(ty, &b, 768).unwrap();
            let amax = y.iter().fold(0f32, |a, v| a.max(v.abs()));
            assert!(amax.is_finite() && amax > 0.01 && amax < 10.0, "{ty:?}: max |x| {amax}");
        }
    }
}
