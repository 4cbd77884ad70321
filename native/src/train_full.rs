//! The output of `anytune train --full`: the trained model as a Hugging Face folder (f32
//! safetensors, the base's config and tokenizer files) and, where the export writes one, `model.gguf`
//! (f32), through core's export writers ([`MergeSource::with_trained`]).

use crate::train::write_atomically;
use anyhow::{Context, Result};
use anytune_core::export::merge::MergeSource;
use anytune_core::export::{ExportType, gguf, hf};
use anytune_core::gpu::Gpu;
use anytune_core::quant::GgmlType;
use anytune_core::train::TrainRun;
use std::path::Path;

/// Writes the trained model of `run` (base files from `base`) into `out` and says what it wrote.
pub fn write_model(gpu: &Gpu, out: &Path, base: &Path, run: &TrainRun) -> Result<()> {
    let params = run.trainer.full_params().context("--full: the run has no full fine-tuning state")?;
    let trained = pollster::block_on(params.to_host(gpu))?;
    let files = anytune_core::formats::read_model_path(base)?;
    let src = MergeSource::open(&files, None, "")?.with_trained(&trained)?;
    let mut written = Vec::new();
    for (name, bytes) in hf::write(&src, GgmlType::F32)? {
        write_atomically(&out.join(&name), &bytes)?;
        written.push(name);
    }
    match gguf::write(&src, ExportType::F32) {
        Ok(((_, bytes), _)) => {
            write_atomically(&out.join("model.gguf"), &bytes)?;
            written.push("model.gguf".into());
        }
        Err(e) => eprintln!("anytune: no model.gguf: {e}"),
    }
    eprintln!("anytune: wrote {} ({}, options.toml, log.jsonl, loss.svg; f32)", out.display(), written.join(", "));
    Ok(())
}
