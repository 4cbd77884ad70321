//! GGUF v3 writer: metadata and tensors in, file bytes out. Used by tests to build small model
//! files, and to write LoRA adapters in the GGUF form llama.cpp loads.
//!
//! ```
//! use anytune_core::formats::{GgufFile, GgufWriter, MetaValue};
//! use anytune_core::quant::GgmlType;
//! let mut w = GgufWriter::new();
//! w.add_meta("general.architecture", MetaValue::String("llama".into())).unwrap();
//! let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0].iter().flat_map(|x| x.to_le_bytes()).collect();
//! w.add_tensor("w", GgmlType::F32, &[2, 3], data).unwrap(); // PyTorch order: 2 rows of 3
//! let bytes = w.to_bytes();
//! let f = GgufFile::parse(&bytes, "w.gguf").unwrap();
//! assert_eq!(f.tensor("w").unwrap().shape, vec![2, 3]);
//! ```

use super::meta::MetaValue;
use crate::error::{Error, Result};
use crate::quant::GgmlType;

const DEFAULT_ALIGNMENT: usize = 32;

/// Builds a GGUF v3 file in memory. Keys and tensors are written in the order they were added.
/// Alignment is 32 unless a `general.alignment` (a power of two) is added.
#[derive(Clone, Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<PendingTensor>,
}

#[derive(Clone, Debug)]
struct PendingTensor {
    name: String,
    ty: GgmlType,
    /// PyTorch order (outermost first).
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl GgufWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one metadata value. Arrays must hold values of one type (arrays of arrays are
    /// allowed); keys must be unique; `general.alignment` must be an unsigned power of two.
    pub fn add_meta(&mut self, key: impl Into<String>, value: MetaValue) -> Result<()> {
        let key = key.into();
        if self.metadata.iter().any(|(k, _)| *k == key) {
            return Err(Error::invalid(format!("GGUF metadata {key}"), "added twice"));
        }
        check_homogeneous(&value).map_err(|what| Error::invalid(format!("GGUF metadata {key}"), what))?;
        if key == "general.alignment" && !value.as_u64().is_some_and(|a| a > 0 && a.is_power_of_two() && a <= 1 << 16) {
            return Err(Error::invalid(key, format!("{value:?} is not an unsigned power of two up to 65536")));
        }
        self.metadata.push((key, value));
        Ok(())
    }

    /// Adds a tensor of `shape` (PyTorch order, outermost first: `[out, in]` for a linear
    /// layer; at most 4 dimensions) whose data `bytes` are already in type `ty`'s layout.
    /// The innermost dimension must be whole blocks of `ty`, and `bytes` exactly its size.
    pub fn add_tensor(&mut self, name: impl Into<String>, ty: GgmlType, shape: &[usize], bytes: Vec<u8>) -> Result<()> {
        let name = name.into();
        let what = || format!("GGUF tensor {name}");
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(Error::invalid(what(), "added twice"));
        }
        if shape.len() > 4 {
            return Err(Error::invalid(what(), format!("shape {shape:?} has more than 4 dimensions")));
        }
        if shape.last().is_some_and(|&cols| cols % ty.block_size() != 0) {
            return Err(Error::invalid(what(), format!("rows of shape {shape:?} are not whole {} blocks", ty.name())));
        }
        let want =
            shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).map(|n| n / ty.block_size() * ty.block_bytes());
        if want != Some(bytes.len()) {
            return Err(Error::invalid(
                what(),
                format!("{} bytes given but shape {shape:?} of {} needs {want:?}", bytes.len(), ty.name()),
            ));
        }
        self.tensors.push(PendingTensor { name, ty, shape: shape.to_vec(), bytes });
        Ok(())
    }

    /// The whole file: header, metadata, tensor table, padding, aligned tensor data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let alignment = self
            .metadata
            .iter()
            .find(|(k, _)| k == "general.alignment")
            .and_then(|(_, v)| v.as_u64())
            .map_or(DEFAULT_ALIGNMENT, |a| a as usize);
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_string(&mut out, key);
            out.extend_from_slice(&type_id(value).to_le_bytes());
            put_value(&mut out, value);
        }
        let mut rel = 0usize;
        for t in &self.tensors {
            put_string(&mut out, &t.name);
            out.extend_from_slice(&(t.shape.len() as u32).to_le_bytes());
            for &d in t.shape.iter().rev() {
                out.extend_from_slice(&(d as u64).to_le_bytes());
            }
            out.extend_from_slice(&(t.ty as u32).to_le_bytes());
            out.extend_from_slice(&(rel as u64).to_le_bytes());
            rel = (rel + t.bytes.len()).div_ceil(alignment) * alignment;
        }
        for t in &self.tensors {
            out.resize(out.len().div_ceil(alignment) * alignment, 0);
            out.extend_from_slice(&t.bytes);
        }
        out
    }
}

/// GGUF value type id of `v`.
fn type_id(v: &MetaValue) -> u32 {
    match v {
        MetaValue::U8(_) => 0,
        MetaValue::I8(_) => 1,
        MetaValue::U16(_) => 2,
        MetaValue::I16(_) => 3,
        MetaValue::U32(_) => 4,
        MetaValue::I32(_) => 5,
        MetaValue::F32(_) => 6,
        MetaValue::Bool(_) => 7,
        MetaValue::String(_) => 8,
        MetaValue::Array(_) => 9,
        MetaValue::U64(_) => 10,
        MetaValue::I64(_) => 11,
        MetaValue::F64(_) => 12,
    }
}

/// Arrays (at any depth) must hold one value type.
fn check_homogeneous(v: &MetaValue) -> std::result::Result<(), String> {
    if let MetaValue::Array(items) = v {
        if items.first().is_some_and(|first| items.iter().any(|x| type_id(x) != type_id(first))) {
            return Err("an array holds values of different types".into());
        }
        items.iter().try_for_each(check_homogeneous)?;
    }
    Ok(())
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The value without its type id (arrays: element type, count, elements).
fn put_value(out: &mut Vec<u8>, v: &MetaValue) {
    match v {
        MetaValue::U8(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::Bool(x) => out.push(*x as u8),
        MetaValue::String(s) => put_string(out, s),
        MetaValue::Array(items) => {
            // An empty array is written as an array of u8: its element type is unknowable.
            let elem = items.first().map_or(0, type_id);
            out.extend_from_slice(&elem.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for x in items {
                put_value(out, x);
            }
        }
    }
}
