//! Opens the GPU and loads a model from a path or a name (or the default model), natively.

use anyhow::{Context, Result};
use anytune_core::chat::ChatTemplate;
use anytune_core::gpu::{Gpu, GpuOptions};
use anytune_core::model::Model;
use std::path::{Path, PathBuf};

/// What `--model` names: an existing path, else a named model (fetched on first use), or the
/// default model when `None`; see [`crate::named_models::resolve`].
pub fn model_path(path: Option<&Path>) -> Result<PathBuf> {
    crate::named_models::resolve(path)
}

/// Opens the best GPU adapter.
pub fn open_gpu() -> Result<Gpu> {
    Ok(pollster::block_on(Gpu::new(&GpuOptions::default()))?)
}

/// Loads a `.gguf` file, a `.safetensors` file with its `config.json`, or a Hugging Face folder.
/// A named model's file that ships no chat template gets the model's fallback template (and
/// the CLI says so once).
pub fn load_model(gpu: &Gpu, path: &Path) -> Result<Model> {
    let files = anytune_core::formats::read_model_path(path)?;
    let mut model = Model::load(gpu, &files).with_context(|| format!("loading the model {}", path.display()))?;
    if model.chat_template.is_none()
        && let Some(named) = crate::named_models::for_path(path)
        && let Some((source, what)) = named.fallback_template
    {
        let origin = format!("{} (built-in template of {})", named.file, named.name);
        model.chat_template = Some(ChatTemplate::with_origin(source, &origin)?);
        eprintln!("anytune: {} has no chat template; using {what}", named.file);
    }
    Ok(model)
}

/// Reads a LoRA adapter: a PEFT folder (`adapter_config.json` + `adapter_model.safetensors`)
/// or a GGUF LoRA file, checked against the model of `config`.
pub fn read_adapter(path: &Path, config: &anytune_core::model::ModelConfig) -> Result<anytune_core::lora::LoraWeights> {
    use anytune_core::lora::{LoraWeights, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE};
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading the adapter {}", p.display()));
    let name = path.display().to_string();
    let weights = if path.is_dir() {
        let config = String::from_utf8(read(&path.join(PEFT_CONFIG_FILE))?)
            .with_context(|| format!("{name}/{PEFT_CONFIG_FILE} is not UTF-8"))?;
        LoraWeights::from_peft(&config, &read(&path.join(PEFT_WEIGHTS_FILE))?)?
    } else {
        LoraWeights::from_gguf(&read(path)?, &name, config)?
    };
    weights.check_model(config, &name)?;
    Ok(weights)
}

/// Loads a LoRA adapter onto `model` ([`read_adapter`]).
pub fn load_adapter(gpu: &Gpu, model: &mut Model, path: &Path) -> Result<()> {
    let weights = read_adapter(path, &model.config)?;
    model.adapter = Some(Box::new(anytune_core::lora::LoraParams::from_weights(gpu, &model.config, &weights)?));
    Ok(())
}
