//! PEFT's SEQ_CLS adapter layout, as PEFT 0.21.2 writes it itself (checked by saving
//! `get_peft_model(AutoModelForSequenceClassification(tiny-llama), LoraConfig(task_type="SEQ_CLS"))`):
//! adapter_config.json has `"task_type": "SEQ_CLS"` and `"modules_to_save": ["classifier",
//! "score"]` (PEFT adds both names for every SEQ_CLS model), and adapter_model.safetensors
//! holds, beside the LoRA tensors, `base_model.model.score.weight` (num_labels × hidden, f32).
//! transformers reads the label names from the base config's `id2label` / `label2id`
//! (string ids: `{"0": "negative"}`), which the loader passes as `num_labels`, `id2label`
//! and `label2id`.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// adapter_config.json's `task_type` for a classification head.
pub const TASK_TYPE: &str = "SEQ_CLS";
/// adapter_config.json's `modules_to_save`, as PEFT writes it for SEQ_CLS.
pub const MODULES_TO_SAVE: [&str; 2] = ["classifier", "score"];
/// The head's tensor in adapter_model.safetensors.
pub const SCORE_KEY: &str = "base_model.model.score.weight";
/// transformers' default `initializer_range` (LlamaConfig), the std of a fresh score weight.
pub const INIT_STD: f32 = 0.02;

/// A fresh score weight (L × C), normal(0, `std`) seeded as transformers' `_init_weights`
/// draws it (the values differ from torch's; the distribution is the same).
pub fn init_score(labels: usize, dim: usize, std: f32, seed: u64) -> Vec<f32> {
    Rng::new(seed ^ 0x5c0e_5c0e).normal_vec(labels * dim, std)
}

/// `(id2label, label2id)` for the sorted label set, as transformers' config.json wants them.
pub fn label_maps(labels: &[String]) -> (Value, Value) {
    let mut id2label = Map::new();
    let mut label2id = Map::new();
    for (i, name) in labels.iter().enumerate() {
        id2label.insert(i.to_string(), json!(name));
        label2id.insert(name.clone(), json!(i));
    }
    (Value::Object(id2label), Value::Object(label2id))
}

/// Turns anytune's causal-LM adapter_config.json (an object) into PEFT's SEQ_CLS one:
/// `task_type` and `modules_to_save` as PEFT writes them; the LoRA fields stay as they are.
pub fn to_seqcls_config(config: &mut Value) -> Result<()> {
    let Some(obj) = config.as_object_mut() else {
        return Err(Error::invalid("adapter_config.json", format!("not a JSON object: {config}")));
    };
    obj.insert("task_type".into(), json!(TASK_TYPE));
    obj.insert("modules_to_save".into(), json!(MODULES_TO_SAVE));
    Ok(())
}

/// Checks a loaded score weight's shape `[rows, cols]` against the labels and the model width;
/// `file` names the adapter file in the error.
pub fn check_score_shape(file: &str, shape: &[usize], labels: usize, dim: usize) -> Result<()> {
    if shape != [labels, dim] {
        return Err(Error::format(
            file,
            format!("tensor {SCORE_KEY} has shape {shape:?}, expected [{labels}, {dim}] ({labels} labels in labels.json × the model's hidden size {dim})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_maps_use_string_ids_in_sorted_order() {
        let (id2label, label2id) = label_maps(&["negative".into(), "positive".into()]);
        assert_eq!(id2label, json!({"0": "negative", "1": "positive"}));
        assert_eq!(label2id, json!({"negative": 0, "positive": 1}));
    }

    #[test]
    fn seqcls_config_has_peft_task_type_and_modules_to_save() {
        let mut config = json!({"peft_type": "LORA", "task_type": "CAUSAL_LM", "modules_to_save": null, "r": 8});
        to_seqcls_config(&mut config).unwrap();
        assert_eq!(config, json!({"peft_type": "LORA", "task_type": "SEQ_CLS", "modules_to_save": ["classifier", "score"], "r": 8}));
        assert!(to_seqcls_config(&mut json!([1])).unwrap_err().to_string().contains("not a JSON object"));
    }

    #[test]
    fn score_shape_mismatch_names_tensor_and_expected_shape() {
        assert!(check_score_shape("a.safetensors", &[2, 64], 2, 64).is_ok());
        let e = check_score_shape("a.safetensors", &[3, 64], 2, 64).unwrap_err().to_string();
        assert!(e.contains("a.safetensors") && e.contains(SCORE_KEY) && e.contains("[2, 64]"), "{e}");
    }

    #[test]
    fn init_is_seeded_with_the_stated_spread() {
        let w = init_score(2, 500, INIT_STD, 3);
        assert_eq!(w, init_score(2, 500, INIT_STD, 3));
        let std = (w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32).sqrt();
        assert!((std - INIT_STD).abs() < 0.003, "{std}");
    }
}
