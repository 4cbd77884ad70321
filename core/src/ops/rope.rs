//! Rotary position embedding (RoPE) in the Hugging Face "rotate_half" (NeoX) layout: each head
//! vector of `D` values is rotated in pairs `(i, i + D/2)` by `angle = pos * inv_freq[i]`, in
//! place, on queries `(B, T, H, D)` and keys `(B, T, KVH, D)`. Positions are `pos0 + t` for
//! every batch row (no per-row offsets); generation passes the KV-cache position as `pos0`.
//!
//! `inv_freq` (`D/2` values) is computed once on the CPU by [`rope_inv_freq`] (plain theta,
//! linear scaling, Llama 3 scaling) and uploaded. The backward pass is the rotation by
//! `-angle` (a rotation's transpose), also in place, on `dq` and `dk`.

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Kernel, Recorder, grid_1d, kernels};

/// How the base frequencies are rescaled (`rope_scaling.rope_type` in a Hugging Face config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeType {
    /// Plain `theta^(-2i/D)`.
    Default,
    /// Every frequency divided by `factor`.
    Linear,
    /// Llama 3.1/3.2: low frequencies divided by `factor`, high ones kept, a smooth ramp between
    /// (transformers' `_compute_llama3_parameters`).
    Llama3,
}

/// `rope_scaling` of a Hugging Face config.
#[derive(Clone, Debug, PartialEq)]
pub struct RopeScaling {
    pub rope_type: RopeType,
    /// Frequency divisor (Llama 3.1: 8, Llama 3.2: 32).
    pub factor: f32,
    /// Llama 3: wavelengths above `original_max_position_embeddings / low_freq_factor` are
    /// divided by `factor` (default 1).
    pub low_freq_factor: f32,
    /// Llama 3: wavelengths below `original_max_position_embeddings / high_freq_factor` are kept
    /// (default 4).
    pub high_freq_factor: f32,
    /// Llama 3: the pre-training context length (default 8192).
    pub original_max_position_embeddings: usize,
}

impl RopeScaling {
    /// Reads a Hugging Face `rope_scaling` object; `null`, absent, or `"default"` give `None`.
    /// Unsupported types (`yarn`, `dynamic`, `longrope`) are an error naming the type.
    pub fn from_hf_json(value: Option<&serde_json::Value>) -> Result<Option<RopeScaling>> {
        let Some(obj) = value.filter(|v| !v.is_null()) else { return Ok(None) };
        let field = |name: &str| obj.get(name).and_then(|v| v.as_f64());
        let kind = obj.get("rope_type").or_else(|| obj.get("type")).and_then(|v| v.as_str()).unwrap_or("default");
        let rope_type = match kind {
            "default" => return Ok(None),
            "linear" => RopeType::Linear,
            "llama3" => RopeType::Llama3,
            other => {
                return Err(Error::invalid(
                    "rope_scaling.rope_type",
                    format!("\"{other}\" is not supported (supported: default, linear, llama3)"),
                ));
            }
        };
        let factor = field("factor")
            .ok_or_else(|| Error::invalid("rope_scaling.factor", format!("missing for rope_type \"{kind}\"")))?;
        Ok(Some(RopeScaling {
            rope_type,
            factor: factor as f32,
            low_freq_factor: field("low_freq_factor").unwrap_or(1.0) as f32,
            high_freq_factor: field("high_freq_factor").unwrap_or(4.0) as f32,
            original_max_position_embeddings: field("original_max_position_embeddings").unwrap_or(8192.0) as usize,
        }))
    }
}

/// The `head_dim / 2` inverse frequencies `theta^(-2i/D)`, rescaled by `scaling`. Computed in
/// f64 and rounded once, so they match transformers' f32 values to about one ulp.
///
/// Example: `rope_inv_freq(4, 10000.0, None) == [1.0, 0.01]`.
pub fn rope_inv_freq(head_dim: usize, theta: f32, scaling: Option<&RopeScaling>) -> Vec<f32> {
    let base = base_inv_freq(head_dim, theta);
    let Some(sc) = scaling else { return base.iter().map(|&f| f as f32).collect() };
    let scaled = base.iter().map(|&f| match sc.rope_type {
        RopeType::Default => f,
        RopeType::Linear => f / sc.factor as f64,
        RopeType::Llama3 => f / llama3_divisor(f, sc),
    });
    scaled.map(|f| f as f32).collect()
}

/// Llama 3 scaling as the `head_dim / 2` divisors of the plain frequencies, as llama.cpp's
/// converter writes them to GGUF's `rope_freqs.weight` (`LlamaModel.generate_extra_tensors`):
/// 1 for wavelengths below `original_max_position_embeddings / high_freq_factor`, `factor` above
/// `original_max_position_embeddings / low_freq_factor`, `1 / ((1 - s) / factor + s)` between.
///
/// Example: with `original_max_position_embeddings` 256, head_dim 16 and theta 10000 the
/// wavelengths 6.3, 20 and 63 keep divisor 1, 199 is between, and those from 628 up get `factor`.
pub fn llama3_rope_divisors(head_dim: usize, theta: f32, scaling: &RopeScaling) -> Vec<f32> {
    base_inv_freq(head_dim, theta).iter().map(|&f| llama3_divisor(f, scaling) as f32).collect()
}

/// `theta^(-2i/D)` for `i < D/2`, in f64.
fn base_inv_freq(head_dim: usize, theta: f32) -> Vec<f64> {
    (0..head_dim / 2).map(|i| 1.0 / (theta as f64).powf((2 * i) as f64 / head_dim as f64)).collect()
}

/// Llama 3's divisor of frequency `f` (transformers' `_compute_llama3_parameters`).
fn llama3_divisor(f: f64, sc: &RopeScaling) -> f64 {
    let factor = sc.factor as f64;
    let old_len = sc.original_max_position_embeddings as f64;
    let (low, high) = (sc.low_freq_factor as f64, sc.high_freq_factor as f64);
    let wavelen = 2.0 * std::f64::consts::PI / f;
    if wavelen < old_len / high {
        1.0
    } else if wavelen > old_len / low {
        factor
    } else {
        let smooth = (old_len / wavelen - low) / (high - low);
        1.0 / ((1.0 - smooth) / factor + smooth)
    }
}

/// Mirrors `Params` in `shaders/rope_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RopeParams {
    b: u32,
    t: u32,
    nh: u32,
    d: u32,
    pos0: u32,
    _pad: [u32; 3],
}

fn record(rec: &mut Recorder, kernel: &Kernel, x: &GpuTensor, inv_freq: &GpuTensor, pos0: usize) -> Result<()> {
    let &[b, t, nh, d] = x.shape.as_slice() else {
        return Err(Error::invalid("rope x", format!("shape {:?} must be (B, T, NH, D)", x.shape)));
    };
    if d % 2 != 0 || inv_freq.len() != d / 2 {
        return Err(Error::invalid(
            "rope inv_freq",
            format!("{} values for head dim {d}: need an even head dim and head_dim / 2 frequencies", inv_freq.len()),
        ));
    }
    let params = RopeParams { b: b as u32, t: t as u32, nh: nh as u32, d: d as u32, pos0: pos0 as u32, _pad: [0; 3] };
    rec.dispatch(kernel, &params, &[inv_freq.binding(), x.binding()], grid_1d(b * t * nh * d / 2, 256));
    Ok(())
}

/// Records RoPE in place on `x` at positions `pos0 + t`.
///
/// # Shapes
/// `x`: `(B, T, NH, D)` with NH = H (queries) or KVH (keys), `inv_freq`: `(D/2)`.
pub fn rope_forward(rec: &mut Recorder, x: &GpuTensor, inv_freq: &GpuTensor, pos0: usize) -> Result<()> {
    record(rec, &kernels::ROPE_FORWARD, x, inv_freq, pos0)
}

/// Records the RoPE backward pass in place on the gradient `dx` (rotation by `-angle`).
///
/// # Shapes
/// `dx`: `(B, T, NH, D)`, `inv_freq`: `(D/2)`.
pub fn rope_backward(rec: &mut Recorder, dx: &GpuTensor, inv_freq: &GpuTensor, pos0: usize) -> Result<()> {
    record(rec, &kernels::ROPE_BACKWARD, dx, inv_freq, pos0)
}

/// CPU reference for both directions (`sign` +1 forward, -1 backward); `shape` is
/// `[B, T, NH, D]`. The angle is the f32 product, as on the GPU and in transformers.
pub fn rope_cpu(x: &[f32], shape: [usize; 4], inv_freq: &[f32], pos0: usize, sign: f32) -> Vec<f32> {
    let [_, t_len, nh, d] = shape;
    let half = d / 2;
    let mut out = x.to_vec();
    for (row, head) in out.chunks_mut(d).enumerate() {
        let pos = pos0 + (row / nh) % t_len;
        for i in 0..half {
            let angle = (pos as f32 * inv_freq[i]) as f64;
            let (s, c) = ((sign as f64) * angle.sin(), angle.cos());
            let (x1, x2) = (head[i] as f64, head[i + half] as f64);
            head[i] = (x1 * c - x2 * s) as f32;
            head[i + half] = (x2 * c + x1 * s) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::gradcheck::{numeric_grad, weighted_sum};
    use crate::testing::{Rng, assert_close, test_gpu};

    /// transformers 5.23 `_compute_default_rope_parameters`, head_dim 64, theta 100000
    /// (SmolLM2), every fourth value.
    #[rustfmt::skip]
    #[allow(clippy::excessive_precision)]
    const HF_DEFAULT: [f32; 8] = [
        1.000000000e+00, 2.371373624e-01, 5.623412877e-02, 1.333521493e-02,
        3.162277862e-03, 7.498941850e-04, 1.778279402e-04, 4.216965317e-05,
    ];

    /// transformers 5.23 `_compute_llama3_parameters`, head_dim 64, theta 500000, factor 32,
    /// low 1, high 4, original 8192 (Llama 3.2 1B), all 32 values.
    #[rustfmt::skip]
    #[allow(clippy::excessive_precision)]
    const HF_LLAMA3: [f32; 32] = [
        1.000000000e+00, 6.636012793e-01, 4.403666258e-01, 2.922278345e-01, 1.939227581e-01,
        1.286873817e-01, 8.539710194e-02, 5.666961893e-02, 3.760603070e-02, 2.495540865e-02,
        1.656044088e-02, 1.098952908e-02, 7.292665076e-03, 4.839421250e-03, 3.211446106e-03,
        1.290548011e-03, 4.295567051e-04, 9.708286234e-05, 1.946163866e-05, 1.291476747e-05,
        8.570255886e-06, 5.687232260e-06, 3.774054449e-06, 2.504467147e-06, 1.661967417e-06,
        1.102883630e-06, 7.318749340e-07, 4.856731266e-07, 3.222932889e-07, 2.138742303e-07,
        1.419272024e-07, 9.418306490e-08,
    ];

    #[test]
    fn inv_freq_matches_transformers() {
        let plain = rope_inv_freq(64, 100000.0, None);
        let every_fourth: Vec<f32> = plain.iter().step_by(4).copied().collect();
        assert_close(&every_fourth, &HF_DEFAULT, 0.0, 1e-6, "inv_freq default");
        assert_eq!(rope_inv_freq(4, 10000.0, None), vec![1.0, 0.01]);

        let json: serde_json::Value = serde_json::from_str(
            r#"{"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                "original_max_position_embeddings": 8192, "rope_type": "llama3"}"#,
        )
        .unwrap();
        let scaling = RopeScaling::from_hf_json(Some(&json)).unwrap().unwrap();
        assert_eq!(scaling.rope_type, RopeType::Llama3);
        let llama3 = rope_inv_freq(64, 500000.0, Some(&scaling));
        // The smooth ramp (indices 15-17) is f32 arithmetic in transformers: allow a few ulps.
        assert_close(&llama3, &HF_LLAMA3, 0.0, 2e-6, "inv_freq llama3");

        let linear = RopeScaling { rope_type: RopeType::Linear, factor: 4.0, ..scaling.clone() };
        assert_eq!(rope_inv_freq(4, 10000.0, Some(&linear)), vec![0.25, 0.0025]);
        assert_eq!(RopeScaling::from_hf_json(Some(&serde_json::Value::Null)).unwrap(), None);
        let yarn = serde_json::json!({"rope_type": "yarn", "factor": 4.0});
        assert!(RopeScaling::from_hf_json(Some(&yarn)).is_err());
    }

    fn gpu_rope(shape: [usize; 4], x: &[f32], inv_freq: &[f32], pos0: usize, backward: bool) -> Vec<f32> {
        let gpu = test_gpu().unwrap();
        let gx = GpuTensor::from_slice(gpu, &shape, x);
        let gf = GpuTensor::from_slice(gpu, &[inv_freq.len()], inv_freq);
        let mut rec = Recorder::new(gpu);
        if backward {
            rope_backward(&mut rec, &gx, &gf, pos0).unwrap();
        } else {
            rope_forward(&mut rec, &gx, &gf, pos0).unwrap();
        }
        pollster::block_on(gx.read(rec)).unwrap()
    }

    #[test]
    fn rope_matches_cpu() {
        if test_gpu().is_none() {
            return;
        }
        let mut rng = Rng::new(3);
        // (shape [B, T, NH, D], pos0, theta); the last case has angles up to ~3000 rad.
        for (shape, pos0, theta) in [
            ([2, 7, 9, 64], 5, 100000.0),
            ([1, 13, 3, 6], 0, 10000.0),
            ([2, 1, 4, 64], 9, 500000.0),
            ([1, 3, 2, 64], 3000, 10000.0),
        ] {
            let n: usize = shape.iter().product();
            let x = rng.normal_vec(n, 1.0);
            let inv_freq = rope_inv_freq(shape[3], theta, None);
            for (sign, backward) in [(1.0, false), (-1.0, true)] {
                let got = gpu_rope(shape, &x, &inv_freq, pos0, backward);
                let want = rope_cpu(&x, shape, &inv_freq, pos0, sign);
                assert_close(&got, &want, 1e-5, 1e-4, &format!("rope sign {sign} {shape:?} pos0={pos0}"));
            }
        }
    }

    #[test]
    fn rope_backward_is_the_gradient() {
        if test_gpu().is_none() {
            return;
        }
        let mut rng = Rng::new(4);
        let shape = [2, 3, 2, 6];
        let n: usize = shape.iter().product();
        let x = rng.normal_vec(n, 1.0);
        let r = rng.normal_vec(n, 1.0);
        let inv_freq = rope_inv_freq(6, 10000.0, None);
        // L = sum(rope(x) * r)  =>  dL/dx = rope_backward(r).
        let got = gpu_rope(shape, &r, &inv_freq, 5, true);
        let numeric = numeric_grad(&x, 1e-2, |xs| weighted_sum(&rope_cpu(xs, shape, &inv_freq, 5, 1.0), &r));
        assert_close(&got, &numeric, 1e-3, 1e-3, "rope backward vs finite differences");
        assert_close(&got, &rope_cpu(&r, shape, &inv_freq, 5, -1.0), 1e-5, 1e-4, "rope backward vs cpu");
    }
}
