//! [`Checkpoint`]: a model's tensors by name, whatever file(s) they came from (one GGUF, or
//! safetensors shards), with the naming scheme of their format.

use super::names::Naming;
use crate::error::{Error, Result};
use crate::formats::TensorInfo;
use crate::quant::GgmlType;
use crate::quant::finite::find_non_finite;
use std::collections::HashMap;

/// Tensor bytes by name, borrowed from the files' bytes.
pub struct Checkpoint<'a> {
    /// File (or folder) name used in error messages.
    pub file: String,
    pub naming: Naming,
    /// Rows of Llama q/k weights are interleaved per head (llama.cpp's GGUF converter).
    pub qk_permuted: bool,
    tensors: HashMap<String, Entry<'a>>,
}

/// One tensor: where it is described, its bytes, the file that holds it (for errors).
struct Entry<'a> {
    info: TensorInfo,
    bytes: &'a [u8],
    file: Option<String>,
}

impl<'a> Checkpoint<'a> {
    pub fn new(file: impl Into<String>, naming: Naming, qk_permuted: bool) -> Self {
        Checkpoint { file: file.into(), naming, qk_permuted, tensors: HashMap::new() }
    }

    /// Adds a tensor whose bytes are `info.bytes(file_bytes)`.
    pub fn insert(&mut self, info: &TensorInfo, file_bytes: &'a [u8]) {
        self.add(None, info, file_bytes);
    }

    /// Adds a tensor held by the file called `file` (one shard of a folder), which errors
    /// about it then name.
    pub fn insert_from(&mut self, file: &str, info: &TensorInfo, file_bytes: &'a [u8]) {
        self.add(Some(file.to_string()), info, file_bytes);
    }

    fn add(&mut self, file: Option<String>, info: &TensorInfo, file_bytes: &'a [u8]) {
        let entry = Entry { info: info.clone(), bytes: info.bytes(file_bytes), file };
        self.tensors.insert(info.name.clone(), entry);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The entry of a tensor that must exist, and the name of the file that holds it.
    fn entry(&self, name: &str) -> Result<(&Entry<'a>, &str)> {
        let e = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::format(&self.file, format!("tensor {name} is missing")))?;
        Ok((e, e.file.as_deref().unwrap_or(&self.file)))
    }

    /// A tensor that must exist, with its type and bytes. Its values (or, quantized, its block
    /// scales) must be finite: NaN or infinity is an error naming the tensor.
    pub fn get(&self, name: &str) -> Result<(&TensorInfo, GgmlType, &'a [u8])> {
        let (e, file) = self.entry(name)?;
        let ty = e.info.ty(file)?;
        if let Some(bad) = find_non_finite(ty, e.bytes) {
            return Err(Error::format(file, format!("tensor {name} ({}): {bad}; the weights must be finite", ty.name())));
        }
        Ok((&e.info, ty, e.bytes))
    }

    /// A tensor that must have `shape`.
    pub fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<(GgmlType, &'a [u8])> {
        let (e, file) = self.entry(name)?;
        if e.info.shape != shape {
            return Err(Error::format(
                file,
                format!("tensor {name} has shape {:?}, expected {shape:?} from the model's configuration", e.info.shape),
            ));
        }
        let (_, ty, bytes) = self.get(name)?;
        Ok((ty, bytes))
    }
}

impl Checkpoint<'_> {
    /// How many tensors of each type (`[("Q4_1", 210), ("F32", 61), …]`), most common first.
    pub fn type_counts(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for e in self.tensors.values() {
            *counts.entry(crate::quant::ggml_type_name(e.info.ty_id).to_string()).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    fn info(name: &str, ty: GgmlType, shape: &[usize], size: usize) -> TensorInfo {
        TensorInfo { name: name.into(), ty_id: ty as u32, shape: shape.to_vec(), offset: 0, size }
    }

    #[test]
    fn non_finite_weights_are_refused_naming_tensor_and_file() {
        let f32s: Vec<u8> = [1.0f32, 2.0, f32::NAN].iter().flat_map(|x| x.to_le_bytes()).collect();
        let mut q8 = vec![0u8; 2 * 34];
        q8[34..36].copy_from_slice(&f16::INFINITY.to_le_bytes());
        let mut ck = Checkpoint::new("folder", Naming::HuggingFace, false);
        ck.insert_from("model-2.safetensors", &info("w", GgmlType::F32, &[3], 12), &f32s);
        ck.insert(&info("q", GgmlType::Q8_0, &[64], 68), &q8);
        ck.insert(&info("ok", GgmlType::F32, &[2], 8), &f32s);
        let err = ck.get_shaped("w", &[3]).unwrap_err().to_string();
        assert_eq!(err, "model-2.safetensors: tensor w (F32): value 2 is NaN; the weights must be finite");
        let err = ck.get("q").unwrap_err().to_string();
        assert_eq!(err, "folder: tensor q (Q8_0): the scale of block 1 is inf; the weights must be finite");
        assert!(ck.get_shaped("ok", &[2]).is_ok());
        let err = ck.get_shaped("w", &[4]).unwrap_err().to_string();
        assert!(err.starts_with("model-2.safetensors: tensor w has shape [3], expected [4]"), "{err}");
    }
}
