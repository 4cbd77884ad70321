//! LoRA training numerics against PEFT (tests/golden/make_golden.py, sets `lora`, `gemma3tiny`,
//! `qwen3`): on the tiny random Llama — HF f32 folder and every GGUF type —, the tiny Gemma 3 (HF
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
use anytune_core::lora::{LoraBuffers, LoraParams, LoraPass, Target};
use anytune_core::model::Model;
use anytune_core::ops::adamw::{AdamW, adamw_update};
use anytune_core::ops::cross_entropy::IGNORE;
use anytune_core::testing::assert_close;
use anytune_core::train::step::{StepBuffers, record_step};
use anytune_tests::{Golden, repo_path, test_gpu};

const RANK: usize = 4;
const SCALE: f32 = 8.0 / 4.0;

fn lora_from_golden(gpu: &anytune_core::gpu::Gpu, model: &Model, g: &Golden, key: &str) -> LoraParams {
    let mut host = Vec::new();
    for layer in 0..model.config.n_layers {
        for t in Target::ALL {
            let a = g.f32(&format!("{key}.{layer}.{}.A", t.peft_name()));
            let b = g.f32(&format!("{key}.{layer}.{}.B", t.peft_name()));
            host.push((layer, t, a, b));
        }
    }
    LoraParams::upload(gpu, &model.config, RANK, SCALE, host.iter().map(|(l, t, a, b)| (*l, *t, &a[..], &b[..]))).unwrap()
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

fn check(fixture: &str, golden_file: &str, key: &str) {
    let Some(gpu) = test_gpu() else { return };
    let g = Golden::open(golden_file);
    let model = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
    let lora = lora_from_golden(gpu, &model, &g, key);
    let ids = g.i32_as_u32("ids");
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
        let name = format!("{key}.{layer}.{}", t.peft_name());
        assert_close(&read(gpu, &slot.grad_a), &g.f32(&format!("{name}.A.grad")), 1e-6, 1e-3, &format!("{name} dA"));
        assert_close(&read(gpu, &slot.grad_b), &g.f32(&format!("{name}.B.grad")), 1e-6, 1e-3, &format!("{name} dB"));
    }

    // Five AdamW steps from the same start: the loss before each step and after the last.
    let lora = lora_from_golden(gpu, &model, &g, key);
    let opt = AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 };
    let state: Vec<[GpuTensor; 4]> = lora
        .iter()
        .map(|(_, _, s)| [s.a.shape.clone(), s.a.shape.clone(), s.b.shape.clone(), s.b.shape.clone()].map(|sh| GpuTensor::zeros(gpu, &sh)))
        .collect();
    let want = g.f32(&format!("{key}.adamw_losses"));
    let mut got = Vec::new();
    for step in 0..want.len() {
        let mut rec = Recorder::new(gpu);
        for (_, _, s) in lora.iter() {
            rec.clear(&s.grad_a);
            rec.clear(&s.grad_b);
        }
        record_step(&mut rec, &model, &LoraPass::new(&lora, &lbufs, None), &mut buf, &ids, &targets, 1.0 / n_targets as f32).unwrap();
        if step + 1 < want.len() {
            for ((_, _, s), [ma, va, mb, vb]) in lora.iter().zip(&state) {
                adamw_update(&mut rec, &opt, step as u32 + 1, 1.0, None, &s.grad_a, &s.a, ma, va).unwrap();
                adamw_update(&mut rec, &opt, step as u32 + 1, 1.0, None, &s.grad_b, &s.b, mb, vb).unwrap();
            }
        }
        let losses = pollster::block_on(buf.head.loss.read(rec)).unwrap();
        got.push(losses.iter().sum::<f32>() / n_targets as f32);
    }
    assert_close(&got, &want, 0.0, 1e-4, &format!("{key} AdamW losses"));
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
