//! Opens the GPU and loads a model from a path (or the default model), natively.

use anyhow::{Context, Result};
use anytune_core::gpu::{Gpu, GpuOptions};
use anytune_core::model::Model;
use std::path::{Path, PathBuf};

/// `path`, or the default model (fetched on first use) when `None`.
pub fn model_path(path: Option<&Path>) -> Result<PathBuf> {
    match path {
        Some(p) => Ok(p.to_path_buf()),
        None => crate::default_model::default_model_path(),
    }
}

/// Opens the best GPU adapter.
pub fn open_gpu() -> Result<Gpu> {
    Ok(pollster::block_on(Gpu::new(&GpuOptions::default()))?)
}

/// Loads a `.gguf` file, a `.safetensors` file with its `config.json`, or a Hugging Face folder.
pub fn load_model(gpu: &Gpu, path: &Path) -> Result<Model> {
    let files = anytune_core::formats::read_model_path(path)?;
    Model::load(gpu, &files).with_context(|| format!("loading the model {}", path.display()))
}
