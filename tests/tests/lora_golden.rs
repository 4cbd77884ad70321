//! LoRA training numerics against PEFT (tests/golden/make_golden.py, sets `lora`, `gemma3tiny`,
//! `qwen3`, and `dora`: DoRA, rsLoRA and both, with the logits too): on the tiny random Llama — HF f32 folder and every GGUF type —, the tiny Gemma 3 (HF
//! folder and F32 GGUF) and the tiny Qwen3 (HF folder), with r 4, alpha 8 on all seven linears of
//! every layer and A, B set from the golden file: the loss, every LoRA gradient, and the losses of
//! five AdamW steps.
//!
//! Tolerances: loss rtol 1e-5; gradients atol 1e-6 + rtol 1e-3 of each element (f32 sums in a
//! different order through two layers and the 320-way softmax; the largest gradients are
//! ~1e-1, a wrong term in any backward kernel moves them by ≥ 1e-2); AdamW losses rtol 1e-4
//! (AdamW amplifies tiny gradient differences in its first steps, where m/√v ≈ ±1).

use anytune::load::load_model;
use anytune_core::gpu::{GpuTensor, Recorder};
use anytune_core::lora::{Layers, LoraBuffers, LoraConfig, LoraModule, LoraParams, LoraPass, LoraSlot, LoraWeights, Target};
use anytune_core::model::Model;
use anytune_core::ops::adamw::{AdamW, adamw_update};
use anytune_core::ops::cross_entropy::IGNORE;
use anytune_core::testing::assert_close;
use anytune_core::train::step::{StepBuffers, record_step};
use anytune_tests::{Golden, all_logits, repo_path, test_gpu};

/// The golden sets' adapter: r 4, alpha 8 on all seven linears of every layer.
fn golden_config(use_rslora: bool, use_dora: bool) -> LoraConfig {
    LoraConfig { r: 4, alpha: 8.0, dropout: 0.0, targets: Target::ALL.to_vec(), layers: Layers::All, use_rslora, use_dora }
}

/// The adapter of golden set `key` (A, B and, with DoRA, the magnitude M of every module).
fn weights_from_golden(model: &Model, g: &Golden, key: &str, config: LoraConfig) -> LoraWeights {
    let mut modules = Vec::new();
    for layer in 0..model.config.n_layers {
        for target in Target::ALL {
            let name = |part: &str| format!("{key}.{layer}.{}.{part}", target.peft_name());
            let (in_features, out_features) = target.features(&model.config);
            let magnitude = if config.use_dora { g.f32(&name("M")) } else { Vec::new() };
            modules.push(LoraModule { layer, target, in_features, out_features, a: g.f32(&name("A")), b: g.f32(&name("B")), magnitude });
        }
    }
    LoraWeights { config, modules }
}

/// Every trained tensor of a slot with its gradient and its golden name (A, B, DoRA's M).
fn trained(slot: &LoraSlot) -> Vec<(&GpuTensor, &GpuTensor, &'static str)> {
    let mut out = vec![(&slot.a, &slot.grad_a, "A"), (&slot.b, &slot.grad_b, "B")];
    out.extend(slot.dora.as_ref().map(|d| (&d.magnitude, &d.grad_m, "M")));
    out
}

/// Next-token targets of `ids` as HF computes them from labels = ids with the first `ignored`
/// positions set to -100.
fn targets(ids: &[u32], ignored: usize) -> Vec<u32> {
    (0..ids.len()).map(|t| if t + 1 < ids.len() && t + 1 >= ignored { ids[t + 1] } else { IGNORE }).collect()
}

fn read(gpu: &anytune_core::gpu::Gpu, t: &GpuTensor) -> Vec<f32> {
    pollster::block_on(t.to_vec(gpu)).unwrap()
}

/// The tiny Llama's golden file (set `lora`).
const LLAMA: &str = "golden/tiny-llama-lora.safetensors";
/// DoRA, rsLoRA and both on the tiny Llama (set `dora`).
const DORA: &str = "golden/tiny-llama-dora.safetensors";

fn check(fixture: &str, golden_file: &str, key: &str) {
    check_config(fixture, golden_file, key, golden_config(false, false), false)
}

/// Loss, gradients and AdamW losses of golden set `key` with `config` (and the logits before
/// any step, with `logits`).
fn check_config(fixture: &str, golden_file: &str, key: &str, config: LoraConfig, logits: bool) {
    let Some(gpu) = test_gpu() else { return };
    let g = Golden::open(golden_file);
    let mut model = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
    let weights = weights_from_golden(&model, &g, key, config);
    let ids = g.i32_as_u32("ids");
    if logits {
        model.adapter = Some(Box::new(LoraParams::from_weights(gpu, &model, &weights).unwrap()));
        assert_close(&all_logits(gpu, &model, &ids), &g.f32(&format!("{key}.logits")), 1e-4, 1e-4, &format!("{key} logits"));
        model.adapter = None;
    }
    let lora = LoraParams::from_weights(gpu, &model, &weights).unwrap();
    let targets = targets(&ids, g.i32_as_u32("ignored_prefix")[0] as usize);
    let n_targets = targets.iter().filter(|&&t| t != IGNORE).count();
    let mut buf = StepBuffers::new(gpu, &model, 1, ids.len()).unwrap();
    let lbufs = LoraBuffers::new(gpu, &lora, ids.len(), true, true);

    // One step: loss and gradients.
    let mut rec = Recorder::new(gpu);
    record_step(&mut rec, &model, &LoraPass::new(&lora, &lbufs, None), &mut buf, &ids, &targets, 1.0 / n_targets as f32).unwrap();
    let losses = pollster::block_on(buf.head.loss.read(rec)).unwrap();
    let loss = losses.iter().sum::<f32>() / n_targets as f32;
    let want = g.f32(&format!("{key}.loss"))[0];
    assert!((loss - want).abs() <= 1e-5 * want.abs(), "{key} loss {loss} vs PEFT {want}");
    for (layer, t, slot) in lora.iter() {
        for (_, grad, part) in trained(slot) {
            let name = format!("{key}.{layer}.{}.{part}", t.peft_name());
            assert_close(&read(gpu, grad), &g.f32(&format!("{name}.grad")), 1e-6, 1e-3, &format!("{name} d{part}"));
        }
    }

    // Five AdamW steps from the same start: the loss before each step and after the last.
    let lora = LoraParams::from_weights(gpu, &model, &weights).unwrap();
    let opt = AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 };
    let params: Vec<_> = lora.iter().flat_map(|(_, _, s)| trained(s)).collect();
    let state: Vec<[GpuTensor; 2]> = params.iter().map(|(p, _, _)| [0; 2].map(|_| GpuTensor::zeros(gpu, &p.shape))).collect();
    let want = g.f32(&format!("{key}.adamw_losses"));
    let mut got = Vec::new();
    for step in 0..want.len() {
        let mut rec = Recorder::new(gpu);
        for (_, grad, _) in &params {
            rec.clear(grad);
        }
        record_step(&mut rec, &model, &LoraPass::new(&lora, &lbufs, None), &mut buf, &ids, &targets, 1.0 / n_targets as f32).unwrap();
        if step + 1 < want.len() {
            for ((p, grad, _), [m, v]) in params.iter().zip(&state) {
                adamw_update(&mut rec, &opt, step as u32 + 1, 1.0, None, grad, p, m, v).unwrap();
            }
        }
        let losses = pollster::block_on(buf.head.loss.read(rec)).unwrap();
        got.push(losses.iter().sum::<f32>() / n_targets as f32);
    }
    assert_close(&got, &want, 0.0, 1e-4, &format!("{key} AdamW losses"));
}

/// DoRA (PEFT use_dora) on the tiny Llama's f32 weights: logits with a non-zero adapter, the
/// loss, the gradients of A, B and the magnitude, and five AdamW steps over all three.
#[test]
fn dora_logits_gradients_and_adamw_match_peft_on_f32_weights() {
    check_config("tiny-llama", DORA, "dora_hf_f32", golden_config(false, true), true);
}

/// DoRA against a Q4_0 base: the norm ‖W + s·B·A‖ is computed from the quantized weight.
#[test]
fn dora_logits_gradients_and_adamw_match_peft_on_q4_0_weights() {
    check_config("tiny-llama-Q4_0.gguf", DORA, "dora_gguf_Q4_0", golden_config(false, true), true);
}

/// rsLoRA (scale alpha / √r = 4) alone and combined with DoRA.
#[test]
fn rslora_and_dora_rslora_match_peft() {
    check_config("tiny-llama", DORA, "rslora_hf_f32", golden_config(true, false), true);
    check_config("tiny-llama", DORA, "dora_rslora_hf_f32", golden_config(true, true), true);
}

/// A fresh DoRA adapter's magnitude is PEFT's init: the row norms of W (B is zero at init).
#[test]
fn dora_init_magnitude_is_the_row_norm_of_w_as_peft() {
    let Some(gpu) = test_gpu() else { return };
    let g = Golden::open(DORA);
    for (fixture, key) in [("tiny-llama", "dora_hf_f32"), ("tiny-llama-Q4_0.gguf", "dora_gguf_Q4_0")] {
        let model = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
        let mut weights = weights_from_golden(&model, &g, key, golden_config(false, true));
        for m in &mut weights.modules {
            m.b.iter_mut().for_each(|b| *b = 0.0);
            m.magnitude.clear();
        }
        let lora = LoraParams::from_weights(gpu, &model, &weights).unwrap();
        for (layer, t, slot) in lora.iter() {
            let name = format!("{key}.{layer}.{}.M", t.peft_name());
            let got = read(gpu, &slot.dora.as_ref().unwrap().magnitude);
            assert_close(&got, &g.f32(&name), 1e-6, 1e-5, &name);
        }
    }
}

#[test]
fn lora_loss_gradients_and_adamw_match_peft_on_f32_weights() {
    check("tiny-llama", LLAMA, "hf_f32");
}

#[test]
fn lora_loss_gradients_and_adamw_match_peft_on_q4_1_weights() {
    check("tiny-llama-Q4_1.gguf", LLAMA, "gguf_Q4_1");
}

#[test]
fn lora_loss_gradients_and_adamw_match_peft_on_f32_f16_q8_0_q4_0_gguf() {
    for ty in ["F32", "F16", "Q8_0", "Q4_0"] {
        check(&format!("tiny-llama-{ty}.gguf"), LLAMA, &format!("gguf_{ty}"));
    }
}

#[test]
fn lora_loss_gradients_and_adamw_match_peft_on_gemma3() {
    check("tiny-gemma3", "golden/tiny-gemma3-lora.safetensors", "gemma3_hf_f32");
    check("tiny-gemma3-F32.gguf", "golden/tiny-gemma3-lora.safetensors", "gemma3_gguf_F32");
}

#[test]
fn lora_loss_gradients_and_adamw_match_peft_on_qwen3() {
    check("tiny-qwen3", "golden/tiny-qwen3-lora.safetensors", "qwen3_hf_f32");
}
