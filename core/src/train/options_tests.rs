use super::*;

fn set(name: &str, raw: RawValue) -> std::result::Result<RunOptions, String> {
    let mut o = RunOptions::default();
    o.set(name, &raw, &Origin::Flag).map(|_| o).map_err(|e| e.to_string())
}

#[test]
fn every_schema_entry_has_a_field_a_doc_and_a_default_in_range() {
    let d = RunOptions::default();
    for s in SCHEMA {
        assert!(!s.help().is_empty(), "{} has no doc", s.name);
        let v = d.get(s.name).unwrap_or_else(|| panic!("{} has no field", s.name));
        if v.is_null() {
            continue;
        }
        // The default goes through the same check as a user's value.
        let mut o = RunOptions::default();
        o.set(s.name, &RawValue::from_json(&v), &Origin::Api).unwrap_or_else(|e| panic!("default of {}: {e}", s.name));
        assert_eq!(o, d, "{}", s.name);
    }
}

#[test]
fn non_finite_numbers_are_refused_never_replaced_by_the_default() {
    for name in ["lr", "alpha", "lora_dropout", "val_split", "momentum", "max_grad_norm", "weight_decay"] {
        for bad in ["NaN", "nan", "inf", "-inf", "infinity"] {
            let err = set(name, RawValue::Text(bad)).unwrap_err();
            let flag = format!("--{}", name.replace('_', "-"));
            assert!(err.contains(&flag) && err.contains("not a finite number") && err.contains("allowed"), "{name}={bad}: {err}");
        }
        let err = set(name, RawValue::Float(f64::NAN)).unwrap_err();
        assert!(err.contains("not a finite number"), "{err}");
    }
}

#[test]
fn values_outside_the_range_are_refused_with_the_range() {
    let cases = [
        ("lr", "-1", "(0, 10]"),
        ("lr", "0", "(0, 10]"),
        ("lr", "1e308", "(0, 10]"),
        ("momentum", "5", "[0, 1)"),
        ("max_grad_norm", "-1", "[0, 1000000]"),
        ("weight_decay", "-1", "[0, 10]"),
        ("lora_dropout", "1", "[0, 1)"),
        ("val_split", "1.5", "[0, 0.5]"),
        ("val_split", "0.95", "[0, 0.5]"),
        ("rank", "0", "from 1 to 4096"),
        ("rank", "100000", "from 1 to 4096"),
        ("batch", "0", "from 1 to 4096"),
        ("batch", "-2", "from 1 to 4096"),
        ("steps", "2.5", "whole number"),
        ("schedule", "warm", "constant, linear, cosine"),
        ("optimizer", "adam", "adamw, sgd"),
        ("recompute", "yes", "true or false"),
        ("targets", "q_proj,foo", "unknown module \"foo\""),
        ("layers", "0-99999999999", "too large"),
    ];
    for (name, value, allowed) in cases {
        let err = set(name, RawValue::Text(value)).unwrap_err();
        assert!(err.contains(&format!("--{}", name.replace('_', "-"))) && err.contains(allowed), "{name}={value}: {err}");
    }
}

#[test]
fn good_values_are_taken_from_text_and_typed_values() {
    let o = set("lr", RawValue::Text("2e-4")).unwrap();
    assert_eq!(o.lr, 2e-4);
    assert_eq!(set("lr", RawValue::Int(1)).unwrap().lr, 1.0);
    assert_eq!(set("steps", RawValue::Text("7")).unwrap().steps, Some(7));
    assert_eq!(set("max_grad_norm", RawValue::Float(0.0)).unwrap().max_grad_norm, 0.0);
    assert!(set("pack", RawValue::Bool(true)).unwrap().pack);
    assert_eq!(set("seed", RawValue::Text("18446744073709551615")).unwrap().seed, u64::MAX);
    // A count given as a float in a file is refused, not rounded.
    assert!(set("rank", RawValue::Float(8.0)).unwrap_err().contains("not a whole number"));
}

#[test]
fn errors_name_the_option_as_its_origin_wrote_it() {
    let mut o = RunOptions::default();
    let file = o.set("lr", &RawValue::Float(f64::INFINITY), &Origin::File("run.toml".into())).unwrap_err().to_string();
    assert!(file.contains("run.toml: lr"), "{file}");
    let api = o.set("max_seq_len", &RawValue::Int(1), &Origin::Api).unwrap_err().to_string();
    assert!(api.starts_with("invalid max_seq_len:"), "{api}");
    let unknown = o.set("learning_rate", &RawValue::Int(1), &Origin::File("run.toml".into())).unwrap_err().to_string();
    assert!(unknown.contains("run.toml: learning_rate") && unknown.contains("no such option"), "{unknown}");
}

#[test]
fn json_options_take_null_only_where_unset_is_meaningful() {
    let o = RunOptions::from_json(r#"{"steps": null, "rank": 4, "lr": 0.01}"#).unwrap();
    assert_eq!((o.steps, o.rank, o.lr), (None, 4, 0.01));
    // JSON has no NaN: a page's NaN arrives as null and must not become the default.
    let err = RunOptions::from_json(r#"{"lr": null}"#).unwrap_err().to_string();
    assert!(err.contains("lr") && err.contains("null"), "{err}");
    assert!(RunOptions::from_json(r#"{"bogus": 1}"#).unwrap_err().to_string().contains("no such option"));
    assert!(RunOptions::from_json("[1]").is_err());
}

#[test]
fn schema_json_lists_every_option_with_its_default() {
    let v = RunOptions::schema_json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), SCHEMA.len());
    let lr = items.iter().find(|i| i["name"] == "lr").unwrap();
    assert_eq!((lr["default"].as_f64(), lr["kind"].as_str(), lr["min_open"].as_bool()), (Some(1e-3), Some("real"), Some(true)));
    let rank = items.iter().find(|i| i["name"] == "rank").unwrap();
    assert_eq!((rank["default"].as_u64(), rank["flag"].as_str()), (Some(8), Some("--rank")));
}

#[test]
fn differences_name_each_changed_option() {
    let a = RunOptions::default();
    let b = RunOptions { lr: 5.0, checkpoint_every: 3, ..RunOptions::default() };
    assert_eq!(a.differences(&b, &["checkpoint_every"]), vec!["lr: 0.001 → 5.0".to_string()]);
    assert!(a.differences(&a, &[]).is_empty());
}

/// `--rslora` reaches the LoRA layout: PEFT's `use_rslora`, scale alpha / √r (off: alpha / r).
#[test]
fn rslora_sets_the_scale_alpha_over_sqrt_r() {
    let mut o = RunOptions { rank: 16, alpha: 8.0, ..RunOptions::default() };
    assert_eq!(o.lora_config().unwrap().scale(), 0.5);
    o.set("rslora", &RawValue::Bool(true), &Origin::Flag).unwrap();
    let cfg = o.lora_config().unwrap();
    assert!(cfg.use_rslora);
    assert_eq!(cfg.scale(), 2.0);
    let err = o.set("rslora", &RawValue::Text("maybe"), &Origin::Flag).unwrap_err().to_string();
    assert!(err.contains("--rslora"), "{err}");
}
