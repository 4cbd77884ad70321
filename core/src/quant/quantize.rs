//! Reference quantizers, used by tests to build weights of every [`GgmlType`]:
//! F32/F16/BF16 conversion, Q8_0/Q4_0/Q4_1 as ggml's `quantize_row_*_ref`, and for Q4_K/Q6_K
//! a generator of valid random blocks (random quants, small random scales) — their real
//! quantizers (k-means-like searches) are not needed to test a kernel.

use super::GgmlType;
use crate::testing::Rng;
use half::{bf16, f16};

/// Quantizes `x` (a whole number of blocks) as ggml's reference quantizer does.
/// `None` for Q4_K and Q6_K (use [`random_blocks`]).
pub fn quantize(ty: GgmlType, x: &[f32]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match ty {
        GgmlType::F32 => out.extend(x.iter().flat_map(|v| v.to_le_bytes())),
        GgmlType::F16 => out.extend(x.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes())),
        GgmlType::BF16 => out.extend(x.iter().flat_map(|v| bf16::from_f32(*v).to_le_bytes())),
        GgmlType::Q8_0 => x.chunks_exact(32).for_each(|b| q8_0(b, &mut out)),
        GgmlType::Q4_0 => x.chunks_exact(32).for_each(|b| q4_0(b, &mut out)),
        GgmlType::Q4_1 => x.chunks_exact(32).for_each(|b| q4_1(b, &mut out)),
        GgmlType::Q4K | GgmlType::Q6K => return None,
    }
    Some(out)
}

/// `quantize_row_q8_0_ref`: `d = max|x| / 127`, `q = round(x / d)`.
fn q8_0(x: &[f32], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    out.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
}

/// `quantize_row_q4_0_ref`: `d = max / -8` (max = the value of largest magnitude),
/// `q = min(15, (int8)(x / d + 8.5))`.
fn q4_0(x: &[f32], out: &mut Vec<u8>) {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    let q = |v: f32| ((v * id + 8.5) as i8).min(15) as u8;
    out.extend((0..16).map(|j| q(x[j]) | (q(x[j + 16]) << 4)));
}

/// `quantize_row_q4_1_ref`: `d = (max - min) / 15`, `m = min`, `q = min(15, (int8)((x - m) / d + 0.5))`.
fn q4_1(x: &[f32], out: &mut Vec<u8>) {
    let min = x.iter().copied().fold(f32::INFINITY, f32::min);
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    out.extend(f16::from_f32(min).to_le_bytes());
    let q = |v: f32| (((v - min) * id + 0.5) as i8).min(15) as u8;
    out.extend((0..16).map(|j| q(x[j]) | (q(x[j + 16]) << 4)));
}

/// `blocks` valid random blocks of `ty`, with values of magnitude about `scale`: random quant
/// bytes and small random f16 scales. For float types, random normal values.
pub fn random_blocks(ty: GgmlType, blocks: usize, scale: f32, rng: &mut Rng) -> Vec<u8> {
    let n = blocks * ty.block_size();
    let h = |v: f32| f16::from_f32(v).to_le_bytes();
    match ty {
        GgmlType::Q4K => (0..blocks)
            .flat_map(|_| {
                // x = d * sc * q - dmin * m with sc, m < 64 and q < 16.
                let mut b = [h(scale / 400.0 * (0.5 + rng.uniform())), h(scale / 100.0 * rng.uniform())].concat();
                b.extend((0..140).map(|_| rng.below(256) as u8));
                b
            })
            .collect(),
        GgmlType::Q6K => (0..blocks)
            .flat_map(|_| {
                // x = d * sc * (q - 32) with |sc| < 128 and |q - 32| <= 32.
                let mut b: Vec<u8> = (0..192).map(|_| rng.below(256) as u8).collect();
                b.extend((0..16).map(|_| rng.below(256) as u8));
                b.extend(h(scale / 2000.0 * (0.5 + rng.uniform())));
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
        for (ty, levels) in [(GgmlType::Q8_0, 254.0), (GgmlType::Q4_0, 16.0), (GgmlType::Q4_1, 15.0)] {
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
        for ty in [GgmlType::Q4K, GgmlType::Q6K] {
            let b = random_blocks(ty, 3, 1.0, &mut rng);
            assert_eq!(b.len(), 3 * ty.block_bytes());
            let y = dequantize(ty, &b, 768).unwrap();
            let amax = y.iter().fold(0f32, |a, v| a.max(v.abs()));
            assert!(amax.is_finite() && amax > 0.01 && amax < 10.0, "{ty:?}: max |x| {amax}");
        }
    }
}
