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

/// Loads a LoRA adapter onto `model`: a PEFT folder (`adapter_config.json` +
/// `adapter_model.safetensors`) or a GGUF LoRA file, checked against the model.
pub fn load_adapter(gpu: &Gpu, model: &mut Model, path: &Path) -> Result<()> {
    use anytune_core::lora::{LoraWeights, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE};
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading the adapter {}", p.display()));
    let name = path.display().to_string();
    let weights = if path.is_dir() {
        let config = String::from_utf8(read(&path.join(PEFT_CONFIG_FILE))?)
            .with_context(|| format!("{name}/{PEFT_CONFIG_FILE} is not UTF-8"))?;
        LoraWeights::from_peft(&config, &read(&path.join(PEFT_WEIGHTS_FILE))?)?
    } else {
        LoraWeights::from_gguf(&read(path)?, &name, &model.config)?
    };
    weights.check_model(&model.config, &name)?;
    model.adapter = Some(Box::new(anytune_core::lora::LoraParams::from_weights(gpu, &model.config, &weights)?));
    Ok(())
}
