//! GGUF reader (versions 2 and 3): header, metadata, tensor infos, data offsets.
//! Format: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>.
//!
//! Everything is parsed from bytes in memory (the browser hands us an `ArrayBuffer`), with every
//! read bounds-checked: a truncated or corrupt file gives an error naming the file and the
//! byte offset, never a panic.

use super::meta::{MetaValue, Metadata};
use super::gguf_layout::{RawTensor, check_layout};
use super::tensor_info::TensorInfo;
use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: usize = 32;
/// Metadata arrays nested deeper than this are refused (a crafted file could otherwise
/// overflow the stack).
const MAX_ARRAY_DEPTH: usize = 8;
/// Metadata arrays longer than this are refused (the largest vocabularies have a few hundred
/// thousand tokens and merges).
pub const MAX_ARRAY_LEN: usize = 1 << 24;
/// The fewest bytes one tensor-table entry takes (name length, no name, no dimension, type,
/// offset) and one metadata entry (key length, no key, type, a one-byte value): a count the
/// rest of the file cannot hold is refused before anything is read or allocated.
const MIN_TENSOR_INFO: usize = 8 + 4 + 4 + 8;
const MIN_KV: usize = 8 + 4 + 1;

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
        let left = bytes.len() - r.pos;
        let least = n_tensors.checked_mul(MIN_TENSOR_INFO).and_then(|a| a.checked_add(n_kv.checked_mul(MIN_KV)?));
        if least.is_none_or(|l| l > left) {
            return Err(Error::format(
                file,
                format!(
                    "the header announces {n_tensors} tensors and {n_kv} metadata entries, more than the {left} bytes \
                     after it can hold (each takes at least {MIN_TENSOR_INFO} and {MIN_KV} bytes): the file is corrupt or truncated"
                ),
            ));
        }
        let mut metadata = Metadata::new();
        for _ in 0..n_kv {
            let key = r.string(&|| "a metadata key".into())?;
            let ty = r.u32()?;
            let value = r.value(ty, &key, 0)?;
            if metadata.contains_key(&key) {
                return Err(Error::format(file, format!("metadata key {key} appears twice (keys must be unique)")));
            }
            metadata.insert(key, value);
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && usize::try_from(a).is_ok() => a as usize,
                _ => return Err(Error::format(file, format!("general.alignment {v:?} is not a power of two"))),
            },
        };
        let mut raw = Vec::with_capacity(n_tensors);
        for _ in 0..n_tensors {
            let name = r.string(&|| "a tensor name".into())?;
            let n_dims = r.u32()? as usize;
            if n_dims > 4 {
                return Err(Error::format(file, format!("tensor {name} has {n_dims} dimensions (at most 4)")));
            }
            let mut ne = Vec::with_capacity(n_dims);
            for _ in 0..n_dims {
                ne.push(r.len()?);
            }
            let ty_id = r.u32()?;
            let rel_offset = r.len()?;
            raw.push(RawTensor { name, ne, ty_id, rel_offset });
        }
        let sizes = raw.iter().map(|t| t.size(file)).collect::<Result<Vec<_>>>()?;
        let data_start = r.pos.div_ceil(alignment).saturating_mul(alignment);
        let offsets = check_layout(&raw, &sizes, data_start, alignment, bytes.len(), file)?;
        let tensors = raw
            .into_iter()
            .zip(sizes.into_iter().zip(offsets))
            .map(|(t, (size, offset))| {
                let shape = t.ne.iter().rev().copied().collect();
                TensorInfo { name: t.name, ty_id: t.ty_id, shape, offset, size }
            })
            .collect();
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
        self.get(key).ok_or_else(|| self.missing(key))
    }

    fn missing(&self, key: &str) -> Error {
        Error::format(&self.file, format!("metadata key {key} is missing"))
    }

    /// A required unsigned integer that fits a `usize` (32 bits on wasm32).
    pub fn require_usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional unsigned integer that fits a `usize`; present but of another type, negative
    /// or too large is an error naming the key (never a silent default).
    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match v.as_u64().map(usize::try_from) {
            Some(Ok(n)) => Ok(Some(n)),
            Some(Err(_)) => Err(Error::format(&self.file, format!("metadata {key} = {v:?} is too large"))),
            None => Err(Error::format(&self.file, format!("metadata {key} = {v:?} is not an unsigned integer"))),
        }
    }

    /// An optional number; present but not a number is an error naming the key.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        v.as_f64().map(Some).ok_or_else(|| Error::format(&self.file, format!("metadata {key} = {v:?} is not a number")))
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

    /// A string; `what` names it when it is not UTF-8.
    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let at = self.pos;
        let len = self.len()?;
        let s = self.take(len)?;
        String::from_utf8(s.to_vec())
            .map_err(|_| Error::format(self.file, format!("{} (string at offset {at}) is not valid UTF-8", what())))
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
            8 => MetaValue::String(self.string(&|| format!("the value of metadata {key}"))?),
            9 => {
                let elem = self.u32()?;
                if depth >= MAX_ARRAY_DEPTH {
                    let what = format!("metadata {key}: arrays nested deeper than {MAX_ARRAY_DEPTH}");
                    return Err(Error::format(self.file, what));
                }
                let n = self.len()?;
                // A count whose elements cannot fit in the rest of the file is corrupt.
                if n.checked_mul(min_value_bytes(elem)).is_none_or(|b| b > self.bytes.len() - self.pos) {
                    return Err(Error::format(self.file, format!("metadata {key}: array of {n} values is longer than the file")));
                }
                if n > MAX_ARRAY_LEN {
                    let what = format!("metadata {key}: array of {n} values (at most {MAX_ARRAY_LEN} are allowed)");
                    return Err(Error::format(self.file, what));
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

/// The fewest bytes a metadata value of type `ty` takes (strings: their length; arrays: element
/// type and count).
fn min_value_bytes(ty: u32) -> usize {
    match ty {
        2 | 3 => 2,
        4..=6 => 4,
        8 | 10..=12 => 8,
        9 => 12,
        _ => 1,
    }
}

