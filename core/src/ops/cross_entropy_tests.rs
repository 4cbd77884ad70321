//! Tests of [`super`]: both forward kernels and the in-place backward against the CPU
//! reference, the backward against finite differences, and the host-side mean.

use super::*;
use crate::ops::gradcheck::numeric_grad;
use crate::testing::{Rng, assert_close, test_gpu};

/// Random logits with a few extremes (stability), targets with every 4th row ignored (also
/// one out-of-range id, which counts as ignored).
fn inputs(rng: &mut Rng, rows: usize, v: usize) -> (Vec<f32>, Vec<u32>) {
    let mut logits = rng.normal_vec(rows * v, 3.0);
    for i in (0..logits.len()).step_by(97) {
        logits[i] = if i % 2 == 0 { 80.0 } else { -1000.0 };
    }
    let targets = (0..rows)
        .map(|r| match r % 4 {
            1 => IGNORE,
            3 if r == 3 => v as u32 + 5,
            _ => rng.below(v) as u32,
        })
        .collect();
    (logits, targets)
}

fn read(gpu: &crate::gpu::Gpu, t: &GpuTensor) -> Vec<f32> {
    pollster::block_on(t.to_vec(gpu)).unwrap()
}

#[test]
fn cross_entropy_forward_and_backward_match_cpu() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(41);
    for (rows, v) in [(1usize, 37usize), (5, 37), (13, 1000), (3, 49152), (70, 300)] {
        // The chunk is rows `offset..offset+rows` of a batch of `rows + 3` targets.
        let offset = 2;
        let n = rows + 3;
        let (logits, chunk_targets) = inputs(&mut rng, rows, v);
        let mut targets = vec![0u32; n];
        targets[offset..offset + rows].copy_from_slice(&chunk_targets);
        let gids = GpuIds::from_slice(gpu, &targets);
        let glogits = GpuTensor::from_slice(gpu, &[rows, v], &logits);
        let (want_loss, want_lse) = cross_entropy_forward_cpu(&logits, &chunk_targets, v);
        let what = format!("R={rows} V={v}");
        for kernel in [CrossEntropyKernel::PerRow, CrossEntropyKernel::Workgroup] {
            if kernel == CrossEntropyKernel::PerRow && v > PER_ROW_MAX_V {
                continue;
            }
            let sentinel = vec![-7.0f32; n];
            let gloss = GpuTensor::from_slice(gpu, &[n], &sentinel);
            let glse = GpuTensor::from_slice(gpu, &[n], &sentinel);
            let mut rec = Recorder::new(gpu);
            cross_entropy_forward_with(&mut rec, kernel, &glogits, &gids, offset, &gloss, &glse).unwrap();
            rec.submit();
            let (loss, lse) = (read(gpu, &gloss), read(gpu, &glse));
            // Rows outside the chunk are untouched.
            for i in (0..offset).chain(offset + rows..n) {
                assert_eq!((loss[i], lse[i]), (-7.0, -7.0), "{what} {kernel:?}: row {i} outside the chunk was written");
            }
            let chunk = offset..offset + rows;
            assert_close(&loss[chunk.clone()], &want_loss, 1e-4, 1e-5, &format!("ce loss {what} {kernel:?}"));
            assert_close(&lse[chunk], &want_lse, 1e-4, 1e-5, &format!("ce lse {what} {kernel:?}"));
        }
        let count = count_targets(&chunk_targets, v);
        let scale = 1.0 / count.max(1) as f32;
        let glse = GpuTensor::zeros(gpu, &[n]);
        let gloss = GpuTensor::zeros(gpu, &[n]);
        let mut rec = Recorder::new(gpu);
        cross_entropy_forward(&mut rec, &glogits, &gids, offset, &gloss, &glse).unwrap();
        cross_entropy_backward(&mut rec, &gids, &glse, offset, scale, &glogits).unwrap();
        rec.submit();
        let want = cross_entropy_backward_cpu(&logits, &chunk_targets, &want_lse, v, scale);
        assert_close(&read(gpu, &glogits), &want, 1e-7, 1e-4, &format!("ce dlogits {what}"));
    }
}

#[test]
fn cross_entropy_backward_matches_finite_differences() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(42);
    for (rows, v) in [(3usize, 7usize), (5, 37)] {
        let logits = rng.normal_vec(rows * v, 2.0);
        let mut targets: Vec<u32> = (0..rows).map(|_| rng.below(v) as u32).collect();
        targets[1] = IGNORE;
        let count = count_targets(&targets, v);
        let scale = 1.0 / count as f32;
        let gids = GpuIds::from_slice(gpu, &targets);
        let glogits = GpuTensor::from_slice(gpu, &[rows, v], &logits);
        let (gloss, glse) = (GpuTensor::zeros(gpu, &[rows]), GpuTensor::zeros(gpu, &[rows]));
        let mut rec = Recorder::new(gpu);
        cross_entropy_forward(&mut rec, &glogits, &gids, 0, &gloss, &glse).unwrap();
        cross_entropy_backward(&mut rec, &gids, &glse, 0, scale, &glogits).unwrap();
        rec.submit();
        let got = read(gpu, &glogits);
        // L = mean over counted rows of loss[r], from the CPU forward in f64.
        let numeric = numeric_grad(&logits, 1e-2, |x| {
            let (loss, _) = cross_entropy_forward_cpu(x, &targets, v);
            loss.iter().map(|&l| l as f64).sum::<f64>() / count as f64
        });
        // The ignored row's gradient is exactly 0 on both sides.
        assert!(got[v..2 * v].iter().all(|&g| g == 0.0), "ignored row must get a zero gradient");
        assert_close(&got, &numeric, 1e-4, 1e-3, &format!("ce dlogits vs finite differences R={rows} V={v}"));
    }
}

#[test]
fn mean_loss_counts_only_real_targets() {
    let targets = [3, IGNORE, 0, 9, 12];
    let losses = [1.0, 0.0, 2.0, 4.0, 0.0];
    // V = 10: id 12 is out of range and ignored like IGNORE.
    assert_eq!(mean_loss(&losses, &targets, 10), (7.0 / 3.0, 3));
    assert_eq!(count_targets(&targets, 10), 3);
    assert_eq!(mean_loss(&[0.0], &[IGNORE], 10), (0.0, 0));
}

/// Compares the two forward kernels (and the backward) at the default model's vocabulary;
/// `cargo test -p anytune-core cross_entropy_timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn cross_entropy_timing() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(5);
    for (rows, v) in [(64usize, 49152usize), (256, 49152), (8, 49152)] {
        let logits = rng.normal_vec(rows * v, 2.0);
        let targets: Vec<u32> = (0..rows).map(|_| rng.below(v) as u32).collect();
        let gids = GpuIds::from_slice(gpu, &targets);
        let glogits = GpuTensor::from_slice(gpu, &[rows, v], &logits);
        let (gloss, glse) = (GpuTensor::zeros(gpu, &[rows]), GpuTensor::zeros(gpu, &[rows]));
        let time = |f: &dyn Fn(&mut Recorder)| {
            let mut times = vec![];
            for _ in 0..5 {
                let mut rec = Recorder::new(gpu);
                for _ in 0..3 {
                    f(&mut rec);
                }
                let t0 = std::time::Instant::now();
                pollster::block_on(gloss.read(rec)).unwrap();
                times.push(t0.elapsed().as_secs_f64() / 3.0);
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            times[2] * 1e3
        };
        for kernel in [CrossEntropyKernel::PerRow, CrossEntropyKernel::Workgroup] {
            // PerRow is refused (and wrong on lavapipe) at this V: dispatched directly, for the
            // time only (a lower bound: lavapipe cuts its loops short).
            let params = CrossEntropyParams { rows: rows as u32, v: v as u32, offset: 0, _pad: 0 };
            let (k, grid) = match kernel {
                CrossEntropyKernel::PerRow => (&kernels::CROSS_ENTROPY_FORWARD, grid_1d(rows, 16)),
                CrossEntropyKernel::Workgroup => (&kernels::CROSS_ENTROPY_FORWARD_WG, grid_1d(rows, 1)),
            };
            let ms = time(&|rec| {
                let bindings = [glogits.binding(), gids.buffer.as_entire_binding(), gloss.binding(), glse.binding()];
                rec.dispatch(k, &params, &bindings, grid)
            });
            eprintln!("R={rows} V={v} forward {kernel:?}: {ms:.2} ms");
        }
        let ms = time(&|rec| cross_entropy_backward(rec, &gids, &glse, 0, 0.01, &glogits).unwrap());
        eprintln!("R={rows} V={v} backward (in place): {ms:.2} ms");
    }
}
