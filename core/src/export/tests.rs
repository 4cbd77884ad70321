//! Export on the CPU: options, refusals, the merge, the GGUF's metadata and preset types, the
//! HF folder's files, the Modelfile. (Logits of exported models: tests/tests/export.rs.)

use super::*;
use crate::formats::{GgufFile, SafetensorsFile, read_model_path};
use crate::lora::{LoraConfig, LoraWeights, Target};
use crate::model::ModelConfig;
use crate::quant::GgmlType;
use crate::rng::Rng;
use crate::tokenizer::TemplateSource;

fn fixture(name: &str) -> ModelFiles {
    read_model_path(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)).unwrap()
}

fn config_of(files: &ModelFiles) -> ModelConfig {
    MergeSource::open(files, None, "none").unwrap().config
}

/// An all-linear r-4 adapter for `model` with random nonzero B.
pub(crate) fn random_adapter(model: &ModelConfig, seed: u64) -> LoraWeights {
    let mut c = LoraConfig { r: 4, alpha: 8.0, ..LoraConfig::default() };
    c.targets = Target::ALL.to_vec();
    let mut w = LoraWeights::init(&c, model, seed).unwrap();
    let mut rng = Rng::new(seed + 1);
    for m in &mut w.modules {
        m.b = rng.normal_vec(m.b.len(), 0.05);
    }
    w
}

fn file<'a>(out: &'a Exported, name: &str) -> &'a [u8] {
    &out.files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1
}

/// The error of an export that must fail.
fn refusal(r: Result<Exported>) -> String {
    match r {
        Ok(out) => panic!("the export succeeded: {:?}", out.tensor_types),
        Err(e) => e.to_string(),
    }
}

fn opts(format: ExportFormat, ty: ExportType) -> ExportOptions {
    ExportOptions { format, ty }
}

#[test]
fn types_and_formats_parse_and_unknown_names_are_refused() {
    for t in ExportType::ALL {
        assert_eq!(ExportType::parse(t.name()).unwrap(), t);
    }
    assert_eq!(ExportType::parse("Q4_K_M").unwrap(), ExportType::Q4KM);
    let e = ExportType::parse("q3_k_s").unwrap_err().to_string();
    assert!(e.contains("--type") && e.contains("\"q3_k_s\"") && e.contains("f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m"), "{e}");
    let e = ExportFormat::parse("onnx").unwrap_err().to_string();
    assert!(e.contains("--format") && e.contains("hf or gguf"), "{e}");
}

#[test]
fn refusals_name_what_is_wrong() {
    let hf = fixture("tiny-llama");
    let e = refusal(export(&hf, None, "a", &opts(ExportFormat::Hf, ExportType::Q8_0)));
    assert!(e.contains("--type") && e.contains("q8_0") && e.contains("f32, f16 or bf16"), "{e}");
    // A SentencePiece tokenizer.json (byte fallback) without its tokenizer.model.
    let mut spm = ModelFiles::new();
    for name in hf.names() {
        let mut bytes = hf.get(name).unwrap().to_vec();
        if name == "tokenizer.json" {
            let mut t: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            t["model"]["byte_fallback"] = true.into();
            bytes = serde_json::to_vec(&t).unwrap();
        }
        spm.add(name, bytes);
    }
    let e = refusal(export(&spm, None, "a", &opts(ExportFormat::Gguf, ExportType::Q8_0)));
    assert!(e.contains("--format gguf") && e.contains("tokenizer.model") && e.contains("convert_hf_to_gguf.py"), "{e}");
    // An adapter made for another model (a narrower one) is refused naming the adapter.
    let mut other = config_of(&hf);
    other.dim = 32;
    let lora = random_adapter(&other, 1);
    let e = refusal(export(&hf, Some(&lora), "other/adapter", &opts(ExportFormat::Hf, ExportType::F32)));
    assert!(e.contains("other/adapter") && e.contains("do not fit the model"), "{e}");
    // Without whole 256-value rows the K presets fall back as llama.cpp does: Q4_K → Q5_0,
    // Q6_K → Q8_0 (the output and the more-bits layer 1's attn_v and ffn_down).
    let gguf = fixture("tiny-llama-Q8_0.gguf");
    let out = export(&gguf, None, "a", &opts(ExportFormat::Gguf, ExportType::Q4KM)).unwrap();
    assert_eq!(out.tensor_types, [("Q5_0".to_string(), 13), ("F32".to_string(), 5), ("Q8_0".to_string(), 3)]);
}

/// HF base → HF f32: every tensor not adapted is the source's bytes, an adapted one is W + s·B·A.
#[test]
fn hf_export_is_the_base_plus_s_b_a() {
    let hf = fixture("tiny-llama");
    let cfg = config_of(&hf);
    let lora = random_adapter(&cfg, 3);
    let out = export(&hf, Some(&lora), "a", &opts(ExportFormat::Hf, ExportType::F32)).unwrap();
    let names: Vec<&str> = out.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"]);
    let src_bytes = hf.get("model.safetensors").unwrap();
    let src = SafetensorsFile::parse(src_bytes, "src").unwrap();
    let got_bytes = file(&out, "model.safetensors");
    let got = SafetensorsFile::parse(got_bytes, "got").unwrap();
    assert_eq!(got.tensors.len(), src.tensors.len());
    let f32s = |b: &[u8]| -> Vec<f32> { b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect() };
    for t in &src.tensors {
        let g = got.tensor(&t.name).unwrap();
        assert_eq!(g.shape, t.shape, "{}", t.name);
        let (w, m) = (f32s(t.bytes(src_bytes)), f32s(g.bytes(got_bytes)));
        match lora.modules.iter().find(|x| t.name == crate::model::names::Naming::HuggingFace.layer(x.layer, x.target.layer_tensor())) {
            Some(module) => {
                let want: Vec<f32> = w.iter().zip(module.delta(lora.scale())).map(|(a, d)| a + d).collect();
                assert_eq!(m, want, "{}", t.name);
                assert_ne!(m, w, "{}", t.name);
            }
            None => assert_eq!(m, w, "{}", t.name),
        }
    }
    let config: serde_json::Value = serde_json::from_slice(file(&out, "config.json")).unwrap();
    assert_eq!(config.get("dtype").or(config.get("torch_dtype")).and_then(|v| v.as_str()), Some("float32"));
    assert_eq!(config["hidden_size"], 64);
}

/// GGUF base → HF: config.json from the GGUF's metadata, tokenizer.json rebuilt from its vocabulary.
#[test]
fn hf_folder_from_a_gguf_has_config_and_tokenizer() {
    let gguf = fixture("tiny-llama-Q8_0.gguf");
    let out = export(&gguf, None, "a", &opts(ExportFormat::Hf, ExportType::BF16)).unwrap();
    let c: serde_json::Value = serde_json::from_slice(file(&out, "config.json")).unwrap();
    for (k, v) in [("model_type", "llama"), ("torch_dtype", "bfloat16"), ("hidden_act", "silu")] {
        assert_eq!(c[k], v, "{k}");
    }
    for (k, v) in [("hidden_size", 64), ("num_hidden_layers", 2), ("num_attention_heads", 4), ("num_key_value_heads", 2), ("head_dim", 16), ("intermediate_size", 160), ("vocab_size", 320)] {
        assert_eq!(c[k], v, "{k}");
    }
    assert_eq!(c["rms_norm_eps"].as_f64(), Some(1e-5));
    assert_eq!(c["tie_word_embeddings"], false);
    let tok = crate::tokenizer::Tokenizer::from_json(file(&out, "tokenizer.json"), Some(file(&out, "tokenizer_config.json"))).unwrap();
    let src = crate::tokenizer::Tokenizer::from_gguf(&GgufFile::parse(gguf.bytes(0), "g").unwrap().metadata, "g").unwrap();
    assert_eq!(tok.encode("Question: who makes it?", true).unwrap(), src.encode("Question: who makes it?", true).unwrap());
    let st = SafetensorsFile::parse(file(&out, "model.safetensors"), "m").unwrap();
    assert!(st.tensors.iter().all(|t| t.ty_id == GgmlType::BF16 as u32));
}

/// GGUF base → GGUF q4_0: the source's metadata and tokenizer, file type 2, norms F32, the
/// output projection Q8_0 (64-value rows cannot hold Q6_K), every other matrix Q4_0.
#[test]
fn gguf_export_keeps_metadata_and_follows_the_preset() {
    let files = fixture("tiny-llama-Q8_0.gguf");
    let src = GgufFile::parse(files.bytes(0), "src").unwrap();
    let lora = random_adapter(&config_of(&files), 5);
    let out = export(&files, Some(&lora), "a", &opts(ExportFormat::Gguf, ExportType::Q4_0)).unwrap();
    let g = GgufFile::parse(file(&out, "model.gguf"), "model.gguf").unwrap();
    for (k, v) in &src.metadata {
        if k != "general.file_type" {
            assert_eq!(g.get(k), Some(v), "{k}");
        }
    }
    assert_eq!(g.get("general.file_type").and_then(|v| v.as_u64()), Some(2));
    assert_eq!(g.get("general.quantization_version").and_then(|v| v.as_u64()), Some(2));
    assert_eq!(g.tensors.len(), src.tensors.len());
    for t in &g.tensors {
        let want = if t.shape.len() == 1 {
            GgmlType::F32
        } else if t.name == "output.weight" {
            GgmlType::Q8_0
        } else {
            GgmlType::Q4_0
        };
        assert_eq!(t.ty("g").unwrap(), want, "{}", t.name);
        assert_eq!(t.shape, src.tensor(&t.name).unwrap().shape, "{}", t.name);
    }
    assert_eq!(out.tensor_types, [("Q4_0".to_string(), 15), ("F32".to_string(), 5), ("Q8_0".to_string(), 1)]);
    let modelfile = String::from_utf8(file(&out, "Modelfile").to_vec()).unwrap();
    assert!(modelfile.starts_with("FROM ./model.gguf\n"), "{modelfile}");
    assert!(modelfile.contains("PARAMETER stop \"<|im_end|>\"\n"), "{modelfile}");
}

const SMOLLM2_TEMPLATE: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

#[test]
fn modelfile_converts_chatml_with_its_default_system_message() {
    let files = fixture("tiny-llama-Q8_0.gguf");
    let mut tok = crate::tokenizer::Tokenizer::from_gguf(&GgufFile::parse(files.bytes(0), "g").unwrap().metadata, "g").unwrap();
    tok.chat_template = Some(TemplateSource { source: SMOLLM2_TEMPLATE.into(), origin: "test".into() });
    let m = modelfile::modelfile("model.gguf", &tok).unwrap();
    let want = "FROM ./model.gguf\nTEMPLATE \"\"\"{{- if not (eq (index .Messages 0).Role \"system\") }}<|im_start|>system\n\
                You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n{{ end }}\n\
                {{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n\"\"\"\n\
                PARAMETER stop \"<|endoftext|>\"\nPARAMETER stop \"<|im_end|>\"\n";
    assert_eq!(m, want);
    // Plain ChatML (Qwen without a default system message) and an unknown template.
    tok.chat_template = Some(TemplateSource {
        source: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}".into(),
        origin: "test".into(),
    });
    let m = modelfile::modelfile("model.gguf", &tok).unwrap();
    assert!(m.contains("TEMPLATE \"\"\"{{- range .Messages }}<|im_start|>"), "{m}");
    tok.chat_template = Some(TemplateSource { source: "{{ messages[0].content }}".into(), origin: "test".into() });
    let m = modelfile::modelfile("model.gguf", &tok).unwrap();
    assert!(m.contains("was not converted") && !m.contains("TEMPLATE"), "{m}");
}

/// The page's size estimate: the file within 1% + 4 KiB of the real export (alignment padding
/// is the difference), the peak above the file and the base, and a budget below it refused with
/// both sizes.
#[test]
fn the_gguf_estimate_is_the_exported_size_and_a_small_budget_is_refused() {
    let files = fixture("tiny-llama-Q4_0.gguf");
    let adapter = random_adapter(&config_of(&files), 3);
    for ty in [ExportType::Q8_0, ExportType::F16, ExportType::F32] {
        let e = estimate_gguf(&files, ty).unwrap();
        let out = export(&files, Some(&adapter), "a", &ExportOptions { format: ExportFormat::Gguf, ty }).unwrap();
        let real = file(&out, "model.gguf").len() as f64;
        assert!((e.file_bytes as f64 - real).abs() <= real * 0.01 + 4096.0, "{}: estimated {} vs {real}", ty.name(), e.file_bytes);
        assert!(e.peak_bytes > e.file_bytes + files.bytes(0).len() as u64);
        check_export_budget(&e, ty, e.peak_bytes, "test").unwrap();
        let err = check_export_budget(&e, ty, e.peak_bytes - 1, "this browser's budget").unwrap_err().to_string();
        assert!(err.contains(ty.name()) && err.contains("MiB") && err.contains("this browser's budget"), "{err}");
    }
}
