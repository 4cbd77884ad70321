//! GGUF (ggml) tensor types: block layout facts shared by the loaders, the CPU reference
//! dequantizers and the WGSL kernels that read frozen weights in their stored format.

use crate::error::{Error, Result};

/// A ggml tensor type that anytune can keep on the GPU and dequantize inside kernels.
/// Values are the ids used in GGUF files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2K = 10,
    Q3K = 11,
    Q4K = 12,
    Q5K = 13,
    Q6K = 14,
    BF16 = 30,
}

impl GgmlType {
    /// All supported types, in id order.
    pub const ALL: [GgmlType; 13] = [
        Self::F32,
        Self::F16,
        Self::Q4_0,
        Self::Q4_1,
        Self::Q5_0,
        Self::Q5_1,
        Self::Q8_0,
        Self::Q2K,
        Self::Q3K,
        Self::Q4K,
        Self::Q5K,
        Self::Q6K,
        Self::BF16,
    ];

    /// The supported type with GGUF id `id`, if it is one.
    pub fn known(id: u32) -> Option<GgmlType> {
        Self::ALL.into_iter().find(|t| *t as u32 == id)
    }

    /// The type with GGUF id `id`; `what` names the tensor for the error.
    pub fn from_id(id: u32, what: &str) -> Result<GgmlType> {
        Self::known(id).ok_or_else(|| {
            Error::Invalid {
                name: what.to_string(),
                what: format!(
                    "tensor type {} ({id}) is not supported; supported: {} (convert the model to one of \
                     those, e.g. with llama-quantize to Q4_K_M)",
                    ggml_type_name(id),
                    Self::ALL.map(GgmlType::name).join(", ")
                ),
            }
        })
    }

    /// Elements per block.
    pub fn block_size(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q5_0 | Self::Q5_1 | Self::Q8_0 => 32,
            Self::Q2K | Self::Q3K | Self::Q4K | Self::Q5K | Self::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q2K => 84,
            Self::Q3K => 110,
            Self::Q4K => 144,
            Self::Q5K => 176,
            Self::Q6K => 210,
        }
    }

    /// Bytes of one row of `cols` elements (`cols` must be a multiple of the block size).
    pub fn row_bytes(self, cols: usize) -> usize {
        cols / self.block_size() * self.block_bytes()
    }

    /// The name GGUF tools print (`Q4_K`).
    pub fn name(self) -> &'static str {
        ggml_type_name(self as u32)
    }
}

/// Name of any ggml type id, supported or not (for error messages).
pub fn ggml_type_name(id: u32) -> &'static str {
    // Ids 4, 5, 31-33 and 36-38 are types ggml removed; their old names still help.
    const NAMES: [&str; 42] = [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K",
        "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
        "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0",
        "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4", "NVFP4", "Q1_0",
    ];
    NAMES.get(id as usize).copied().unwrap_or("unknown")
}

pub mod dequant;
pub mod finite;
pub mod kfit;
pub mod kquantize;
pub mod kquants;
pub mod presets;
pub mod quantize;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ggml type anytune does not compute with (IQ types, Q8_1, Q8_K, integers, F64) is
    /// refused naming the tensor, the type and its id, and listing what is supported.
    #[test]
    fn unsupported_types_are_refused_by_name() {
        let e = GgmlType::from_id(17, "blk.0.attn_q.weight").unwrap_err().to_string();
        assert!(e.contains("blk.0.attn_q.weight") && e.contains("IQ2_XS (17) is not supported"), "{e}");
        assert!(e.contains("Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K"), "{e}");
        for id in (0..42).filter(|&id| GgmlType::known(id).is_none()) {
            assert_ne!(ggml_type_name(id), "unknown", "{id}");
            let e = GgmlType::from_id(id, "t").unwrap_err().to_string();
            assert!(e.contains(&format!("{} ({id}) is not supported", ggml_type_name(id))), "{e}");
        }
        for ty in GgmlType::ALL {
            assert_eq!(GgmlType::from_id(ty as u32, "t").unwrap(), ty);
        }
    }
}
