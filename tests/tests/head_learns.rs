//! The classification head trains: LoRA (q_proj, v_proj, PEFT init: B = 0) + a seeded
//! N(0, 0.02) score weight, AdamW on both, on 8 synthetic sequences of the tiny llama whose
//! label is whether token 7 occurs. The base is the untrained head (the same init, no step);
//! after 30 full-batch steps the training accuracy must beat it and the loss must fall.

use anytune::load::load_model;
use anytune_core::gpu::{Gpu, GpuTensor, Recorder};
use anytune_core::head::reference::predict;
use anytune_core::head::seqcls::{INIT_STD, init_score};
use anytune_core::head::step::{HeadBuffers, head_forward};
use anytune_core::head::train_step::{HeadBatch, record_head_step};
use anytune_core::lora::{LoraBuffers, LoraConfig, LoraParams, LoraPass, LoraWeights};
use anytune_core::ops::adamw::{AdamW, adamw_update};
use anytune_core::ops::embedding::GpuIds;
use anytune_core::rng::Rng;
use anytune_core::train::step::StepBuffers;
use anytune_tests::{repo_path, test_gpu};

const B: usize = 8;
const T: usize = 6;

fn zeros_like(gpu: &Gpu, t: &GpuTensor) -> [GpuTensor; 2] {
    [GpuTensor::zeros(gpu, &t.shape), GpuTensor::zeros(gpu, &t.shape)]
}

#[test]
fn head_training_beats_the_untrained_head() {
    let Some(gpu) = test_gpu() else { return };
    let model = load_model(gpu, &repo_path("fixtures/tiny-llama")).unwrap();
    let c = model.config.dim;
    let mut rng = Rng::new(5);
    let mut ids = Vec::new();
    let mut labels = Vec::new();
    for b in 0..B {
        let mut row: Vec<u32> = (0..T).map(|_| 10 + rng.below(300) as u32).collect();
        if b % 2 == 1 {
            row[rng.below(T)] = 7;
        }
        labels.push((b % 2) as u32);
        ids.extend(row);
    }
    let last: Vec<u32> = (0..B).map(|b| (b * T + T - 1) as u32).collect();
    let weights = LoraWeights::init(&LoraConfig::default(), &model.config, 1).unwrap();
    let lora = LoraParams::from_weights(gpu, &model, &weights).unwrap();
    let lbufs = LoraBuffers::new(gpu, &lora, ids.len(), true, true);
    let mut buf = StepBuffers::new(gpu, &model, B, T).unwrap();
    let (glast, glabels) = (GpuIds::from_slice(gpu, &last), GpuIds::from_slice(gpu, &labels));
    let score = GpuTensor::from_slice(gpu, &[2, c], &init_score(2, c, INIT_STD, 1));
    let d_score = GpuTensor::zeros(gpu, &[2, c]);
    let hbufs = HeadBuffers::new(gpu, B, c, 2);
    let opt = AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 };
    let lora_state: Vec<[GpuTensor; 4]> = lora
        .iter()
        .map(|(_, _, s)| {
            let ([ma, va], [mb, vb]) = (zeros_like(gpu, &s.a), zeros_like(gpu, &s.b));
            [ma, va, mb, vb]
        })
        .collect();
    let [ms, vs] = zeros_like(gpu, &score);
    let batch = HeadBatch { last: &glast, labels: &glabels, score: &score, d_score: &d_score, bufs: &hbufs };
    let want: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    // Forward only (no dropout, no backward): the training rows' accuracy.
    let accuracy = |buf: &mut StepBuffers| {
        let mut rec = Recorder::new(gpu);
        buf.cache.clear();
        model.forward_into(&mut rec, &ids, &mut buf.cache, Some(&LoraPass::new(&lora, &lbufs, None)), &buf.acts).unwrap();
        head_forward(&mut rec, buf.acts.hidden(), &glast, &score, &glabels, &hbufs).unwrap();
        let logits = pollster::block_on(hbufs.logits.read(rec)).unwrap();
        predict(&logits, 2).iter().zip(&want).filter(|(p, w)| p == w).count() as f32 / B as f32
    };
    let base_acc = accuracy(&mut buf);
    let (mut first, mut last_loss) = (0.0, 0.0);
    for step in 1..=30u32 {
        let mut rec = Recorder::new(gpu);
        rec.clear(&d_score);
        for (_, _, s) in lora.iter() {
            rec.clear(&s.grad_a);
            rec.clear(&s.grad_b);
        }
        record_head_step(&mut rec, &model, &LoraPass::new(&lora, &lbufs, None), &mut buf, &ids, &batch).unwrap();
        for ((_, _, s), [ma, va, mb, vb]) in lora.iter().zip(&lora_state) {
            adamw_update(&mut rec, &opt, step, 1.0, None, &s.grad_a, &s.a, ma, va).unwrap();
            adamw_update(&mut rec, &opt, step, 1.0, None, &s.grad_b, &s.b, mb, vb).unwrap();
        }
        adamw_update(&mut rec, &opt, step, 1.0, None, &d_score, &score, &ms, &vs).unwrap();
        let loss = pollster::block_on(hbufs.loss.read(rec)).unwrap().iter().sum::<f32>() / B as f32;
        if step == 1 {
            first = loss;
        }
        last_loss = loss;
    }
    let acc = accuracy(&mut buf);
    eprintln!("untrained head accuracy {base_acc}, after 30 steps {acc}; loss {first} → {last_loss}");
    assert!(acc > base_acc && acc >= 0.875, "accuracy {base_acc} → {acc}");
    assert!(last_loss < 0.5 * first, "loss {first} → {last_loss}");
}
