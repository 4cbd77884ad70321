//! Options → SFTConfig / LoraConfig: the mappings that differ by value (schedule, optimizer,
//! steps or epochs, early stopping), the notes, and a bad layer named by its option.

use super::*;
use crate::train::options::{Origin, RawValue};

fn options(pairs: &[(&str, &str)]) -> RunOptions {
    let mut o = RunOptions::default();
    for (k, v) in pairs {
        o.set(k, &RawValue::Text(v), &Origin::Flag).unwrap();
    }
    o
}

fn notes(s: &Settings) -> Vec<&str> {
    s.notes.iter().map(|n| n.option).collect()
}

#[test]
fn schedule_optimizer_and_length_map_to_their_trainer_settings() {
    let s = settings(&options(&[("schedule", "constant"), ("optimizer", "sgd"), ("momentum", "0.5"), ("epochs", "3")]), 2, false).unwrap();
    assert_eq!(s.sft["lr_scheduler_type"], "constant_with_warmup");
    assert_eq!(s.sft["optim"], "sgd");
    assert_eq!(s.sft["optim_args"], "momentum=0.5");
    assert_eq!(s.sft["num_train_epochs"], 3);
    assert!(!s.sft.contains_key("max_steps"));
    assert_eq!(s.lora["layers_to_transform"], Value::Null);
    assert_eq!(s.lora["target_modules"], json!(["q_proj", "v_proj"]));
    let s = settings(&options(&[("steps", "5"), ("layers", "0-1"), ("checkpoint_every", "0")]), 4, false).unwrap();
    assert_eq!((s.sft["max_steps"].clone(), s.sft["optim"].clone()), (json!(5), json!("adamw_torch")));
    assert_eq!(s.lora["layers_to_transform"], json!([0, 1]));
    assert_eq!(s.sft["save_strategy"], "no");
}

#[test]
fn early_stopping_needs_periodic_validation_and_says_so_otherwise() {
    let o = options(&[("patience", "2"), ("eval_every", "4"), ("checkpoint_every", "10")]);
    let s = settings(&o, 2, true).unwrap();
    assert_eq!(s.patience, Some(2));
    assert_eq!((s.sft["eval_steps"].clone(), s.sft["save_steps"].clone()), (json!(4), json!(4)));
    assert_eq!(notes(&s), ["checkpoint_every", "seed"]);
    let s = settings(&o, 2, false).unwrap();
    assert_eq!(s.patience, None);
    assert!(!s.sft.contains_key("eval_strategy"));
    assert_eq!(notes(&s), ["patience", "seed"]);
    let s = settings(&options(&[("lora_dropout", "0.1"), ("task", "classify")]), 2, false).unwrap();
    assert_eq!(notes(&s), ["seed", "lora_dropout", "task"]);
}

#[test]
fn a_layer_the_model_lacks_is_refused_by_its_option() {
    let err = settings(&options(&[("layers", "0,7")]), 2, false).unwrap_err().to_string();
    assert!(err.contains("--layers") && err.contains("layer 7 does not exist"), "{err}");
}

/// Every carried line names a schema option, once.
#[test]
fn each_carried_option_is_a_schema_option_once() {
    let s = settings(&RunOptions::default(), 2, true).unwrap();
    let mut names: Vec<&str> = s.carried.iter().map(|c| c.option).collect();
    assert!(names.iter().all(|n| RunOptions::spec(n).is_some()), "{names:?}");
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n);
}
