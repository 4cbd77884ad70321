//! The name a model is known by — the Hugging Face id that PEFT's `base_model_name_or_path`
//! should hold (`HuggingFaceTB/SmolLM2-135M-Instruct`) — from a GGUF file's `general.*`
//! metadata rather than its file name, where the metadata says enough:
//!
//! 1. `general.source.huggingface.repository`, when the converter recorded it;
//! 2. with `general.organization`: `organization/` and the file's stem without its quantization
//!    tag when that stem starts with `general.basename` (the SmolLM2 GGUF's metadata has
//!    `basename = "smollm2"`, `finetune = "8k-lc100k-mix1-ep2"`, which would compose to a name
//!    nobody uses, while its file is `SmolLM2-135M-Instruct.Q4_1.gguf`), else `organization/`
//!    and `basename-size_label-finetune`;
//! 3. else `general.name`; else nothing (the caller keeps the file name).
//!
//! ```
//! use anytune_core::formats::meta::{MetaValue, Metadata};
//! use anytune_core::model::known_name::known_name;
//! let meta: Metadata = [("general.organization", "HuggingFaceTB"), ("general.basename", "smollm2")]
//!     .into_iter().map(|(k, v)| (k.to_string(), MetaValue::String(v.to_string()))).collect();
//! assert_eq!(known_name(&meta, "SmolLM2-135M-Instruct.Q4_1.gguf").as_deref(), Some("HuggingFaceTB/SmolLM2-135M-Instruct"));
//! ```

use crate::formats::meta::Metadata;

/// The model's known name from GGUF `metadata` and its `file` name (rules in the module doc);
/// `None` when the metadata names nothing.
pub fn known_name(metadata: &Metadata, file: &str) -> Option<String> {
    let text = |key: &str| metadata.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
    if let Some(repo) = text("general.source.huggingface.repository") {
        return Some(repo.to_string());
    }
    if let Some(org) = text("general.organization") {
        let stem = file_stem(file);
        let basename = text("general.basename");
        if basename.is_none_or(|b| stem.to_lowercase().starts_with(&b.to_lowercase())) && !stem.is_empty() {
            return Some(format!("{org}/{stem}"));
        }
        let parts: Vec<&str> = ["general.basename", "general.size_label", "general.finetune"].into_iter().filter_map(text).collect();
        return (!parts.is_empty()).then(|| format!("{org}/{}", parts.join("-")));
    }
    text("general.name").map(str::to_string)
}

/// `SmolLM2-135M-Instruct` of `dir/SmolLM2-135M-Instruct.Q4_1.gguf`: the file name without its
/// folder, `.gguf` and a trailing quantization tag (`.Q4_1`, `-q4_k_m`, `-F16`, `.IQ2_XS`…).
fn file_stem(file: &str) -> &str {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = name.strip_suffix(".gguf").or_else(|| name.strip_suffix(".GGUF")).unwrap_or(name);
    match stem.rfind(['.', '-']) {
        Some(i) if is_quant_tag(&stem[i + 1..]) => &stem[..i],
        _ => stem,
    }
}

/// `Q4_1`, `q4_k_m`, `IQ2_XS`, `F16`, `BF16`, `F32` (case-insensitive).
fn is_quant_tag(tag: &str) -> bool {
    let t = tag.to_ascii_uppercase();
    let digits_after = |prefix: &str| t.strip_prefix(prefix).is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    ["F16", "F32", "BF16"].contains(&t.as_str()) || digits_after("Q") || digits_after("IQ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::meta::MetaValue;

    fn meta(pairs: &[(&str, &str)]) -> Metadata {
        pairs.iter().map(|(k, v)| (k.to_string(), MetaValue::String(v.to_string()))).collect()
    }

    #[test]
    fn the_default_models_metadata_gives_its_hub_id() {
        // What SmolLM2-135M-Instruct.Q4_1.gguf holds (read with the gguf Python package).
        let smollm2 = meta(&[
            ("general.name", "Smollm2 135M 8k Lc100K Mix1 Ep2"),
            ("general.organization", "HuggingFaceTB"),
            ("general.finetune", "8k-lc100k-mix1-ep2"),
            ("general.basename", "smollm2"),
            ("general.size_label", "135M"),
        ]);
        let name = known_name(&smollm2, "/cache/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert_eq!(name.as_deref(), Some("HuggingFaceTB/SmolLM2-135M-Instruct"));
        // A file renamed beyond recognition: the name from the metadata's parts.
        let name = known_name(&smollm2, "model.gguf");
        assert_eq!(name.as_deref(), Some("HuggingFaceTB/smollm2-135M-8k-lc100k-mix1-ep2"));
    }

    #[test]
    fn a_recorded_repository_wins_and_general_name_is_the_fallback() {
        let m = meta(&[("general.source.huggingface.repository", "google/gemma-3-270m"), ("general.organization", "x")]);
        assert_eq!(known_name(&m, "a.gguf").as_deref(), Some("google/gemma-3-270m"));
        // The gemma-3-270m GGUF: no organization.
        let m = meta(&[("general.name", "Gemma 3 270m"), ("general.basename", "gemma-3")]);
        assert_eq!(known_name(&m, "gemma-3-270m-q4_k_m.gguf").as_deref(), Some("Gemma 3 270m"));
        assert_eq!(known_name(&meta(&[("general.name", "  ")]), "a.gguf"), None);
        assert_eq!(known_name(&Metadata::new(), "a.gguf"), None);
    }

    #[test]
    fn quantization_tags_are_dropped_from_the_stem() {
        for (file, stem) in [
            ("SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct"),
            ("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m"),
            ("Llama-3.2-1B-Instruct-IQ2_XS.gguf", "Llama-3.2-1B-Instruct"),
            ("qwen2-0.5b-f16.gguf", "qwen2-0.5b"),
            ("Qwen2-0.5B.gguf", "Qwen2-0.5B"),
        ] {
            assert_eq!(file_stem(file), stem, "{file}");
        }
    }
}
