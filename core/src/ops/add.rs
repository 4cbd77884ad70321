//! Residual add, in place: `x += y`. Backward is the identity for both inputs (the residual
//! stream's gradient flows unchanged), so there is no backward kernel.

use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};

/// Mirrors `Params` in `shaders/add_forward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AddParams {
    n: u32,
    _pad: [u32; 3],
}

/// Records `x += y`.
///
/// # Shapes
/// `x`, `y`: same number of elements (typically `(B*T, C)`).
pub fn add_forward(rec: &mut Recorder, x: &GpuTensor, y: &GpuTensor) {
    debug_assert_eq!(x.len(), y.len());
    let n = x.len();
    let params = AddParams { n: n as u32, _pad: [0; 3] };
    rec.dispatch(&kernels::ADD_FORWARD, &params, &[y.binding(), x.binding()], grid_1d(n, 256));
}

/// CPU reference: returns `x + y`.
pub fn add_forward_cpu(x: &[f32], y: &[f32]) -> Vec<f32> {
    x.iter().zip(y).map(|(a, b)| a + b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, assert_close, test_gpu};

    #[test]
    fn add_matches_cpu_on_odd_lengths() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(1);
        for n in [1usize, 255, 257, 1000, 3 * 577] {
            let x = rng.normal_vec(n, 1.0);
            let y = rng.normal_vec(n, 1.0);
            let gx = GpuTensor::from_slice(gpu, &[n], &x);
            let gy = GpuTensor::from_slice(gpu, &[n], &y);
            let mut rec = Recorder::new(gpu);
            add_forward(&mut rec, &gx, &gy);
            let got = pollster::block_on(gx.read(rec)).unwrap();
            assert_close(&got, &add_forward_cpu(&x, &y), 0.0, 0.0, &format!("add n={n}"));
        }
    }
}
