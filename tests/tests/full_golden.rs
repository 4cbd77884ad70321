//! Full fine-tuning numerics against PyTorch (tests/golden/make_golden.py, set `full`): on the
//! tiny random Llama (HF f32 folder), one batch (ids_a, the first 3 labels ignored): the loss
//! and the gradient of every linear of every layer (`dW = dyᵀ·x` accumulated by
//! `full::FullLinears` through the model's adapter seam, backward down to layer 0).
//!
//! Tolerances as the LoRA goldens: loss rtol 1e-5; gradients atol 1e-6 + rtol 1e-3 per element.
//! Not yet compared: the embedding, RMSNorm and lm_head gradients and the five AdamW steps
//! (the golden file holds them; the model has no hook for those parameters yet).

use anytune::load::load_model;
use anytune_core::full::FullLinears;
use anytune_core::gpu::Recorder;
use anytune_core::model::linear::Target;
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
fn full_loss_and_linear_gradients_match_pytorch_on_f32_weights() {
    let Some(gpu) = test_gpu() else { return };
    let g = Golden::open("golden/tiny-llama-full.safetensors");
    let model = load_model(gpu, &repo_path("fixtures/tiny-llama")).unwrap();
    let ids = g.i32_as_u32("ids");
    let ignored = g.i32_as_u32("ignored_prefix")[0] as usize;
    let targets: Vec<u32> =
        (0..ids.len()).map(|t| if t + 1 < ids.len() && t + 1 >= ignored { ids[t + 1] } else { IGNORE }).collect();
    let n_targets = targets.iter().filter(|&&t| t != IGNORE).count();
    let mut buf = StepBuffers::new(gpu, &model, 1, ids.len()).unwrap();
    let full = FullLinears::new(gpu, &model.config);
    let mut rec = Recorder::new(gpu);
    record_step(&mut rec, &model, &full, &mut buf, &ids, &targets, 1.0 / n_targets as f32).unwrap();
    let losses = pollster::block_on(buf.head.loss.read(rec)).unwrap();
    let loss = losses.iter().sum::<f32>() / n_targets as f32;
    let want = g.f32("hf_f32.loss")[0];
    assert!((loss - want).abs() <= 1e-5 * want.abs(), "loss {loss} vs PyTorch {want}");
    let mut checked = 0;
    for (site, grad) in full.iter() {
        let name = format!("hf_f32.model.layers.{}.{}.weight.grad", site.layer, module(site.target));
        let got = pollster::block_on(grad.to_vec(gpu)).unwrap();
        assert_close(&got, &g.f32(&name), 1e-6, 1e-3, &name);
        checked += 1;
    }
    assert_eq!(checked, 7 * model.config.n_layers);
}
