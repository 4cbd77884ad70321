//! Backward pass of causal GQA attention ([`super::attention`]), in two gather passes (WGSL
//! has no float atomics, so every invocation owns the outputs it writes):
//!
//! 1. `attention_backward_dq`, one invocation per query row `(b, h, t)`: rebuilds the softmax
//!    from the saved logsumexp, writes `dq` and `delta = dout · out` (`Σ_j p_j dp_j`).
//! 2. `attention_backward_dkv`, one invocation per cache row `(b, g, j)`: loops over the query
//!    heads of kv head `g` and the query positions that see row `j`, writes `dk` and `dv`.
//!
//! With `p = softmax(s)`, `s_j = scale · q · k_j`: `dv_j = Σ p_j dout`,
//! `ds_j = p_j (dout · v_j − delta)`, `dq = scale Σ_j ds_j k_j`, `dk_j = scale Σ ds_j q`.
//! With a sliding window ([`AttentionOptions`]) both passes sum over the visible pairs only:
//! query `p` sees `p - window < j <= p`, so row `j` is seen by `j <= p < j + window`.
//! Pass 1 takes the keys and pass 2 the query rows in chunks, one dispatch each, later chunks
//! adding to dq (dk, dv), so that no invocation passes lavapipe's loop limit
//! ([`super::attention_chunks`]; one chunk each for short rows).
//! Training calls it with `S = T`, `pos0 = 0`. The base weights are frozen: these activation
//! gradients flow on to the q/k/v projections' LoRA adapters and inputs.

use super::attention::{AttentionDims, AttentionOptions, AttentionParams, check_len};
use super::attention_chunks::{budget, chunks, dkv_queries, dq_keys};
use crate::error::Result;
use crate::gpu::{GpuTensor, KernelFamily, Recorder, grid_1d, kernels};

/// Records `dq`, `dk`, `dv` (all written, not accumulated) from the forward's inputs, its
/// output `out` and its saved `lse`, given `dout`.
///
/// # Shapes
/// `q`, `out`, `dout`, `dq`: `(B, T, H, D)`; `k`, `v`, `dk`, `dv`: `(B, S, KVH, D)` (rows
/// `pos0 + T ..` of `dk`/`dv` are zeroed); `lse`: `(B, H, T)`.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    rec: &mut Recorder,
    q: &GpuTensor,
    k: &GpuTensor,
    v: &GpuTensor,
    out: &GpuTensor,
    lse: &GpuTensor,
    dout: &GpuTensor,
    pos0: usize,
    dq: &GpuTensor,
    dk: &GpuTensor,
    dv: &GpuTensor,
) -> Result<()> {
    attention_backward_with(rec, q, k, v, out, lse, dout, pos0, AttentionOptions::default(), dq, dk, dv)
}

/// [`attention_backward`] of [`super::attention::attention_forward_with`]: the same `opts`
/// (window and scale) as the forward that saved `out` and `lse`.
///
/// # Shapes
/// As [`attention_backward`].
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_with(
    rec: &mut Recorder,
    q: &GpuTensor,
    k: &GpuTensor,
    v: &GpuTensor,
    out: &GpuTensor,
    lse: &GpuTensor,
    dout: &GpuTensor,
    pos0: usize,
    opts: AttentionOptions,
    dq: &GpuTensor,
    dk: &GpuTensor,
    dv: &GpuTensor,
) -> Result<()> {
    let dims = AttentionDims::from_tensors(q, k, v, pos0)?;
    let rows = dims.b * dims.h * dims.t;
    check_len("attention_backward out", out, q.len())?;
    check_len("attention_backward dout", dout, q.len())?;
    check_len("attention_backward dq", dq, q.len())?;
    check_len("attention_backward lse", lse, rows)?;
    check_len("attention_backward dk", dk, k.len())?;
    check_len("attention_backward dv", dv, k.len())?;
    let params = AttentionParams::new(dims, opts)?;
    // delta (B, H, T): scratch passed from the first pass to the second; wgpu keeps it alive
    // until the recorded work has run.
    let delta = GpuTensor::zeros(rec.gpu, &[dims.b, dims.h, dims.t]);
    if rec.gpu.family == KernelFamily::Gpu {
        super::attention_tiled::backward(rec, dims, params, [q, k, v, out, lse, dout], &delta, [dq, dk, dv]);
        return Ok(());
    }
    let pass1 = [
        q.binding(),
        k.binding(),
        v.binding(),
        out.binding(),
        dout.binding(),
        lse.binding(),
        dq.binding(),
        delta.binding(),
    ];
    // Head dims divisible by 4 (all Llama-family models) take the vec4 kernels (~1.5x faster
    // on lavapipe); the scalar kernels handle any D and are what the D = 6 tests exercise.
    let (dq_kernel, dkv_kernel) = if dims.d % 4 == 0 {
        (&kernels::ATTENTION_BACKWARD_DQ_VEC4, &kernels::ATTENTION_BACKWARD_DKV_VEC4)
    } else {
        (&kernels::ATTENTION_BACKWARD_DQ, &kernels::ATTENTION_BACKWARD_DKV)
    };
    let keys = chunks(opts.first_key(pos0), pos0 + dims.t, dq_keys(dims.d, budget()));
    for i in 0..keys.len() {
        rec.dispatch(dq_kernel, &params.chunk(&keys, i), &pass1, grid_1d(rows, 64));
    }
    let pass2 = [
        q.binding(),
        k.binding(),
        v.binding(),
        dout.binding(),
        lse.binding(),
        delta.binding(),
        dk.binding(),
        dv.binding(),
    ];
    let queries = chunks(0, dims.t, dkv_queries(dims.d, dims.h / dims.kvh, budget()));
    for i in 0..queries.len() {
        rec.dispatch(dkv_kernel, &params.chunk(&queries, i), &pass2, grid_1d(dims.b * dims.kvh * dims.s, 64));
    }
    Ok(())
}

/// CPU reference: recomputes the softmax (f64) and returns `(dq, dk, dv)` with the shapes of
/// `q`, `k`, `v`.
pub fn attention_backward_cpu(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dout: &[f32],
    dims: AttentionDims,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    attention_backward_cpu_with(q, k, v, dout, dims, AttentionOptions::default())
}

/// CPU reference of [`attention_backward_with`]: each query's keys `opts.first_key(p) ..= p`.
pub fn attention_backward_cpu_with(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dout: &[f32],
    dims: AttentionDims,
    opts: AttentionOptions,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let AttentionDims { b, t, s, h, kvh, d, pos0 } = dims;
    let scale = opts.scale_for(&dims) as f64;
    let mut dq = vec![0f64; q.len()];
    let mut dk = vec![0f64; k.len()];
    let mut dv = vec![0f64; v.len()];
    for bi in 0..b {
        for hi in 0..h {
            let g = dims.kv_head(hi);
            for ti in 0..t {
                let qo = ((bi * t + ti) * h + hi) * d;
                let kv = |j: usize| ((bi * s + j) * kvh + g) * d;
                let dot = |a: &[f32], ao: usize, bo: usize, bb: &[f32]| -> f64 {
                    (0..d).map(|i| a[ao + i] as f64 * bb[bo + i] as f64).sum()
                };
                // Keys j0 ..= pos0 + ti; index n of the vectors below is key j0 + n.
                let j0 = opts.first_key(pos0 + ti);
                let keys = j0..pos0 + ti + 1;
                let scores: Vec<f64> = keys.clone().map(|j| scale * dot(q, qo, kv(j), k)).collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = scores.iter().map(|x| (x - m).exp()).sum();
                let p: Vec<f64> = scores.iter().map(|x| (x - m).exp() / sum).collect();
                let dp: Vec<f64> = keys.clone().map(|j| dot(dout, qo, kv(j), v)).collect();
                let delta: f64 = p.iter().zip(&dp).map(|(p, dp)| p * dp).sum();
                for (n, j) in keys.enumerate() {
                    let ds = p[n] * (dp[n] - delta);
                    for i in 0..d {
                        dq[qo + i] += scale * ds * k[kv(j) + i] as f64;
                        dk[kv(j) + i] += scale * ds * q[qo + i] as f64;
                        dv[kv(j) + i] += p[n] * dout[qo + i] as f64;
                    }
                }
            }
        }
    }
    let f = |x: Vec<f64>| x.into_iter().map(|v| v as f32).collect();
    (f(dq), f(dk), f(dv))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ops::attention::{attention_forward, attention_forward_cpu_with, attention_forward_with};
    use crate::ops::attention_chunks::{LOOP_BUDGET, with_budget};
    use crate::ops::gradcheck::{numeric_grad, weighted_sum};
    use crate::gpu::Gpu;
    use crate::testing::{Rng, assert_close, test_gpu, test_gpus};

    /// Random inputs of one backward test.
    pub(crate) struct Case {
        pub dims: AttentionDims,
        pub q: Vec<f32>,
        pub k: Vec<f32>,
        pub v: Vec<f32>,
        /// dL/dout for L = sum(out * r).
        pub r: Vec<f32>,
    }

    pub(crate) fn case(rng: &mut Rng, dims: AttentionDims) -> Case {
        let AttentionDims { b, t, s, h, kvh, d, .. } = dims;
        Case {
            dims,
            q: rng.normal_vec(b * t * h * d, 1.5),
            k: rng.normal_vec(b * s * kvh * d, 1.5),
            v: rng.normal_vec(b * s * kvh * d, 1.0),
            r: rng.normal_vec(b * t * h * d, 1.0),
        }
    }

    /// GPU forward then GPU backward on `gpu` with `opts` (the same for both) under a loop
    /// `budget`; returns `(dq, dk, dv)`.
    pub(crate) fn gpu_backward_with(gpu: &Gpu, c: &Case, opts: AttentionOptions, budget: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let AttentionDims { b, t, s, h, kvh, d, pos0 } = c.dims;
        let qs = [b, t, h, d];
        let ks = [b, s, kvh, d];
        let (gq, gk, gv) = (
            GpuTensor::from_slice(gpu, &qs, &c.q),
            GpuTensor::from_slice(gpu, &ks, &c.k),
            GpuTensor::from_slice(gpu, &ks, &c.v),
        );
        let gr = GpuTensor::from_slice(gpu, &qs, &c.r);
        let (gout, glse) = (GpuTensor::zeros(gpu, &qs), GpuTensor::zeros(gpu, &[b, h, t]));
        // dk, dv start as garbage: every element must be written, including unused cache rows.
        let garbage = vec![7.0f32; b * s * kvh * d];
        let (gdq, gdk, gdv) = (
            GpuTensor::zeros(gpu, &qs),
            GpuTensor::from_slice(gpu, &ks, &garbage),
            GpuTensor::from_slice(gpu, &ks, &garbage),
        );
        let mut rec = Recorder::new(gpu);
        with_budget(budget, || {
            attention_forward_with(&mut rec, &gq, &gk, &gv, pos0, opts, &gout, &glse)?;
            attention_backward_with(&mut rec, &gq, &gk, &gv, &gout, &glse, &gr, pos0, opts, &gdq, &gdk, &gdv)
        })
        .unwrap();
        rec.submit();
        let read = |x: &GpuTensor| pollster::block_on(x.to_vec(gpu)).unwrap();
        (read(&gdq), read(&gdk), read(&gdv))
    }

    /// Both kernel families (the GPU family's tiles forced on a CPU adapter).
    #[test]
    fn attention_backward_matches_cpu() {
        let mut rng = Rng::new(41);
        let cases = [
            AttentionDims { b: 2, t: 7, s: 7, h: 9, kvh: 3, d: 64, pos0: 0 },
            AttentionDims { b: 1, t: 13, s: 13, h: 4, kvh: 4, d: 6, pos0: 0 },
            AttentionDims { b: 2, t: 5, s: 12, h: 4, kvh: 2, d: 6, pos0: 5 },
            AttentionDims { b: 1, t: 1, s: 10, h: 9, kvh: 3, d: 64, pos0: 9 },
            // Several query and key tiles of the GPU family, partial ones at both ends.
            AttentionDims { b: 1, t: 70, s: 75, h: 4, kvh: 2, d: 68, pos0: 5 },
        ];
        for gpu in test_gpus() {
            for dims in cases {
                check_backward_vs_cpu(gpu, &mut rng, dims, AttentionOptions::default(), LOOP_BUDGET);
            }
        }
    }

    /// GPU backward on `gpu` (under `budget`) against [`attention_backward_cpu_with`] on random
    /// inputs.
    pub(crate) fn check_backward_vs_cpu(gpu: &Gpu, rng: &mut Rng, dims: AttentionDims, opts: AttentionOptions, budget: usize) {
        let c = case(rng, dims);
        let (dq, dk, dv) = gpu_backward_with(gpu, &c, opts, budget);
        let (want_dq, want_dk, want_dv) = attention_backward_cpu_with(&c.q, &c.k, &c.v, &c.r, dims, opts);
        let what = format!("{dims:?} {opts:?} budget {budget}, {:?} family", gpu.family);
        assert_close(&dq, &want_dq, 1e-5, 1e-4, &format!("attention dq {what}"));
        assert_close(&dk, &want_dk, 1e-5, 1e-4, &format!("attention dk {what}"));
        assert_close(&dv, &want_dv, 1e-5, 1e-4, &format!("attention dv {what}"));
    }

    #[test]
    fn attention_backward_matches_finite_differences() {
        let mut rng = Rng::new(42);
        let cases = [
            AttentionDims { b: 2, t: 4, s: 4, h: 4, kvh: 2, d: 3, pos0: 0 },
            AttentionDims { b: 1, t: 3, s: 6, h: 3, kvh: 1, d: 5, pos0: 2 },
            // D = 4: the vec4 kernels.
            AttentionDims { b: 1, t: 3, s: 4, h: 2, kvh: 1, d: 4, pos0: 1 },
        ];
        for gpu in test_gpus() {
            for dims in cases {
                check_backward_vs_finite_differences(gpu, &mut rng, dims, AttentionOptions::default());
            }
        }
    }

    /// GPU backward on `gpu` against central differences of [`attention_forward_cpu_with`].
    pub(crate) fn check_backward_vs_finite_differences(gpu: &Gpu, rng: &mut Rng, dims: AttentionDims, opts: AttentionOptions) {
        let c = case(rng, dims);
        let (dq, dk, dv) = gpu_backward_with(gpu, &c, opts, LOOP_BUDGET);
        let loss = |q: &[f32], k: &[f32], v: &[f32]| weighted_sum(&attention_forward_cpu_with(q, k, v, dims, opts).0, &c.r);
        let num_dq = numeric_grad(&c.q, 1e-2, |x| loss(x, &c.k, &c.v));
        let num_dk = numeric_grad(&c.k, 1e-2, |x| loss(&c.q, x, &c.v));
        let num_dv = numeric_grad(&c.v, 1e-2, |x| loss(&c.q, &c.k, x));
        let what = format!("{dims:?} {opts:?}, {:?} family", gpu.family);
        assert_close(&dq, &num_dq, 2e-3, 2e-3, &format!("attention dq vs finite differences {what}"));
        assert_close(&dk, &num_dk, 2e-3, 2e-3, &format!("attention dk vs finite differences {what}"));
        assert_close(&dv, &num_dv, 2e-3, 2e-3, &format!("attention dv vs finite differences {what}"));
    }

    /// Times forward and backward at SmolLM2 sizes (H 9, KVH 3, D 64):
    /// `cargo test -p anytune-core attention_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn attention_timing() {
        let Some(gpu) = test_gpu() else { return };
        let (h, kvh, d) = (9, 3, 64);
        // (B, T, S, pos0): a training/prefill step and a decode step.
        for (b, t, s, pos0) in [(1usize, 128usize, 128usize, 0usize), (1, 256, 256, 0), (1, 1, 512, 511)] {
            let z = |shape: &[usize]| GpuTensor::zeros(gpu, shape);
            let (q, out, dout, dq) = (z(&[b, t, h, d]), z(&[b, t, h, d]), z(&[b, t, h, d]), z(&[b, t, h, d]));
            let (k, v, dk, dv) = (z(&[b, s, kvh, d]), z(&[b, s, kvh, d]), z(&[b, s, kvh, d]), z(&[b, s, kvh, d]));
            let lse = z(&[b, h, t]);
            let time = |backward: bool| {
                let mut best = f64::MAX;
                for _ in 0..3 {
                    let mut rec = Recorder::new(gpu);
                    if backward {
                        attention_backward(&mut rec, &q, &k, &v, &out, &lse, &dout, pos0, &dq, &dk, &dv).unwrap();
                    } else {
                        attention_forward(&mut rec, &q, &k, &v, pos0, &out, &lse).unwrap();
                    }
                    let t0 = std::time::Instant::now();
                    pollster::block_on(lse.read(rec)).unwrap();
                    best = best.min(t0.elapsed().as_secs_f64());
                }
                best * 1e3
            };
            eprintln!("B={b} T={t} S={s}: forward {:.2} ms, backward {:.2} ms", time(false), time(true));
        }
    }
}
