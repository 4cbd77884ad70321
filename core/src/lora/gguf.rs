//! LoRA adapters as GGUF, the form llama.cpp's `--lora` loads (what its
//! `convert_lora_to_gguf.py` writes from a PEFT directory).
//!
//! Metadata: `general.architecture` (the base arch: `llama`, `qwen2`), `general.type` =
//! "adapter", `adapter.type` = "lora", `adapter.lora.alpha` (f32). Tensors, F32, per adapted
//! base tensor `blk.{i}.attn_q.weight` etc.: `blk.{i}.attn_q.weight.lora_a` of PyTorch shape
//! `(r, in)` (GGUF ne `[in, r]`) and `….lora_b` of shape `(out, r)` (ne `[r, out]`).
//!
//! llama.cpp applies `y += (alpha / r)·B·(A·x)`. With rsLoRA the file's alpha is
//! `alpha·sqrt(r)` so the scale is the same; reading gives `use_rslora = false` and that alpha.
//!
//! Llama GGUFs store q/k rows interleaved per head (llama.cpp's converter permutes them for its
//! RoPE); the rows of B for `q_proj`/`k_proj` are permuted the same way on writing and back on
//! reading, so [`LoraWeights`] always holds Hugging Face order. Qwen2 is not permuted.

use super::config::{Layers, LoraConfig, Target};
use super::peft::tensor_f32;
use super::weights::{
    LoraModule, LoraWeights, check_file_alpha, f32_bytes, permute_rows_to_gguf, permute_rows_to_hf,
};
use crate::error::{Error, Result};
use crate::formats::{GgufFile, GgufWriter, MetaValue, TensorInfo};
use crate::model::names::Naming;
use crate::model::{Arch, ModelConfig};
use crate::quant::GgmlType;

/// The GGUF name of a module's `lora_a` (`a = true`) or `lora_b` tensor.
pub fn gguf_tensor_name(layer: usize, target: Target, a: bool) -> String {
    format!(
        "{}.lora_{}",
        Naming::Gguf.layer(layer, target.layer_tensor()),
        if a { "a" } else { "b" }
    )
}

/// `(layer, target, is_a)` of a GGUF LoRA tensor name.
fn parse_gguf_tensor_name(name: &str) -> Option<(usize, Target, bool)> {
    let (base, a) = match (name.strip_suffix(".lora_a"), name.strip_suffix(".lora_b")) {
        (Some(s), _) => (s, true),
        (_, Some(s)) => (s, false),
        _ => return None,
    };
    let layer: usize = base.split('.').nth(1)?.parse().ok()?;
    Target::ALL
        .into_iter()
        .find(|t| Naming::Gguf.layer(layer, t.layer_tensor()) == base)
        .map(|t| (layer, t, a))
}

/// Heads whose rows GGUF interleaves for this module, or `None` when B is stored as is.
fn permuted_heads(model: &ModelConfig, target: Target) -> Option<usize> {
    match (model.arch, target) {
        (Arch::Llama, Target::Q) => Some(model.n_heads),
        (Arch::Llama, Target::K) => Some(model.n_kv_heads),
        _ => None,
    }
}

impl LoraWeights {
    /// The adapter as a GGUF file for a base `model` (checked against it first).
    pub fn to_gguf(&self, model: &ModelConfig) -> Result<Vec<u8>> {
        self.check_model(model, "LoRA adapter")?;
        let c = &self.config;
        if c.use_dora {
            return Err(Error::invalid(
                "GGUF LoRA adapter",
                "a DoRA adapter (use_dora) cannot be written as a GGUF LoRA: llama.cpp has no DoRA; \
                 save it as a PEFT folder, or merge it into the model with `anytune export --adapter DIR`",
            ));
        }
        // llama.cpp's scale is alpha / r: store alpha so that it equals ours.
        let alpha = if c.use_rslora {
            c.alpha * (c.r as f32).sqrt()
        } else {
            c.alpha
        };
        let mut w = GgufWriter::new();
        w.add_meta(
            "general.architecture",
            MetaValue::String(model.arch.name().into()),
        )?;
        w.add_meta("general.type", MetaValue::String("adapter".into()))?;
        w.add_meta("adapter.type", MetaValue::String("lora".into()))?;
        w.add_meta("adapter.lora.alpha", MetaValue::F32(alpha))?;
        for m in &self.modules {
            let b = match permuted_heads(model, m.target) {
                Some(heads) => permute_rows_to_gguf(&m.b, c.r, heads, model.head_dim),
                None => m.b.clone(),
            };
            w.add_tensor(
                gguf_tensor_name(m.layer, m.target, true),
                GgmlType::F32,
                &[c.r, m.in_features],
                f32_bytes(&m.a),
            )?;
            w.add_tensor(
                gguf_tensor_name(m.layer, m.target, false),
                GgmlType::F32,
                &[m.out_features, c.r],
                f32_bytes(&b),
            )?;
        }
        Ok(w.to_bytes())
    }

    /// Reads a GGUF LoRA adapter for base `model`; `file` names it in errors. Tensors may be
    /// F32, F16 or BF16; every module must have the same rank. Dropout is not stored in the
    /// file and comes back as the default.
    pub fn from_gguf(bytes: &[u8], file: &str, model: &ModelConfig) -> Result<LoraWeights> {
        let g = GgufFile::parse(bytes, file)?;
        let err = |what: String| Error::format(file, what);
        let string = |k: &str| {
            g.require(k)
                .map(|v| v.as_str().unwrap_or_default().to_string())
        };
        if string("general.type")? != "adapter" || string("adapter.type")? != "lora" {
            return Err(err("general.type must be \"adapter\" and adapter.type \"lora\": this is not a LoRA adapter".into()));
        }
        let arch = string("general.architecture")?;
        if arch != model.arch.name() {
            return Err(err(format!(
                "the adapter is for architecture {arch:?} but the model is {:?}",
                model.arch.name()
            )));
        }
        let mut found: Vec<(usize, Target, Option<&TensorInfo>, Option<&TensorInfo>)> = Vec::new();
        for t in &g.tensors {
            let (layer, target, is_a) = parse_gguf_tensor_name(&t.name).ok_or_else(|| {
                err(format!(
                    "tensor {} is not a .lora_a/.lora_b of an attention or MLP matrix",
                    t.name
                ))
            })?;
            let i = match found.iter().position(|p| (p.0, p.1) == (layer, target)) {
                Some(i) => i,
                None => {
                    found.push((layer, target, None, None));
                    found.len() - 1
                }
            };
            if is_a {
                found[i].2 = Some(t)
            } else {
                found[i].3 = Some(t)
            }
        }
        found.sort_by_key(|p| (p.0, p.1));
        let mut rank = None;
        let mut modules = Vec::with_capacity(found.len());
        for (layer, target, a, b) in found {
            let (Some(a), Some(b)) = (a, b) else {
                let missing = gguf_tensor_name(layer, target, a.is_none());
                return Err(err(format!(
                    "tensor {missing} is missing (lora_a and lora_b come in pairs)"
                )));
            };
            let (&[r, n_in], &[n_out, br]) = (&a.shape[..], &b.shape[..]) else {
                return Err(err(format!(
                    "{}: shapes {:?} and {:?} are not 2-D",
                    a.name, a.shape, b.shape
                )));
            };
            if br != r || *rank.get_or_insert(r) != r {
                return Err(err(format!(
                    "{}: ranks differ (lora_a {:?}, lora_b {:?}, first rank {rank:?})",
                    a.name, a.shape, b.shape
                )));
            }
            let (a, b) = (tensor_f32(a, bytes, file)?, tensor_f32(b, bytes, file)?);
            let b = match permuted_heads(model, target) {
                Some(heads) if n_out == heads * model.head_dim => {
                    permute_rows_to_hf(&b, r, heads, model.head_dim)
                }
                _ => b,
            };
            modules.push(LoraModule {
                layer,
                target,
                in_features: n_in,
                out_features: n_out,
                a,
                b,
                magnitude: Vec::new(),
            });
        }
        let Some(r) = rank else {
            return Err(err("holds no LoRA tensors".into()));
        };
        // llama.cpp: no alpha (or 0) means scale 1.
        let alpha = match g.opt_f64("adapter.lora.alpha")?.filter(|&a| a != 0.0) {
            None => r as f32,
            Some(a) => check_file_alpha(a, "adapter.lora.alpha").map_err(err)?,
        };
        let mut targets: Vec<Target> = modules.iter().map(|m| m.target).collect();
        targets.sort();
        targets.dedup();
        let mut layers: Vec<usize> = modules.iter().map(|m| m.layer).collect();
        layers.dedup();
        let layers = if layers.len() == model.n_layers {
            Layers::All
        } else {
            Layers::only(layers)
        };
        let config = LoraConfig {
            r,
            alpha,
            targets,
            layers,
            use_rslora: false,
            ..LoraConfig::default()
        };
        config.validate().map_err(|e| err(e.to_string()))?;
        let weights = LoraWeights { config, modules };
        weights.check_model(model, file)?;
        Ok(weights)
    }
}
