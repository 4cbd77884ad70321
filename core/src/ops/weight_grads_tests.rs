//! GPU tests of the weight gradients against their CPU references and finite differences
//! (the loss `L = Σ out ⊙ r`, so `dL/dout = r`).

use super::*;
use crate::ops::gradcheck::{numeric_grad, weighted_sum};
use crate::ops::rmsnorm::rmsnorm_forward_cpu;
use crate::testing::{Rng, assert_close, test_gpu};

/// `y = x · Wᵀ` on the CPU: `x (R, in)`, `w (out, in)`.
fn linear_cpu(x: &[f32], w: &[f32], out: usize, inp: usize) -> Vec<f32> {
    let rows = x.len() / inp;
    let mut y = vec![0f32; rows * out];
    for r in 0..rows {
        for o in 0..out {
            y[r * out + o] = (0..inp).map(|i| x[r * inp + i] as f64 * w[o * inp + i] as f64).sum::<f64>() as f32;
        }
    }
    y
}

#[test]
fn linear_dw_matches_cpu_and_finite_differences() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(41);
    // Odd shapes, a small one (M < 16) and one past a 64-wide K slice.
    for (rows, inp, out, numeric) in [(5, 7, 3, true), (70, 33, 20, false), (9, 64, 17, false)] {
        let x = rng.normal_vec(rows * inp, 1.0);
        let dy = rng.normal_vec(rows * out, 1.0);
        let prior = rng.normal_vec(out * inp, 1.0);
        let gx = GpuTensor::from_slice(gpu, &[rows, inp], &x);
        let gdy = GpuTensor::from_slice(gpu, &[rows, out], &dy);
        let gdw = GpuTensor::from_slice(gpu, &[out, inp], &vec![7.0; out * inp]);
        let gacc = GpuTensor::from_slice(gpu, &[out, inp], &prior);
        let mut rec = Recorder::new(gpu);
        linear_dw(&mut rec, &gx, &gdy, &gdw, false).unwrap();
        linear_dw(&mut rec, &gx, &gdy, &gacc, true).unwrap();
        rec.submit();
        let dw = pollster::block_on(gdw.to_vec(gpu)).unwrap();
        let acc = pollster::block_on(gacc.to_vec(gpu)).unwrap();
        let want = linear_dw_cpu(&x, &dy, out, inp);
        assert_close(&dw, &want, 1e-4, 1e-4, &format!("linear dw {rows}x{inp}->{out}"));
        let want_acc: Vec<f32> = want.iter().zip(&prior).map(|(a, b)| a + b).collect();
        assert_close(&acc, &want_acc, 1e-4, 1e-4, &format!("linear dw accumulate {rows}x{inp}->{out}"));
        if numeric {
            let w = rng.normal_vec(out * inp, 1.0);
            let numeric = numeric_grad(&w, 1e-2, |ws| weighted_sum(&linear_cpu(&x, ws, out, inp), &dy));
            assert_close(&dw, &numeric, 2e-3, 2e-3, "linear dw vs finite differences");
        }
    }
    let mut rec = Recorder::new(gpu);
    let bad = GpuTensor::zeros(gpu, &[3, 6]);
    let e = linear_dw(&mut rec, &GpuTensor::zeros(gpu, &[5, 7]), &GpuTensor::zeros(gpu, &[5, 3]), &bad, false).unwrap_err();
    assert!(e.to_string().contains("linear_dw x"), "{e}");
}

/// `y = x·Wᵀ + b`: db against the column sums and finite differences in b; odd shapes, one
/// past a matmul tile, and a (B, T, H, D) dy (attention's) for an (H·D) bias.
#[test]
fn bias_dw_matches_cpu_and_finite_differences() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(43);
    for (dy_shape, out, numeric) in [(vec![5usize, 3], 3, true), (vec![70, 20], 20, false), (vec![1, 11, 4, 8], 32, false)] {
        let n: usize = dy_shape.iter().product();
        let dy = rng.normal_vec(n, 1.0);
        let prior = rng.normal_vec(out, 1.0);
        let gdy = GpuTensor::from_slice(gpu, &dy_shape, &dy);
        let gdb = GpuTensor::from_slice(gpu, &[out], &vec![7.0; out]);
        let gacc = GpuTensor::from_slice(gpu, &[out], &prior);
        let mut rec = Recorder::new(gpu);
        bias_dw(&mut rec, &gdy, &gdb, false).unwrap();
        bias_dw(&mut rec, &gdy, &gacc, true).unwrap();
        rec.submit();
        let db = pollster::block_on(gdb.to_vec(gpu)).unwrap();
        let acc = pollster::block_on(gacc.to_vec(gpu)).unwrap();
        let want = bias_dw_cpu(&dy, out);
        assert_close(&db, &want, 1e-4, 1e-4, &format!("bias db {dy_shape:?}"));
        let want_acc: Vec<f32> = want.iter().zip(&prior).map(|(a, b)| a + b).collect();
        assert_close(&acc, &want_acc, 1e-4, 1e-4, &format!("bias db accumulate {dy_shape:?}"));
        if numeric {
            let (rows, inp) = (n / out, 4);
            let (x, w) = (rng.normal_vec(rows * inp, 1.0), rng.normal_vec(out * inp, 1.0));
            let y0 = linear_cpu(&x, &w, out, inp);
            let with_bias = |b: &[f32]| y0.iter().enumerate().map(|(i, y)| y + b[i % out]).collect::<Vec<f32>>();
            let numeric = numeric_grad(&rng.normal_vec(out, 1.0), 1e-2, |b| weighted_sum(&with_bias(b), &dy));
            assert_close(&db, &numeric, 2e-3, 2e-3, "bias db vs finite differences");
        }
    }
    let mut rec = Recorder::new(gpu);
    let e = bias_dw(&mut rec, &GpuTensor::zeros(gpu, &[5, 7]), &GpuTensor::zeros(gpu, &[3]), false).unwrap_err();
    assert!(e.to_string().contains("bias_dw dy"), "{e}");
}

#[test]
fn rmsnorm_dw_matches_cpu_and_finite_differences() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(42);
    for (shape, numeric) in [(vec![3usize, 7], true), (vec![2, 35, 64], false), (vec![130, 577], false)] {
        let c = shape[shape.len() - 1];
        let rows = shape.iter().product::<usize>() / c;
        let x = rng.normal_vec(rows * c, 1.5);
        let w = rng.normal_vec(c, 1.0);
        let dy = rng.normal_vec(rows * c, 1.0);
        let prior = rng.normal_vec(c, 1.0);
        let (_, rstd) = rmsnorm_forward_cpu(&x, &w, 1e-5);
        let gx = GpuTensor::from_slice(gpu, &shape, &x);
        let grstd = GpuTensor::from_slice(gpu, &[rows], &rstd);
        let gdy = GpuTensor::from_slice(gpu, &shape, &dy);
        let gdw = GpuTensor::from_slice(gpu, &[c], &vec![5.0; c]);
        let gacc = GpuTensor::from_slice(gpu, &[c], &prior);
        let mut rec = Recorder::new(gpu);
        rmsnorm_dw(&mut rec, &gx, &grstd, &gdy, &gdw, false).unwrap();
        rmsnorm_dw(&mut rec, &gx, &grstd, &gdy, &gacc, true).unwrap();
        rec.submit();
        let dw = pollster::block_on(gdw.to_vec(gpu)).unwrap();
        let acc = pollster::block_on(gacc.to_vec(gpu)).unwrap();
        let want = rmsnorm_dw_cpu(&x, &rstd, &dy, c);
        assert_close(&dw, &want, 1e-4, 1e-4, &format!("rmsnorm dw {shape:?}"));
        let want_acc: Vec<f32> = want.iter().zip(&prior).map(|(a, b)| a + b).collect();
        assert_close(&acc, &want_acc, 1e-4, 1e-4, &format!("rmsnorm dw accumulate {shape:?}"));
        if numeric {
            let numeric = numeric_grad(&w, 1e-2, |ws| weighted_sum(&rmsnorm_forward_cpu(&x, ws, 1e-5).0, &dy));
            assert_close(&dw, &numeric, 2e-3, 2e-3, &format!("rmsnorm dw vs finite differences {shape:?}"));
        }
    }
    let mut rec = Recorder::new(gpu);
    let e = rmsnorm_dw(&mut rec, &GpuTensor::zeros(gpu, &[4, 8]), &GpuTensor::zeros(gpu, &[3]), &GpuTensor::zeros(gpu, &[4, 8]), &GpuTensor::zeros(gpu, &[8]), false);
    assert!(e.unwrap_err().to_string().contains("rmsnorm_dw rstd"));
}

#[test]
fn id_groups_sort_stably_and_refuse_bad_ids() {
    let g = IdGroups::new(&[4, 1, 4, 0, 1, 4], 5).unwrap();
    assert_eq!(g, IdGroups { rows: vec![0, 1, 4], offsets: vec![0, 1, 3, 6], positions: vec![3, 1, 4, 0, 2, 5] });
    let e = IdGroups::new(&[1, 5], 5).unwrap_err().to_string();
    assert!(e.contains("position 1") && e.contains("5"), "{e}");
}

#[test]
fn embedding_backward_matches_cpu_finite_differences_and_is_deterministic() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(43);
    let (vocab, c) = (11, 37);
    // Repeated ids (the scatter-add's collisions), one id missing, Gemma-like scale.
    let ids: Vec<u32> = vec![3, 7, 3, 0, 10, 3, 7, 2, 3];
    let dy = rng.normal_vec(ids.len() * c, 1.0);
    let groups = IdGroups::new(&ids, vocab).unwrap();
    let gdy = GpuTensor::from_slice(gpu, &[ids.len(), c], &dy);
    for scale in [1.0f32, (c as f32).sqrt()] {
        let mut runs = vec![];
        for _ in 0..2 {
            let gd = GpuTensor::zeros(gpu, &[vocab, c]);
            let mut rec = Recorder::new(gpu);
            embedding_backward(&mut rec, &groups, &gdy, scale, &gd).unwrap();
            rec.submit();
            runs.push(pollster::block_on(gd.to_vec(gpu)).unwrap());
        }
        let want = embedding_backward_cpu(&ids, &dy, scale, vocab, c);
        assert_close(&runs[0], &want, 1e-5, 1e-5, &format!("embedding dE scale {scale}"));
        assert!(runs[0].iter().zip(&runs[1]).all(|(a, b)| a.to_bits() == b.to_bits()), "bitwise deterministic");
        assert!(runs[0][c..2 * c].iter().all(|&v| v == 0.0), "row 1 (no token) untouched");
        // Finite differences of the gather out[t] = table[ids[t]] · scale.
        let table = rng.normal_vec(vocab * c, 1.0);
        let gather = |tb: &[f32]| -> Vec<f32> {
            ids.iter().flat_map(|&id| tb[id as usize * c..(id as usize + 1) * c].iter().map(|v| v * scale)).collect()
        };
        let numeric = numeric_grad(&table, 1e-2, |tb| weighted_sum(&gather(tb), &dy));
        assert_close(&runs[0], &numeric, 2e-3, 2e-3, &format!("embedding dE vs finite differences, scale {scale}"));
    }
    // Accumulates into a non-zero table (tied embeddings: dE from the lm_head adds up).
    let prior = rng.normal_vec(vocab * c, 1.0);
    let gd = GpuTensor::from_slice(gpu, &[vocab, c], &prior);
    let mut rec = Recorder::new(gpu);
    embedding_backward(&mut rec, &groups, &gdy, 1.0, &gd).unwrap();
    rec.submit();
    let got = pollster::block_on(gd.to_vec(gpu)).unwrap();
    let want: Vec<f32> = embedding_backward_cpu(&ids, &dy, 1.0, vocab, c).iter().zip(&prior).map(|(a, b)| a + b).collect();
    assert_close(&got, &want, 1e-5, 1e-5, "embedding dE accumulates");
    let mut rec = Recorder::new(gpu);
    let e = embedding_backward(&mut rec, &groups, &GpuTensor::zeros(gpu, &[ids.len(), c + 1]), 1.0, &gd).unwrap_err();
    assert!(e.to_string().contains("embedding_backward dy"), "{e}");
}
