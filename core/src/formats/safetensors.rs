//! safetensors reader (single file) and the `model.safetensors.index.json` of sharded models.
//! Format: <https://github.com/huggingface/safetensors#format>: an 8-byte little-endian header
//! length `N`, `N` bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]},
//! "__metadata__": {string: string}}`, then the data; offsets are relative to the data start.
//!
//! Parsed from bytes in memory like [`super::GgufFile`]; every check gives an error naming the
//! file (and the tensor), never a panic.
//!
//! # Dtypes
//! F32, F16 and BF16 map onto their ggml ids (0, 1, 30), so a [`TensorInfo`] from safetensors
//! and one from GGUF look alike. Every other dtype of the format (I64, F64, U8, BOOL, F8_*, …)
//! is kept, with an id from [`UNSUPPORTED_DTYPE_BASE`] upward, so a file parses even when
//! it holds tensors anytune never reads (e.g. an I64 `position_ids` buffer); only
//! [`TensorInfo::ty`] on such a tensor fails, naming the tensor and the dtype. A dtype the
//! format does not define is a parse error.

use super::safetensors_dtype::{DTYPES, UNSUPPORTED_DTYPE_BASE};
use super::tensor_info::TensorInfo;
use crate::error::{Error, Result};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::collections::BTreeMap;

/// Headers larger than this are refused (the reference implementation's limit).
const MAX_HEADER: usize = 100_000_000;

/// A parsed safetensors file (the tensor data stays in the caller's bytes).
#[derive(Clone, Debug)]
pub struct SafetensorsFile {
    pub file: String,
    /// The free-form `__metadata__` strings (e.g. `{"format": "pt"}`).
    pub metadata: BTreeMap<String, String>,
    /// Tensors in file order (by offset). Offsets are absolute within the file's bytes.
    pub tensors: Vec<TensorInfo>,
}

impl SafetensorsFile {
    /// Parses the header of `bytes` and checks every tensor's byte range; `file` names it in
    /// errors. Holes between tensors are allowed, overlaps are not.
    pub fn parse(bytes: &[u8], file: &str) -> Result<SafetensorsFile> {
        let err = |what: String| Error::format(file, what);
        let n = header_len(bytes).map_err(|what| err(format!("not a safetensors file: {what}")))?;
        let Entries(header) = serde_json::from_slice(&bytes[8..8 + n])
            .map_err(|e| err(format!("the safetensors header is not a valid JSON object: {e}")))?;
        let mut names: Vec<&str> = header.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(err(format!("{} appears twice in the header (names must be unique)", w[0])));
        }
        let data_start = 8 + n;
        let data_len = bytes.len() - data_start;
        let mut metadata = BTreeMap::new();
        let mut tensors = Vec::with_capacity(header.len());
        for (name, entry) in header {
            if name == "__metadata__" {
                let Value::Object(map) = entry else {
                    return Err(err("__metadata__ is not an object".into()));
                };
                for (k, v) in map {
                    let Value::String(s) = v else {
                        return Err(err(format!("__metadata__.{k} is not a string")));
                    };
                    metadata.insert(k, s);
                }
                continue;
            }
            let (ty_id, shape, begin, end) =
                tensor_entry(&entry, data_len).map_err(|what| err(format!("tensor {name}: {what}")))?;
            tensors.push(TensorInfo { name, ty_id, shape, offset: data_start + begin, size: end - begin });
        }
        tensors.sort_by_key(|t| (t.offset, t.size));
        for w in tensors.windows(2) {
            if w[1].offset < w[0].offset + w[0].size {
                return Err(err(format!("tensors {} and {} overlap in the file", w[0].name, w[1].name)));
            }
        }
        Ok(SafetensorsFile { file: file.to_string(), metadata, tensors })
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// A JSON object's entries in file order, duplicates kept (a map would silently keep the
/// last of two tensors with one name).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// Whether `bytes` look like a safetensors file: a header length that fits and a header that
/// starts with `{`. Cheap; used to recognise a file by content.
pub fn looks_like_safetensors(bytes: &[u8]) -> bool {
    header_len(bytes).is_ok()
}

/// Why `bytes` do not look like a safetensors file (`None` when they do).
pub fn header_problem(bytes: &[u8]) -> Option<String> {
    header_len(bytes).err()
}

/// The header length `N`, checked against the file, or what is wrong.
fn header_len(bytes: &[u8]) -> std::result::Result<usize, String> {
    let Some(prefix) = bytes.get(..8) else {
        return Err(format!("the file has {} bytes, fewer than the 8-byte header length", bytes.len()));
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(prefix);
    let n = u64::from_le_bytes(len);
    if n > (bytes.len() - 8) as u64 || n as usize > MAX_HEADER {
        return Err(format!("header length {n} is beyond the end of the file ({} bytes)", bytes.len()));
    }
    let n = n as usize;
    // The JSON object may be preceded by whitespace only.
    match bytes[8..8 + n].iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(n),
        _ => Err("the header does not start with a JSON object".into()),
    }
}

/// Checks one header entry: `(ty_id, shape, begin, end)` with `end <= data_len`.
fn tensor_entry(entry: &Value, data_len: usize) -> std::result::Result<(u32, Vec<usize>, usize, usize), String> {
    let dtype = entry.get("dtype").and_then(Value::as_str).ok_or("dtype is missing or not a string")?;
    let (i, (_, bits, ggml)) =
        DTYPES.iter().enumerate().find(|(_, d)| d.0 == dtype).ok_or_else(|| format!("unknown dtype {dtype:?}"))?;
    let shape = usizes(entry.get("shape"), "shape")?;
    let offsets = usizes(entry.get("data_offsets"), "data_offsets")?;
    let [begin, end] = offsets[..] else {
        return Err(format!("data_offsets {offsets:?} is not a pair [begin, end]"));
    };
    if begin > end || end > data_len {
        return Err(format!("data_offsets [{begin}, {end}] are out of range (the data has {data_len} bytes)"));
    }
    let bytes = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|n| n.checked_mul(*bits))
        .map(|b| b.div_ceil(8))
        .ok_or_else(|| format!("shape {shape:?} overflows"))?;
    if end - begin != bytes {
        return Err(format!(
            "data_offsets [{begin}, {end}] hold {} bytes but shape {shape:?} of {dtype} needs {bytes}",
            end - begin
        ));
    }
    let ty_id = ggml.unwrap_or(UNSUPPORTED_DTYPE_BASE + i as u32);
    Ok((ty_id, shape, begin, end))
}

/// A JSON array of non-negative integers.
fn usizes(v: Option<&Value>, what: &str) -> std::result::Result<Vec<usize>, String> {
    let arr = v.and_then(Value::as_array).ok_or_else(|| format!("{what} is missing or not an array"))?;
    arr.iter()
        .map(|x| x.as_u64().and_then(|u| usize::try_from(u).ok()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("{what} {v:?} holds something other than non-negative integers", v = arr))
}

/// Parses a `model.safetensors.index.json`: the `weight_map` from tensor name to shard file
/// name. `file` names the index in errors. Shard names must be plain file names.
pub fn parse_index(json: &str, file: &str) -> Result<BTreeMap<String, String>> {
    let err = |what: String| Error::format(file, what);
    let v: Value = serde_json::from_str(json).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let map = v
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| err("weight_map is missing or not an object".into()))?;
    let mut out = BTreeMap::new();
    for (tensor, shard) in map {
        let shard = shard.as_str().ok_or_else(|| err(format!("weight_map.{tensor} is not a string")))?;
        if shard.is_empty() || shard.contains(['/', '\\']) || shard == ".." {
            return Err(err(format!("weight_map.{tensor}: shard {shard:?} is not a plain file name")));
        }
        out.insert(tensor.clone(), shard.to_string());
    }
    if out.is_empty() {
        return Err(err("weight_map is empty".into()));
    }
    Ok(out)
}
