//! The output of `anytune train --head`: PEFT's SEQ_CLS adapter (adapter_config.json with
//! task_type SEQ_CLS and modules_to_save, adapter_model.safetensors with the LoRA and
//! `base_model.model.score.weight`) and labels.json — loadable by transformers'
//! AutoModelForSequenceClassification + PeftModel. No adapter.gguf: llama.cpp has no
//! sequence-classification head.

use crate::train::write_atomically;
use anyhow::{Context, Result};
use anytune_core::head::seqcls_files::write_seqcls;
use anytune_core::lora::LoraWeights;
use anytune_core::model::Model;
use std::path::Path;

/// Writes the SEQ_CLS files of `weights` + `score` `(labels, dim)` and labels.json into `dir`,
/// removing a stale adapter.gguf.
pub(crate) fn write_head_adapter(dir: &Path, weights: &LoraWeights, score: &[f32], base_name: &str, model: &Model, labels: &[String]) -> Result<()> {
    let (config, tensors) = write_seqcls(weights, base_name, score, labels.len(), model.config.dim)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomically(&dir.join("adapter_config.json"), config.as_bytes())?;
    write_atomically(&dir.join("adapter_model.safetensors"), &tensors)?;
    write_atomically(&dir.join(crate::eval::LABELS_FILE), crate::eval::labels_json(labels).as_bytes())?;
    match std::fs::remove_file(dir.join("adapter.gguf")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("removing {}", dir.display())),
        _ => Ok(()),
    }
}
