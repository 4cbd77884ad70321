//! Writing and reading a SEQ_CLS adapter as PEFT does: anytune's LoRA files
//! ([`LoraWeights::peft_config_json`], [`LoraWeights::peft_safetensors`]) with
//! [`to_seqcls_config`] applied and the score weight added as [`SCORE_KEY`]; read back by
//! splitting the score out again, so the LoRA reader stays the causal-LM one.

use super::seqcls::{MODULES_TO_SAVE, SCORE_KEY, TASK_TYPE, check_score_shape, to_seqcls_config};
use crate::error::{Error, Result};
use crate::formats::safetensors::SafetensorsFile;
use crate::formats::safetensors_write::SafetensorsWriter;
use crate::lora::LoraWeights;
use serde_json::{Value, json};

const CONFIG: &str = "adapter_config.json";
const TENSORS: &str = "adapter_model.safetensors";

/// `(adapter_config.json text, adapter_model.safetensors bytes)` of `lora` plus the score
/// weight `(labels, dim)`.
pub fn write_seqcls(lora: &LoraWeights, base_model: &str, score: &[f32], labels: usize, dim: usize) -> Result<(String, Vec<u8>)> {
    if score.len() != labels * dim {
        return Err(Error::invalid("score", format!("{} values, expected {labels} labels × {dim}", score.len())));
    }
    let mut config: Value = serde_json::from_str(&lora.peft_config_json(base_model)).map_err(|e| Error::format(CONFIG, e.to_string()))?;
    to_seqcls_config(&mut config)?;
    let mut w = copy_tensors(&lora.peft_safetensors()?, |_| true)?;
    w.add_f32(SCORE_KEY, &[labels, dim], score)?;
    Ok((serde_json::to_string_pretty(&config).unwrap_or_default(), w.to_bytes()?))
}

/// Reads a SEQ_CLS adapter: the LoRA and the score weight `(labels, dim)`. Refuses a config
/// whose task_type is not SEQ_CLS and a missing or misshapen score tensor, naming the file.
pub fn read_seqcls(config_json: &str, safetensors: &[u8], labels: usize, dim: usize) -> Result<(LoraWeights, Vec<f32>)> {
    let mut config: Value = serde_json::from_str(config_json).map_err(|e| Error::format(CONFIG, format!("not JSON: {e}")))?;
    let Some(obj) = config.as_object_mut() else {
        return Err(Error::format(CONFIG, "not a JSON object"));
    };
    if obj.get("task_type") != Some(&json!(TASK_TYPE)) {
        return Err(Error::format(CONFIG, format!("task_type is {}, not \"{TASK_TYPE}\" (not a classification-head adapter)", obj.get("task_type").unwrap_or(&Value::Null))));
    }
    let saved = obj.get("modules_to_save").and_then(Value::as_array).cloned().unwrap_or_default();
    if !saved.iter().any(|m| m == "score") || saved.iter().any(|m| !MODULES_TO_SAVE.iter().any(|k| m == k)) {
        return Err(Error::format(CONFIG, format!("modules_to_save is {saved:?}; a llama-style head adapter saves {MODULES_TO_SAVE:?}")));
    }
    obj.insert("task_type".into(), json!("CAUSAL_LM"));
    obj.insert("modules_to_save".into(), Value::Null);
    let file = SafetensorsFile::parse(safetensors, TENSORS)?;
    let Some(score) = file.tensor(SCORE_KEY) else {
        return Err(Error::format(TENSORS, format!("no tensor {SCORE_KEY} (the classification head)")));
    };
    check_score_shape(TENSORS, &score.shape, labels, dim)?;
    if score.ty(TENSORS)? != crate::quant::GgmlType::F32 {
        return Err(Error::format(TENSORS, format!("tensor {SCORE_KEY} is not F32")));
    }
    let values = score.bytes(safetensors).chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let lora_bytes = copy_tensors(safetensors, |name| name != SCORE_KEY)?.to_bytes()?;
    Ok((LoraWeights::from_peft(&config.to_string(), &lora_bytes)?, values))
}

/// A writer holding the tensors of `bytes` whose names `keep` accepts, F32 as they were.
fn copy_tensors(bytes: &[u8], keep: impl Fn(&str) -> bool) -> Result<SafetensorsWriter> {
    let file = SafetensorsFile::parse(bytes, TENSORS)?;
    let mut w = SafetensorsWriter::new();
    w.set_metadata("format", "pt");
    for t in file.tensors.iter().filter(|t| keep(&t.name)) {
        w.add_tensor(t.name.clone(), "F32", &t.shape, t.bytes(bytes).to_vec())?;
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lora::{LoraConfig, tests_support::tiny_model};
    use crate::model::Arch;

    #[test]
    fn seqcls_files_round_trip_and_refuse_a_causal_lm_adapter() {
        let model = tiny_model(Arch::Llama);
        let lora = LoraWeights::init(&LoraConfig::default(), &model, 1).unwrap();
        let score: Vec<f32> = (0..2 * model.dim).map(|i| i as f32 * 0.01).collect();
        let (config, bytes) = write_seqcls(&lora, "base", &score, 2, model.dim).unwrap();
        let v: Value = serde_json::from_str(&config).unwrap();
        assert_eq!((v["task_type"].clone(), v["modules_to_save"].clone()), (json!("SEQ_CLS"), json!(["classifier", "score"])));
        let (back, got) = read_seqcls(&config, &bytes, 2, model.dim).unwrap();
        assert_eq!(got, score);
        assert_eq!(back.modules.len(), lora.modules.len());
        let e = read_seqcls(&lora.peft_config_json("base"), &lora.peft_safetensors().unwrap(), 2, model.dim).unwrap_err().to_string();
        assert!(e.contains("adapter_config.json") && e.contains("CAUSAL_LM"), "{e}");
        let e = read_seqcls(&config, &bytes, 3, model.dim).unwrap_err().to_string();
        assert!(e.contains(SCORE_KEY) && e.contains("expected [3,"), "{e}");
    }
}
