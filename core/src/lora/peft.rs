//! PEFT adapter files: `adapter_config.json` and `adapter_model.safetensors`, as
//! `peft.PeftModel.save_pretrained` writes them (PEFT 0.21.2) and `PeftModel.from_pretrained`
//! loads them.
//!
//! - `adapter_config.json`: every key of PEFT's `LoraConfig.to_dict()`, sorted, 2-space indent
//!   (`peft_type` "LORA", `task_type` "CAUSAL_LM", `r`, `lora_alpha`, `lora_dropout`,
//!   `target_modules` (a list), `layers_to_transform` (null or a list), `use_rslora`, …).
//! - `adapter_model.safetensors`: F32 tensors
//!   `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` `(r, in)` and
//!   `….lora_B.weight` `(out, r)` (`mlp.gate_proj` etc. for the MLP), metadata `format: pt`.
//!
//! - DoRA (`use_dora: true`): also `….q_proj.lora_magnitude_vector` `(out)` per module.
//!
//! Reading accepts F32, F16 and BF16 tensors and refuses what anytune cannot apply (biases, per-module rank or alpha patterns, `modules_to_save`, regex targets).

use super::config::{Layers, LoraConfig, Target};
use super::weights::{LoraModule, LoraWeights, check_file_alpha, f32s};
use crate::error::{Error, Result};
use crate::formats::SafetensorsFile;
use crate::formats::safetensors_write::SafetensorsWriter;
use crate::model::names::Naming;
use serde_json::{Value, json};

/// The PEFT version whose `adapter_config.json` keys we write.
pub const PEFT_FORMAT_VERSION: &str = "0.21.2";
/// File names PEFT uses inside an adapter directory.
pub const PEFT_CONFIG_FILE: &str = "adapter_config.json";
pub const PEFT_WEIGHTS_FILE: &str = "adapter_model.safetensors";

/// The safetensors key of a module's `lora_A` (`a = true`) or `lora_B` weight.
pub fn peft_tensor_name(layer: usize, target: Target, a: bool) -> String {
    let base = Naming::HuggingFace.layer(layer, target.layer_tensor());
    let stem = base.strip_suffix(".weight").unwrap_or(&base);
    format!(
        "base_model.model.{stem}.lora_{}.weight",
        if a { "A" } else { "B" }
    )
}

/// The safetensors key of a module's DoRA magnitude, as PEFT saves it (no `.weight`).
pub fn peft_magnitude_name(layer: usize, target: Target) -> String {
    let base = Naming::HuggingFace.layer(layer, target.layer_tensor());
    let stem = base.strip_suffix(".weight").unwrap_or(&base);
    format!("base_model.model.{stem}.lora_magnitude_vector")
}

/// Which of a module's tensors a PEFT key is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    A,
    B,
    Magnitude,
}

/// `(layer, target, part)` of a PEFT tensor key, or `None` when it is not a LoRA tensor of a
/// targetable layer.
fn parse_peft_tensor_name(name: &str) -> Option<(usize, Target, Part)> {
    let rest = name.strip_prefix("base_model.model.")?;
    let (stem, a) = [(".lora_A.weight", Part::A), (".lora_B.weight", Part::B), (".lora_magnitude_vector", Part::Magnitude)]
        .into_iter()
        .find_map(|(suffix, part)| rest.strip_suffix(suffix).map(|s| (s, part)))?;
    let layer: usize = stem.split('.').nth(2)?.parse().ok()?;
    let base = format!("{stem}.weight");
    Target::ALL
        .into_iter()
        .find(|t| Naming::HuggingFace.layer(layer, t.layer_tensor()) == base)
        .map(|t| (layer, t, a))
}

/// An f32 as the shortest decimal that reads back to it (0.05, not 0.05000000074505806);
/// whole numbers as JSON integers (PEFT writes `"lora_alpha": 16`).
fn json_number(x: f32) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        return json!(x as i64);
    }
    json!(x.to_string().parse::<f64>().unwrap_or(x as f64))
}

impl LoraWeights {
    /// `adapter_config.json` text for these adapters; `base_model` is written as
    /// `base_model_name_or_path` (a hub id or a local directory).
    pub fn peft_config_json(&self, base_model: &str) -> String {
        let c = &self.config;
        let layers = match &c.layers {
            Layers::All => Value::Null,
            Layers::Only(l) => json!(l),
        };
        let targets: Vec<&str> = c.targets.iter().map(|t| t.peft_name()).collect();
        let v = json!({
            "alora_invocation_tokens": null,
            "alpha_pattern": {},
            "arrow_config": null,
            "auto_mapping": null,
            "base_model_name_or_path": base_model,
            "bias": "none",
            "corda_config": null,
            "ensure_weight_tying": false,
            "eva_config": null,
            "exclude_modules": null,
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "kasa_config": null,
            "layer_replication": null,
            "layers_pattern": null,
            "layers_to_transform": layers,
            "loftq_config": {},
            "lora_alpha": json_number(c.alpha),
            "lora_bias": false,
            "lora_dropout": json_number(c.dropout),
            "lora_ga_config": null,
            "megatron_config": null,
            "megatron_core": "megatron.core",
            "modules_to_save": null,
            "monteclora_config": null,
            "peft_type": "LORA",
            "peft_version": PEFT_FORMAT_VERSION,
            "qalora_group_size": 16,
            "r": c.r,
            "rank_pattern": {},
            "revision": null,
            "target_modules": targets,
            "target_parameters": null,
            "task_type": "CAUSAL_LM",
            "trainable_token_indices": null,
            "use_bdlora": null,
            "use_dora": c.use_dora,
            "use_qalora": false,
            "use_rslora": c.use_rslora,
            "velora_config": null,
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }

    /// `adapter_model.safetensors` bytes (F32, `format: pt`). A DoRA adapter's magnitudes
    /// must be set (they are once it has been on the GPU).
    pub fn peft_safetensors(&self) -> Result<Vec<u8>> {
        if let Some(m) = self.modules.iter().find(|m| self.config.use_dora && m.magnitude.len() != m.out_features) {
            return Err(Error::invalid(
                format!("DoRA adapter layer {} {}", m.layer, m.target.peft_name()),
                format!("its magnitude has {} values, expected {} (set by LoraParams::from_weights)", m.magnitude.len(), m.out_features),
            ));
        }
        let mut w = SafetensorsWriter::new();
        w.set_metadata("format", "pt");
        let r = self.config.r;
        for m in &self.modules {
            w.add_f32(
                peft_tensor_name(m.layer, m.target, true),
                &[r, m.in_features],
                &m.a,
            )?;
            w.add_f32(
                peft_tensor_name(m.layer, m.target, false),
                &[m.out_features, r],
                &m.b,
            )?;
            if self.config.use_dora {
                w.add_f32(peft_magnitude_name(m.layer, m.target), &[m.out_features], &m.magnitude)?;
            }
        }
        w.to_bytes()
    }

    /// Reads a PEFT adapter: `config_json` (the text of `adapter_config.json`) and the bytes of
    /// `adapter_model.safetensors`. Errors name the file and the key or tensor.
    pub fn from_peft(config_json: &str, safetensors: &[u8]) -> Result<LoraWeights> {
        let config = parse_peft_config(config_json)?;
        let file = PEFT_WEIGHTS_FILE;
        let st = SafetensorsFile::parse(safetensors, file)?;
        let err = |what: String| Error::format(file, what);
        let mut pairs: Vec<(usize, Target, [Option<&_>; 3])> = Vec::new();
        for t in &st.tensors {
            let (layer, target, part) = parse_peft_tensor_name(&t.name).ok_or_else(|| {
                err(format!(
                    "tensor {} is not a lora_A/lora_B weight (or DoRA lora_magnitude_vector) of q/k/v/o/gate/up/down_proj",
                    t.name
                ))
            })?;
            if part == Part::Magnitude && !config.use_dora {
                return Err(err(format!("tensor {} is a DoRA magnitude but use_dora is false in {PEFT_CONFIG_FILE}", t.name)));
            }
            if !config.targets.contains(&target) {
                return Err(err(format!(
                    "tensor {} targets {} which target_modules does not list",
                    t.name,
                    target.peft_name()
                )));
            }
            if matches!(&config.layers, Layers::Only(l) if !l.contains(&layer)) {
                return Err(err(format!(
                    "tensor {} is in layer {layer} which layers_to_transform does not list",
                    t.name
                )));
            }
            let i = match pairs.iter().position(|p| (p.0, p.1) == (layer, target)) {
                Some(i) => i,
                None => {
                    pairs.push((layer, target, [None; 3]));
                    pairs.len() - 1
                }
            };
            pairs[i].2[part as usize] = Some(t);
        }
        if pairs.is_empty() {
            return Err(err("holds no LoRA tensors".into()));
        }
        pairs.sort_by_key(|p| (p.0, p.1));
        let r = config.r;
        let mut modules = Vec::with_capacity(pairs.len());
        for (layer, target, [a, b, magnitude]) in pairs {
            let (Some(a), Some(b)) = (a, b) else {
                let missing = peft_tensor_name(layer, target, a.is_none());
                return Err(err(format!(
                    "tensor {missing} is missing (lora_A and lora_B come in pairs)"
                )));
            };
            let (a_vals, b_vals) = (
                tensor_f32(a, safetensors, file)?,
                tensor_f32(b, safetensors, file)?,
            );
            let (&[ar, n_in], &[n_out, br]) = (&a.shape[..], &b.shape[..]) else {
                return Err(err(format!(
                    "tensors {} {:?} and {} {:?} are not 2-D",
                    a.name, a.shape, b.name, b.shape
                )));
            };
            if ar != r || br != r {
                return Err(err(format!(
                    "{} is {:?} and {} is {:?}, but r is {r} in {PEFT_CONFIG_FILE} (A should be (r, in) and B (out, r))",
                    a.name, a.shape, b.name, b.shape
                )));
            }
            let magnitude = match magnitude {
                Some(m) if m.shape == [n_out] => tensor_f32(m, safetensors, file)?,
                Some(m) => return Err(err(format!("{} is {:?}, expected [{n_out}] (one per output row)", m.name, m.shape))),
                None if config.use_dora => {
                    let missing = peft_magnitude_name(layer, target);
                    return Err(err(format!("tensor {missing} is missing (use_dora is true in {PEFT_CONFIG_FILE})")));
                }
                None => Vec::new(),
            };
            modules.push(LoraModule {
                layer,
                target,
                in_features: n_in,
                out_features: n_out,
                a: a_vals,
                b: b_vals,
                magnitude,
            });
        }
        Ok(LoraWeights { config, modules })
    }
}

/// A tensor's values as f32 (from F32, F16 or BF16); NaN or infinity is an error naming the
/// tensor.
pub(crate) fn tensor_f32(
    t: &crate::formats::TensorInfo,
    bytes: &[u8],
    file: &str,
) -> Result<Vec<f32>> {
    use crate::quant::GgmlType;
    let raw = t.bytes(bytes);
    let halves = || {
        raw.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
    };
    let ty = t.ty(file)?;
    if let Some(bad) = crate::quant::finite::find_non_finite(ty, raw) {
        return Err(Error::format(file, format!("tensor {}: {bad}; adapter weights must be finite", t.name)));
    }
    match ty {
        GgmlType::F32 => Ok(f32s(raw)),
        GgmlType::F16 => Ok(halves().map(|h| half::f16::from_bits(h).to_f32()).collect()),
        GgmlType::BF16 => Ok(halves()
            .map(|h| half::bf16::from_bits(h).to_f32())
            .collect()),
        other => Err(Error::format(
            file,
            format!(
                "tensor {}: type {} is not F32, F16 or BF16",
                t.name,
                other.name()
            ),
        )),
    }
}

/// Parses `adapter_config.json` into a [`LoraConfig`], refusing features anytune cannot apply.
pub fn parse_peft_config(text: &str) -> Result<LoraConfig> {
    let file = PEFT_CONFIG_FILE;
    let err = |what: String| Error::format(file, what);
    let v: Value = serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let get = |k: &str| v.get(k).filter(|x| !x.is_null());
    let require = |k: &str| get(k).ok_or_else(|| err(format!("key {k} is missing")));
    match require("peft_type")?.as_str() {
        Some("LORA") => {}
        other => return Err(err(format!("peft_type is {other:?}, not \"LORA\""))),
    }
    let r = require("r")?
        .as_u64()
        .filter(|&r| r > 0)
        .and_then(|r| usize::try_from(r).ok())
        .ok_or_else(|| err(format!("r = {} is not a positive integer", v["r"])))?;
    let alpha = require("lora_alpha")?
        .as_f64()
        .ok_or_else(|| err(format!("lora_alpha = {} is not a number", v["lora_alpha"])))?;
    let alpha = check_file_alpha(alpha, "lora_alpha").map_err(err)?;
    let dropout = match get("lora_dropout") {
        None => 0.0,
        Some(d) => d
            .as_f64()
            .ok_or_else(|| err(format!("lora_dropout = {d} is not a number")))?,
    };
    let targets = match require("target_modules")? {
        Value::String(s) if s == "all-linear" => Target::ALL.to_vec(),
        Value::Array(items) => {
            let names = items
                .iter()
                .map(|x| {
                    x.as_str()
                        .ok_or_else(|| err(format!("target_modules holds {x}, not a string")))
                })
                .collect::<Result<Vec<_>>>()?;
            Target::parse_list(&names.join(",")).map_err(|e| err(e.to_string()))?
        }
        other => {
            return Err(err(format!(
                "target_modules = {other} is not a list of module names or \"all-linear\""
            )));
        }
    };
    let layers = match get("layers_to_transform") {
        None => Layers::All,
        Some(Value::Number(n)) => Layers::only(vec![
            n.as_u64()
                .and_then(|u| usize::try_from(u).ok())
                .ok_or_else(|| err(format!("layers_to_transform = {n}")))?,
        ]),
        Some(Value::Array(items)) => Layers::only(
            items
                .iter()
                .map(|x| {
                    x.as_u64()
                        .and_then(|u| usize::try_from(u).ok())
                        .ok_or_else(|| err(format!("layers_to_transform holds {x}")))
                })
                .collect::<Result<_>>()?,
        ),
        Some(other) => {
            return Err(err(format!(
                "layers_to_transform = {other} is not a layer index or a list"
            )));
        }
    };
    let flag = |k: &str| get(k).and_then(Value::as_bool).unwrap_or(false);
    let unsupported = [
        ("fan_in_fan_out", flag("fan_in_fan_out")),
        ("lora_bias", flag("lora_bias")),
        (
            "bias",
            get("bias")
                .and_then(Value::as_str)
                .is_some_and(|b| b != "none"),
        ),
        (
            "rank_pattern",
            get("rank_pattern")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty()),
        ),
        (
            "alpha_pattern",
            get("alpha_pattern")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty()),
        ),
        (
            "modules_to_save",
            get("modules_to_save")
                .and_then(Value::as_array)
                .is_some_and(|m| !m.is_empty()),
        ),
        ("layer_replication", get("layer_replication").is_some()),
    ];
    if let Some((k, _)) = unsupported.iter().find(|u| u.1) {
        return Err(err(format!("{k} = {} is not supported by anytune", v[k])));
    }
    let config = LoraConfig {
        r,
        alpha,
        dropout: dropout as f32,
        targets,
        layers,
        use_rslora: flag("use_rslora"),
        use_dora: flag("use_dora"),
    };
    config.validate().map_err(|e| err(e.to_string()))?;
    Ok(config)
}
