//! Opens the GPU and loads a model from a path or a name (or the default model), natively.

use anyhow::{Context, Result};
use anytune_core::chat::ChatTemplate;
use anytune_core::gpu::{Gpu, GpuOptions};
use anytune_core::model::Model;
use anytune_core::tokenizer::Tokenizer;
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
    if model.chat_template.is_none() {
        model.chat_template = fallback_template(path)?;
    }
    Ok(model)
}

/// The built-in chat template of the named model whose file is `path`, if it has one (and
/// says so once); for model files that ship none.
fn fallback_template(path: &Path) -> Result<Option<ChatTemplate>> {
    let Some(named) = crate::named_models::for_path(path) else { return Ok(None) };
    let Some((source, what)) = named.fallback_template else { return Ok(None) };
    let origin = format!("{} (built-in template of {})", named.file, named.name);
    eprintln!("anytune: {} has no chat template; using {what}", named.file);
    Ok(Some(ChatTemplate::with_origin(source, &origin)?))
}

/// The tokenizer and chat template of the model at `path`, without a GPU (for `anytune data`):
/// from a GGUF's metadata or a Hugging Face folder's tokenizer files.
pub fn load_tokenizer(path: &Path) -> Result<(Tokenizer, Option<ChatTemplate>)> {
    use anytune_core::formats::source::ModelFormat;
    let files = anytune_core::formats::read_model_path(path)?;
    let what = || format!("reading the tokenizer of {}", path.display());
    let tok = match ModelFormat::detect(&files).with_context(what)? {
        ModelFormat::Gguf { file, gguf } => Tokenizer::from_gguf(&gguf.metadata, files.name(file)).with_context(what)?,
        ModelFormat::HuggingFace(hf) => {
            let json = hf.tokenizer_json.as_ref().with_context(|| {
                format!("{}: tokenizer.json is missing (it must sit next to config.json)", path.display())
            })?;
            Tokenizer::from_json(json.as_bytes(), hf.tokenizer_config_json.as_deref().map(str::as_bytes)).with_context(what)?
        }
    };
    let template = match &tok.chat_template {
        Some(source) => Some(ChatTemplate::from_source(source)?),
        None => fallback_template(path)?,
    };
    Ok((tok, template))
}

/// Loads a LoRA adapter onto `model` ([`read_adapter`]).
pub fn load_adapter(gpu: &Gpu, model: &mut Model, path: &Path) -> Result<()> {
    model.adapter = Some(read_adapter(gpu, model, path)?);
    Ok(())
}

/// Reads a LoRA adapter (as [`read_lora_weights`]) onto the GPU without attaching it to
/// `model`, for commands that run several adapters over one model (`anytune compare`).
pub fn read_adapter(gpu: &Gpu, model: &Model, path: &Path) -> Result<Box<dyn anytune_core::model::AdapterWeights>> {
    let weights = read_lora_weights(path, &model.config)?;
    Ok(Box::new(anytune_core::lora::LoraParams::from_weights(gpu, model, &weights)?))
}

/// Whether `config` (adapter_config.json text) is a classification head's (task_type SEQ_CLS).
fn is_head_config(config: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(config).is_ok_and(|v| v["task_type"] == anytune_core::head::seqcls::TASK_TYPE)
}

/// Whether `path` is a PEFT folder of a classification head (`anytune train --head`).
pub fn is_head_adapter(path: &Path) -> bool {
    path.is_dir() && std::fs::read_to_string(path.join(anytune_core::lora::PEFT_CONFIG_FILE)).is_ok_and(|c| is_head_config(&c))
}

/// Reads a classification head's PEFT folder: its LoRA (checked against the model) and its
/// score weight `(labels, dim)`.
pub fn read_head_adapter(path: &Path, config: &anytune_core::model::ModelConfig, labels: usize) -> Result<(anytune_core::lora::LoraWeights, Vec<f32>)> {
    use anytune_core::lora::{PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE};
    let name = path.display().to_string();
    let read = |f: &str| std::fs::read(path.join(f)).with_context(|| format!("reading the adapter {name}/{f}"));
    let json = String::from_utf8(read(PEFT_CONFIG_FILE)?).with_context(|| format!("{name}/{PEFT_CONFIG_FILE} is not UTF-8"))?;
    let (weights, score) = anytune_core::head::seqcls_files::read_seqcls(&json, &read(PEFT_WEIGHTS_FILE)?, labels, config.dim)
        .with_context(|| format!("reading the classification-head adapter {name}"))?;
    weights.check_model(config, &name)?;
    Ok((weights, score))
}

/// Reads a LoRA adapter: a PEFT folder (`adapter_config.json` + `adapter_model.safetensors`)
/// or a GGUF LoRA file, checked against the model of `config`.
pub fn read_lora_weights(path: &Path, config: &anytune_core::model::ModelConfig) -> Result<anytune_core::lora::LoraWeights> {
    use anytune_core::lora::{LoraWeights, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE};
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading the adapter {}", p.display()));
    let name = path.display().to_string();
    let weights = if path.is_dir() {
        let config = String::from_utf8(read(&path.join(PEFT_CONFIG_FILE))?)
            .with_context(|| format!("{name}/{PEFT_CONFIG_FILE} is not UTF-8"))?;
        if is_head_config(&config) {
            anyhow::bail!(
                "{name}/{PEFT_CONFIG_FILE}: a sequence-classification adapter (task_type SEQ_CLS, trained with --head): it predicts labels through its score head, not text, so it cannot score, generate or be exported/merged as a causal LM; evaluate it with `anytune eval --adapter {name} --data ROWS.jsonl`"
            );
        }
        LoraWeights::from_peft(&config, &read(&path.join(PEFT_WEIGHTS_FILE))?)?
    } else {
        LoraWeights::from_gguf(&read(path)?, &name, config)?
    };
    weights.check_model(config, &name)?;
    Ok(weights)
}
