//! What `anytune export` writes: the format ([`ExportFormat`]) and the tensor type or llama.cpp
//! preset ([`ExportType`]), with the per-tensor rule of each (which matrix gets which
//! [`GgmlType`]; norms and 1-D tensors always stay F32 in a GGUF).

use crate::error::{Error, Result};
use crate::quant::GgmlType;
use crate::quant::presets::{PresetRole, q4_k_m, q5_k_m};

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// A Hugging Face folder: config.json, model.safetensors, tokenizer files.
    Hf,
    /// One GGUF file (llama.cpp, Ollama) and an Ollama Modelfile.
    Gguf,
}

impl ExportFormat {
    /// `hf` or `gguf`; anything else is refused naming `--format`.
    pub fn parse(name: &str) -> Result<ExportFormat> {
        match name {
            "hf" => Ok(ExportFormat::Hf),
            "gguf" => Ok(ExportFormat::Gguf),
            other => Err(Error::invalid("--format", format!("{other:?} is not a format (hf or gguf)"))),
        }
    }

    /// The type written when none is asked for: f32 for an HF folder (exact), q8_0 for a GGUF.
    pub fn default_type(self) -> ExportType {
        match self {
            ExportFormat::Hf => ExportType::F32,
            ExportFormat::Gguf => ExportType::Q8_0,
        }
    }
}

/// The tensor type of an export: a float type, or a llama.cpp quantization preset
/// (`llama-quantize`'s file types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4KM,
    Q5KM,
}

impl ExportType {
    /// Every type, in the order `--type` lists them.
    pub const ALL: [ExportType; 7] =
        [Self::F32, Self::F16, Self::BF16, Self::Q8_0, Self::Q4_0, Self::Q4KM, Self::Q5KM];

    /// The name `--type` takes (`q4_k_m`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
            Self::Q8_0 => "q8_0",
            Self::Q4_0 => "q4_0",
            Self::Q4KM => "q4_k_m",
            Self::Q5KM => "q5_k_m",
        }
    }

    /// The type called `name` (case-insensitive); an unknown name is refused naming `--type`
    /// and listing the choices.
    pub fn parse(name: &str) -> Result<ExportType> {
        let lower = name.to_ascii_lowercase();
        Self::ALL.into_iter().find(|t| t.name() == lower).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
            Error::invalid("--type", format!("{name:?} is not an export type (one of {})", names.join(", ")))
        })
    }

    /// The float type of every tensor, for the float exports; `None` for the quantized ones.
    pub fn float(self) -> Option<GgmlType> {
        match self {
            Self::F32 => Some(GgmlType::F32),
            Self::F16 => Some(GgmlType::F16),
            Self::BF16 => Some(GgmlType::BF16),
            _ => None,
        }
    }

    /// llama.cpp's `general.file_type` (`llama_ftype`) of the preset.
    pub fn file_type(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q8_0 => 7,
            Self::Q4KM => 15,
            Self::Q5KM => 17,
            Self::BF16 => 32,
        }
    }

    /// The GGUF type of a matrix of `role` with rows of `cols` values in a model of `n_layers`
    /// blocks, as `llama-quantize` chooses it (`llama_tensor_get_type`):
    /// - f32 / f16 / bf16: that type;
    /// - q8_0: Q8_0 everywhere;
    /// - q4_0: Q4_0, but the output projection (or the tied embedding) Q6_K, or Q8_0 where its
    ///   rows are not whole 256-value super-blocks;
    /// - q4_k_m / q5_k_m: [`q4_k_m`] / [`q5_k_m`].
    ///
    /// A 32-value block type whose rows are not whole blocks falls back to F16.
    pub fn matrix_type(self, role: PresetRole, n_layers: usize, cols: usize) -> GgmlType {
        let output = matches!(role, PresetRole::Output | PresetRole::Embedding { tied: true });
        let ty = match self {
            Self::Q8_0 => GgmlType::Q8_0,
            Self::Q4_0 if output && cols.is_multiple_of(256) => GgmlType::Q6K,
            Self::Q4_0 if output => GgmlType::Q8_0,
            Self::Q4_0 => GgmlType::Q4_0,
            Self::Q4KM => q4_k_m(role, n_layers, cols),
            Self::Q5KM => q5_k_m(role, n_layers, cols),
            float => return float.float().unwrap_or(GgmlType::F32),
        };
        if cols.is_multiple_of(ty.block_size()) { ty } else { GgmlType::F16 }
    }
}
