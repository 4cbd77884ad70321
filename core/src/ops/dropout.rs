//! Dropout on the LoRA inputs (PEFT's `lora_dropout`): `y = x * mask / (1 - p)` during
//! training. The mask is not stored: it is a counter-based hash of (seed, step, layer, element
//! index) (`shaders/dropout_common.wgsl`), so the backward pass regenerates exactly the same
//! mask from the same [`DropoutKey`]. [`dropout_keep_cpu`] is the same hash bit for bit.
//!
//! With `p = 0` the caller should skip dropout and use `x` itself (no copy).

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};

/// What the mask depends on besides the element index. Use a fresh `step` every optimizer
/// step (and micro-batch), and a distinct `layer` per dropout site: PEFT draws an independent
/// mask for each LoRA module even when modules share an input (q, k, v), so e.g.
/// `layer = block * 8 + module`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropoutKey {
    pub seed: u32,
    pub step: u32,
    pub layer: u32,
}

/// Mirrors `Params` in `shaders/dropout_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DropoutParams {
    n: u32,
    seed: u32,
    step: u32,
    layer: u32,
    p: f32,
    scale: f32,
    accumulate: u32,
    _pad: u32,
}

fn params(n: usize, p: f32, key: DropoutKey, accumulate: bool) -> Result<DropoutParams> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::invalid("dropout p", format!("{p} is not in [0, 1)")));
    }
    Ok(DropoutParams {
        n: n as u32,
        seed: key.seed,
        step: key.step,
        layer: key.layer,
        p,
        scale: (1.0 / (1.0 - p as f64)) as f32,
        accumulate: accumulate as u32,
        _pad: 0,
    })
}

fn check_same(what: &str, a: &GpuTensor, b: &GpuTensor) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::invalid(what, format!("shapes {:?} and {:?} differ in length", a.shape, b.shape)));
    }
    Ok(())
}

/// Records `y = x * keep / (1 - p)`.
///
/// # Shapes
/// `x`, `y`: `(B*T, C)` (any shape with the same number of elements); `y` is written.
pub fn dropout_forward(rec: &mut Recorder, x: &GpuTensor, y: &GpuTensor, p: f32, key: DropoutKey) -> Result<()> {
    check_same("dropout_forward x/y", x, y)?;
    let params = params(x.len(), p, key, false)?;
    rec.dispatch(&kernels::DROPOUT_FORWARD, &params, &[x.binding(), y.binding()], grid_1d(x.len(), 256));
    Ok(())
}

/// Records `dx = dy * keep / (1 - p)` (or `dx +=` with `accumulate`), the mask regenerated
/// from the forward's `key`.
///
/// # Shapes
/// `dy`, `dx`: `(B*T, C)`; `dx` is written or accumulated into.
pub fn dropout_backward(
    rec: &mut Recorder,
    dy: &GpuTensor,
    dx: &GpuTensor,
    p: f32,
    key: DropoutKey,
    accumulate: bool,
) -> Result<()> {
    check_same("dropout_backward dy/dx", dy, dx)?;
    let params = params(dy.len(), p, key, accumulate)?;
    rec.dispatch(&kernels::DROPOUT_BACKWARD, &params, &[dy.binding(), dx.binding()], grid_1d(dy.len(), 256));
    Ok(())
}

/// Chris Wellons' "lowbias32" integer hash (as in `dropout_common.wgsl`).
fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846ca68b);
    x ^= x >> 16;
    x
}

/// CPU reference of the mask: whether element `i` is kept.
pub fn dropout_keep_cpu(key: DropoutKey, p: f32, i: u32) -> bool {
    let k = lowbias32(key.layer.wrapping_add(lowbias32(key.step.wrapping_add(lowbias32(key.seed)))));
    let h = lowbias32(i.wrapping_add(k));
    (h >> 8) as f32 * (1.0 / 16_777_216.0) >= p
}

/// CPU reference: `y = x * keep / (1 - p)`; also the backward (`dx = dy * keep / (1 - p)`),
/// as the two are the same map.
pub fn dropout_forward_cpu(x: &[f32], p: f32, key: DropoutKey) -> Vec<f32> {
    let scale = (1.0 / (1.0 - p as f64)) as f32;
    x.iter().enumerate().map(|(i, &v)| if dropout_keep_cpu(key, p, i as u32) { v * scale } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close, test_gpu};

    fn read(t: &GpuTensor) -> Vec<f32> {
        pollster::block_on(t.to_vec(test_gpu().unwrap())).unwrap()
    }

    #[test]
    fn dropout_matches_cpu_bit_for_bit_and_backward_reuses_the_mask() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(71);
        for (n, p) in [(1usize, 0.5f32), (257, 0.1), (3 * 577 + 2, 0.05), (10_001, 0.3)] {
            let key = DropoutKey { seed: 1234, step: 7, layer: n as u32 % 5 };
            // Non-zero inputs and gradients, so a zero output means exactly "dropped".
            let x: Vec<f32> = rng.normal_vec(n, 1.0).iter().map(|v| v + v.signum() * 0.1).collect();
            let dy: Vec<f32> = rng.normal_vec(n, 1.0).iter().map(|v| v + v.signum() * 0.1).collect();
            let prior = rng.normal_vec(n, 1.0);
            let (gx, gdy) = (GpuTensor::from_slice(gpu, &[n], &x), GpuTensor::from_slice(gpu, &[n], &dy));
            let (gy, gdx, gacc) =
                (GpuTensor::zeros(gpu, &[n]), GpuTensor::zeros(gpu, &[n]), GpuTensor::from_slice(gpu, &[n], &prior));
            let mut rec = Recorder::new(gpu);
            dropout_forward(&mut rec, &gx, &gy, p, key).unwrap();
            dropout_backward(&mut rec, &gdy, &gdx, p, key, false).unwrap();
            dropout_backward(&mut rec, &gdy, &gacc, p, key, true).unwrap();
            rec.submit();
            let what = format!("n={n} p={p}");
            let (y, dx, acc) = (read(&gy), read(&gdx), read(&gacc));
            assert_close(&y, &dropout_forward_cpu(&x, p, key), 0.0, 0.0, &format!("dropout y {what}"));
            let want_dx = dropout_forward_cpu(&dy, p, key);
            assert_close(&dx, &want_dx, 0.0, 0.0, &format!("dropout dx {what}"));
            let want_acc: Vec<f32> = want_dx.iter().zip(&prior).map(|(a, b)| a + b).collect();
            assert_close(&acc, &want_acc, 0.0, 0.0, &format!("dropout dx accumulate {what}"));
            // The backward drops exactly the positions the forward dropped.
            for i in 0..n {
                assert_eq!(y[i] == 0.0, dx[i] == 0.0, "{what}: forward and backward masks differ at {i}");
            }
        }
    }

    #[test]
    fn dropout_fraction_is_p_and_keys_change_the_mask() {
        let n = 200_000u32;
        let key = DropoutKey { seed: 42, step: 3, layer: 11 };
        for p in [0.05f32, 0.1, 0.5] {
            let dropped = (0..n).filter(|&i| !dropout_keep_cpu(key, p, i)).count() as f64 / n as f64;
            // Binomial standard deviation at n = 2e5 is at most 0.0011; allow 5 sigma.
            assert!((dropped - p as f64).abs() < 0.0056, "p={p}: dropped fraction {dropped}");
        }
        let mask = |k: DropoutKey| (0..4096u32).map(|i| dropout_keep_cpu(k, 0.5, i)).collect::<Vec<_>>();
        assert_eq!(mask(key), mask(key), "same key, same mask");
        for other in [DropoutKey { seed: 43, ..key }, DropoutKey { step: 4, ..key }, DropoutKey { layer: 12, ..key }] {
            let same = mask(key).iter().zip(mask(other)).filter(|(a, b)| **a == *b).count();
            // Independent masks at p = 0.5 agree on about half the positions.
            assert!((1800..2300).contains(&same), "{other:?}: {same} of 4096 equal to {key:?}");
        }
        // Adjacent indices are not correlated (neighbours agree about half the time).
        let m = mask(key);
        let runs = m.windows(2).filter(|w| w[0] == w[1]).count();
        assert!((1800..2300).contains(&runs), "neighbour agreement {runs} of 4095");
    }

    #[test]
    fn dropout_rejects_bad_p() {
        let Some(gpu) = test_gpu() else { return };
        let t = GpuTensor::zeros(gpu, &[4]);
        let key = DropoutKey { seed: 0, step: 0, layer: 0 };
        let mut rec = Recorder::new(gpu);
        assert!(dropout_forward(&mut rec, &t, &t, 1.0, key).is_err());
        assert!(dropout_forward(&mut rec, &t, &t, -0.1, key).is_err());
    }
}
