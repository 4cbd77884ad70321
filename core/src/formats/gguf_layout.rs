//! The checks llama.cpp's GGUF loader makes on the tensor table before it trusts it
//! (`gguf_init_from_file_impl` in ggml's `gguf.cpp`):
//!
//! - tensor names are unique;
//! - every type id is a ggml type whose block layout is known (anytune may still refuse to
//!   *use* it, see [`crate::quant::GgmlType`]), and each row is whole blocks of it;
//! - each tensor's offset is a multiple of `general.alignment` and is exactly where the
//!   previous tensor's data ends, rounded up to the alignment (so tensors neither overlap
//!   nor leave gaps, and a type id whose packed size no longer matches the data is caught);
//! - the data lies inside the file, and at most the padding of one alignment follows the
//!   last tensor (which catches a last tensor whose type label shrank its size).

use crate::error::{Error, Result};
use crate::quant::{GgmlType, ggml_type_name};

/// `(elements per block, bytes per block)` of every ggml type id with a known layout (ggml's
/// `type_traits`; as gguf-py 0.19's `GGML_QUANT_SIZES`), supported by anytune ([`GgmlType`]
/// knows those) or not. Ids 4, 5, 31–33 and 36–38 were removed from ggml.
pub fn ggml_block_layout(id: u32) -> Option<(usize, usize)> {
    if let Some(t) = GgmlType::known(id) {
        return Some((t.block_size(), t.block_bytes()));
    }
    Some(match id {
        20 => (32, 18),                        // IQ4_NL
        9 => (32, 36),                         // Q8_1
        21 => (256, 110),                      // IQ3_S
        15 => (256, 292),                      // Q8_K
        16 | 35 => (256, 66),                  // IQ2_XXS, TQ2_0
        17 => (256, 74),                       // IQ2_XS
        18 => (256, 98),                       // IQ3_XXS
        19 => (256, 50),                       // IQ1_S
        22 => (256, 82),                       // IQ2_S
        23 => (256, 136),                      // IQ4_XS
        24 => (1, 1),                          // I8
        25 => (1, 2),                          // I16
        26 => (1, 4),                          // I32
        27 | 28 => (1, 8),                     // I64, F64
        29 => (256, 56),                       // IQ1_M
        34 => (256, 54),                       // TQ1_0
        39 => (32, 17),                        // MXFP4
        40 => (64, 36),                        // NVFP4
        41 => (128, 18),                       // Q1_0
        _ => return None,
    })
}

/// One entry of the tensor table as read: name, `ne` (innermost first), type id, offset
/// relative to the data section.
pub struct RawTensor {
    pub name: String,
    pub ne: Vec<usize>,
    pub ty_id: u32,
    pub rel_offset: usize,
}

impl RawTensor {
    /// The byte size of the tensor's data, checked: a known type, whole blocks per row, no
    /// overflow.
    pub fn size(&self, file: &str) -> Result<usize> {
        let (name, ne) = (&self.name, &self.ne);
        let type_name = ggml_type_name(self.ty_id);
        let Some((block, block_bytes)) = ggml_block_layout(self.ty_id) else {
            return Err(Error::format(file, format!("tensor {name} has unknown ggml type id {}", self.ty_id)));
        };
        if ne.first().is_some_and(|&cols| cols % block != 0) {
            let what = format!("tensor {name}: rows of {} values are not whole {type_name} blocks of {block}", ne[0]);
            return Err(Error::format(file, what));
        }
        ne.iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .and_then(|n| (n / block).checked_mul(block_bytes))
            .ok_or_else(|| Error::format(file, format!("tensor {name}: shape {ne:?} overflows")))
    }
}

/// Checks the table `tensors` (with their `sizes`) against a data section that starts at
/// `data_start` in a file of `file_len` bytes; returns each tensor's absolute offset.
pub fn check_layout(
    tensors: &[RawTensor],
    sizes: &[usize],
    data_start: usize,
    alignment: usize,
    file_len: usize,
    file: &str,
) -> Result<Vec<usize>> {
    let err = |what: String| Err(Error::format(file, what));
    let mut names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return err(format!("tensor {} appears twice in the tensor table (names must be unique)", w[0]));
    }
    let mut expected = 0usize; // where the next tensor must start, relative to data_start
    let mut offsets = Vec::with_capacity(tensors.len());
    for (t, &size) in tensors.iter().zip(sizes) {
        let (name, rel) = (&t.name, t.rel_offset);
        let describe = || format!("tensor {name} ({}, shape {:?}, {size} bytes)", ggml_type_name(t.ty_id), t.ne);
        let end = data_start.checked_add(rel).and_then(|o| o.checked_add(size)).filter(|&e| e <= file_len);
        if end.is_none() {
            return err(format!(
                "{} lies beyond the end of the file ({file_len} bytes): the file is truncated",
                describe()
            ));
        }
        if rel % alignment != 0 {
            return err(format!("{} has offset {rel}, not a multiple of the alignment {alignment}", describe()));
        }
        if rel != expected {
            let before = offsets.len().checked_sub(1).map_or("", |i| tensors[i].name.as_str());
            let what = if rel < expected { "overlaps" } else { "leaves a gap after" };
            return err(format!(
                "{} has offset {rel} but the data before it ends at {expected}: it {what} tensor {before} \
                 (is the type or shape of one of them wrong in the table?)",
                describe()
            ));
        }
        offsets.push(data_start + rel);
        // Cannot overflow: rel + size fits (checked above) and the alignment divides usize::MAX + 1.
        expected = (rel + size).div_ceil(alignment).saturating_mul(alignment);
    }
    if let Some(last) = tensors.last() {
        let end = data_start + last.rel_offset + sizes[sizes.len() - 1];
        if file_len - end >= alignment {
            return err(format!(
                "{} bytes follow the data of the last tensor {} (at most {} of padding expected): a wrong type or shape in the table?",
                file_len - end,
                last.name,
                alignment - 1
            ));
        }
    }
    Ok(offsets)
}
