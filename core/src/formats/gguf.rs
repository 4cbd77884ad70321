//! GGUF reader (versions 2 and 3): header, metadata, tensor infos, data offsets.
//! Format: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>.
//!
//! Everything is parsed from bytes in memory (the browser hands us an `ArrayBuffer`), with every
//! read bounds-checked: a truncated or corrupt file gives an error naming the file and the
//! byte offset, never a panic.

use super::meta::{MetaValue, Metadata};
use super::tensor_info::TensorInfo;
use crate::error::{Error, Result};
use crate::quant::{GgmlType, ggml_type_name};

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: usize = 32;
/// Metadata arrays nested deeper than this are refused (a crafted file could otherwise
/// overflow the stack).
const MAX_ARRAY_DEPTH: usize = 8;

/// A parsed GGUF file (the tensor data stays in the caller's bytes).
#[derive(Clone, Debug)]
pub struct GgufFile {
    pub file: String,
    pub version: u32,
    pub metadata: Metadata,
    pub tensors: Vec<TensorInfo>,
}

impl GgufFile {
    /// Parses the header, metadata and tensor table of `bytes`; `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<GgufFile> {
        let mut r = Reader { bytes, pos: 0, file };
        if bytes.len() < 4 || &bytes[..4] != MAGIC {
            return Err(Error::format(file, "not a GGUF file (it does not start with the bytes \"GGUF\")"));
        }
        r.pos = 4;
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            return Err(Error::format(file, format!("GGUF version {version} is not supported (2 and 3 are)")));
        }
        let n_tensors = r.len()?;
        let n_kv = r.len()?;
        let mut metadata = Metadata::new();
        for _ in 0..n_kv {
            let key = r.string()?;
            let ty = r.u32()?;
            let value = r.value(ty, &key, 0)?;
            metadata.insert(key, value);
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && usize::try_from(a).is_ok() => a as usize,
                _ => return Err(Error::format(file, format!("general.alignment {v:?} is not a power of two"))),
            },
        };
        let mut raw = Vec::with_capacity(n_tensors.min(1 << 16));
        for _ in 0..n_tensors {
            let name = r.string()?;
            let n_dims = r.u32()? as usize;
            if n_dims > 4 {
                return Err(Error::format(file, format!("tensor {name} has {n_dims} dimensions (at most 4)")));
            }
            let mut ne = Vec::with_capacity(n_dims);
            for _ in 0..n_dims {
                ne.push(r.len()?);
            }
            let ty_id = r.u32()?;
            let offset = r.len()?;
            raw.push((name, ne, ty_id, offset));
        }
        let data_start = r.pos.div_ceil(alignment) * alignment;
        let mut tensors = Vec::with_capacity(raw.len());
        for (name, ne, ty_id, rel) in raw {
            let numel = ne.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            let size = match (GgmlType::from_id(ty_id, &name), numel) {
                (Ok(ty), Some(n)) => {
                    if ne.first().is_some_and(|&cols| cols % ty.block_size() != 0) {
                        return Err(Error::format(
                            file,
                            format!("tensor {name}: rows of {} values are not whole {} blocks", ne[0], ty.name()),
                        ));
                    }
                    match (n / ty.block_size()).checked_mul(ty.block_bytes()) {
                        Some(size) => size,
                        None => return Err(Error::format(file, format!("tensor {name}: shape {ne:?} overflows"))),
                    }
                }
                // Unsupported types are kept (size unknown) and refused only if a model uses them.
                (Err(_), Some(_)) => 0,
                (_, None) => return Err(Error::format(file, format!("tensor {name}: shape {ne:?} overflows"))),
            };
            let offset = data_start.checked_add(rel).filter(|o| o.checked_add(size).is_some_and(|end| end <= bytes.len()));
            let Some(offset) = offset else {
                return Err(Error::format(
                    file,
                    format!(
                        "tensor {name} ({}, shape {ne:?}) lies beyond the end of the file ({} bytes): the file is truncated",
                        ggml_type_name(ty_id),
                        bytes.len()
                    ),
                ));
            };
            let shape = ne.iter().rev().copied().collect();
            tensors.push(TensorInfo { name, ty_id, shape, offset, size });
        }
        Ok(GgufFile { file: file.to_string(), version, metadata, tensors })
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// A metadata value.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// A required metadata value, or an error naming the key and the file.
    pub fn require(&self, key: &str) -> Result<&MetaValue> {
        self.get(key).ok_or_else(|| Error::format(&self.file, format!("metadata key {key} is missing")))
    }

    /// A required unsigned integer.
    pub fn require_u64(&self, key: &str) -> Result<u64> {
        let v = self.require(key)?;
        v.as_u64().ok_or_else(|| Error::format(&self.file, format!("metadata {key} = {v:?} is not an unsigned integer")))
    }

    /// An optional float (any numeric type).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(MetaValue::as_f64)
    }
}

/// Bounds-checked little-endian reader.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    file: &'a str,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            Error::format(
                self.file,
                format!("truncated GGUF header: needed {n} bytes at offset {} but the file has {}", self.pos, self.bytes.len()),
            )
        })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A u64 count, size or offset; saturated where usize is 32 bits (wasm32), so a value too
    /// large fails the later bounds checks instead of wrapping.
    fn len(&mut self) -> Result<usize> {
        Ok(usize::try_from(self.u64()?).unwrap_or(usize::MAX))
    }

    fn string(&mut self) -> Result<String> {
        let at = self.pos;
        let len = self.len()?;
        let s = self.take(len)?;
        String::from_utf8(s.to_vec())
            .map_err(|_| Error::format(self.file, format!("string at offset {at} is not valid UTF-8")))
    }

    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<MetaValue> {
        Ok(match ty {
            0 => MetaValue::U8(u8::from_le_bytes(self.array()?)),
            1 => MetaValue::I8(i8::from_le_bytes(self.array()?)),
            2 => MetaValue::U16(u16::from_le_bytes(self.array()?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array()?)),
            4 => MetaValue::U32(self.u32()?),
            5 => MetaValue::I32(i32::from_le_bytes(self.array()?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array()?)),
            7 => MetaValue::Bool(self.array::<1>()?[0] != 0),
            8 => MetaValue::String(self.string()?),
            9 => {
                let elem = self.u32()?;
                if depth >= MAX_ARRAY_DEPTH {
                    let what = format!("metadata {key}: arrays nested deeper than {MAX_ARRAY_DEPTH}");
                    return Err(Error::format(self.file, what));
                }
                let n = self.len()?;
                // Each element takes at least one byte: a count beyond the file is corrupt.
                if n > self.bytes.len() - self.pos {
                    return Err(Error::format(self.file, format!("metadata {key}: array of {n} values is longer than the file")));
                }
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(elem, key, depth + 1)?);
                }
                MetaValue::Array(items)
            }
            10 => MetaValue::U64(self.u64()?),
            11 => MetaValue::I64(i64::from_le_bytes(self.array()?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array()?)),
            _ => return Err(Error::format(self.file, format!("metadata {key}: unknown value type {ty}"))),
        })
    }
}
