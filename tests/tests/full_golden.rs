//! Full fine-tuning numerics against PyTorch (tests/golden/make_golden.py, sets `full` and
//! `fullarch`): on the tiny random Llama (HF f32 folder), one batch (ids_a, the first 3 labels
//! ignored): the loss and the gradient of every parameter (21 tensors: embedding, 5 RMSNorm
//! weights, 14 linears, lm_head), accumulated by `full::FullGrads` through the model's adapter
//! seam and its hooks. Then five AdamW steps (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight
//! decay 0.01 on every parameter, no clipping) from the same start through `full::FullParams`,
//! and the trained model through the export writers (HF folder, GGUF) loaded back. The same for
//! tiny Qwen2 (q/k/v biases), Qwen3 (per-head q/k norms) and Gemma 3 (q/k norms, sandwich norms
//! held as `1 + w`, √C embedding scale), all tied.
//!
//! Tolerances: loss rtol 1e-5; gradients atol 1e-6 + rtol 1e-3 per element (as the LoRA
//! goldens); AdamW losses rtol 1e-4 (as LoRA's); the five final weights atol 5e-5 (each step
//! moves a weight by up to lr = 1e-3, so a missing or wrong step shows; seen: ≤ 5e-8 except
//! lm_head at 2e-5, rows of tokens never targeted whose ~1e-9 gradients AdamW normalises to ±1);
//! the tied Qwen2, Qwen3 and Gemma 3 (no lm_head) 5e-6 (seen: ≤ 1.1e-6, Gemma's embedding; Gemma's
//! norms decayed about 0 instead of 1, their `w`, would miss by 5e-5).

use anytune::load::load_model;
use anytune_core::full::{FullGrads, FullParams, Slot, to_f32};
use anytune_core::export::merge::MergeSource;
use anytune_core::export::{ExportType, gguf, hf};
use anytune_core::gpu::{Gpu, GpuTensor, Recorder};
use anytune_core::quant::GgmlType;
use anytune_core::model::names::Naming;
use anytune_core::ops::adamw::AdamW;
use anytune_core::ops::cross_entropy::IGNORE;
use anytune_core::testing::assert_close;
use anytune_core::train::step::{StepBuffers, record_step};
use anytune_tests::{Golden, repo_path, test_gpu};

const GOLDEN: &str = "golden/tiny-llama-full.safetensors";

/// One model of a golden: its fixture folder, the golden file and key, how many tensors it
/// trains, how many `.final` weights the golden holds, and the F32 GGUF of the same weights
/// (for the GGUF export), if any; the atol of the final weights.
struct Case {
    fixture: &'static str,
    golden: &'static str,
    key: &'static str,
    n_slots: usize,
    n_finals: usize,
    gguf: Option<&'static str>,
    final_atol: f32,
}

const LLAMA: Case = Case { fixture: "tiny-llama", golden: GOLDEN, key: "hf_f32", n_slots: 21, n_finals: 5, gguf: Some("tiny-llama-F32.gguf"), final_atol: 5e-5 };
const LLAMA_TIED: Case = Case { fixture: "tiny-llama-tied", golden: GOLDEN, key: "tied_f32", n_slots: 20, n_finals: 4, gguf: None, final_atol: 5e-5 };
/// 2 layers × (2 norms, 7 linears, 3 biases) + embedding + final norm.
const QWEN2: Case = Case { fixture: "tiny-qwen2", golden: "golden/tiny-qwen2-full.safetensors", key: "hf_f32", n_slots: 26, n_finals: 6, gguf: Some("tiny-qwen2-F32.gguf"), final_atol: 5e-6 };
/// 2 layers × (2 norms, 7 linears, q/k norms) + embedding + final norm.
const QWEN3: Case = Case { fixture: "tiny-qwen3", golden: "golden/tiny-qwen3-full.safetensors", key: "hf_f32", n_slots: 24, n_finals: 6, gguf: Some("tiny-qwen3-F32.gguf"), final_atol: 5e-6 };
/// 6 layers × (4 norms, 7 linears, q/k norms) + embedding + final norm.
const GEMMA3: Case = Case { fixture: "tiny-gemma3", golden: "golden/tiny-gemma3-full.safetensors", key: "hf_f32", n_slots: 80, n_finals: 7, gguf: Some("tiny-gemma3-F32.gguf"), final_atol: 5e-6 };

/// ids, next-token targets (the first `ignored_prefix` ignored) and their count.
fn batch(g: &Golden) -> (Vec<u32>, Vec<u32>, usize) {
    let ids = g.i32_as_u32("ids");
    let ignored = g.i32_as_u32("ignored_prefix")[0] as usize;
    let targets: Vec<u32> =
        (0..ids.len()).map(|t| if t + 1 < ids.len() && t + 1 >= ignored { ids[t + 1] } else { IGNORE }).collect();
    let n = targets.iter().filter(|&&t| t != IGNORE).count();
    (ids, targets, n)
}

fn read(gpu: &Gpu, t: &GpuTensor) -> Vec<f32> {
    pollster::block_on(t.to_vec(gpu)).unwrap()
}

#[test]
fn full_loss_and_every_gradient_match_pytorch_on_f32_weights() {
    check_gradients(&LLAMA);
}

/// Tied embeddings (as SmolLM2): no lm_head tensor; the embedding's gradient is the sum of its
/// two uses, as PyTorch's.
#[test]
fn full_gradients_and_adamw_match_pytorch_with_tied_embeddings() {
    check_gradients(&LLAMA_TIED);
    check_adamw(&LLAMA_TIED);
}

/// Qwen2: the q/k/v biases' gradients (`db = Σ_rows dy`) and their steps.
#[test]
fn full_trains_qwen2_biases_as_pytorch() {
    check_gradients(&QWEN2);
    check_adamw(&QWEN2);
}

/// Qwen3: the per-head q/k norms' gradients (over B·T·H rows of head_dim).
#[test]
fn full_trains_qwen3_qk_norms_as_pytorch() {
    check_gradients(&QWEN3);
    check_adamw(&QWEN3);
}

/// Gemma 3: q/k norms, the four sandwich norms per block (held as `1 + w`: the weight decay acts
/// on `w`, the export writes `w`), the √C-scaled tied embedding.
#[test]
fn full_trains_gemma3_norms_and_scaled_embedding_as_pytorch() {
    check_gradients(&GEMMA3);
    check_adamw(&GEMMA3);
}

fn check_gradients(case: &Case) {
    let Some(gpu) = test_gpu() else { return };
    let Case { fixture, key, n_slots, .. } = *case;
    let g = Golden::open(case.golden);
    let model = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
    let (ids, targets, n_targets) = batch(&g);
    let mut buf = StepBuffers::new(gpu, &model, 1, ids.len()).unwrap();
    let full = FullGrads::new(gpu, &model);
    let mut rec = Recorder::new(gpu);
    record_step(&mut rec, &model, &full, &mut buf, &ids, &targets, 1.0 / n_targets as f32).unwrap();
    let losses = pollster::block_on(buf.head.loss.read(rec)).unwrap();
    let loss = losses.iter().sum::<f32>() / n_targets as f32;
    let want = g.f32(&format!("{key}.loss"))[0];
    assert!((loss - want).abs() <= 1e-5 * want.abs(), "loss {loss} vs PyTorch {want}");
    let slots = Slot::all(&model);
    assert_eq!(slots.len(), n_slots, "every parameter of {fixture}");
    for slot in slots {
        let name = format!("{key}.{}.grad", slot.name(model.config.arch, Naming::HuggingFace));
        assert_close(&read(gpu, full.get(slot).unwrap()), &g.f32(&name), 1e-6, 1e-3, &name);
    }
}

#[test]
fn full_adamw_steps_match_pytorch_on_f32_weights() {
    check_adamw(&LLAMA);
}

/// Five AdamW steps on the case's model against its golden; then the export (HF folder, and a
/// GGUF where the case has a GGUF base) loaded back.
fn check_adamw(case: &Case) {
    let Some(gpu) = test_gpu() else { return };
    let Case { fixture, key, n_slots, n_finals, .. } = *case;
    let g = Golden::open(case.golden);
    let mut model = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
    assert_eq!(to_f32(gpu, &mut model).unwrap(), 0, "an f32 base is used as it is");
    let (ids, targets, n_targets) = batch(&g);
    let mut buf = StepBuffers::new(gpu, &model, 1, ids.len()).unwrap();
    let grads = FullGrads::new(gpu, &model);
    let params = FullParams::new(gpu, &model).unwrap();
    // Every parameter PyTorch has a gradient for.
    let torch: usize = params.iter().map(|(name, _, _, _)| g.f32(&format!("{key}.{name}.grad")).len()).sum();
    assert_eq!((params.iter().count(), params.count()), (n_slots, torch));
    let opt = AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 };
    let want = g.f32(&format!("{key}.adamw_losses"));
    let mut got = Vec::new();
    for step in 0..want.len() {
        let mut rec = Recorder::new(gpu);
        grads.clear(&mut rec);
        record_step(&mut rec, &model, &grads, &mut buf, &ids, &targets, 1.0 / n_targets as f32).unwrap();
        if step + 1 < want.len() {
            params.update(&mut rec, &opt, step as u32 + 1, 1.0, None, &grads).unwrap();
        }
        let losses = pollster::block_on(buf.head.loss.read(rec)).unwrap();
        got.push(losses.iter().sum::<f32>() / n_targets as f32);
    }
    assert_close(&got, &want, 0.0, 1e-4, "full AdamW losses");
    // In Hugging Face's convention (Gemma's norms as w).
    let trained = pollster::block_on(params.to_host(gpu)).unwrap();
    let mut finals = 0;
    for (name, value) in &trained {
        let golden = format!("{key}.{name}.final");
        if g.has(&golden) {
            assert_close(value, &g.f32(&golden), case.final_atol, 0.0, &golden);
            finals += 1;
        }
    }
    assert_eq!(finals, n_finals);
    let Some(gguf_fixture) = case.gguf else { return };

    // The trained model through the export writers: an HF folder (f32) and a GGUF (f32), each
    // loaded back gives the loss after the last step.
    let files = anytune_core::formats::read_model_path(&repo_path(&format!("fixtures/{fixture}"))).unwrap();
    let src = MergeSource::open(&files, None, "").unwrap().with_trained(&trained).unwrap();
    let dir = std::env::temp_dir().join(format!("anytune-full-export-{fixture}-{}", std::process::id()));
    // The GGUF writer copies a GGUF base's vocabulary: the same tiny model's F32 GGUF.
    let gguf_base = anytune_core::formats::read_model_path(&repo_path(&format!("fixtures/{gguf_fixture}"))).unwrap();
    let gguf_src = MergeSource::open(&gguf_base, None, "").unwrap().with_trained(&trained).unwrap();
    let (gguf_file, _) = gguf::write(&gguf_src, ExportType::F32).unwrap();
    let gguf_path = dir.join("trained.gguf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&gguf_path, gguf_file.1).unwrap();
    // HF folders from either base (from the GGUF one the config is written from its metadata).
    let (hf_dir, hf_from_gguf) = (dir.join("hf"), dir.join("hf-from-gguf"));
    for (src, out) in [(&src, &hf_dir), (&gguf_src, &hf_from_gguf)] {
        std::fs::create_dir_all(out).unwrap();
        for (name, bytes) in hf::write(src, GgmlType::F32).unwrap() {
            std::fs::write(out.join(name), bytes).unwrap();
        }
        // transformers loads the folder: Gemma3TextConfig types query_pre_attn_scalar as an int.
        let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        if let Some(s) = config.get("query_pre_attn_scalar") {
            assert!(s.is_u64(), "{}: query_pre_attn_scalar {s} is not an integer", out.display());
        }
    }
    for path in [hf_dir, hf_from_gguf, gguf_path] {
        let reloaded = load_model(gpu, &path).unwrap();
        let mut buf = StepBuffers::new(gpu, &reloaded, 1, ids.len()).unwrap();
        let mut rec = Recorder::new(gpu);
        record_step(&mut rec, &reloaded, &FullGrads::new(gpu, &reloaded), &mut buf, &ids, &targets, 1.0).unwrap();
        let loss = pollster::block_on(buf.head.loss.read(rec)).unwrap().iter().sum::<f32>() / n_targets as f32;
        let last = want[want.len() - 1];
        assert!((loss - last).abs() <= 1e-4 * last, "{}: loss {loss} vs PyTorch's after 5 steps {last}", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    // A trained set that misses a tensor is refused by name.
    let mut partial = trained.clone();
    partial.remove("model.norm.weight");
    let e = MergeSource::open(&files, None, "").unwrap().with_trained(&partial).err().unwrap().to_string();
    assert!(e.contains("model.norm.weight is missing"), "{e}");
}

/// A Q8_0 base is dequantized to f32 on the GPU (every matrix: the 21 tensors less the 5 norms),
/// its logits unchanged; every tensor of a model is trained (its count is the config's
/// parameter count, biases and norms included).
#[test]
fn full_dequantizes_a_quantized_base_and_trains_every_parameter() {
    let Some(gpu) = test_gpu() else { return };
    let mut model = load_model(gpu, &repo_path("fixtures/tiny-llama-Q8_0.gguf")).unwrap();
    let ids = [1u32, 17, 250, 3, 99];
    let before = anytune_tests::all_logits(gpu, &model, &ids);
    let c = model.config.dim;
    let matrices = 2 * model.config.vocab_size * c
        + model.config.n_layers * anytune_core::model::linear::Target::ALL.iter().map(|t| {
            let (i, o) = t.features(&model.config);
            i * o
        }).sum::<usize>();
    assert_eq!(to_f32(gpu, &mut model).unwrap(), 4 * matrices as u64);
    assert_close(&anytune_tests::all_logits(gpu, &model, &ids), &before, 1e-4, 1e-4, "logits after to_f32");
    assert_eq!(FullParams::new(gpu, &model).unwrap().count(), matrices + (2 * model.config.n_layers + 1) * c);
    assert_eq!(FullParams::new(gpu, &model).unwrap().count(), model.config.parameter_count());
    for fixture in ["tiny-qwen2-F32.gguf", "tiny-qwen3-F32.gguf", "tiny-gemma3-Q8_0.gguf"] {
        let mut m = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
        to_f32(gpu, &mut m).unwrap();
        assert_eq!(FullParams::new(gpu, &m).unwrap().count(), m.config.parameter_count(), "{fixture}");
    }
}
