//! safetensors dtypes: each with its bit width and, where anytune reads it, the ggml type it
//! maps to. Unsupported dtypes get ids above ggml's so a file still parses and the tensor that
//! uses one is named in the error (see [`super::tensor_info::TensorInfo`]).

/// First id given to safetensors dtypes that have no ggml counterpart anytune can use:
/// dtype number `i` of [`DTYPES`] gets `UNSUPPORTED_DTYPE_BASE + i`. Far above ggml's ids.
pub const UNSUPPORTED_DTYPE_BASE: u32 = 0x5354_0000; // "ST"

/// Every dtype of the format: name, bits per element, ggml id when anytune can read it.
pub(crate) const DTYPES: [(&str, usize, Option<u32>); 20] = [
    ("F32", 32, Some(0)),
    ("F16", 16, Some(1)),
    ("BF16", 16, Some(30)),
    ("F64", 64, None),
    ("I64", 64, None),
    ("U64", 64, None),
    ("I32", 32, None),
    ("U32", 32, None),
    ("I16", 16, None),
    ("U16", 16, None),
    ("I8", 8, None),
    ("U8", 8, None),
    ("BOOL", 8, None),
    ("F8_E4M3", 8, None),
    ("F8_E5M2", 8, None),
    ("F8_E8M0", 8, None),
    ("F6_E2M3", 6, None),
    ("F6_E3M2", 6, None),
    ("F4", 4, None),
    ("C64", 64, None),
];

/// The dtype name behind a safetensors-only id (see [`UNSUPPORTED_DTYPE_BASE`]), `None` for
/// ggml ids.
pub fn unsupported_dtype_name(ty_id: u32) -> Option<&'static str> {
    let i = ty_id.checked_sub(UNSUPPORTED_DTYPE_BASE)? as usize;
    DTYPES.get(i).map(|d| d.0)
}
