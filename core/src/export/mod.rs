//! `anytune export`: an adapter merged into its base model (`W + s·B·A`, from the base's
//! dequantized rows) and written as a Hugging Face folder ([`hf`]) or as a GGUF quantized to a
//! llama.cpp type or preset ([`gguf`]) with an Ollama Modelfile ([`modelfile`]).
//!
//! No filesystem here: [`export`] takes the base's files and the adapter in memory and returns
//! the files to write as `(name, bytes)`, so the CLI writes them and the web page can offer them
//! as downloads. Tensors are merged and converted one at a time ([`merge`]).
//!
//! ```no_run
//! # fn demo(files: &anytune_core::formats::ModelFiles, lora: &anytune_core::lora::LoraWeights) -> anytune_core::Result<()> {
//! use anytune_core::export::{ExportFormat, ExportOptions, ExportType, export};
//! let options = ExportOptions { format: ExportFormat::Gguf, ty: ExportType::Q8_0 };
//! let out = export(files, Some(lora), "adapter", &options)?;
//! assert_eq!(out.files[0].0, "model.gguf");
//! # Ok(()) }
//! ```

pub mod estimate;
pub mod gguf;
pub mod gguf_hf_meta;
pub mod gguf_hf_special;
pub mod gguf_hf_spm;
pub mod hf;
pub mod merge;
pub mod modelfile;
#[cfg(test)]
pub(crate) mod tests;
pub mod trl;
pub mod types;

pub use estimate::{ExportEstimate, check_export_budget, estimate_gguf};
pub use merge::MergeSource;
pub use types::{ExportFormat, ExportType};

use crate::error::{Error, Result};
use crate::formats::ModelFiles;
use crate::lora::LoraWeights;
use crate::tokenizer::Tokenizer;

/// One file to write: its name inside the output folder and its bytes.
pub type ExportedFile = (String, Vec<u8>);

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    pub format: ExportFormat,
    /// Tensor type; see [`ExportFormat::default_type`].
    pub ty: ExportType,
}

/// An export's files and the tensor types it wrote.
#[derive(Clone, Debug)]
pub struct Exported {
    /// HF: config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
    /// generation_config.json. GGUF: model.gguf, Modelfile.
    pub files: Vec<ExportedFile>,
    /// ggml type names and how many tensors have each, most common first.
    pub tensor_types: Vec<(String, usize)>,
}

/// Merges `adapter` (named `adapter_name` in errors; `None`: the base as is) into the model in
/// `files` and writes it as `options` say. Refused before any work: a quantized type for an HF
/// folder, a GGUF from an HF base whose vocabulary is not rebuilt (`gguf_hf_meta`), an adapter that
/// does not fit the model.
pub fn export(files: &ModelFiles, adapter: Option<&LoraWeights>, adapter_name: &str, options: &ExportOptions) -> Result<Exported> {
    let src = MergeSource::open(files, adapter, adapter_name)?;
    match options.format {
        ExportFormat::Hf => {
            let ty = options.ty.float().ok_or_else(|| {
                Error::invalid(
                    "--type",
                    format!("{} is a GGUF quantization; a Hugging Face folder holds f32, f16 or bf16 (or use --format gguf)", options.ty.name()),
                )
            })?;
            let files = hf::write(&src, ty)?;
            let n = src.plan().len();
            Ok(Exported { files, tensor_types: vec![(ty.name().to_string(), n)] })
        }
        ExportFormat::Gguf => {
            let (file, tensor_types) = gguf::write(&src, options.ty)?;
            // The Modelfile's template and stops: the tokenizer the written file carries.
            let written = crate::formats::GgufFile::parse(&file.1, &file.0)?;
            let tok = Tokenizer::from_gguf(&written.metadata, &file.0)?;
            let modelfile = modelfile::modelfile(&file.0, &tok)?;
            Ok(Exported { files: vec![file, ("Modelfile".to_string(), modelfile.into_bytes())], tensor_types })
        }
    }
}
