//! The classification head against transformers' `LlamaForSequenceClassification` on the tiny
//! llama (tests/golden/make_seqcls.py): the frozen model's final-normed hidden states, pooled at
//! each sequence's last token (transformers: the rightmost non-pad token of a right-padded
//! batch), through the same `score` weight, give the same logits, mean loss and d_score.

use anytune::load::load_model;
use anytune_core::gpu::{GpuTensor, Recorder};
use anytune_core::head::step::{HeadBuffers, head_backward, head_forward};
use anytune_core::model::KvCache;
use anytune_core::ops::embedding::GpuIds;
use anytune_core::testing::assert_close;
use anytune_tests::{Golden, repo_path, test_gpu};

#[test]
fn head_logits_loss_and_score_gradient_match_transformers() {
    let Some(gpu) = test_gpu() else { return };
    let g = Golden::open("golden/tiny-llama-seqcls.safetensors");
    let model = load_model(gpu, &repo_path("fixtures/tiny-llama")).unwrap();
    let (ids, lens) = (g.i32_as_u32("ids"), g.i32_as_u32("lens"));
    let (score, labels) = (g.f32("score"), g.i32_as_u32("labels"));
    let (b, c) = (lens.len(), model.config.dim);
    let t = ids.len() / b;
    // Each sequence alone (unpadded), its hidden rows stacked: (N, C).
    let mut hidden = Vec::new();
    let mut last = Vec::new();
    for (s, &len) in lens.iter().enumerate() {
        let row = &ids[s * t..s * t + len as usize];
        let mut cache = KvCache::new(gpu, &model.config, row.len()).unwrap();
        let mut rec = Recorder::new(gpu);
        let h = model.forward(&mut rec, row, &mut cache).unwrap();
        hidden.extend(pollster::block_on(h.read(rec)).unwrap());
        last.push((hidden.len() / c - 1) as u32);
    }
    let n = hidden.len() / c;
    let (gh, gs) = (GpuTensor::from_slice(gpu, &[n, c], &hidden), GpuTensor::from_slice(gpu, &[2, c], &score));
    let (glast, glabels) = (GpuIds::from_slice(gpu, &last), GpuIds::from_slice(gpu, &labels));
    let (gds, gdh) = (GpuTensor::zeros(gpu, &[2, c]), GpuTensor::zeros(gpu, &[n, c]));
    let bufs = HeadBuffers::new(gpu, b, c, 2);
    let mut rec = Recorder::new(gpu);
    head_forward(&mut rec, &gh, &glast, &gs, &glabels, &bufs).unwrap();
    assert_close(&pollster::block_on(bufs.logits.read(rec)).unwrap(), &g.f32("logits"), 1e-4, 1e-4, "logits");
    let mut rec = Recorder::new(gpu);
    head_backward(&mut rec, &glast, &gs, &glabels, &bufs, &gds, &gdh).unwrap();
    let loss = pollster::block_on(bufs.loss.read(rec)).unwrap().iter().sum::<f32>() / b as f32;
    let want = g.f32("loss")[0];
    assert!((loss - want).abs() <= 1e-4 * want.abs(), "loss {loss} vs transformers {want}");
    assert_close(&pollster::block_on(gds.read(Recorder::new(gpu))).unwrap(), &g.f32("d_score"), 1e-5, 1e-3, "d_score");
}

/// PEFT SEQ_CLS with a random nonzero LoRA on all seven targets (r 4, alpha 8): one step of
/// the right-padded (B, T) batch gives PEFT's logits, loss and the gradients of A, B and score.
#[test]
fn lora_head_step_matches_peft_seqcls_gradients() {
    use anytune_core::head::train_step::{HeadBatch, record_head_step};
    use anytune_core::lora::{LoraBuffers, LoraParams, LoraPass, Target};
    use anytune_core::train::step::StepBuffers;
    let Some(gpu) = test_gpu() else { return };
    let g = Golden::open("golden/tiny-llama-seqcls.safetensors");
    let model = load_model(gpu, &repo_path("fixtures/tiny-llama")).unwrap();
    let (ids, lens, labels) = (g.i32_as_u32("ids"), g.i32_as_u32("lens"), g.i32_as_u32("labels"));
    let (b, c) = (lens.len(), model.config.dim);
    let t = ids.len() / b;
    let last: Vec<u32> = lens.iter().enumerate().map(|(s, &len)| (s * t) as u32 + len - 1).collect();
    let mut host = Vec::new();
    for layer in 0..model.config.n_layers {
        for tg in Target::ALL {
            let name = format!("lora.{layer}.{}", tg.peft_name());
            host.push((layer, tg, g.f32(&format!("{name}.A")), g.f32(&format!("{name}.B"))));
        }
    }
    let lora = LoraParams::upload(gpu, &model.config, 4, 8.0 / 4.0, host.iter().map(|(l, t, a, b)| (*l, *t, &a[..], &b[..]))).unwrap();
    let lbufs = LoraBuffers::new(gpu, &lora, ids.len(), true, true);
    let mut buf = StepBuffers::new(gpu, &model, b, t).unwrap();
    let (glast, glabels) = (GpuIds::from_slice(gpu, &last), GpuIds::from_slice(gpu, &labels));
    let gs = GpuTensor::from_slice(gpu, &[2, c], &g.f32("score"));
    let gds = GpuTensor::zeros(gpu, &[2, c]);
    let hbufs = HeadBuffers::new(gpu, b, c, 2);
    let mut rec = Recorder::new(gpu);
    let batch = HeadBatch { last: &glast, labels: &glabels, score: &gs, d_score: &gds, bufs: &hbufs };
    record_head_step(&mut rec, &model, &LoraPass::new(&lora, &lbufs, None), &mut buf, &ids, &batch).unwrap();
    let losses = pollster::block_on(hbufs.loss.read(rec)).unwrap();
    let loss = losses.iter().sum::<f32>() / b as f32;
    let want = g.f32("lora.loss")[0];
    assert!((loss - want).abs() <= 1e-4 * want.abs(), "loss {loss} vs PEFT {want}");
    let read = |x: &GpuTensor| pollster::block_on(x.to_vec(gpu)).unwrap();
    assert_close(&read(&gds), &g.f32("lora.d_score"), 1e-5, 1e-3, "d_score");
    for (layer, tg, slot) in lora.iter() {
        let name = format!("lora.{layer}.{}", tg.peft_name());
        assert_close(&read(&slot.grad_a), &g.f32(&format!("{name}.A.grad")), 1e-6, 1e-3, &format!("{name} dA"));
        assert_close(&read(&slot.grad_b), &g.f32(&format!("{name}.B.grad")), 1e-6, 1e-3, &format!("{name} dB"));
    }
}
