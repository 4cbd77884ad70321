//! A model as a set of files in memory ([`ModelFiles`]) and what they hold ([`ModelFormat`]):
//! one GGUF file, or a Hugging Face folder (`config.json`, `model.safetensors` or
//! `model.safetensors.index.json` + shards, `tokenizer.json`, `tokenizer_config.json`,
//! optionally `generation_config.json`, SentencePiece's `tokenizer.model` and `added_tokens.json`).
//!
//! The CLI fills [`ModelFiles`] from a path ([`super::read_model_path`]); the web page fills
//! it from uploaded files. The format is recognised by content (GGUF magic, safetensors
//! header), not by file name; JSON files are found by their HF names.

use super::gguf::GgufFile;
use super::hf_config::HfConfig;
use super::safetensors::{self, SafetensorsFile};
use super::tensor_info::TensorInfo;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// File extensions of weights: such a file that is neither GGUF nor safetensors is an error
/// (other unrecognised files, like `README.md`, are ignored; `tokenizer.model` is kept as bytes).
const WEIGHT_EXTENSIONS: [&str; 11] =
    ["gguf", "safetensors", "bin", "pt", "pth", "ckpt", "pkl", "h5", "msgpack", "onnx", "ggml"];

/// The bytes of every file of one model, by base name (`config.json`, `model.safetensors`, …).
#[derive(Clone, Debug, Default)]
pub struct ModelFiles {
    files: Vec<(String, Vec<u8>)>,
}

impl ModelFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file. Only the base name is kept (`SmolLM2/config.json` → `config.json`), as a
    /// browser's folder upload gives relative paths.
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        self.files.push((base.to_string(), bytes));
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Name of file `i` (`i < len()`).
    pub fn name(&self, i: usize) -> &str {
        &self.files[i].0
    }

    /// Bytes of file `i` (`i < len()`).
    pub fn bytes(&self, i: usize) -> &[u8] {
        &self.files[i].1
    }

    /// Index of the file called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.files.iter().position(|(n, _)| n == name)
    }

    /// Bytes of the file called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.find(name).map(|i| self.bytes(i))
    }

    /// Every file's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(n, _)| n.as_str())
    }
}

/// What a [`ModelFiles`] holds.
#[derive(Clone, Debug)]
pub enum ModelFormat {
    /// One GGUF file (weights, hyper-parameters and tokenizer all inside): file `file`.
    Gguf { file: usize, gguf: GgufFile },
    /// A Hugging Face folder with safetensors weights.
    HuggingFace(Box<HfModel>),
}

/// A Hugging Face model: parsed `config.json`, every tensor of every shard, tokenizer files.
#[derive(Clone, Debug)]
pub struct HfModel {
    pub config: HfConfig,
    pub config_json: String,
    /// Tensor name → (index of its file in [`ModelFiles`], where it lies in that file).
    pub tensors: BTreeMap<String, (usize, TensorInfo)>,
    pub tokenizer_json: Option<String>,
    pub tokenizer_config_json: Option<String>,
    pub generation_config_json: Option<String>,
    /// SentencePiece's `tokenizer.model` (Gemma, Llama 2 style), as bytes: the vocabulary's
    /// scores and piece types, which a GGUF export needs.
    pub tokenizer_model: Option<Vec<u8>>,
    /// `added_tokens.json` (older SentencePiece folders: added token → id).
    pub added_tokens_json: Option<String>,
}

impl HfModel {
    /// The bytes of tensor `name` within `files` (the files it was detected from), or `None`
    /// when there is no such tensor.
    pub fn tensor_bytes<'a>(&self, files: &'a ModelFiles, name: &str) -> Option<&'a [u8]> {
        let (i, t) = self.tensors.get(name)?;
        files.files.get(*i)?.1.get(t.offset..t.offset.checked_add(t.size)?)
    }
}

impl ModelFormat {
    /// Recognises the model in `files` by content and parses its headers (tensor data is not
    /// touched). Errors name the file and say what was found instead.
    pub fn detect(files: &ModelFiles) -> Result<ModelFormat> {
        if files.is_empty() {
            return Err(Error::invalid("model", "no model files given (give a .gguf file or a Hugging Face folder)"));
        }
        let names: Vec<&str> = files.names().collect();
        if let Some(dup) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
            return Err(Error::invalid("model", format!("two files are called {}: give one model", dup.1)));
        }
        let (mut ggufs, mut sts, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
        for (i, name) in names.iter().enumerate() {
            let bytes = files.bytes(i);
            if bytes.starts_with(b"GGUF") {
                ggufs.push(i);
            } else if safetensors::looks_like_safetensors(bytes) && !name.ends_with(".json") {
                sts.push(i);
            } else if !name.ends_with(".json") {
                unknown.push(i);
            }
        }
        let neither = |i: usize| {
            let (name, bytes) = (files.name(i), files.bytes(i));
            let mut what = format!("neither a GGUF nor a safetensors file: {}", describe_start(bytes));
            if let Some(why) = safetensors::header_problem(bytes).filter(|_| name.ends_with(".safetensors")) {
                what += &format!(" (as safetensors: {why})");
            }
            Error::format(name, what)
        };
        if let Some(&i) = unknown.iter().find(|&&i| has_weight_extension(files.name(i))) {
            return Err(neither(i));
        }
        match (ggufs.as_slice(), sts.as_slice()) {
            ([], []) => match unknown.first() {
                Some(&i) => Err(neither(i)),
                None => Err(Error::invalid("model", format!("no GGUF or safetensors file among {}", names.join(", ")))),
            },
            ([g], []) => Ok(ModelFormat::Gguf { file: *g, gguf: GgufFile::parse(files.bytes(*g), files.name(*g))? }),
            ([_, _, ..], []) => Err(Error::invalid(
                "model",
                format!(
                    "several GGUF files given ({}): give one (split GGUF files are not supported)",
                    ggufs.iter().map(|&i| files.name(i)).collect::<Vec<_>>().join(", ")
                ),
            )),
            ([g, ..], [s, ..]) => Err(Error::invalid(
                "model",
                format!(
                    "both a GGUF file ({}) and safetensors ({}) given: give one model",
                    files.name(*g),
                    files.name(*s)
                ),
            )),
            ([], _) => Ok(ModelFormat::HuggingFace(Box::new(hf_model(files, &sts)?))),
        }
    }
}

/// Reads a Hugging Face model whose safetensors files are `sts`.
fn hf_model(files: &ModelFiles, sts: &[usize]) -> Result<HfModel> {
    let first = files.name(sts[0]);
    let Some(config_json) = text(files, "config.json")? else {
        return Err(Error::format(
            first,
            "config.json is missing: a safetensors model needs the config.json of its Hugging Face folder next to it",
        ));
    };
    let config = HfConfig::parse(&config_json, "config.json")?;
    let mut tensors = BTreeMap::new();
    let index = files.names().find(|n| n.ends_with(".safetensors.index.json")).map(str::to_string);
    if let Some(index_name) = index {
        let json = text(files, &index_name)?.unwrap_or_default();
        let mut shards: BTreeMap<String, (usize, SafetensorsFile)> = BTreeMap::new();
        for (tensor, shard) in safetensors::parse_index(&json, &index_name)? {
            if !shards.contains_key(&shard) {
                let i = files.find(&shard).ok_or_else(|| {
                    Error::format(
                        &index_name,
                        format!("shard {shard} (holding {tensor}) is missing: give every shard it lists"),
                    )
                })?;
                shards.insert(shard.clone(), (i, SafetensorsFile::parse(files.bytes(i), &shard)?));
            }
            let (i, st) = &shards[&shard];
            let info = st.tensor(&tensor).ok_or_else(|| {
                Error::format(
                    &index_name,
                    format!("tensor {tensor} is listed in shard {shard}, which does not hold it"),
                )
            })?;
            tensors.insert(tensor, (*i, info.clone()));
        }
    } else {
        for &i in sts {
            for t in SafetensorsFile::parse(files.bytes(i), files.name(i))?.tensors {
                if let Some((j, _)) = tensors.get(&t.name) {
                    return Err(Error::format(
                        files.name(i),
                        format!("tensor {} is also in {}: give one model (or its index.json)", t.name, files.name(*j)),
                    ));
                }
                tensors.insert(t.name.clone(), (i, t));
            }
        }
    }
    Ok(HfModel {
        config,
        config_json,
        tensors,
        tokenizer_json: text(files, "tokenizer.json")?,
        tokenizer_config_json: text(files, "tokenizer_config.json")?,
        generation_config_json: text(files, "generation_config.json")?,
        tokenizer_model: files.get("tokenizer.model").map(<[u8]>::to_vec),
        added_tokens_json: text(files, "added_tokens.json")?,
    })
}

/// The UTF-8 text of file `name`, `None` when absent.
fn text(files: &ModelFiles, name: &str) -> Result<Option<String>> {
    let Some(bytes) = files.get(name) else { return Ok(None) };
    String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| Error::format(name, "not UTF-8 text"))
}

fn has_weight_extension(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, ext)| WEIGHT_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// What the first bytes of a file suggest it is, with a hint, for "unknown format" errors.
pub fn describe_start(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".into();
    }
    let head = &bytes[..bytes.len().min(8)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let ascii: String = head.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
    let start = format!("it starts with bytes {} (\"{ascii}\")", hex.join(" "));
    let trimmed = bytes.iter().position(|b| !b.is_ascii_whitespace()).map_or(&[][..], |p| &bytes[p..]);
    let hint = if bytes.starts_with(b"PK\x03\x04") {
        "a zip archive, like a PyTorch .bin/.pt checkpoint: convert it to safetensors or GGUF"
    } else if bytes[0] == 0x80 && bytes.get(1).is_some_and(|v| (2..=5).contains(v)) {
        "a Python pickle, like an old PyTorch checkpoint: convert it to safetensors or GGUF"
    } else if bytes.starts_with(b"version https://git-lfs") {
        "a Git LFS pointer, not the file itself: run `git lfs pull`"
    } else if [&b"lmgg"[..], b"fmgg", b"tjgg", b"ggml", b"ggmf", b"ggjt"].iter().any(|m| bytes.starts_with(m)) {
        "an old GGML/GGJT file: convert it to GGUF with llama.cpp"
    } else if bytes.starts_with(b"\x89HDF") {
        "an HDF5 (Keras/TensorFlow) file: convert it to safetensors"
    } else if trimmed.starts_with(b"<") {
        "HTML or XML text (a web page saved instead of the file?)"
    } else if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
        "JSON text"
    } else {
        return start;
    };
    format!("{start}: {hint}")
}
