//! [`TensorInfo`]: where one tensor's bytes are in a model file, shared by GGUF and safetensors.

use super::safetensors_dtype::unsupported_dtype_name;
use crate::error::{Error, Result};
use crate::quant::GgmlType;

/// A tensor in a file: name, type, shape and absolute byte range.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml type id (GGUF id numbering; safetensors F32/F16/BF16 are mapped onto it, other
    /// safetensors dtypes get ids from [`super::safetensors_dtype::UNSUPPORTED_DTYPE_BASE`] up).
    pub ty_id: u32,
    /// Shape in PyTorch order, outermost first: a linear layer is `[out, in]`.
    /// (GGUF stores `ne` innermost first; the reader reverses it.)
    pub shape: Vec<usize>,
    /// Absolute byte offset of the data in the file.
    pub offset: usize,
    /// Byte length of the data.
    pub size: usize,
}

impl TensorInfo {
    /// The type, or an error naming the tensor and `file` when anytune cannot use it.
    pub fn ty(&self, file: &str) -> Result<GgmlType> {
        let what = format!("{file}: tensor {}", self.name);
        if let Some(dtype) = unsupported_dtype_name(self.ty_id) {
            return Err(Error::invalid(
                what,
                format!("safetensors dtype {dtype} is not supported (anytune reads F32, F16 and BF16 from safetensors)"),
            ));
        }
        GgmlType::from_id(self.ty_id, &what)
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The tensor's bytes within the whole file's bytes.
    pub fn bytes<'a>(&self, file_bytes: &'a [u8]) -> &'a [u8] {
        &file_bytes[self.offset..self.offset + self.size]
    }
}
