//! The GPU kernel family (tiled matmul, qmatmul and attention) against the CPU family on whole
//! models: the tiny random Llama in Q4_0 (every frozen product through qmatmul) and f32, and
//! the tiny Gemma 3 (sliding windows), LoRA r 4 on all seven linears (every LoRA product
//! through matmul). Logits, and the losses of three optimizer steps, must agree within 1e-4
//! relative: both families sum in f32, in different orders; a wrong tile edge or dequantized
//! tile is off by far more. The f16 tiles (GPU family) against the f32 tiles on one LoRA step:
//! loss and every LoRA gradient (tolerances at [`check_f16_step`]).

use anytune::load::load_model;
use anytune_core::data::{Batch, DataPosition, IGNORE};
use anytune_core::gpu::{Gpu, GpuTensor, KernelFamily, Recorder};
use anytune_core::lora::{Layers, LoraBuffers, LoraConfig, LoraParams, LoraPass, LoraWeights, Target};
use anytune_core::model::Model;
use anytune_core::testing::{Rng, assert_close, test_gpu_f16, test_gpu_with};
use anytune_core::train::step::{StepBuffers, record_step};
use anytune_core::train::{TrainConfig, Trainer};
use anytune_tests::{all_logits, repo_path};

const B: usize = 2;
const T: usize = 13;

/// Batch `k` of `b` rows of `t` tokens (the last token of each row not a target).
fn batch_of(model: &Model, k: usize, b: usize, t: usize) -> Batch {
    let v = model.config.vocab_size;
    let inputs: Vec<u32> = (0..b * t).map(|i| ((i * 37 + k * 101 + 5) % v) as u32).collect();
    let targets: Vec<u32> = (0..b * t).map(|i| if i % t == t - 1 { IGNORE } else { ((i * 53 + k * 7 + 1) % v) as u32 }).collect();
    let n_targets = targets.iter().filter(|&&t| t != IGNORE).count();
    Batch { b, t, inputs, targets, n_targets, rows: (0..b).collect(), position: DataPosition { epoch: 0, index: k } }
}

/// Logits of one sequence and the losses of three LoRA steps on `gpu`.
fn run(gpu: &Gpu, fixture: &str) -> (Vec<f32>, Vec<f32>) {
    let (logits, losses, _) = run_steps(gpu, fixture, B, T);
    (logits, losses)
}

/// The fixture model and a LoRA r 4 adapter on all seven linears, B random (so that every
/// gradient is non-zero and the adapter changes the logits).
fn model_and_adapter(gpu: &Gpu, fixture: &str) -> (Model, LoraParams) {
    let model = load_model(gpu, &repo_path(&format!("fixtures/{fixture}"))).unwrap();
    let cfg = LoraConfig { r: 4, alpha: 8.0, dropout: 0.0, targets: Target::ALL.to_vec(), layers: Layers::All, use_rslora: false, use_dora: false };
    let mut w = LoraWeights::init(&cfg, &model.config, 3).unwrap();
    let mut rng = Rng::new(4);
    for m in &mut w.modules {
        m.b = rng.normal_vec(m.b.len(), 0.05);
    }
    let lora = LoraParams::from_weights(gpu, &model, &w).unwrap();
    (model, lora)
}

/// [`run`] with batches of `b × t` tokens; also returns each step's dispatch count.
fn run_steps(gpu: &Gpu, fixture: &str, b: usize, t: usize) -> (Vec<f32>, Vec<f32>, Vec<u32>) {
    let (model, lora) = model_and_adapter(gpu, fixture);
    let ids: Vec<u32> = (0..19).map(|i| (i * 11 + 3) as u32 % model.config.vocab_size as u32).collect();
    let logits = all_logits(gpu, &model, &ids);
    let config = TrainConfig { lr: 1e-2, seed: 1, ..TrainConfig::default() };
    let mut trainer = Trainer::new(gpu, &model, lora, config, b, t).unwrap();
    let steps: Vec<_> = (0..3).map(|s| pollster::block_on(trainer.train_step(gpu, &model, &[batch_of(&model, s, b, t)], 3)).unwrap()).collect();
    (logits, steps.iter().map(|s| s.loss).collect(), steps.iter().map(|s| s.dispatches).collect())
}

fn check(fixture: &str) {
    let (Some(cpu), Some(gpu)) = (test_gpu_with(KernelFamily::Cpu), test_gpu_with(KernelFamily::Gpu)) else { return };
    assert_eq!((cpu.family, gpu.family), (KernelFamily::Cpu, KernelFamily::Gpu));
    let (logits_cpu, losses_cpu) = run(cpu, fixture);
    let (logits_gpu, losses_gpu) = run(gpu, fixture);
    assert_close(&logits_gpu, &logits_cpu, 1e-4, 1e-4, &format!("{fixture} logits, GPU vs CPU kernel family"));
    assert_close(&losses_gpu, &losses_cpu, 0.0, 1e-4, &format!("{fixture} LoRA losses, GPU vs CPU kernel family"));
}

#[test]
fn gpu_kernel_family_matches_cpu_family_on_q4_0_model() {
    check("tiny-llama-Q4_0.gguf");
}

#[test]
fn gpu_kernel_family_matches_cpu_family_on_f32_model() {
    check("tiny-llama");
}

/// Gemma 3: sliding-window and global layers, the query scale, GeGLU, the four block norms.
#[test]
fn gpu_kernel_family_matches_cpu_family_on_gemma3_model() {
    check("tiny-gemma3-F32.gguf");
}

/// On the GPU family a step's dispatch count does not grow with batch × tokens: every product
/// and attention pass is one dispatch whatever its rows (the CPU family's products run in row
/// blocks and its attention in loop-budget chunks; its count changes with the shape: 403
/// dispatches at 1×8 and 369 at 3×45 on this model).
#[test]
fn gpu_family_dispatches_do_not_grow_with_tokens() {
    let Some(gpu) = test_gpu_with(KernelFamily::Gpu) else { return };
    let count = |b: usize, t: usize| run_steps(gpu, "tiny-llama-Q4_0.gguf", b, t).2[1];
    let counts = [count(1, 8), count(3, 45), count(2, 60)];
    assert!(counts.iter().all(|&c| c == counts[0]), "GPU family dispatches per step at 1×8, 3×45, 2×60 tokens: {counts:?}");
}

/// The loss and every LoRA gradient (dA, dB of each module, in order) of one step on `gpu`.
fn loss_and_gradients(gpu: &Gpu, fixture: &str) -> (f32, Vec<Vec<f32>>) {
    let (model, lora) = model_and_adapter(gpu, fixture);
    let batch = batch_of(&model, 0, B, T);
    let mut buf = StepBuffers::new(gpu, &model, B, T).unwrap();
    let lbufs = LoraBuffers::new(gpu, &lora, B * T, true, true);
    let mut rec = Recorder::new(gpu);
    let scale = 1.0 / batch.n_targets as f32;
    record_step(&mut rec, &model, &LoraPass::new(&lora, &lbufs, None), &mut buf, &batch.inputs, &batch.targets, scale).unwrap();
    let losses = pollster::block_on(buf.head.loss.read(rec)).unwrap();
    let read = |t: &GpuTensor| pollster::block_on(t.to_vec(gpu)).unwrap();
    let grads = lora.iter().flat_map(|(_, _, slot)| [read(&slot.grad_a), read(&slot.grad_b)]).collect();
    (losses.iter().sum::<f32>() * scale, grads)
}

/// f16 tiles against f32 tiles (both the GPU family) on a whole LoRA step: the loss within
/// 1e-3 relative and every gradient tensor within 1e-2 of its largest element (plus 1e-2
/// relative per element). Each tile value is off by at most 2^-11 ≈ 4.9e-4 relative, once per
/// product; a step chains about 20 products forward and back through two layers, the errors
/// are random in sign: measured on lavapipe the loss agrees to ~1e-5 relative and the gradients to ≤ 2e-3
/// of their largest element, so the bounds leave room; a wrong tile (a dropped weight group, a
/// mis-indexed f16 value) moves them by far more.
fn check_f16_step(fixture: &str) {
    let (Some(f32_tiles), Some(f16_tiles)) = (test_gpu_with(KernelFamily::Gpu), test_gpu_f16()) else { return };
    assert!(!f32_tiles.f16_tiles && f16_tiles.f16_tiles);
    let (loss_32, grads_32) = loss_and_gradients(f32_tiles, fixture);
    let (loss_16, grads_16) = loss_and_gradients(f16_tiles, fixture);
    eprintln!("{fixture}: loss f32 tiles {loss_32}, f16 tiles {loss_16}");
    assert!((loss_16 - loss_32).abs() <= 1e-3 * loss_32.abs(), "{fixture} loss: f16 tiles {loss_16}, f32 tiles {loss_32}");
    assert_eq!(grads_16.len(), grads_32.len());
    for (i, (g16, g32)) in grads_16.iter().zip(&grads_32).enumerate() {
        let largest = g32.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(largest > 0.0, "{fixture} gradient {i} is all zero");
        let max_diff = g16.iter().zip(g32).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        eprintln!("{fixture} gradient {i}: max |diff| / max |g| = {:.2e}", max_diff / largest);
        assert_close(g16, g32, 1e-2 * largest, 1e-2, &format!("{fixture} LoRA gradient {i} ({}), f16 vs f32 tiles", if i % 2 == 0 { "dA" } else { "dB" }));
    }
}

#[test]
fn f16_tiles_match_f32_tiles_on_a_lora_step_q4_0_model() {
    check_f16_step("tiny-llama-Q4_0.gguf");
}

#[test]
fn f16_tiles_match_f32_tiles_on_a_lora_step_f32_model() {
    check_f16_step("tiny-llama");
}
