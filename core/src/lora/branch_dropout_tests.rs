//! Tests of LoRA with dropout on the branch input ([`super::lora_forward_dropout`],
//! [`super::lora_backward_dropout`]): the GPU against the CPU reference built from the same
//! mask function, and the CPU gradients against finite differences with the mask fixed.

use super::*;
use crate::ops::gradcheck::{numeric_grad, weighted_sum};
use crate::testing::{Rng, assert_close, test_gpu};

/// GPU forward and backward with dropout, accumulating onto non-zero y, dx, dA, dB, against
/// the CPU reference, on odd shapes; the result must differ from the no-dropout one.
#[test]
fn lora_dropout_matches_cpu_and_accumulates() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(31);
    for (m, d_in, d_out, r, p) in [(7usize, 37usize, 19usize, 3usize, 0.1f32), (13, 96, 40, 16, 0.5), (1, 64, 30, 4, 0.3)] {
        let dims = LoraDims { m, d_in, d_out, r, scale: 2.0 };
        let key = DropoutKey { seed: 9, step: m as u32, layer: 8 + 3 };
        let x = rng.normal_vec(m * d_in, 1.0);
        let a = rng.normal_vec(r * d_in, 0.3);
        let b = rng.normal_vec(d_out * r, 0.3);
        let dy = rng.normal_vec(m * d_out, 1.0);
        let y0 = rng.normal_vec(m * d_out, 1.0);
        let g0 = [rng.normal_vec(m * d_in, 1.0), rng.normal_vec(r * d_in, 1.0), rng.normal_vec(d_out * r, 1.0)];
        let t = |shape: &[usize], v: &[f32]| GpuTensor::from_slice(gpu, shape, v);
        let (gx, ga, gb, gdy, gy) = (t(&[m, d_in], &x), t(&[r, d_in], &a), t(&[d_out, r], &b), t(&[m, d_out], &dy), t(&[m, d_out], &y0));
        let (gdx, gda, gdb) = (t(&[m, d_in], &g0[0]), t(&[r, d_in], &g0[1]), t(&[d_out, r], &g0[2]));
        let (gu, gdu) = (GpuTensor::zeros(gpu, &[m, r]), GpuTensor::zeros(gpu, &[m, r]));
        // Scratch larger than needed, used through views (as the trainer does).
        let (xd, dxd) = (GpuTensor::zeros(gpu, &[m, d_in + 5]), GpuTensor::zeros(gpu, &[m, d_in + 5]));
        let drop = BranchDropout { p, key, xd: xd.view(&[m, d_in]).unwrap() };
        let mut rec = Recorder::new(gpu);
        lora_forward_dropout(&mut rec, dims, &drop, &gx, &ga, &gb, &gu, &gy).unwrap();
        // Clobber the forward's x̃: backward must regenerate it from the key.
        rec.clear(&xd);
        let dxd_view = dxd.view(&[m, d_in]).unwrap();
        lora_backward_dropout(&mut rec, dims, &drop, &dxd_view, &gx, &ga, &gb, &gu, &gdy, &gdu, &gda, &gdb, &gdx).unwrap();
        rec.submit();
        let read = |t: &GpuTensor| pollster::block_on(t.to_vec(gpu)).unwrap();
        let plus = |base: &[f32], d: Vec<f32>| base.iter().zip(d).map(|(p, q)| p + q).collect::<Vec<_>>();
        let (cdx, cda, cdb) = lora_backward_dropout_cpu(dims, p, key, &x, &a, &b, &dy);
        let what = |n: &str| format!("lora dropout {n} m={m} in={d_in} out={d_out} r={r} p={p}");
        let want_y = lora_forward_dropout_cpu(dims, p, key, &x, &a, &b);
        assert_close(&read(&gy), &plus(&y0, want_y.clone()), 1e-4, 1e-4, &what("y"));
        assert_close(&read(&gdx), &plus(&g0[0], cdx.clone()), 1e-4, 1e-4, &what("dx"));
        assert_close(&read(&gda), &plus(&g0[1], cda), 1e-4, 1e-4, &what("dA"));
        assert_close(&read(&gdb), &plus(&g0[2], cdb), 1e-4, 1e-4, &what("dB"));
        // Dropout does something: the output and the input gradient differ from plain LoRA.
        let plain = lora_forward_cpu(dims, &x, &a, &b);
        assert!(plain.iter().zip(&want_y).any(|(p, q)| (p - q).abs() > 1e-3), "{}", what("no effect on y"));
        let (plain_dx, _, _) = lora_backward_cpu(dims, &x, &a, &b, &dy);
        assert!(plain_dx.iter().zip(&cdx).any(|(p, q)| (p - q).abs() > 1e-3), "{}", what("no effect on dx"));
    }
}

/// With the mask fixed (same key), the dropout branch is linear in x, A and B: the CPU
/// backward is the gradient of `L = sum(y * dy)` (central differences).
#[test]
fn lora_dropout_backward_is_the_gradient_with_a_fixed_mask() {
    let mut rng = Rng::new(32);
    let dims = LoraDims { m: 4, d_in: 6, d_out: 5, r: 2, scale: 1.5 };
    let (p, key) = (0.3, DropoutKey { seed: 1, step: 2, layer: 3 });
    let x = rng.normal_vec(24, 1.0);
    let a = rng.normal_vec(12, 0.5);
    let b = rng.normal_vec(10, 0.5);
    let dy = rng.normal_vec(20, 1.0);
    let (dx, da, db) = lora_backward_dropout_cpu(dims, p, key, &x, &a, &b, &dy);
    let f = |x: &[f32], a: &[f32], b: &[f32]| weighted_sum(&lora_forward_dropout_cpu(dims, p, key, x, a, b), &dy);
    assert_close(&dx, &numeric_grad(&x, 1e-2, |x| f(x, &a, &b)), 1e-3, 1e-3, "dx vs finite differences");
    assert_close(&da, &numeric_grad(&a, 1e-2, |a| f(&x, a, &b)), 1e-3, 1e-3, "dA vs finite differences");
    assert_close(&db, &numeric_grad(&b, 1e-2, |b| f(&x, &a, b)), 1e-3, 1e-3, "dB vs finite differences");
    assert!(dx.iter().filter(|&&g| g == 0.0).count() > 0, "some inputs are dropped");
}
