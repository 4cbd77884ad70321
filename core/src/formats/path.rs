//! Native only: read a model's files from disk into [`ModelFiles`] (the web page builds
//! [`ModelFiles`] from uploaded files instead).
//!
//! Accepted paths: a `.gguf` file; a `.safetensors` file (its folder's `config.json` and
//! tokenizer files come along); a `model.safetensors.index.json`; or a folder holding either
//! one `.gguf` or a Hugging Face model. Only the files a model needs are read (not
//! `pytorch_model.bin`, `README.md`, …).

use super::safetensors::{looks_like_safetensors, parse_index};
use super::source::ModelFiles;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The config and tokenizer files read next to safetensors weights when present.
const HF_FILES: [&str; 6] =
    ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "tokenizer.model", "added_tokens.json"];

/// Reads the files of the model at `path` (see the module doc for what is accepted).
/// Unreadable files give [`Error::Io`]; what the files hold is checked by
/// [`super::ModelFormat::detect`].
pub fn read_model_path(path: &Path) -> Result<ModelFiles> {
    let meta = std::fs::metadata(path).map_err(|error| Error::Io { path: path.to_path_buf(), error })?;
    let mut files = ModelFiles::new();
    if meta.is_dir() {
        read_folder(path, &mut files)?;
        return Ok(files);
    }
    if path.to_string_lossy().ends_with(".safetensors.index.json") {
        read_folder(&parent(path), &mut files)?;
        return Ok(files);
    }
    let bytes = read(path)?;
    let is_st = looks_like_safetensors(&bytes);
    files.add(&path.to_string_lossy(), bytes);
    if is_st {
        read_hf_files(&parent(path), &mut files)?;
    }
    Ok(files)
}

/// A folder: its one `.gguf`, or a Hugging Face model (index + the shards it names, or every
/// `.safetensors`).
fn read_folder(dir: &Path, files: &mut ModelFiles) -> Result<()> {
    let io = |error| Error::Io { path: dir.to_path_buf(), error };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.path().is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let with_ext = |ext: &str| names.iter().filter(|n| n.ends_with(ext)).cloned().collect::<Vec<_>>();
    let ggufs = with_ext(".gguf");
    match ggufs.as_slice() {
        [one] => {
            files.add(one, read(&dir.join(one))?);
            return Ok(());
        }
        [_, _, ..] => {
            return Err(Error::invalid(
                dir.display().to_string(),
                format!("the folder holds several .gguf files ({}): give the path of one", ggufs.join(", ")),
            ));
        }
        [] => {}
    }
    let shards = match with_ext(".safetensors.index.json").first() {
        Some(index) => {
            let bytes = read(&dir.join(index))?;
            let json = String::from_utf8_lossy(&bytes).into_owned();
            files.add(index, bytes);
            let mut shards: Vec<String> = parse_index(&json, index)?.into_values().collect();
            shards.sort();
            shards.dedup();
            shards
        }
        None if names.iter().any(|n| n == "model.safetensors") => vec!["model.safetensors".to_string()],
        None => with_ext(".safetensors"),
    };
    if shards.is_empty() {
        let hint = if names.iter().any(|n| n.ends_with(".bin") || n.ends_with(".pt") || n.ends_with(".pth")) {
            " (PyTorch .bin/.pt checkpoints are not read: convert them to safetensors)"
        } else {
            ""
        };
        return Err(Error::invalid(
            dir.display().to_string(),
            format!("the folder holds no .gguf or .safetensors file{hint}; it has: {}", names.join(", ")),
        ));
    }
    for shard in &shards {
        files.add(shard, read(&dir.join(shard))?);
    }
    read_hf_files(dir, files)
}

/// Adds `config.json` and the tokenizer files of `dir` that exist.
fn read_hf_files(dir: &Path, files: &mut ModelFiles) -> Result<()> {
    for name in HF_FILES {
        let p = dir.join(name);
        if p.is_file() {
            files.add(name, read(&p)?);
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| Error::Io { path: path.to_path_buf(), error })
}

/// The folder of `path` (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
