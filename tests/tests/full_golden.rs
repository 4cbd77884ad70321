//! Full fine-tuning numerics against PyTorch (tests/golden/make_golden.py, set `full`): on the
//! tiny random Llama (HF f32 folder), one batch (ids_a, the first 3 labels ignored): the loss
//! and the gradient of every parameter (21 tensors: embedding, 5 RMSNorm weights, 14 linears,
//! lm_head), accumulated by `full::FullGrads` through the model's adapter seam and its hooks.
//!
//! Tolerances as the LoRA goldens: loss rtol 1e-5; gradients atol 1e-6 + rtol 1e-3 per element.
//! Not yet compared: the five AdamW steps (the golden file holds their losses and final weights).

use anytune::load::load_model;
use anytune_core::full::FullGrads;
use anytune_core::gpu::Recorder;
use anytune_core::gpu::{Gpu, GpuTensor};
use anytune_core::model::linear::{Norm, Target};
use anytune_core::ops::cross_entropy::IGNORE;
use anytune_core::testing::assert_close;
use anytune_core::train::step::{StepBuffers, record_step};
use anytune_tests::{Golden, repo_path, test_gpu};

/// HF module path of a linear: `self_attn.q_proj`, `mlp.gate_proj`, …
fn module(t: Target) -> String {
    let group = match t {
        Target::Q | Target::K | Target::V | Target::O => "self_attn",
        Target::Gate | Target::Up | Target::Down => "mlp",
    };
    format!("{group}.{}", t.peft_name())
}

#[test]
fn full_loss_and_every_gradient_match_pytorch_on_f32_weights() {
    let Some(gpu) = test_gpu() else { return };
    let g = Golden::open("golden/tiny-llama-full.safetensors");
    let model = load_model(gpu, &repo_path("fixtures/tiny-llama")).unwrap();
    let ids = g.i32_as_u32("ids");
    let ignored = g.i32_as_u32("ignored_prefix")[0] as usize;
    let targets: Vec<u32> =
        (0..ids.len()).map(|t| if t + 1 < ids.len() && t + 1 >= ignored { ids[t + 1] } else { IGNORE }).collect();
    let n_targets = targets.iter().filter(|&&t| t != IGNORE).count();
    let mut buf = StepBuffers::new(gpu, &model, 1, ids.len()).unwrap();
    let full = FullGrads::new(gpu, &model);
    let mut rec = Recorder::new(gpu);
    record_step(&mut rec, &model, &full, &mut buf, &ids, &targets, 1.0 / n_targets as f32).unwrap();
    let losses = pollster::block_on(buf.head.loss.read(rec)).unwrap();
    let loss = losses.iter().sum::<f32>() / n_targets as f32;
    let want = g.f32("hf_f32.loss")[0];
    assert!((loss - want).abs() <= 1e-5 * want.abs(), "loss {loss} vs PyTorch {want}");
    let mut checked = 0;
    let mut check = |grad: &GpuTensor, name: &str| {
        let name = format!("hf_f32.{name}.weight.grad");
        assert_close(&read(gpu, grad), &g.f32(&name), 1e-6, 1e-3, &name);
        checked += 1;
    };
    for (site, grad) in full.linears() {
        check(grad, &format!("model.layers.{}.{}", site.layer, module(site.target)));
    }
    for layer in 0..model.config.n_layers {
        check(full.norm(Norm::Attn(layer)).unwrap(), &format!("model.layers.{layer}.input_layernorm"));
        check(full.norm(Norm::Ffn(layer)).unwrap(), &format!("model.layers.{layer}.post_attention_layernorm"));
    }
    check(&full.output_norm, "model.norm");
    check(&full.embedding, "model.embed_tokens");
    check(full.head.as_ref().expect("tiny-llama's lm_head is untied"), "lm_head");
    assert_eq!(checked, 9 * model.config.n_layers + 3);
}

fn read(gpu: &Gpu, t: &GpuTensor) -> Vec<f32> {
    pollster::block_on(t.to_vec(gpu)).unwrap()
}
