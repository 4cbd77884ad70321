//! Finding NaN and infinity in a tensor's stored bytes, so a loader can refuse a corrupt file
//! instead of computing with it. Float types are checked value by value; quantized types by
//! their f16 block scales (`d`, and `m` / `dmin` where the type has one) — the quants
//! themselves are integers and always finite. One pass over the bytes, no allocation.
//!
//! ```
//! use anytune_core::quant::{GgmlType, finite::find_non_finite};
//! let bytes: Vec<u8> = [1.0f32, f32::NAN].iter().flat_map(|x| x.to_le_bytes()).collect();
//! assert_eq!(find_non_finite(GgmlType::F32, &bytes).unwrap().to_string(), "value 1 is NaN");
//! ```

use super::GgmlType;
use half::{bf16, f16};
use std::fmt;

/// The first non-finite value of a tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFinite {
    /// Element index (float types) or block index (quantized types).
    pub index: usize,
    /// Whether `index` is a block whose scale is not finite.
    pub in_scale: bool,
    pub value: f32,
}

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.in_scale { "the scale of block" } else { "value" };
        write!(f, "{what} {} is {}", self.index, self.value)
    }
}

/// Byte offsets of the f16 scales inside one block of `ty` (empty for float types).
fn scale_offsets(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => &[],
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4K | GgmlType::Q5K => &[0, 2],
        GgmlType::Q2K => &[80, 82],
        GgmlType::Q3K => &[108],
        GgmlType::Q6K => &[208],
    }
}

/// The first NaN or infinity in `bytes` stored as `ty`, or `None` when every value (or every
/// block scale) is finite. A trailing partial block is ignored (the loaders check sizes).
pub fn find_non_finite(ty: GgmlType, bytes: &[u8]) -> Option<NonFinite> {
    let value = |index, value: f32| (!value.is_finite()).then_some(NonFinite { index, in_scale: false, value });
    match ty {
        GgmlType::F32 => bytes
            .chunks_exact(4)
            .enumerate()
            .find_map(|(i, c)| value(i, f32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
        GgmlType::F16 => bytes.chunks_exact(2).enumerate().find_map(|(i, c)| value(i, f16::from_le_bytes([c[0], c[1]]).to_f32())),
        GgmlType::BF16 => {
            bytes.chunks_exact(2).enumerate().find_map(|(i, c)| value(i, bf16::from_le_bytes([c[0], c[1]]).to_f32()))
        }
        _ => bytes.chunks_exact(ty.block_bytes()).enumerate().find_map(|(i, block)| {
            scale_offsets(ty).iter().find_map(|&at| {
                let s = f16::from_le_bytes([block[at], block[at + 1]]).to_f32();
                (!s.is_finite()).then_some(NonFinite { index: i, in_scale: true, value: s })
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halves(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|&x| f16::from_f32(x).to_le_bytes()).collect()
    }

    #[test]
    fn float_types_report_the_first_bad_value() {
        let f32s: Vec<u8> = [0.0f32, -1e30, f32::INFINITY, f32::NAN].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(find_non_finite(GgmlType::F32, &f32s), Some(NonFinite { index: 2, in_scale: false, value: f32::INFINITY }));
        assert_eq!(find_non_finite(GgmlType::F16, &halves(&[1.0, 65504.0, f32::NEG_INFINITY])).map(|n| n.index), Some(2));
        let bf: Vec<u8> = [1.0f32, f32::NAN].iter().flat_map(|&x| bf16::from_f32(x).to_le_bytes()).collect();
        assert_eq!(find_non_finite(GgmlType::BF16, &bf).map(|n| n.index), Some(1));
        assert_eq!(find_non_finite(GgmlType::F32, &f32s[..8]), None);
    }

    #[test]
    fn quantized_types_check_their_scales() {
        for ty in GgmlType::ALL.into_iter().filter(|t| t.block_size() > 1) {
            let mut bytes = vec![0u8; 3 * ty.block_bytes()];
            assert_eq!(find_non_finite(ty, &bytes), None, "{ty:?}");
            // Every scale of block 1 in turn.
            for &at in scale_offsets(ty) {
                let mut b = bytes.clone();
                let p = ty.block_bytes() + at;
                b[p..p + 2].copy_from_slice(&f16::NAN.to_le_bytes());
                let found = find_non_finite(ty, &b).unwrap();
                assert_eq!((found.index, found.in_scale), (1, true), "{ty:?} scale at {at}");
            }
            // Quants of 0xff are integers, not NaN.
            bytes.iter_mut().for_each(|b| *b = 0xff);
            for &at in scale_offsets(ty) {
                for block in bytes.chunks_exact_mut(ty.block_bytes()) {
                    block[at..at + 2].copy_from_slice(&f16::ONE.to_le_bytes());
                }
            }
            assert_eq!(find_non_finite(ty, &bytes), None, "{ty:?}");
        }
    }

    /// The offsets checked are exactly the f16s the dequantizer reads as scales: in a zero
    /// block, a NaN at an even byte offset makes some dequantized value NaN (NaN * 0 is NaN)
    /// if and only if the check reports that block.
    #[test]
    fn checked_scales_are_the_dequantizers_scales() {
        for ty in GgmlType::ALL.into_iter().filter(|t| t.block_size() > 1) {
            for at in (0..ty.block_bytes()).step_by(2) {
                let mut b = vec![0u8; ty.block_bytes()];
                b[at..at + 2].copy_from_slice(&f16::NAN.to_le_bytes());
                let x = crate::quant::dequant::dequantize(ty, &b, ty.block_size()).unwrap();
                let poisoned = x.iter().any(|v| !v.is_finite());
                assert_eq!(find_non_finite(ty, &b).is_some(), poisoned, "{ty:?}: NaN at byte {at}");
            }
        }
    }
}
