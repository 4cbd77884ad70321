//! The merged model as a GGUF file that llama.cpp loads: the base GGUF's metadata (architecture
//! keys, `tokenizer.ggml.*`, chat template) with `general.file_type` set to the export's, and
//! each tensor in the type [`ExportType::matrix_type`] gives it (norms, biases and other 1-D
//! tensors F32), in llama.cpp's layout ([`to_gguf_convention`]).
//!
//! A Hugging Face base gets the metadata llama.cpp's converter writes, rebuilt from its
//! config and tokenizer files ([`super::gguf_hf_meta`]), and, for Llama 3 RoPE scaling, the
//! converter's `rope_freqs.weight` (F32 divisors, [`crate::ops::rope::llama3_rope_divisors`]).

use super::ExportedFile;
use super::merge::{MergeSource, Planned, to_gguf_convention};
use super::types::ExportType;
use crate::error::{Error, Result};
use crate::formats::source::ModelFormat;
use crate::formats::{GgufWriter, MetaValue};
use crate::model::names::Naming;
use crate::ops::rope::{RopeType, llama3_rope_divisors};
use crate::quant::GgmlType;

/// Keys of the base's metadata that describe its tensors, not the model: written anew.
const REWRITTEN_KEYS: [&str; 3] = ["general.file_type", "general.quantization_version", "general.alignment"];

/// The GGUF file (`model.gguf`) of the merged model of `src` quantized as `ty`, and how many
/// tensors got each type.
pub fn write(src: &MergeSource, ty: ExportType) -> Result<(ExportedFile, Vec<(String, usize)>)> {
    let cfg = &src.config;
    let mut w = GgufWriter::new();
    match &src.format {
        ModelFormat::Gguf { gguf, .. } => {
            let arch = gguf.require("general.architecture")?.clone();
            w.add_meta("general.architecture", arch)?;
            for (key, value) in &gguf.metadata {
                if key != "general.architecture" && !REWRITTEN_KEYS.contains(&key.as_str()) {
                    w.add_meta(key.clone(), value.clone())?;
                }
            }
        }
        ModelFormat::HuggingFace(hf) => {
            for (key, value) in super::gguf_hf_meta::hf_metadata(cfg, hf, &src.name)? {
                w.add_meta(key, value)?;
            }
        }
    }
    w.add_meta("general.file_type", MetaValue::U32(ty.file_type()))?;
    if ty.float().is_none() {
        w.add_meta("general.quantization_version", MetaValue::U32(2))?;
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut count = |t: GgmlType| match counts.iter_mut().find(|(n, _)| n == t.name()) {
        Some((_, c)) => *c += 1,
        None => counts.push((t.name().to_string(), 1)),
    };
    if let Some((rty, shape, bytes)) = src.rope_freqs()? {
        w.add_tensor(super::merge::ROPE_FREQS, rty, &shape, bytes.to_vec())?;
        count(rty);
    } else if let Some(s) = cfg.rope_scaling.as_ref().filter(|s| s.rope_type == RopeType::Llama3) {
        let divisors = llama3_rope_divisors(cfg.head_dim, cfg.rope_theta, s);
        let bytes = divisors.iter().flat_map(|d| d.to_le_bytes()).collect();
        w.add_tensor(super::merge::ROPE_FREQS, GgmlType::F32, &[divisors.len()], bytes)?;
        count(GgmlType::F32);
    }
    for p in src.plan() {
        let out_ty = tensor_type(src, p, ty);
        let name = p.role.name(Naming::Gguf);
        let values = to_gguf_convention(cfg, p, src.values(p)?);
        let bytes = quantize_tensor(out_ty, &values, &name)?;
        w.add_tensor(name, out_ty, &p.shape, bytes)?;
        count(out_ty);
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok((("model.gguf".to_string(), w.to_bytes()), counts))
}

/// The GGUF type of tensor `p` under `ty`: the preset's for matrices, F32 for norms and biases.
pub fn tensor_type(src: &MergeSource, p: &Planned, ty: ExportType) -> GgmlType {
    let cfg = &src.config;
    match p.preset_role(cfg.tied_embeddings) {
        Some(role) => ty.matrix_type(role, cfg.n_layers, p.shape.last().copied().unwrap_or(1)),
        None => GgmlType::F32,
    }
}

/// `values` (whole rows of `ty`'s blocks) in `ty`'s layout, as ggml's reference quantizers
/// write them (every type anytune runs has one); `name` names the tensor in errors.
pub fn quantize_tensor(ty: GgmlType, values: &[f32], name: &str) -> Result<Vec<u8>> {
    crate::quant::quantize::quantize(ty, values).map_err(|e| Error::invalid(name, format!("cannot be written as {}: {e}", ty.name())))
}
