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
    Q8_0 = 8,
    Q4K = 12,
    Q6K = 14,
    BF16 = 30,
}

impl GgmlType {
    /// All supported types, in id order.
    pub const ALL: [GgmlType; 8] =
        [Self::F32, Self::F16, Self::Q4_0, Self::Q4_1, Self::Q8_0, Self::Q4K, Self::Q6K, Self::BF16];

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
                    "tensor type {} ({id}) is not supported; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K",
                    ggml_type_name(id)
                ),
            }
        })
    }

    /// Elements per block.
    pub fn block_size(self) -> usize {
        match self {
            Self::F32 | Self::F16 | Self::BF16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q8_0 => 32,
            Self::Q4K | Self::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q8_0 => 34,
            Self::Q4K => 144,
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
    const NAMES: [&str; 31] = [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K",
        "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
        "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
    ];
    NAMES.get(id as usize).copied().unwrap_or("unknown")
}

pub mod dequant;
pub mod finite;
pub mod quantize;
