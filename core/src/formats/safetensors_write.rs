//! safetensors writer: tensors in, file bytes out (the format [`super::safetensors`] reads).
//! Used for PEFT adapters (`adapter_model.safetensors`).
//!
//! Layout: an 8-byte little-endian header length `N`, `N` bytes of JSON
//! `{"__metadata__": {..}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ..}` padded
//! with spaces so the data starts 8-byte aligned (as the reference writer does), then the
//! tensors' bytes back to back in the order they were added.
//!
//! ```
//! use anytune_core::formats::SafetensorsFile;
//! use anytune_core::formats::safetensors_write::SafetensorsWriter;
//! let mut w = SafetensorsWriter::new();
//! w.add_f32("a", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
//! let bytes = w.to_bytes().unwrap();
//! let f = SafetensorsFile::parse(&bytes, "a.safetensors").unwrap();
//! assert_eq!(f.tensor("a").unwrap().shape, vec![2, 3]);
//! ```

use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Dtypes the writer knows: name and bytes per element.
const DTYPES: [(&str, usize); 9] = [
    ("F32", 4),
    ("F16", 2),
    ("BF16", 2),
    ("F64", 8),
    ("I64", 8),
    ("I32", 4),
    ("I16", 2),
    ("U8", 1),
    ("BOOL", 1),
];

/// Builds a safetensors file in memory.
#[derive(Clone, Debug, Default)]
pub struct SafetensorsWriter {
    metadata: BTreeMap<String, String>,
    tensors: Vec<(String, &'static str, Vec<usize>, Vec<u8>)>,
}

impl SafetensorsWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one `__metadata__` string (PyTorch writers put `"format": "pt"`).
    pub fn set_metadata(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata.insert(key.into(), value.into());
    }

    /// Adds a tensor of `shape` (PyTorch order) whose little-endian `bytes` are in `dtype`
    /// (`F32`, `F16`, `BF16`, `F64`, `I64`, `I32`, `I16`, `U8`, `BOOL`). Names must be unique
    /// and not `__metadata__`; `bytes` must be exactly the shape's size.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dtype: &str,
        shape: &[usize],
        bytes: Vec<u8>,
    ) -> Result<()> {
        let name = name.into();
        let what = || format!("safetensors tensor {name}");
        let Some(&(dtype, size)) = DTYPES.iter().find(|d| d.0 == dtype) else {
            let known: Vec<&str> = DTYPES.iter().map(|d| d.0).collect();
            return Err(Error::invalid(
                what(),
                format!("dtype {dtype:?} is not one of {known:?}"),
            ));
        };
        if name == "__metadata__" || self.tensors.iter().any(|t| t.0 == name) {
            return Err(Error::invalid(
                what(),
                "the name is reserved or added twice",
            ));
        }
        let want = shape.iter().try_fold(size, |a, &d| a.checked_mul(d));
        if want != Some(bytes.len()) {
            return Err(Error::invalid(
                what(),
                format!(
                    "{} bytes given but shape {shape:?} of {dtype} needs {want:?}",
                    bytes.len()
                ),
            ));
        }
        self.tensors.push((name, dtype, shape.to_vec(), bytes));
        Ok(())
    }

    /// Adds an F32 tensor from values.
    pub fn add_f32(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        values: &[f32],
    ) -> Result<()> {
        self.add_tensor(
            name,
            "F32",
            shape,
            values.iter().flat_map(|x| x.to_le_bytes()).collect(),
        )
    }

    /// The whole file: header length, space-padded JSON header, data.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut header = Map::new();
        if !self.metadata.is_empty() {
            header.insert("__metadata__".into(), json!(self.metadata));
        }
        let mut offset = 0usize;
        for (name, dtype, shape, bytes) in &self.tensors {
            let end = offset + bytes.len();
            header.insert(
                name.clone(),
                json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}),
            );
            offset = end;
        }
        let mut text = serde_json::to_vec(&Value::Object(header)).map_err(|e| {
            Error::invalid(
                "safetensors header",
                format!("could not be serialised: {e}"),
            )
        })?;
        text.resize(text.len().div_ceil(8) * 8, b' ');
        let mut out = Vec::with_capacity(8 + text.len() + offset);
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(&text);
        for (_, _, _, bytes) in &self.tensors {
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::SafetensorsFile;

    #[test]
    fn written_files_parse_back_with_aligned_data() {
        let mut w = SafetensorsWriter::new();
        w.set_metadata("format", "pt");
        w.add_f32("b", &[3], &[1.0, -2.0, 3.5]).unwrap();
        w.add_tensor("a", "U8", &[1, 5], vec![1, 2, 3, 4, 5])
            .unwrap();
        w.add_f32("c", &[0, 4], &[]).unwrap();
        let bytes = w.to_bytes().unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0, "header length {n} is not a multiple of 8");
        let f = SafetensorsFile::parse(&bytes, "t.safetensors").unwrap();
        assert_eq!(f.metadata.get("format").map(String::as_str), Some("pt"));
        let b = f.tensor("b").unwrap();
        assert_eq!((b.shape.clone(), b.offset), (vec![3], 8 + n));
        let vals: Vec<f32> = b
            .bytes(&bytes)
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(vals, [1.0, -2.0, 3.5]);
        assert_eq!(f.tensor("a").unwrap().bytes(&bytes), [1, 2, 3, 4, 5]);
        assert_eq!(f.tensor("c").unwrap().size, 0);
    }

    #[test]
    fn bad_tensors_are_refused_with_their_name() {
        let mut w = SafetensorsWriter::new();
        let e = w.add_f32("x", &[2, 2], &[1.0]).unwrap_err().to_string();
        assert!(e.contains("tensor x") && e.contains("needs"), "{e}");
        let e = w
            .add_tensor("y", "Q4_0", &[1], vec![0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("tensor y") && e.contains("Q4_0"), "{e}");
        w.add_f32("z", &[1], &[0.0]).unwrap();
        assert!(w.add_f32("z", &[1], &[0.0]).is_err());
        assert!(w.add_f32("__metadata__", &[1], &[0.0]).is_err());
    }
}
