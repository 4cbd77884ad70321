//! [`Checkpoint`]: a model's tensors by name, whatever file(s) they came from (one GGUF, or
//! safetensors shards), with the naming scheme of their format.

use super::names::Naming;
use crate::error::{Error, Result};
use crate::formats::TensorInfo;
use crate::quant::GgmlType;
use std::collections::HashMap;

/// Tensor bytes by name, borrowed from the files' bytes.
pub struct Checkpoint<'a> {
    /// File (or folder) name used in error messages.
    pub file: String,
    pub naming: Naming,
    /// Rows of Llama q/k weights are interleaved per head (llama.cpp's GGUF converter).
    pub qk_permuted: bool,
    tensors: HashMap<String, (TensorInfo, &'a [u8])>,
}

impl<'a> Checkpoint<'a> {
    pub fn new(file: impl Into<String>, naming: Naming, qk_permuted: bool) -> Self {
        Checkpoint { file: file.into(), naming, qk_permuted, tensors: HashMap::new() }
    }

    /// Adds a tensor whose bytes are `info.bytes(file_bytes)`.
    pub fn insert(&mut self, info: &TensorInfo, file_bytes: &'a [u8]) {
        self.tensors.insert(info.name.clone(), (info.clone(), info.bytes(file_bytes)));
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// A tensor that must exist, with its type and bytes.
    pub fn get(&self, name: &str) -> Result<(&TensorInfo, GgmlType, &'a [u8])> {
        let (info, bytes) = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::format(&self.file, format!("tensor {name} is missing")))?;
        Ok((info, info.ty(&self.file)?, bytes))
    }

    /// A tensor that must have `shape`.
    pub fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<(GgmlType, &'a [u8])> {
        let (info, ty, bytes) = self.get(name)?;
        if info.shape != shape {
            return Err(Error::format(
                &self.file,
                format!("tensor {name} has shape {:?}, expected {shape:?} from the model's configuration", info.shape),
            ));
        }
        Ok((ty, bytes))
    }
}

impl Checkpoint<'_> {
    /// How many tensors of each type (`[("Q4_1", 210), ("F32", 61), …]`), most common first.
    pub fn type_counts(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (info, _) in self.tensors.values() {
            *counts.entry(crate::quant::ggml_type_name(info.ty_id).to_string()).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}
