//! Training options on the tiny random Llama (tests/fixtures/tiny-llama, f32): LoRA dropout
//! (off = the plain path bit for bit; on = different, finite, reproducible from the seed and
//! across a checkpoint resume), activation recomputation (the same gradients, a smaller memory
//! estimate) and the token accuracy of evaluation (against argmax over the CPU-read logits);
//! DoRA through the same paths (recomputation, dropout, accumulation, resume).

use anytune::load::load_model;
use anytune_core::data::{Batch, DataPosition, IGNORE};
use anytune_core::gpu::{Gpu, GpuTensor, Recorder};
use anytune_core::lora::{Layers, LoraBuffers, LoraConfig, LoraDropout, LoraParams, LoraPass, LoraWeights, Target};
use anytune_core::model::{AdapterWeights, Model, Saved};
use anytune_core::testing::assert_close;
use anytune_core::train::step::{StepBuffers, evaluate, record_step};
use anytune_core::gpu::KernelFamily;
use anytune_core::train::{ActivationStore, CheckpointInfo, TrainConfig, Trainer, training_memory};
use anytune_tests::{all_logits, repo_path, test_gpu};

const B: usize = 2;
const T: usize = 11;

fn model(gpu: &Gpu) -> Model {
    load_model(gpu, &repo_path("fixtures/tiny-llama")).unwrap()
}

/// LoRA r 4 on all seven linears of both layers, B random (not PEFT's zeros) so that every
/// gradient, dA included, is non-zero from the first step.
fn lora(gpu: &Gpu, model: &Model, dropout: f32) -> LoraParams {
    lora_or_dora(gpu, model, dropout, false)
}

/// [`lora`], or DoRA (`use_dora`: magnitudes at PEFT's init, ‖W + s·B·A‖ of these A, B).
fn lora_or_dora(gpu: &Gpu, model: &Model, dropout: f32, use_dora: bool) -> LoraParams {
    let cfg = LoraConfig { r: 4, alpha: 8.0, dropout, targets: Target::ALL.to_vec(), layers: Layers::All, use_rslora: false, use_dora };
    let mut w = LoraWeights::init(&cfg, &model.config, 3).unwrap();
    let mut rng = anytune_core::testing::Rng::new(4);
    for m in &mut w.modules {
        m.b = rng.normal_vec(m.b.len(), 0.05);
    }
    LoraParams::from_weights(gpu, model, &w).unwrap()
}

/// Batch `k` of a fixed pseudo-random stream; the first two positions of row 0 and the last of
/// every row are ignored.
fn batch(model: &Model, k: usize) -> Batch {
    let v = model.config.vocab_size;
    let inputs: Vec<u32> = (0..B * T).map(|i| ((i * 37 + k * 101 + 5) % v) as u32).collect();
    let targets: Vec<u32> = (0..B * T)
        .map(|i| if i < 2 || i % T == T - 1 { IGNORE } else { ((i * 53 + k * 7 + 1) % v) as u32 })
        .collect();
    let n_targets = targets.iter().filter(|&&t| t != IGNORE).count();
    Batch { b: B, t: T, inputs, targets, n_targets, rows: (0..B).collect(), position: DataPosition { epoch: 0, index: k } }
}

fn read(gpu: &Gpu, t: &GpuTensor) -> Vec<f32> {
    pollster::block_on(t.to_vec(gpu)).unwrap()
}

/// Step buffers and LoRA's buffers for `B × T` tokens (`recompute`: activation recomputation).
fn buffers(gpu: &Gpu, model: &Model, lora: &LoraParams, saved: Saved) -> (StepBuffers, LoraBuffers) {
    let step = StepBuffers::saving(gpu, model, B, T, saved).unwrap();
    (step, LoraBuffers::new(gpu, lora, B * T, saved.per_layer(), true))
}

/// Every trained tensor of `lora` with its gradient: A, B and DoRA's magnitude.
fn trained(lora: &LoraParams) -> Vec<(&GpuTensor, &GpuTensor)> {
    lora.iter()
        .flat_map(|(_, _, s)| [(&s.a, &s.grad_a), (&s.b, &s.grad_b)].into_iter().chain(s.dora.as_ref().map(|d| (&d.magnitude, &d.grad_m))))
        .collect()
}

/// Loss and every LoRA gradient of one step (gradients zeroed first).
fn one_step(
    gpu: &Gpu,
    model: &Model,
    lora: &LoraParams,
    (buf, lbufs): &mut (StepBuffers, LoraBuffers),
    dropout: Option<LoraDropout>,
    b: &Batch,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let mut rec = Recorder::new(gpu);
    for (_, g) in trained(lora) {
        rec.clear(g);
    }
    let pass = LoraPass::new(lora, &*lbufs, dropout);
    record_step(&mut rec, model, &pass, buf, &b.inputs, &b.targets, 1.0 / b.n_targets as f32).unwrap();
    let loss = pollster::block_on(buf.head.loss.read(rec)).unwrap();
    let grads = trained(lora).into_iter().map(|(_, g)| read(gpu, g)).collect();
    (loss, grads)
}

#[test]
fn dropout_zero_is_the_plain_path_bit_for_bit() {
    let Some(gpu) = test_gpu() else { return };
    let model = model(gpu);
    let lora = lora(gpu, &model, 0.0);
    let b = batch(&model, 0);
    let mut buf = buffers(gpu, &model, &lora, Saved::AllLayers);
    let plain = one_step(gpu, &model, &lora, &mut buf, None, &b);
    let zero = one_step(gpu, &model, &lora, &mut buf, Some(LoraDropout { p: 0.0, seed: 9, step: 3 }), &b);
    assert_eq!(plain, zero, "p = 0 must be exactly the plain LoRA path");
}

#[test]
fn recompute_gives_the_same_loss_and_gradients() {
    let Some(gpu) = test_gpu() else { return };
    let model = model(gpu);
    for (p, dora) in [(0.0, false), (0.2, false), (0.0, true), (0.2, true)] {
        let lora = lora_or_dora(gpu, &model, p, dora);
        let b = batch(&model, 1);
        let dropout = Some(LoraDropout { p, seed: 5, step: 2 });
        let (mut full, mut recomputing) = (buffers(gpu, &model, &lora, Saved::AllLayers), buffers(gpu, &model, &lora, Saved::LayerInputs));
        let (loss, grads) = one_step(gpu, &model, &lora, &mut full, dropout, &b);
        let (loss_r, grads_r) = one_step(gpu, &model, &lora, &mut recomputing, dropout, &b);
        assert_eq!(grads.len(), if dora { 42 } else { 28 });
        assert_close(&loss_r, &loss, 1e-5, 0.0, &format!("p={p} dora={dora} losses with recomputation"));
        for (i, (g, gr)) in grads.iter().zip(&grads_r).enumerate() {
            assert!(g.iter().any(|&x| x != 0.0), "p={p} dora={dora} gradient {i} is all zero");
            assert_close(gr, g, 1e-5, 0.0, &format!("p={p} dora={dora} gradient {i} with recomputation"));
        }
    }
    let lora = lora(gpu, &model, 0.0);
    let (with, without) = (training_memory(gpu, &model, &lora, B, T, Saved::LayerInputs), training_memory(gpu, &model, &lora, B, T, Saved::AllLayers));
    assert!(with.activations < without.activations, "recompute estimate {with} vs {without}");
}

/// Saving in 16 bits gives the same loss bit for bit (the forward runs in f32; only the copies
/// for backward are rounded) and gradients within the rounding of f16 / bf16 inputs (relative
/// 2⁻¹¹ / 2⁻⁹ per value: the gradients' relative distance stays below 1e-2), on a Llama, a
/// Qwen3 (q/k norms: a store of ten tensors, three dispatches with spare slots) and a Gemma 3
/// (sandwich norms); the estimate of its activations is smaller.
#[test]
fn sixteen_bit_saves_give_the_same_loss_and_close_gradients() {
    let Some(gpu) = test_gpu() else { return };
    for name in ["fixtures/tiny-llama", "fixtures/tiny-qwen3-F32.gguf", "fixtures/tiny-gemma3-F32.gguf"] {
        let model = load_model(gpu, &repo_path(name)).unwrap();
        let lora = lora(gpu, &model, 0.0);
        let b = batch(&model, 1);
        let (loss, grads) = one_step(gpu, &model, &lora, &mut buffers(gpu, &model, &lora, Saved::AllLayers), None, &b);
        let (loss16, grads16) = one_step(gpu, &model, &lora, &mut buffers(gpu, &model, &lora, Saved::AllLayers16), None, &b);
        assert_eq!(loss16, loss, "{name}: the loss does not depend on how activations are saved");
        let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let mut worst: f64 = 0.0;
        for (i, (g, g16)) in grads.iter().zip(&grads16).enumerate() {
            let diff: Vec<f32> = g.iter().zip(g16).map(|(a, b)| a - b).collect();
            let rel = norm(&diff) / norm(g).max(1e-30);
            assert!(rel < 1e-2, "{name}: gradient {i} is {rel:.2e} (relative) from f32's");
            worst = worst.max(rel);
        }
        assert!(worst > 0.0, "{name}: the 16-bit gradients equal f32's bit for bit: the store was not used");
        eprintln!("{name}: worst gradient distance {worst:.2e}");
        let (m16, m32) = (training_memory(gpu, &model, &lora, B, T, Saved::AllLayers16), training_memory(gpu, &model, &lora, B, T, Saved::AllLayers));
        assert!(m16.activations < m32.activations, "{name}: 16-bit estimate {m16} vs {m32}");
    }
    // The choice: auto by the kernel family, 16 bits and recomputation refused together.
    let auto = if gpu.family == KernelFamily::Gpu { Saved::AllLayers16 } else { Saved::AllLayers };
    assert_eq!(ActivationStore::Auto.saved(gpu, false).unwrap(), auto);
    assert_eq!(ActivationStore::Auto.saved(gpu, true).unwrap(), Saved::LayerInputs);
    assert!(ActivationStore::Sixteen.saved(gpu, true).unwrap_err().to_string().contains("choose one"));
    assert!(ActivationStore::parse("8bit").unwrap_err().to_string().contains("auto, f32 or 16bit"));
}

/// Losses of `steps` optimizer steps and the final adapter.
fn train(gpu: &Gpu, model: &Model, dropout: f32, seed: u64, steps: std::ops::Range<usize>, trainer: Option<Trainer>) -> (Vec<f32>, Vec<f32>, Trainer) {
    train_kind(gpu, model, (dropout, false), seed, steps, trainer)
}

/// [`train`] of LoRA or DoRA (`kind`: dropout, use_dora); the adapter holds DoRA's magnitudes too.
fn train_kind(gpu: &Gpu, model: &Model, kind: (f32, bool), seed: u64, steps: std::ops::Range<usize>, trainer: Option<Trainer>) -> (Vec<f32>, Vec<f32>, Trainer) {
    let config = TrainConfig { lr: 1e-2, grad_accum: 2, seed, ..TrainConfig::default() };
    let mut trainer = trainer.unwrap_or_else(|| Trainer::new(gpu, model, lora_or_dora(gpu, model, kind.0, kind.1), config, B, T).unwrap());
    let mut losses = Vec::new();
    for s in steps {
        let micro = [batch(model, 2 * s), batch(model, 2 * s + 1)];
        losses.push(pollster::block_on(trainer.train_step(gpu, model, &micro, 5)).unwrap().loss);
    }
    let adapter = trained(&trainer.lora).into_iter().flat_map(|(p, _)| read(gpu, p)).collect();
    (losses, adapter, trainer)
}

#[test]
fn dropout_training_is_different_finite_and_reproducible() {
    let Some(gpu) = test_gpu() else { return };
    let model = model(gpu);
    let (plain, plain_w, _) = train(gpu, &model, 0.0, 1, 0..5, None);
    let (drop, drop_w, _) = train(gpu, &model, 0.1, 1, 0..5, None);
    let (again, again_w, _) = train(gpu, &model, 0.1, 1, 0..5, None);
    let (other, _, _) = train(gpu, &model, 0.1, 2, 0..5, None);
    eprintln!("losses without dropout {plain:?}\nwith dropout 0.1 {drop:?}\nother seed {other:?}");
    assert!(drop.iter().all(|l| l.is_finite()), "finite losses {drop:?}");
    assert!(drop.iter().zip(&plain).all(|(a, b)| a != b), "dropout changes every step: {drop:?} vs {plain:?}");
    assert_ne!(drop_w, plain_w);
    assert_eq!((&drop, &drop_w), (&again, &again_w), "same seed, same run");
    assert_ne!(drop, other, "another seed draws other masks");
    // Masks change between steps: step 2 on step 1's data would differ. Resume after 3 steps
    // from a checkpoint in a fresh trainer: the same masks, the same adapter.
    let (_, _, first) = train(gpu, &model, 0.1, 1, 0..3, None);
    let info = CheckpointInfo { step: 0, data: DataPosition::default(), best_val_loss: None, evals_since_best: 0, adapter_config: String::new(), run: None };
    let bytes = pollster::block_on(first.checkpoint_bytes(gpu, info)).unwrap();
    let config = TrainConfig { lr: 1e-2, grad_accum: 2, seed: 1, ..TrainConfig::default() };
    let mut fresh = Trainer::new(gpu, &model, lora(gpu, &model, 0.1), config, B, T).unwrap();
    fresh.restore_checkpoint(gpu, &bytes, "checkpoint").unwrap();
    let (rest, resumed_w, _) = train(gpu, &model, 0.1, 1, 3..5, Some(fresh));
    assert_eq!(rest, drop[3..], "resumed losses");
    assert_eq!(resumed_w, drop_w, "resumed adapter");
}

/// DoRA with dropout through the trainer (accumulation, AdamW over A, B and m): finite losses
/// that fall, magnitudes that move, and a checkpoint resume to the same losses and adapter.
#[test]
fn dora_trains_and_resumes_to_the_same_adapter() {
    let Some(gpu) = test_gpu() else { return };
    let model = model(gpu);
    let kind = (0.1, true);
    let (losses, adapter, _) = train_kind(gpu, &model, kind, 1, 0..5, None);
    eprintln!("DoRA losses {losses:?}");
    assert!(losses.iter().all(|l| l.is_finite()) && losses[4] < losses[0], "{losses:?}");
    let (_, _, first) = train_kind(gpu, &model, kind, 1, 0..3, None);
    let info = CheckpointInfo { step: 0, data: DataPosition::default(), best_val_loss: None, evals_since_best: 0, adapter_config: String::new(), run: None };
    let bytes = pollster::block_on(first.checkpoint_bytes(gpu, info)).unwrap();
    let config = TrainConfig { lr: 1e-2, grad_accum: 2, seed: 1, ..TrainConfig::default() };
    let mut fresh = Trainer::new(gpu, &model, lora_or_dora(gpu, &model, 0.1, true), config, B, T).unwrap();
    fresh.restore_checkpoint(gpu, &bytes, "checkpoint").unwrap();
    let (rest, resumed, trainer) = train_kind(gpu, &model, kind, 1, 3..5, Some(fresh));
    assert_eq!(rest, losses[3..], "resumed DoRA losses");
    assert_eq!(resumed, adapter, "resumed DoRA adapter (A, B and m)");
    let magnitude = |lora: &LoraParams| read(gpu, &lora.slot(0, Target::Q).unwrap().dora.as_ref().unwrap().magnitude);
    let start = lora_or_dora(gpu, &model, 0.1, true);
    assert_ne!(magnitude(&trainer.lora), magnitude(&start), "the magnitudes trained");
}

#[test]
fn evaluation_reports_the_token_accuracy() {
    let Some(gpu) = test_gpu() else { return };
    let model = model(gpu);
    let lora = lora(gpu, &model, 0.3);
    let batches = [batch(&model, 0), batch(&model, 1)];
    // Targets = the argmax of the logits at half the positions, so the accuracy is not ~0.
    let v = model.config.vocab_size;
    let mut batches = batches.to_vec();
    let (mut hits, mut count) = (0, 0);
    for b in &mut batches {
        for row in 0..B {
            let ids = &b.inputs[row * T..(row + 1) * T];
            let logits = all_logits(gpu, &model, ids);
            for t in 0..T {
                let i = row * T + t;
                let top = anytune_core::ops::argmax::argmax_cpu(&logits[t * v..(t + 1) * v]) as u32;
                if b.targets[i] != IGNORE && t % 2 == 0 {
                    b.targets[i] = top;
                }
                if b.targets[i] != IGNORE {
                    count += 1;
                    hits += (b.targets[i] == top) as usize;
                }
            }
        }
    }
    let mut buf = StepBuffers::new(gpu, &model, B, T).unwrap();
    let r = pollster::block_on(evaluate(gpu, &model, None, &mut buf, &batches)).unwrap();
    assert_eq!(r.targets, count);
    assert!(hits > 0 && hits < count, "{hits} of {count}");
    assert!((r.accuracy - hits as f32 / count as f32).abs() < 1e-6, "accuracy {} vs {hits}/{count}", r.accuracy);
    assert!((r.perplexity - r.loss.exp()).abs() < 1e-3 * r.perplexity);
    // With an adapter that has dropout: an inference pass never applies it (it equals a run
    // with the same weights and dropout 0), and it is not the base model.
    let a = pollster::block_on(evaluate(gpu, &model, Some(&*lora.inference(gpu, B * T)), &mut buf, &batches)).unwrap();
    let mut no_drop = lora;
    no_drop.dropout = 0.0;
    let b0 = pollster::block_on(evaluate(gpu, &model, Some(&*no_drop.inference(gpu, B * T)), &mut buf, &batches)).unwrap();
    assert_eq!(a, b0, "evaluation without dropout");
    assert_ne!(a, r, "the adapter changes the evaluation");
}

#[test]
fn a_step_that_blows_up_the_adapter_is_refused_even_with_finite_gradients() {
    let Some(gpu) = test_gpu() else { return };
    let model = model(gpu);
    // The loss and the gradients of step 1 are finite (they are computed before the update);
    // the update of lr 1e30 without clipping makes the parameters' norm overflow.
    let config = TrainConfig {
        lr: 1e30,
        optimizer: anytune_core::train::Optimizer::Sgd { momentum: 0.0 },
        max_grad_norm: 0.0,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(gpu, &model, lora(gpu, &model, 0.0), config, B, T).unwrap();
    let err = pollster::block_on(trainer.train_step(gpu, &model, &[batch(&model, 0)], 10)).unwrap_err().to_string();
    assert!(err.contains("diverged at step 1") && err.contains("adapter norm inf"), "{err}");
}

/// Issue #11's memory goal: a LoRA step of SmolLM2's shapes at 4 × 512 tokens fits 1 GiB saved
/// in 16 bits (it takes over 1.5 GiB in f32), by the estimate that sums the very tables the step
/// allocates.
#[test]
fn smollm2_at_4_by_512_fits_one_gib_saved_in_16_bits() {
    let Some(gpu) = test_gpu() else { return };
    let synthetic = anytune_core::model::synthetic::find_synthetic("smollm2-135m").unwrap();
    let model = Model::load(gpu, &synthetic.files(0).unwrap()).unwrap();
    let cfg = LoraConfig { r: 8, targets: Target::parse_list("q_proj,v_proj").unwrap(), layers: Layers::All, ..LoraConfig::default() };
    let lora = LoraParams::from_weights(gpu, &model, &LoraWeights::init(&cfg, &model.config, 0).unwrap()).unwrap();
    let (m16, m32) = (training_memory(gpu, &model, &lora, 4, 512, Saved::AllLayers16), training_memory(gpu, &model, &lora, 4, 512, Saved::AllLayers));
    eprintln!("4 × 512: {m16} in 16 bits; {m32} in f32");
    assert!(m16.total <= 1 << 30, "saved in 16 bits: {m16}");
    assert!(m32.total > 3 << 29, "in f32: {m32}");
}
