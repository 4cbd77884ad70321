//! CPU decoders of ggml's K-quant super-blocks (256 values each), as ggml's reference
//! `dequantize_row_q{2,3,4,5,6}_K` (`ggml-quants.c`); [`super::dequant::dequantize`] calls
//! them block by block. Each sub-block of 16 or 32 values shares one affine map
//! `x = a * q + b` — the grouping `shaders/gguf_dequant.wgsl` reads them in.
//!
//! Every expression is evaluated in ggml's order with f16 scales widened to f32 (`d * sc`
//! first, then `* q`, then `- dmin * m`): the products are exact in f32 (an 11-bit f16
//! mantissa times integers of at most 6 and 5 bits), so only the final subtraction rounds.

use half::f16;

fn half_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..8) of a Q4_K or
/// Q5_K block, from its 12 packed scale bytes `q`.
pub fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// The signed 6-bit scale of sub-block `j` (0..16) of a Q3_K block, from its 12 packed scale
/// bytes `q`: 4 low bits in `q[j % 8]` (low nibble for j < 8, high for j >= 8), 2 high bits
/// in `q[8 + j % 4]` at bit `2 * (j / 4)`; stored with an offset of 32.
pub fn scale_q3_k(j: usize, q: &[u8]) -> i32 {
    let low = (q[j % 8] >> (4 * (j / 8))) & 0xF;
    let high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    (low | (high << 4)) as i32 - 32
}

/// Q2_K `{ u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }`: 16 sub-blocks of 16 values, each
/// with a 4-bit scale (low nibble) and 4-bit min (high nibble); 2-bit quants, value
/// `128 h + 32 s + l` (h < 2, s < 4, l < 32) at bits `2 s` of `qs[32 h + l]`;
/// `x = (d * sc) * q - dmin * m`.
pub(super) fn q2_k(b: &[u8], out: &mut Vec<f32>) {
    let (d, dmin) = (half_at(b, 80), half_at(b, 82));
    for i in 0..256 {
        let sc = b[i / 16];
        let q = (b[16 + 32 * (i / 128) + i % 32] >> (2 * ((i / 32) % 4))) & 3;
        out.push(d * (sc & 0xF) as f32 * q as f32 - dmin * (sc >> 4) as f32);
    }
}

/// Q3_K `{ u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }`: 16 sub-blocks of 16 values with
/// signed 6-bit scales ([`scale_q3_k`]); the 2 low bits of a quant as Q2_K's (`qs` at byte
/// 32), the third bit is bit `i / 32` of `hmask[i % 32]`, and a *clear* bit subtracts 4;
/// `x = (d * sc) * q` with q in -4..=3.
pub(super) fn q3_k(b: &[u8], out: &mut Vec<f32>) {
    let d = half_at(b, 108);
    let scales = &b[96..108];
    for i in 0..256 {
        let low = (b[32 + 32 * (i / 128) + i % 32] >> (2 * ((i / 32) % 4))) & 3;
        let high = (b[i % 32] >> (i / 32)) & 1;
        let q = low as i32 - if high == 1 { 0 } else { 4 };
        out.push(d * scale_q3_k(i / 16, scales) as f32 * q as f32);
    }
}

/// Q4_K `{ f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }`, 256 values in 8 sub-blocks of 32:
/// each 64 values use 32 quant bytes (low nibbles first, then high nibbles);
/// `x = d * sc * q - dmin * m`.
pub(super) fn q4_k(b: &[u8], out: &mut Vec<f32>) {
    k_with_mins(b, out, |i| (b[16 + 32 * (i / 64) + i % 32] >> (4 * ((i / 32) % 2))) & 0xF);
}

/// Q5_K `{ f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }`: Q4_K's scales and low
/// nibbles (`qs` at byte 48), plus a fifth bit `i / 32` of `qh[i % 32]` worth 16;
/// `x = d * sc * q - dmin * m`.
pub(super) fn q5_k(b: &[u8], out: &mut Vec<f32>) {
    k_with_mins(b, out, |i| {
        let low = (b[48 + 32 * (i / 64) + i % 32] >> (4 * ((i / 32) % 2))) & 0xF;
        low | (((b[16 + i % 32] >> (i / 32)) & 1) << 4)
    });
}

/// The Q4_K / Q5_K decode `x = (d * sc) * q - dmin * m` for the quant `q(i)` of value i, with
/// the scale and min of sub-block `i / 32` ([`scale_min_k4`]).
fn k_with_mins(b: &[u8], out: &mut Vec<f32>, q: impl Fn(usize) -> u8) {
    let (d, dmin) = (half_at(b, 0), half_at(b, 2));
    let scales = &b[4..16];
    for i in 0..256 {
        let (sc, m) = scale_min_k4(i / 32, scales);
        out.push(d * sc as f32 * q(i) as f32 - dmin * m as f32);
    }
}

/// Q6_K `{ u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }`, 256 values of 6 bits (4 low bits in
/// `ql`, 2 high bits in `qh`), one int8 scale per 16 values; `x = d * sc * (q - 32)`.
pub(super) fn q6_k(b: &[u8], out: &mut Vec<f32>) {
    let d = half_at(b, 208);
    let start = out.len();
    out.resize(start + 256, 0.0);
    let y = &mut out[start..];
    for half in 0..2 {
        let ql = &b[64 * half..];
        let qh = &b[128 + 32 * half..];
        let sc = |i: usize| b[192 + 8 * half + i] as i8 as f32;
        let y = &mut y[128 * half..];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * sc(is) * q1 as f32;
            y[l + 32] = d * sc(is + 2) * q2 as f32;
            y[l + 64] = d * sc(is + 4) * q3 as f32;
            y[l + 96] = d * sc(is + 6) * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_le_bytes()
    }

    #[test]
    fn q3_k_scales_and_high_bit() {
        let mut scales = [0u8; 12];
        scales[1] = 0x5A; // scale 1 low bits 0xA, scale 9 low bits 0x5
        scales[9] = 0b10_00_11_00; // high bits of scales 1, 5, 9, 13: 0b00, 0b11, 0b00, 0b10
        assert_eq!(scale_q3_k(1, &scales), 0xA - 32);
        assert_eq!(scale_q3_k(5, &scales), (0b11 << 4) - 32);
        assert_eq!(scale_q3_k(9, &scales), 0x5 - 32);
        assert_eq!(scale_q3_k(13, &scales), (0b10 << 4) - 32);
        let mut b = vec![0u8; 110];
        b[96..108].copy_from_slice(&scales);
        b[108..110].copy_from_slice(&h(0.5));
        b[32] = 0b11_00_00_10; // qs[0]: value 0 low bits 2, value 96 low bits 3
        b[0] = 0b0000_1001; // hmask[0]: bit 0 (value 0) and bit 3 (value 96) set
        let mut x = Vec::new();
        q3_k(&b, &mut x);
        // value 0: scale 0 (0 - 32), q = 2; value 32: clear high bit, q = -4; value 96: scale 6, q = 3.
        assert_eq!((x[0], x[32], x[96]), (0.5 * -32.0 * 2.0, 0.5 * -32.0 * -4.0, 0.5 * -32.0 * 3.0));
    }

    #[test]
    fn q2_k_and_q5_k_layout() {
        let mut b = vec![0u8; 84];
        b[9] = 0x37; // sub-block 9 (values 144..160): scale 7, min 3
        b[15] = 0x14; // sub-block 15 (values 240..256): scale 4, min 1
        b[16 + 48] = 0b01_00_00_00; // qs[48]: value 128 + 3 * 32 + 16 = 240 at bits 6..8 = 1
        b[80..84].copy_from_slice(&[h(0.25), h(0.5)].concat());
        let mut x = Vec::new();
        q2_k(&b, &mut x);
        // value 144 = 128 + 16: bits 0..2 of qs[48] = 0.
        assert_eq!((x[144], x[240], x[241]), (-0.5 * 3.0, 0.25 * 4.0 - 0.5, -0.5));
        let mut b = vec![0u8; 176];
        b[0..4].copy_from_slice(&[h(1.0), h(0.5)].concat());
        b[4 + 3] = 2; // sub-block 3 (values 96..128): scale 2
        b[8 + 3] = 4; // min 4
        b[48 + 32 + 1] = 0x90; // qs[33]: value 64 + 32 + 1 = 97 high nibble 9
        b[16 + 1] = 1 << 3; // qh[1]: bit 3 = fifth bit of value 3 * 32 + 1 = 97
        let mut x = Vec::new();
        q5_k(&b, &mut x);
        assert_eq!(x[97], 2.0 * (9 + 16) as f32 - 0.5 * 4.0);
        assert_eq!(x[96], -2.0);
    }
}
