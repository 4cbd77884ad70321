//! CPU dequantization of GGUF tensor data, exactly as ggml's reference `dequantize_row_*`
//! (`ggml-quants.c`); the 256-value K-quant blocks are decoded in [`super::kquants`]. The CPU
//! reference for every kernel that reads weights in their stored format
//! (`shaders/gguf_dequant.wgsl` mirrors it), and the loader's fallback.
//!
//! ```
//! use anytune_core::quant::{GgmlType, dequant::dequantize};
//! // One Q8_0 block: f16 scale 0.5, then 32 int8 quants.
//! let mut block = half::f16::from_f32(0.5).to_le_bytes().to_vec();
//! block.extend((0..32).map(|i| (i as i8 - 16) as u8));
//! let x = dequantize(GgmlType::Q8_0, &block, 32).unwrap();
//! assert_eq!(x[0], -8.0);
//! assert_eq!(x[31], 7.5);
//! ```

use super::{GgmlType, kquants};
use crate::error::{Error, Result};
use half::{bf16, f16};

/// Dequantizes the first `n` values of `bytes` (a whole number of blocks of type `ty`).
pub fn dequantize(ty: GgmlType, bytes: &[u8], n: usize) -> Result<Vec<f32>> {
    if !n.is_multiple_of(ty.block_size()) {
        return Err(Error::invalid(
            "dequantize",
            format!("{n} values are not a whole number of {}-value {} blocks", ty.block_size(), ty.name()),
        ));
    }
    let need = n / ty.block_size() * ty.block_bytes();
    if bytes.len() < need {
        return Err(Error::invalid(
            "dequantize",
            format!("{n} {} values need {need} bytes, found {}", ty.name(), bytes.len()),
        ));
    }
    let blocks = bytes[..need].chunks_exact(ty.block_bytes());
    let mut out = Vec::with_capacity(n);
    match ty {
        GgmlType::F32 => out.extend(blocks.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        GgmlType::F16 => out.extend(blocks.map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())),
        GgmlType::BF16 => out.extend(blocks.map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())),
        GgmlType::Q8_0 => blocks.for_each(|b| q8_0(b, &mut out)),
        GgmlType::Q4_0 => blocks.for_each(|b| q4_0(b, &mut out)),
        GgmlType::Q4_1 => blocks.for_each(|b| q4_1(b, &mut out)),
        GgmlType::Q5_0 => blocks.for_each(|b| q5_0(b, &mut out)),
        GgmlType::Q5_1 => blocks.for_each(|b| q5_1(b, &mut out)),
        GgmlType::Q2K => blocks.for_each(|b| kquants::q2_k(b, &mut out)),
        GgmlType::Q3K => blocks.for_each(|b| kquants::q3_k(b, &mut out)),
        GgmlType::Q4K => blocks.for_each(|b| kquants::q4_k(b, &mut out)),
        GgmlType::Q5K => blocks.for_each(|b| kquants::q5_k(b, &mut out)),
        GgmlType::Q6K => blocks.for_each(|b| kquants::q6_k(b, &mut out)),
    }
    Ok(out)
}

fn half_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// `{ f16 d; i8 qs[32] }`: `x = d * q`.
fn q8_0(b: &[u8], out: &mut Vec<f32>) {
    let d = half_at(b, 0);
    out.extend(b[2..34].iter().map(|&q| d * (q as i8) as f32));
}

/// `{ f16 d; u8 qs[16] }`: value j < 16 is the low nibble of `qs[j]`, j >= 16 the high
/// nibble of `qs[j - 16]`; `x = d * (q - 8)`.
fn q4_0(b: &[u8], out: &mut Vec<f32>) {
    let d = half_at(b, 0);
    let qs = &b[2..18];
    out.extend(qs.iter().map(|&q| d * ((q & 0xF) as i32 - 8) as f32));
    out.extend(qs.iter().map(|&q| d * ((q >> 4) as i32 - 8) as f32));
}

/// `{ f16 d; f16 m; u8 qs[16] }`: nibbles as Q4_0; `x = d * q + m`.
fn q4_1(b: &[u8], out: &mut Vec<f32>) {
    let (d, m) = (half_at(b, 0), half_at(b, 2));
    let qs = &b[4..20];
    out.extend(qs.iter().map(|&q| d * (q & 0xF) as f32 + m));
    out.extend(qs.iter().map(|&q| d * (q >> 4) as f32 + m));
}

/// The 5-bit quant j (0..32) of a Q5_0 / Q5_1 block: the nibble as Q4_0 (`qs` at byte `qs`),
/// plus bit j of the little-endian u32 `qh` (at byte `qs - 4`) as bit 4.
fn quant5(b: &[u8], qs: usize, j: usize) -> u8 {
    let qh = u32::from_le_bytes([b[qs - 4], b[qs - 3], b[qs - 2], b[qs - 1]]);
    ((b[qs + j % 16] >> (4 * (j / 16))) & 0xF) | ((((qh >> j) & 1) as u8) << 4)
}

/// `{ f16 d; u8 qh[4]; u8 qs[16] }`: [`quant5`]; `x = d * (q - 16)`.
fn q5_0(b: &[u8], out: &mut Vec<f32>) {
    let d = half_at(b, 0);
    out.extend((0..32).map(|j| d * (quant5(b, 6, j) as i32 - 16) as f32));
}

/// `{ f16 d; f16 m; u8 qh[4]; u8 qs[16] }`: [`quant5`]; `x = d * q + m`.
fn q5_1(b: &[u8], out: &mut Vec<f32>) {
    let (d, m) = (half_at(b, 0), half_at(b, 2));
    out.extend((0..32).map(|j| d * quant5(b, 8, j) as f32 + m));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::kquants::scale_min_k4;

    fn h(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_le_bytes()
    }

    #[test]
    fn float_types_decode() {
        let f: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(dequantize(GgmlType::F32, &f, 2).unwrap(), vec![1.5, -2.0]);
        let f: Vec<u8> = [h(0.25), h(-3.0)].concat();
        assert_eq!(dequantize(GgmlType::F16, &f, 2).unwrap(), vec![0.25, -3.0]);
        let f: Vec<u8> = [bf16::from_f32(-0.5).to_le_bytes(), bf16::from_f32(96.0).to_le_bytes()].concat();
        assert_eq!(dequantize(GgmlType::BF16, &f, 2).unwrap(), vec![-0.5, 96.0]);
    }

    #[test]
    fn q4_0_and_q4_1_nibble_order() {
        // qs[0] = 0x2F: value 0 = low nibble 15, value 16 = high nibble 2.
        let mut b = h(2.0).to_vec();
        b.push(0x2F);
        b.extend([0x88u8; 15]);
        let x = dequantize(GgmlType::Q4_0, &b, 32).unwrap();
        assert_eq!((x[0], x[16], x[1], x[17]), (14.0, -12.0, 0.0, 0.0));
        let mut b = [h(0.5), h(-1.0)].concat();
        b.push(0xA3);
        b.extend([0u8; 15]);
        let x = dequantize(GgmlType::Q4_1, &b, 32).unwrap();
        assert_eq!((x[0], x[16], x[1]), (0.5, 4.0, -1.0));
    }

    #[test]
    fn q5_0_and_q5_1_fifth_bit() {
        // qh bit 0 (value 0) and bit 17 (value 17); qs[1] = 0x3F: value 1 = 15, value 17 = 3.
        let qh = (1u32 | (1 << 17)).to_le_bytes();
        let mut qs = [0u8; 16];
        qs[1] = 0x3F;
        let b = [&h(2.0)[..], &qh, &qs].concat();
        let x = dequantize(GgmlType::Q5_0, &b, 32).unwrap();
        // q = 16, 15, 16 + 3, 0, minus 16, times d = 2.
        assert_eq!((x[0], x[1], x[17], x[2]), (0.0, -2.0, 6.0, -32.0));
        let b = [&h(0.5)[..], &h(-1.0), &qh, &qs].concat();
        let x = dequantize(GgmlType::Q5_1, &b, 32).unwrap();
        assert_eq!((x[0], x[1], x[17], x[2]), (7.0, 6.5, 8.5, -1.0));
    }

    #[test]
    fn q4_k_scales_and_mins() {
        let mut b = [h(1.0), h(0.5)].concat();
        // Sub-block 0: scale 3, min 2. Sub-block 5: scale 0x1_4 = 20 ((q[9] & 0xF) | (q[1] >> 6) << 4),
        // min 0x2_1 = 33 ((q[9] >> 4) | (q[5] >> 6) << 4).
        let mut scales = [0u8; 12];
        scales[0] = 3;
        scales[4] = 2;
        scales[1] = 1 << 6;
        scales[5] = 2 << 6;
        scales[9] = 0x14;
        b.extend(scales);
        let mut qs = [0u8; 128];
        qs[0] = 0x07; // value 0 (sub-block 0, low nibble) = 7
        qs[32] = 0x90; // value 64+32 (sub-block 3, high nibble) = 9
        qs[64] = 0x50; // value 160 (sub-block 5, high nibble of byte 64) = 5
        b.extend(qs);
        assert_eq!(scale_min_k4(5, &scales), (20, 33));
        let x = dequantize(GgmlType::Q4K, &b, 256).unwrap();
        assert_eq!(x[0], 3.0 * 7.0 - 0.5 * 2.0);
        assert_eq!(x[160], 20.0 * 5.0 - 0.5 * 33.0);
        assert_eq!(x[1], -1.0);
    }

    #[test]
    fn q6_k_layout() {
        let mut b = vec![0u8; 210];
        b[208..210].copy_from_slice(&h(0.5));
        for i in 0..16 {
            b[192 + i] = (i as i8 - 4) as u8;
        }
        b[0] = 0x21; // ql[0]: value 0 low bits 1, value 64 low bits 2
        b[128] = 0b11_10_01_00; // qh[0]: value 0 hi 0, value 32 hi 1, value 64 hi 2, value 96 hi 3
        b[64 + 5] = 0x0F; // second half, ql[5]: value 128 + 5 low bits 15
        let x = dequantize(GgmlType::Q6K, &b, 256).unwrap();
        // value 0: scale index 0 (-4); q = 1 - 32
        assert_eq!(x[0], 0.5 * -4.0 * (1 - 32) as f32);
        // value 32: scale index 2 (-2); q = (1 << 4) - 32
        assert_eq!(x[32], 0.5 * -2.0 * (16 - 32) as f32);
        // value 64: scale index 4 (0)
        assert_eq!(x[64], 0.0);
        // value 96: scale index 6 (2); q = (3 << 4) - 32
        assert_eq!(x[96], 0.5 * 2.0 * (48 - 32) as f32);
        // value 133: scale index 8 (4); q = 15 - 32
        assert_eq!(x[133], 0.5 * 4.0 * (15 - 32) as f32);
    }

    #[test]
    fn rejects_short_or_partial_input() {
        assert!(dequantize(GgmlType::Q8_0, &[0; 34], 16).is_err());
        assert!(dequantize(GgmlType::Q8_0, &[0; 33], 32).is_err());
    }
}
