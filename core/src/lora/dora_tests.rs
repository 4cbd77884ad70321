use super::*;
use crate::ops::gradcheck::{numeric_grad, weighted_sum};
use crate::testing::{Rng, assert_close, test_gpu};

fn read(gpu: &Gpu, t: &GpuTensor) -> Vec<f32> {
    pollster::block_on(t.to_vec(gpu)).unwrap()
}

/// The two elementwise kernels against their CPU references, accumulating and not, on lengths
/// that are not multiples of the workgroup.
#[test]
fn dora_scale_and_magnitude_kernels_match_cpu() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(20);
    for (rows, cols) in [(1, 1), (7, 19), (300, 3), (5, 257)] {
        let (x, y0) = (rng.normal_vec(rows * cols, 1.0), rng.normal_vec(rows * cols, 1.0));
        let (v_col, v_row, norm) = (rng.normal_vec(cols, 1.0), rng.normal_vec(rows, 1.0), rng.normal_vec(cols, 1.0));
        let dm0 = rng.normal_vec(cols, 1.0);
        let t = |v: &[f32]| GpuTensor::from_slice(gpu, &[v.len()], v);
        let (gx, gvc, gvr, gn) = (t(&x), t(&v_col), t(&v_row), t(&norm));
        let (y_acc, y_row, dm) = (t(&y0), t(&y0), t(&dm0));
        let mut rec = Recorder::new(gpu);
        scale(&mut rec, &gvc, &gx, &y_acc, -1.0, false, true).unwrap();
        scale(&mut rec, &gvr, &gx, &y_row, 0.5, true, false).unwrap();
        magnitude_backward(&mut rec, &gx, &y_acc, &gn, &dm, true).unwrap();
        rec.submit();
        let what = |n: &str| format!("dora {n} rows={rows} cols={cols}");
        let acc: Vec<f32> = y0.iter().zip(scale_cpu(&v_col, &x, -1.0, false)).map(|(a, b)| a + b).collect();
        assert_close(&read(gpu, &y_acc), &acc, 1e-6, 1e-6, &what("scale by column, accumulated"));
        assert_close(&read(gpu, &y_row), &scale_cpu(&v_row, &x, 0.5, true), 1e-6, 1e-6, &what("scale by row"));
        let want: Vec<f32> = dm0.iter().zip(magnitude_backward_cpu(&x, &acc, &norm)).map(|(a, b)| a + b).collect();
        assert_close(&read(gpu, &dm), &want, 1e-4, 1e-4, &what("magnitude backward"));
    }
}

/// The CPU backward is the gradient of `L = sum(y * dy)` with the norm held constant, as PEFT
/// detaches it (central differences for x, A, B and m).
#[test]
fn dora_backward_cpu_is_the_gradient_with_a_detached_norm() {
    let mut rng = Rng::new(21);
    let dims = LoraDims { m: 3, d_in: 5, d_out: 4, r: 2, scale: 1.5 };
    let (w, x) = (rng.normal_vec(20, 0.5), rng.normal_vec(15, 1.0));
    let (a, b, mag) = (rng.normal_vec(10, 0.5), rng.normal_vec(8, 0.5), rng.normal_vec(4, 1.0));
    let dy = rng.normal_vec(12, 1.0);
    let norm = weight_norm_cpu(dims, &w, &a, &b);
    let f = |x: &[f32], a: &[f32], b: &[f32], m: &[f32]| weighted_sum(&dora_forward_const_norm_cpu(dims, &w, x, a, b, m, &norm), &dy);
    let [dx, da, db, dm] = dora_backward_cpu(dims, &w, &x, &a, &b, &mag, &dy);
    assert_close(&dx, &numeric_grad(&x, 1e-2, |x| f(x, &a, &b, &mag)), 1e-3, 1e-3, "dx");
    assert_close(&da, &numeric_grad(&a, 1e-2, |a| f(&x, a, &b, &mag)), 1e-3, 1e-3, "dA");
    assert_close(&db, &numeric_grad(&b, 1e-2, |b| f(&x, &a, b, &mag)), 1e-3, 1e-3, "dB");
    assert_close(&dm, &numeric_grad(&mag, 1e-2, |m| f(&x, &a, &b, m)), 1e-3, 1e-3, "dm");
    // With m = the norm (PEFT's init for these A, B) DoRA is the plain LoRA linear.
    let lora = super::super::branch::lora_forward_cpu(dims, &x, &a, &b);
    let plain: Vec<f32> = (0..12).map(|e| (0..5).map(|k| x[e / 4 * 5 + k] * w[e % 4 * 5 + k]).sum::<f32>() + lora[e]).collect();
    assert_close(&dora_forward_cpu(dims, &w, &x, &a, &b, &norm), &plain, 1e-5, 1e-5, "m = norm is LoRA");
}

/// GPU norm (from ‖W‖², A·Wᵀ, B·A·Aᵀ), init, forward and backward (onto the frozen linear's
/// own `x·Wᵀ` and `dy·W`, gradients accumulating onto non-zero buffers) against the CPU
/// reference, on shapes that are not multiples of any tile; `row_norms2` crosses a chunk.
#[test]
fn dora_matches_cpu_and_accumulates() {
    let Some(gpu) = test_gpu() else { return };
    let mut rng = Rng::new(22);
    for (m, d_in, d_out, r) in [(7, 37, 19, 3), (5, 300, 40, 8)] {
        let dims = LoraDims { m, d_in, d_out, r, scale: 2.0 };
        let w = rng.normal_vec(d_out * d_in, 0.2);
        let x = rng.normal_vec(m * d_in, 1.0);
        let (a, b) = (rng.normal_vec(r * d_in, 0.3), rng.normal_vec(d_out * r, 0.3));
        let mag: Vec<f32> = rng.normal_vec(d_out, 0.5).iter().map(|v| 1.0 + v).collect();
        let dy = rng.normal_vec(m * d_out, 1.0);
        let g0 = [rng.normal_vec(r * d_in, 1.0), rng.normal_vec(d_out * r, 1.0), rng.normal_vec(d_out, 1.0)];
        let what = |n: &str| format!("dora {n} m={m} in={d_in} out={d_out} r={r}");
        let t = |shape: &[usize], v: &[f32]| GpuTensor::from_slice(gpu, shape, v);
        let weight = f32_weight(gpu, "w", d_out, d_in, &w).unwrap();
        let mut rec = Recorder::new(gpu);
        let slot = DoraSlot::new(&mut rec, &weight, r, &[]).unwrap();
        let (ga, gb) = (t(&[r, d_in], &a), t(&[d_out, r], &b));
        weight_norm(&mut rec, dims, &weight, &slot, &ga, &gb, true).unwrap();
        rec.submit();
        let norm = weight_norm_cpu(dims, &w, &a, &b);
        let w2: Vec<f32> = w.chunks(d_in).map(|row| row.iter().map(|v| v * v).sum()).collect();
        assert_close(&read(gpu, &slot.w_norm2), &w2, 1e-5, 1e-5, &what("‖W‖²"));
        assert_close(&read(gpu, &slot.norm), &norm, 1e-5, 1e-5, &what("norm"));
        assert_close(&read(gpu, &slot.magnitude), &norm, 1e-5, 1e-5, &what("init m"));
        slot.magnitude.write(gpu, &mag);

        let (gx, gdy) = (t(&[m, d_in], &x), t(&[m, d_out], &dy));
        let (gda, gdb) = (t(&[r, d_in], &g0[0]), t(&[d_out, r], &g0[1]));
        slot.grad_m.write(gpu, &g0[2]);
        let z = |shape: &[usize]| GpuTensor::zeros(gpu, shape);
        let (y, dx, u, du, zs, dyg) = (z(&[m, d_out]), z(&[m, d_in]), z(&[m, r]), z(&[m, r]), z(&[m, d_out]), z(&[m, d_out]));
        let mut rec = Recorder::new(gpu);
        qmatmul_forward(&mut rec, &gx, &weight, None, &y).unwrap();
        dora_forward(&mut rec, dims, &weight, &slot, &zs, &gx, &ga, &gb, &u, &y).unwrap();
        qmatmul_backward_input(&mut rec, &gdy, &weight, &dx, false).unwrap();
        dora_backward(&mut rec, dims, &weight, &slot, (&zs, &dyg), &gx, (&ga, &gb, &u), &gdy, &du, (&gda, &gdb), &dx, true).unwrap();
        rec.submit();
        let [cdx, cda, cdb, cdm] = dora_backward_cpu(dims, &w, &x, &a, &b, &mag, &dy);
        let plus = |base: &[f32], d: Vec<f32>| base.iter().zip(d).map(|(p, q)| p + q).collect::<Vec<_>>();
        assert_close(&read(gpu, &y), &dora_forward_cpu(dims, &w, &x, &a, &b, &mag), 1e-4, 1e-4, &what("y"));
        assert_close(&read(gpu, &dx), &cdx, 1e-4, 1e-4, &what("dx"));
        assert_close(&read(gpu, &gda), &plus(&g0[0], cda), 1e-4, 1e-4, &what("dA"));
        assert_close(&read(gpu, &gdb), &plus(&g0[1], cdb), 1e-4, 1e-4, &what("dB"));
        assert_close(&read(gpu, &slot.grad_m), &plus(&g0[2], cdm), 1e-4, 1e-4, &what("dm"));
    }
}

/// Through [`crate::lora::LoraPass`] with dropout, as PEFT's DoRA trains: the dropped input x̃
/// feeds both the branch and the base term `(g − 1) ⊙ x̃·Wᵀ`; the input gradient goes back
/// through the same mask (the frozen linear's own `x·Wᵀ` and `dy·W` are not the adapter's).
#[test]
fn dora_pass_with_dropout_drops_the_input_of_the_base_term_too() {
    use crate::lora::{LoraBuffers, LoraDropout, LoraParams, LoraPass, Target};
    use crate::model::linear::{Adapter, Linear, Site};
    use crate::ops::dropout::dropout_forward_cpu;
    let Some(gpu) = test_gpu() else { return };
    let cfg = crate::lora::tests_support::tiny_model(crate::model::Arch::Llama);
    let (rows, r, p) = (5, 3, 0.3);
    let (d_in, d_out) = Target::Q.features(&cfg);
    let dims = LoraDims { m: rows, d_in, d_out, r, scale: 2.0 };
    let mut rng = Rng::new(23);
    let (w, x, dy) = (rng.normal_vec(d_out * d_in, 0.2), rng.normal_vec(rows * d_in, 1.0), rng.normal_vec(rows * d_out, 1.0));
    let (a, b) = (rng.normal_vec(r * d_in, 0.3), rng.normal_vec(d_out * r, 0.3));
    let mag: Vec<f32> = rng.normal_vec(d_out, 0.5).iter().map(|v| 1.0 + v).collect();
    let weight = f32_weight(gpu, "w", d_out, d_in, &w).unwrap();
    let mut params = LoraParams::upload(gpu, &cfg, r, 2.0, [(0, Target::Q, &a[..], &b[..])]).unwrap();
    params.dropout = p;
    let mut rec = Recorder::new(gpu);
    let slot = params.slots[0][Target::Q.index()].as_mut().unwrap();
    let dora = DoraSlot::new(&mut rec, &weight, r, &mag).unwrap();
    rec.submit();
    slot.dora = Some(dora);
    let bufs = LoraBuffers::new(gpu, &params, rows, false, true);
    let drop = LoraDropout { p, seed: 9, step: 4 };
    let pass = LoraPass::new(&params, &bufs, Some(drop));
    let linear = Linear { weight: &weight, bias: None, site: Site { layer: 0, target: Target::Q } };
    let (gx, gdy) = (GpuTensor::from_slice(gpu, &[rows, d_in], &x), GpuTensor::from_slice(gpu, &[rows, d_out], &dy));
    let (y, dx) = (GpuTensor::zeros(gpu, &[rows, d_out]), GpuTensor::zeros(gpu, &[rows, d_in]));
    let mut rec = Recorder::new(gpu);
    pass.forward(&mut rec, &linear, &gx, &y).unwrap();
    pass.backward(&mut rec, &linear, &gx, &gdy, &dx).unwrap();
    rec.submit();

    let key = drop.key(0, Target::Q);
    let xd = dropout_forward_cpu(&x, p, key);
    let base = |x: &[f32]| -> Vec<f32> { (0..rows * d_out).map(|e| (0..d_in).map(|k| x[e / d_out * d_in + k] * w[e % d_out * d_in + k]).sum()).collect() };
    let minus = |p: Vec<f32>, q: Vec<f32>| p.iter().zip(q).map(|(p, q)| p - q).collect::<Vec<_>>();
    let want_y = minus(dora_forward_cpu(dims, &w, &xd, &a, &b, &mag), base(&xd));
    let [dxd, da, db, dm] = dora_backward_cpu(dims, &w, &xd, &a, &b, &mag, &dy);
    let dy_w: Vec<f32> = (0..rows * d_in).map(|e| (0..d_out).map(|i| dy[e / d_in * d_out + i] * w[i * d_in + e % d_in]).sum()).collect();
    let want_dx = dropout_forward_cpu(&minus(dxd, dy_w), p, key);
    let s = params.slot(0, Target::Q).unwrap();
    assert_close(&read(gpu, &y), &want_y, 1e-4, 1e-4, "dora dropout y");
    assert_close(&read(gpu, &dx), &want_dx, 1e-4, 1e-4, "dora dropout dx");
    assert_close(&read(gpu, &s.grad_a), &da, 1e-4, 1e-4, "dora dropout dA");
    assert_close(&read(gpu, &s.grad_b), &db, 1e-4, 1e-4, "dora dropout dB");
    assert_close(&read(gpu, &s.dora.as_ref().unwrap().grad_m), &dm, 1e-4, 1e-4, "dora dropout dm");
}
