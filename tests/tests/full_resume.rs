//! `--full` checkpoints: a full fine-tuning run stopped after 3 steps and resumed from its
//! checkpoint bytes, on a fresh load of the model, takes the same losses and ends at the same
//! weights (every parameter) as an uninterrupted run of 6 steps — exactly: the same kernels in
//! the same order on the same device. Also for Qwen2 (biases) and Gemma 3 (q/k norms, sandwich
//! norms held as `1 + w`): every tensor goes through the checkpoint, the clipping and AdamW.

use anytune::load::load_model;
use anytune_core::data::{Batch, DataPosition, IGNORE};
use anytune_core::full::{Slot, to_f32};
use anytune_core::gpu::Gpu;
use anytune_core::lora::{LoraConfig, LoraParams, LoraWeights};
use anytune_core::model::Model;
use anytune_core::train::{CheckpointInfo, TrainConfig, Trainer};
use anytune_tests::{repo_path, test_gpu};

const T: usize = 16;
const STEPS: usize = 6;

const LLAMA: &str = "fixtures/tiny-llama-Q8_0.gguf";

/// The tiny model at `fixture` made f32, and a full trainer over it.
fn fresh(gpu: &Gpu, fixture: &str) -> (Model, Trainer) {
    let mut model = load_model(gpu, &repo_path(fixture)).unwrap();
    to_f32(gpu, &mut model).unwrap();
    let cfg = LoraConfig { r: 4, ..LoraConfig::default() };
    let lora = LoraParams::from_weights(gpu, &model, &LoraWeights::init(&cfg, &model.config, 1).unwrap()).unwrap();
    let config = TrainConfig { lr: 1e-3, seed: 1, ..TrainConfig::default() };
    let trainer = Trainer::new(gpu, &model, lora, config, 1, T).unwrap().full(gpu, &model).unwrap();
    (model, trainer)
}

/// Step `k`'s batch: a row of token ids from the vocabulary, every next token a target.
fn batch(model: &Model, k: usize) -> Batch {
    let v = model.config.vocab_size as u32;
    let inputs: Vec<u32> = (0..T as u32).map(|i| (i * 7 + k as u32 * 13 + 3) % v).collect();
    let targets: Vec<u32> = (0..T).map(|i| if i + 1 < T { inputs[i + 1] } else { IGNORE }).collect();
    Batch { b: 1, t: T, n_targets: T - 1, inputs, targets, rows: vec![0], position: DataPosition::default() }
}

fn steps(gpu: &Gpu, model: &Model, trainer: &mut Trainer, range: std::ops::Range<usize>) -> Vec<f32> {
    range.map(|k| pollster::block_on(trainer.train_step(gpu, model, &[batch(model, k)], STEPS)).unwrap().loss).collect()
}

fn weights(gpu: &Gpu, trainer: &Trainer) -> Vec<(String, Vec<f32>)> {
    let mut all: Vec<_> = pollster::block_on(trainer.full_params().unwrap().to_host(gpu)).unwrap().into_iter().collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn a_full_run_resumed_from_its_checkpoint_ends_at_the_same_weights() {
    let Some(gpu) = test_gpu() else { return };
    let losses = check_resume(gpu, LLAMA);
    assert!(losses[STEPS - 1] < losses[0], "the loss did not fall: {losses:?}");
    // A LoRA checkpoint is not a full one: refused by tensor name.
    let (model, lora_run) = {
        let model = load_model(gpu, &repo_path(LLAMA)).unwrap();
        let cfg = LoraConfig { r: 4, ..LoraConfig::default() };
        let lora = LoraParams::from_weights(gpu, &model, &LoraWeights::init(&cfg, &model.config, 1).unwrap()).unwrap();
        let t = Trainer::new(gpu, &model, lora, TrainConfig::default(), 1, T).unwrap();
        (model, t)
    };
    let info = CheckpointInfo { step: 0, data: DataPosition::default(), best_val_loss: None, evals_since_best: 0, adapter_config: String::new(), run: None };
    let lora_bytes = pollster::block_on(lora_run.checkpoint_bytes(gpu, info)).unwrap();
    drop(model);
    let (_model, mut full) = fresh(gpu, LLAMA);
    let e = full.restore_checkpoint(gpu, &lora_bytes, "lora.safetensors").unwrap_err().to_string();
    assert!(e.contains("lora.safetensors") && e.contains("is missing"), "{e}");
}

#[test]
fn full_runs_of_qwen2_and_gemma3_resume_at_the_same_weights() {
    let Some(gpu) = test_gpu() else { return };
    check_resume(gpu, "fixtures/tiny-qwen2-F32.gguf");
    check_resume(gpu, "fixtures/tiny-gemma3-Q8_0.gguf");
}

/// 6 steps straight vs 3, a checkpoint, a fresh load restored from it, and 3 more: the same
/// losses and every parameter bit for bit; returns the losses.
fn check_resume(gpu: &Gpu, fixture: &str) -> Vec<f32> {
    let (model, mut straight) = fresh(gpu, fixture);
    let all = steps(gpu, &model, &mut straight, 0..STEPS);
    let end = weights(gpu, &straight);

    let (model, mut first) = fresh(gpu, fixture);
    assert_eq!(steps(gpu, &model, &mut first, 0..3), all[..3]);
    let info = CheckpointInfo { step: 0, data: DataPosition::default(), best_val_loss: None, evals_since_best: 0, adapter_config: String::new(), run: None };
    let bytes = pollster::block_on(first.checkpoint_bytes(gpu, info)).unwrap();
    drop((model, first));

    let (model, mut resumed) = fresh(gpu, fixture);
    let info = resumed.restore_checkpoint(gpu, &bytes, "checkpoint.safetensors").unwrap();
    assert_eq!(info.step, 3);
    assert_eq!(steps(gpu, &model, &mut resumed, 3..STEPS), all[3..], "resumed losses");
    let got = weights(gpu, &resumed);
    assert_eq!(got.len(), end.len());
    for ((name, a), (_, b)) in got.iter().zip(&end) {
        assert_eq!(a, b, "{fixture}: {name} differs after the resume");
    }
    assert_eq!(got.len(), Slot::all(&model).len(), "{fixture}: every tensor is checkpointed");
    all
}
