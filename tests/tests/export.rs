//! `anytune export` end to end on the tiny fixtures: the merged model, loaded back from the
//! exported files with `Model::load`, gives the logits of base + adapter (the adapter applied
//! unmerged by the engine). Adapters: r 4, alpha 8 on all seven linears, B random (nonzero).
//!
//! Bounds: f32 HF folders and GGUFs 1e-4 (the merge W + s·B·A and the unmerged W·x + s·B·(A·x)
//! differ only by f32 rounding); a Q8_0 GGUF 0.05 in logits of magnitude ~1 (the merged weights
//! are requantized: one step of 1/127 of each 32-value block's largest weight) — and it must
//! still differ from the base, so the adapter is in it. The K presets (q4_k_m, q5_k_m): on the
//! tiny fixture (rows of 64 values: every matrix falls back to Q5_0 / Q5_1 / Q8_0) and on a
//! 256-wide variant of it (every matrix in its K type), within the bounds at [`k_presets`].

use anytune_core::export::{ExportFormat, ExportOptions, ExportType, export};
use anytune_core::formats::{GgufFile, GgufWriter, MetaValue, ModelFiles};
use anytune_core::lora::{LoraConfig, LoraParams, LoraWeights, Target};
use anytune_core::model::Model;
use anytune_core::rng::Rng;
use anytune_tests::exports::{edited, exported, fixture, gguf_metadata, same_tokenizer};
use anytune_tests::{all_logits, test_gpu};

fn random_adapter(model: &anytune_core::model::ModelConfig) -> LoraWeights {
    let config = LoraConfig { r: 4, alpha: 8.0, targets: Target::ALL.to_vec(), ..LoraConfig::default() };
    let mut w = LoraWeights::init(&config, model, 11).unwrap();
    let mut rng = Rng::new(12);
    for m in &mut w.modules {
        m.b = rng.normal_vec(m.b.len(), 0.05);
    }
    w
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// What an export gave: the largest logit difference of the exported model from base +
/// adapter (`diff`) and from the base (`from_base`), of base + adapter from the base
/// (`effect`), and the tensor types written.
struct Compared {
    diff: f32,
    from_base: f32,
    effect: f32,
    types: Vec<(String, usize)>,
}

/// Exports `files` (called `what`) + a random adapter as `format`/`ty` and compares its logits.
fn exported_vs_adapter(files: &ModelFiles, what: &str, format: ExportFormat, ty: ExportType) -> Option<Compared> {
    let gpu = test_gpu()?;
    let mut base = Model::load(gpu, files).unwrap();
    let ids = base.tokenizer.encode("Question: Who makes the Zorblax 3000 kettle?\nAnswer: Quillfeather.", true).unwrap();
    let plain = all_logits(gpu, &base, &ids);
    let lora = random_adapter(&base.config);
    base.adapter = Some(Box::new(LoraParams::from_weights(gpu, &base, &lora).unwrap()));
    let want = all_logits(gpu, &base, &ids);
    let out = export(files, Some(&lora), "random adapter", &ExportOptions { format, ty }).unwrap();
    let mut written = ModelFiles::new();
    for (name, bytes) in out.files {
        written.add(&name, bytes);
    }
    let merged = Model::load(gpu, &written).unwrap();
    let got = all_logits(gpu, &merged, &ids);
    let (diff, from_base, effect) = (max_diff(&got, &want), max_diff(&got, &plain), max_diff(&want, &plain));
    let types = out.tensor_types;
    println!("{what} → {format:?} {}: max |Δ logit| {diff:.2e} ({from_base:.2e} from the base; the adapter moves them by {effect:.2e}); {types:?}", ty.name());
    Some(Compared { diff, from_base, effect, types })
}

fn check(fixture_name: &str, format: ExportFormat, ty: ExportType, bound: f32) {
    let Some(c) = exported_vs_adapter(&fixture(fixture_name), fixture_name, format, ty) else { return };
    assert!(c.diff <= bound, "{fixture_name} {format:?} {}: {} > {bound}", ty.name(), c.diff);
    assert!(c.effect > 5.0 * bound.max(1e-3), "the adapter barely changes the logits ({})", c.effect);
}

#[test]
fn llama_q8_0_gguf_to_f32_hf_folder() {
    check("tiny-llama-Q8_0.gguf", ExportFormat::Hf, ExportType::F32, 1e-4);
}

#[test]
fn llama_q8_0_gguf_to_f32_gguf() {
    check("tiny-llama-Q8_0.gguf", ExportFormat::Gguf, ExportType::F32, 1e-4);
}

#[test]
fn llama_q8_0_gguf_to_q8_0_gguf() {
    check("tiny-llama-Q8_0.gguf", ExportFormat::Gguf, ExportType::Q8_0, 0.05);
}

#[test]
fn llama_hf_folder_to_f32_hf_folder() {
    check("tiny-llama", ExportFormat::Hf, ExportType::F32, 1e-4);
}

#[test]
fn gemma3_norms_survive_both_conventions() {
    check("tiny-gemma3", ExportFormat::Hf, ExportType::F32, 1e-4);
    check("tiny-gemma3-F32.gguf", ExportFormat::Gguf, ExportType::F32, 1e-4);
    check("tiny-gemma3-F32.gguf", ExportFormat::Hf, ExportType::F32, 1e-4);
}

#[test]
fn qwen2_biases_are_exported() {
    check("tiny-qwen2-F32.gguf", ExportFormat::Gguf, ExportType::F32, 1e-4);
    check("tiny-qwen2-F32.gguf", ExportFormat::Hf, ExportType::F32, 1e-4);
}

/// tiny-llama-F32.gguf widened to rows of whole super-blocks: d 256, ffn 512, head_dim 64
/// (4 heads, 2 KV heads), 2 layers, the fixture's vocabulary; random F32 weights
/// (matrices ~N(0, 0.05²), norms 1 + N(0, 0.1²)).
fn wide_llama() -> ModelFiles {
    let src = fixture("tiny-llama-F32.gguf");
    let g = GgufFile::parse(src.bytes(0), "tiny-llama-F32.gguf").unwrap();
    let mut w = GgufWriter::new();
    for (key, value) in &g.metadata {
        let value = match key.as_str() {
            "llama.embedding_length" => MetaValue::U32(256),
            "llama.feed_forward_length" => MetaValue::U32(512),
            "llama.rope.dimension_count" => MetaValue::U32(64),
            _ => value.clone(),
        };
        w.add_meta(key.clone(), value).unwrap();
    }
    let widen = |d: usize| match d {
        64 => 256,
        32 => 128,
        160 => 512,
        d => d,
    };
    let mut rng = Rng::new(21);
    for t in &g.tensors {
        let shape: Vec<usize> = t.shape.iter().map(|&d| widen(d)).collect();
        let n: usize = shape.iter().product();
        let values: Vec<f32> = if shape.len() == 1 { rng.normal_vec(n, 0.1).iter().map(|v| 1.0 + v).collect() } else { rng.normal_vec(n, 0.05) };
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        w.add_tensor(t.name.clone(), anytune_core::quant::GgmlType::F32, &shape, bytes).unwrap();
    }
    let mut files = ModelFiles::new();
    files.add("wide-llama-F32.gguf", w.to_bytes());
    files
}

/// q4_k_m / q5_k_m: the preset's types, and logits within `bound` of base + adapter and nearer
/// to them than to the base's (so the adapter is in the export). The logit error grows with the
/// weights' relative RMS error (Q8_0 ~0.5%, Q5_K 3.6%, Q4_K 7%): measured, as max |Δ logit|
/// (logits of magnitude ~1) — tiny fixture q8_0 0.027, q4_0 0.40, q4_k_m (Q5_0 fallbacks) 0.20,
/// q5_k_m (Q5_1) 0.19, bounds 0.25; the wide model q8_0 0.086, q4_0 1.08, q4_k_m 1.01 (bound
/// 1.2), q5_k_m 0.48 (bound 0.6).
fn k_presets(files: &ModelFiles, what: &str, ty: ExportType, bound: f32, types: &[(&str, usize)]) {
    let Some(c) = exported_vs_adapter(files, what, ExportFormat::Gguf, ty) else { return };
    let want: Vec<(String, usize)> = types.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    assert_eq!(c.types, want, "{what} {}", ty.name());
    assert!(c.diff <= bound, "{what} {}: {} > {bound}", ty.name(), c.diff);
    assert!(c.diff < c.from_base, "{what} {}: {} from base + adapter, {} from the base", ty.name(), c.diff, c.from_base);
    assert!(c.effect > 0.5, "the adapter barely changes the logits ({})", c.effect);
}

#[test]
fn k_presets_fall_back_on_the_tiny_fixture() {
    let files = fixture("tiny-llama-F32.gguf");
    // Q4_K → Q5_0, Q5_K → Q5_1; Q6_K (output, layer 1's attn_v and ffn_down) → Q8_0.
    k_presets(&files, "tiny-llama", ExportType::Q4KM, 0.25, &[("Q5_0", 13), ("F32", 5), ("Q8_0", 3)]);
    k_presets(&files, "tiny-llama", ExportType::Q5KM, 0.25, &[("Q5_1", 13), ("F32", 5), ("Q8_0", 3)]);
}

#[test]
fn k_presets_write_k_types_on_whole_super_blocks() {
    let files = wide_llama();
    // Q6_K: the output and layer 1's attn_v and ffn_down (llama.cpp's use_more_bits of 2 layers).
    k_presets(&files, "wide-llama", ExportType::Q4KM, 1.2, &[("Q4_K", 13), ("F32", 5), ("Q6_K", 3)]);
    k_presets(&files, "wide-llama", ExportType::Q5KM, 0.6, &[("Q5_K", 13), ("F32", 5), ("Q6_K", 3)]);
}

/// A Hugging Face folder exported to GGUF: the architecture keys and `tokenizer.ggml.*`
/// rebuilt from its config and tokenizer files (export::gguf_hf_meta) give the folder's logits
/// (above) and its tokenizer: the same ids for texts with and without special tokens, the same
/// BOS/EOS and chat template. Each of llama.cpp's pre-tokenizers anytune names (gpt2 in the
/// fixtures; smollm, llama-bpe and qwen2 put into tiny-llama's tokenizer.json) round-trips.
#[test]
fn hf_folders_to_gguf_rebuild_the_metadata() {
    for name in ["tiny-llama", "tiny-qwen2", "tiny-qwen3"] {
        check(name, ExportFormat::Gguf, ExportType::F32, 1e-4);
        same_tokenizer(&fixture(name), &exported(&fixture(name), ExportFormat::Gguf), name);
    }
    let split = |regex: &str| serde_json::json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]});
    let variants = [
        ("smollm", serde_json::json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]})),
        ("llama-bpe", split(anytune_core::tokenizer::gguf_vocab::LLAMA3_SPLIT)),
        ("qwen2", split(anytune_core::tokenizer::gguf_vocab::QWEN2_SPLIT)),
    ];
    for (pre, value) in variants {
        let files = edited(&fixture("tiny-llama"), &[], |name, json| match name {
            "tokenizer.json" => {
                json["pre_tokenizer"] = value.clone();
                true
            }
            "tokenizer_config.json" => {
                json["chat_template"] = "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}".into();
                true
            }
            _ => false,
        });
        let meta = gguf_metadata(&exported(&files, ExportFormat::Gguf));
        assert_eq!(meta.get("tokenizer.ggml.pre").and_then(MetaValue::as_str), Some(pre));
        same_tokenizer(&files, &exported(&files, ExportFormat::Gguf), pre);
    }
}
