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
