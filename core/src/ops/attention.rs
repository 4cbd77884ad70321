//! Causal self-attention with grouped-query heads (GQA) over a KV cache, and the helper that
//! writes the current tokens' keys and values into the cache.
//!
//! Query head `h` uses kv head `h / (H / KVH)`. Query `t` sits at absolute position `pos0 + t`
//! and attends to cache rows `0 ..= pos0 + t`, with scale `1 / sqrt(D)`; with
//! [`AttentionOptions`] (the `_with` functions), to the rows `pos0 + t - window < j <= pos0 + t`
//! of a sliding window and with another scale (Gemma 3). The same kernel does
//! training and prefill (`pos0 = 0`, `S = T`, k and v straight from the projections) and decode
//! (`T = 1`, `pos0` = tokens already cached). The forward pass saves the per-row logsumexp
//! `lse (B, H, T)`, which is all the backward pass ([`super::attention_backward`]) needs to
//! rebuild the softmax without storing the `(T, S)` probabilities.
//!
//! Kernels: `attention_forward` (any head dim up to [`MAX_HEAD_DIM`]) and
//! `attention_forward_vec4` (the same with vec4 loads, for head dims divisible by 4, about 2x
//! faster on lavapipe); both run one invocation per `(b, h, t)` with an online softmax, over
//! the keys in chunks of at most [`super::attention_chunks::forward_keys`] (one dispatch each,
//! to stay under lavapipe's loop limit; one chunk for short rows).

use super::attention_chunks::{budget, chunks, flags, forward_keys};
pub use super::attention_options::AttentionOptions;
use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, KernelFamily, Recorder, grid_1d, kernels};

/// Largest head dim the kernels accept (`MAX_D` in the attention shaders: the per-invocation
/// accumulators are fixed-size arrays).
pub const MAX_HEAD_DIM: usize = 256;

/// The sizes of one attention call, read from the tensors' shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionDims {
    /// Batch rows.
    pub b: usize,
    /// Query tokens in this call.
    pub t: usize,
    /// Cache capacity (rows of k and v); at least `pos0 + t`.
    pub s: usize,
    /// Query heads.
    pub h: usize,
    /// Key/value heads; divides `h`.
    pub kvh: usize,
    /// Head dim.
    pub d: usize,
    /// Absolute position of query 0.
    pub pos0: usize,
}

impl AttentionDims {
    /// Checks `q (B, T, H, D)` against `k`, `v (B, S, KVH, D)` and `pos0`.
    pub fn from_tensors(q: &GpuTensor, k: &GpuTensor, v: &GpuTensor, pos0: usize) -> Result<AttentionDims> {
        let &[b, t, h, d] = q.shape.as_slice() else {
            return Err(Error::invalid("attention q", format!("shape {:?} must be (B, T, H, D)", q.shape)));
        };
        let &[kb, s, kvh, kd] = k.shape.as_slice() else {
            return Err(Error::invalid("attention k", format!("shape {:?} must be (B, S, KVH, D)", k.shape)));
        };
        if v.shape != k.shape {
            return Err(Error::invalid("attention v", format!("shape {:?} differs from k {:?}", v.shape, k.shape)));
        }
        if kb != b || kd != d {
            return Err(Error::invalid("attention k", format!("shape {:?} does not match q {:?}", k.shape, q.shape)));
        }
        if kvh == 0 || h % kvh != 0 {
            return Err(Error::invalid(
                "attention heads",
                format!("{h} query heads are not a multiple of {kvh} kv heads"),
            ));
        }
        if d == 0 || d > MAX_HEAD_DIM {
            return Err(Error::invalid("attention head dim", format!("{d} is outside 1..={MAX_HEAD_DIM}")));
        }
        if pos0 + t > s {
            return Err(Error::invalid(
                "attention pos0",
                format!("{pos0} + {t} tokens exceed the cache capacity {s}: allocate a longer KV cache"),
            ));
        }
        Ok(AttentionDims { b, t, s, h, kvh, d, pos0 })
    }

    /// The kv head of query head `h`.
    pub fn kv_head(&self, h: usize) -> usize {
        h / (self.h / self.kvh)
    }

    /// `1 / sqrt(D)`.
    pub fn scale(&self) -> f32 {
        1.0 / (self.d as f32).sqrt()
    }
}

/// Checks that `tensor` has `want` elements.
pub(crate) fn check_len(name: &str, tensor: &GpuTensor, want: usize) -> Result<()> {
    if tensor.len() != want {
        return Err(Error::invalid(
            name,
            format!("shape {:?} has {} elements, expected {want}", tensor.shape, tensor.len()),
        ));
    }
    Ok(())
}

/// Mirrors `Params` in `shaders/attention_forward.wgsl` (and the attention backward shaders).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct AttentionParams {
    b: u32,
    t: u32,
    h: u32,
    kvh: u32,
    d: u32,
    s: u32,
    pos0: u32,
    scale: f32,
    /// Keys seen per query, in `1 ..= S` (`S`: plain causal); see [`AttentionOptions`].
    window: u32,
    /// This dispatch's chunk `[lo, hi)`: key positions (forward, dq) or query rows (dk/dv).
    lo: u32,
    hi: u32,
    /// [`super::attention_chunks::CONTINUE`] | [`super::attention_chunks::LAST`].
    flags: u32,
}

impl AttentionParams {
    /// The uniform of `dims` under `opts`; errors on a bad scale.
    pub(crate) fn new(dims: AttentionDims, opts: AttentionOptions) -> Result<AttentionParams> {
        opts.check()?;
        let u = |x: usize| x as u32;
        Ok(AttentionParams {
            b: u(dims.b),
            t: u(dims.t),
            h: u(dims.h),
            kvh: u(dims.kvh),
            d: u(dims.d),
            s: u(dims.s),
            pos0: u(dims.pos0),
            scale: opts.scale_for(&dims),
            window: opts.kernel_window(&dims),
            lo: 0,
            hi: 0,
            flags: 0,
        })
    }

    /// These params for chunk `i` of `chunks`.
    pub(crate) fn chunk(self, chunks: &[(usize, usize)], i: usize) -> AttentionParams {
        let (lo, hi) = chunks[i];
        AttentionParams { lo: lo as u32, hi: hi as u32, flags: flags(i, chunks.len()), ..self }
    }
}

/// Records causal GQA attention: `out = softmax(q kᵀ / sqrt(D), causal) v`, and `lse`.
///
/// # Shapes
/// `q`: `(B, T, H, D)`, `k`, `v`: `(B, S, KVH, D)` with `S >= pos0 + T`, `out`: `(B, T, H, D)`
/// (written), `lse`: `(B, H, T)` (written).
pub fn attention_forward(
    rec: &mut Recorder,
    q: &GpuTensor,
    k: &GpuTensor,
    v: &GpuTensor,
    pos0: usize,
    out: &GpuTensor,
    lse: &GpuTensor,
) -> Result<()> {
    attention_forward_with(rec, q, k, v, pos0, AttentionOptions::default(), out, lse)
}

/// [`attention_forward`] with a sliding window and/or another scale:
/// `out = softmax(scale · q kᵀ, keys pos0 + t - window < j <= pos0 + t) v`, and `lse`.
///
/// # Shapes
/// As [`attention_forward`]; decode (`T = 1`, `pos0 > 0`) may use a cache longer than the window.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_with(
    rec: &mut Recorder,
    q: &GpuTensor,
    k: &GpuTensor,
    v: &GpuTensor,
    pos0: usize,
    opts: AttentionOptions,
    out: &GpuTensor,
    lse: &GpuTensor,
) -> Result<()> {
    let dims = AttentionDims::from_tensors(q, k, v, pos0)?;
    let rows = dims.b * dims.h * dims.t;
    check_len("attention out", out, q.len())?;
    check_len("attention lse", lse, rows)?;
    let params = AttentionParams::new(dims, opts)?;
    if rec.gpu.family == KernelFamily::Gpu {
        super::attention_tiled::forward(rec, dims, params, q, k, v, out, lse);
        return Ok(());
    }
    // Key positions any query sees: first_key(pos0) .. pos0 + T.
    let keys = chunks(opts.first_key(pos0), pos0 + dims.t, forward_keys(dims.d, budget()));
    // Softmax sums carried between chunks (B, H, T); one unused float when there is one chunk.
    let lsum_shape = if keys.len() > 1 { vec![dims.b, dims.h, dims.t] } else { vec![1] };
    let lsum = GpuTensor::zeros(rec.gpu, &lsum_shape);
    let bindings = [q.binding(), k.binding(), v.binding(), out.binding(), lse.binding(), lsum.binding()];
    // Head dims divisible by 4 (all Llama-family models) take the vec4 kernel (about 2x faster
    // on lavapipe); the scalar kernel handles any D and is what the D = 6 tests exercise.
    let kernel = if dims.d % 4 == 0 { &kernels::ATTENTION_FORWARD_VEC4 } else { &kernels::ATTENTION_FORWARD };
    for i in 0..keys.len() {
        rec.dispatch(kernel, &params.chunk(&keys, i), &bindings, grid_1d(rows, 64));
    }
    Ok(())
}

/// Records copies of the current tokens' keys (or values) into the cache at rows
/// `pos0 .. pos0 + T` of every batch row (one buffer copy per batch row).
///
/// # Shapes
/// `new`: `(B, T, KVH, D)`, `cache`: `(B, S, KVH, D)` with `S >= pos0 + T`.
pub fn kv_write(rec: &mut Recorder, new: &GpuTensor, cache: &GpuTensor, pos0: usize) -> Result<()> {
    let (&[b, t, kvh, d], &[cb, s, ckvh, cd]) = (new.shape.as_slice(), cache.shape.as_slice()) else {
        return Err(Error::invalid(
            "kv_write",
            format!("new {:?} must be (B, T, KVH, D) and cache {:?} (B, S, KVH, D)", new.shape, cache.shape),
        ));
    };
    if (b, kvh, d) != (cb, ckvh, cd) || pos0 + t > s {
        return Err(Error::invalid(
            "kv_write",
            format!("cannot write {:?} at row {pos0} of a cache of shape {:?}", new.shape, cache.shape),
        ));
    }
    let row = (kvh * d * 4) as u64;
    for bi in 0..b {
        let src = (bi * t) as u64 * row;
        let dst = (bi * s + pos0) as u64 * row;
        rec.copy(&new.buffer, src, &cache.buffer, dst, t as u64 * row);
    }
    Ok(())
}

/// CPU reference (f64 sums, max-subtracted softmax): returns `(out (B, T, H, D), lse (B, H, T))`.
pub fn attention_forward_cpu(q: &[f32], k: &[f32], v: &[f32], dims: AttentionDims) -> (Vec<f32>, Vec<f32>) {
    attention_forward_cpu_with(q, k, v, dims, AttentionOptions::default())
}

/// CPU reference of [`attention_forward_with`]: each query's scores over its keys
/// `opts.first_key(p) ..= p` only.
pub fn attention_forward_cpu_with(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dims: AttentionDims,
    opts: AttentionOptions,
) -> (Vec<f32>, Vec<f32>) {
    let AttentionDims { b, t, s, h, kvh, d, pos0 } = dims;
    let scale = opts.scale_for(&dims) as f64;
    let mut out = vec![0f32; b * t * h * d];
    let mut lse = vec![0f32; b * h * t];
    for bi in 0..b {
        for hi in 0..h {
            let g = dims.kv_head(hi);
            for ti in 0..t {
                let qrow = &q[((bi * t + ti) * h + hi) * d..][..d];
                let kv = |j: usize| ((bi * s + j) * kvh + g) * d;
                let keys = opts.first_key(pos0 + ti)..=pos0 + ti;
                let scores: Vec<f64> = keys
                    .clone()
                    .map(|j| scale * (0..d).map(|i| qrow[i] as f64 * k[kv(j) + i] as f64).sum::<f64>())
                    .collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = scores.iter().map(|x| (x - m).exp()).sum();
                for i in 0..d {
                    let o: f64 = scores.iter().zip(keys.clone()).map(|(x, j)| (x - m).exp() * v[kv(j) + i] as f64).sum();
                    out[((bi * t + ti) * h + hi) * d + i] = (o / sum) as f32;
                }
                lse[(bi * h + hi) * t + ti] = (m + sum.ln()) as f32;
            }
        }
    }
    (out, lse)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ops::attention_chunks::{LOOP_BUDGET, with_budget};
    use crate::gpu::Gpu;
    use crate::testing::{Rng, assert_close, test_gpu, test_gpus};

    /// Runs the GPU forward on `gpu` with `opts` on host data; returns `(out, lse)`.
    pub(crate) fn gpu_attention_with(
        gpu: &Gpu,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        dims: AttentionDims,
        opts: AttentionOptions,
    ) -> (Vec<f32>, Vec<f32>) {
        gpu_attention_budget(gpu, q, k, v, dims, opts, LOOP_BUDGET)
    }

    /// [`gpu_attention_with`] under a loop budget ([`with_budget`]).
    pub(crate) fn gpu_attention_budget(
        gpu: &Gpu,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        dims: AttentionDims,
        opts: AttentionOptions,
        budget: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let AttentionDims { b, t, s, h, kvh, d, pos0 } = dims;
        let gq = GpuTensor::from_slice(gpu, &[b, t, h, d], q);
        let gk = GpuTensor::from_slice(gpu, &[b, s, kvh, d], k);
        let gv = GpuTensor::from_slice(gpu, &[b, s, kvh, d], v);
        let gout = GpuTensor::zeros(gpu, &[b, t, h, d]);
        let glse = GpuTensor::zeros(gpu, &[b, h, t]);
        let mut rec = Recorder::new(gpu);
        with_budget(budget, || attention_forward_with(&mut rec, &gq, &gk, &gv, pos0, opts, &gout, &glse)).unwrap();
        rec.submit();
        (pollster::block_on(gout.to_vec(gpu)).unwrap(), pollster::block_on(glse.to_vec(gpu)).unwrap())
    }

    /// Both kernel families (the GPU family's tiles forced on a CPU adapter).
    #[test]
    fn attention_forward_matches_cpu() {
        let mut rng = Rng::new(21);
        let cases = [
            AttentionDims { b: 2, t: 7, s: 12, h: 9, kvh: 3, d: 64, pos0: 5 },
            AttentionDims { b: 1, t: 13, s: 13, h: 4, kvh: 4, d: 6, pos0: 0 },
            AttentionDims { b: 2, t: 1, s: 40, h: 9, kvh: 3, d: 64, pos0: 33 },
            AttentionDims { b: 2, t: 13, s: 20, h: 4, kvh: 2, d: 6, pos0: 5 },
            // Several query and key tiles of the GPU family, partial ones at both ends.
            AttentionDims { b: 1, t: 70, s: 75, h: 4, kvh: 2, d: 68, pos0: 5 },
        ];
        for gpu in test_gpus() {
            for dims in cases {
                check_forward_vs_cpu(gpu, &mut rng, dims, AttentionOptions::default(), LOOP_BUDGET);
            }
        }
    }

    /// GPU forward on `gpu` (under `budget`) against [`attention_forward_cpu_with`] on random
    /// inputs; returns `(v, out)`.
    pub(crate) fn check_forward_vs_cpu(
        gpu: &Gpu,
        rng: &mut Rng,
        dims: AttentionDims,
        opts: AttentionOptions,
        budget: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let AttentionDims { b, t, s, h, kvh, d, .. } = dims;
        // Scale 2: peaked softmaxes, so the online max and rescaling paths are exercised.
        let q = rng.normal_vec(b * t * h * d, 2.0);
        let k = rng.normal_vec(b * s * kvh * d, 2.0);
        let v = rng.normal_vec(b * s * kvh * d, 1.0);
        let (out, lse) = gpu_attention_budget(gpu, &q, &k, &v, dims, opts, budget);
        let (want_out, want_lse) = attention_forward_cpu_with(&q, &k, &v, dims, opts);
        let what = format!("{dims:?} {opts:?} budget {budget}, {:?} family", gpu.family);
        assert_close(&out, &want_out, 1e-5, 1e-4, &format!("attention out {what}"));
        assert_close(&lse, &want_lse, 1e-5, 1e-4, &format!("attention lse {what}"));
        (v, out)
    }

    /// Prefill of 10 tokens vs 9 cached tokens plus one decode step: the decode output must
    /// equal the prefill's last row. The cache (capacity 16) is filled with `kv_write`.
    #[test]
    fn decode_step_matches_prefill_last_row() {
        for gpu in test_gpus() {
            decode_step_matches_prefill_last_row_on(gpu);
        }
    }

    fn decode_step_matches_prefill_last_row_on(gpu: &Gpu) {
        let (b, h, kvh, d, s, n) = (2, 9, 3, 64, 16, 10);
        let mut rng = Rng::new(22);
        let q = rng.normal_vec(b * n * h * d, 1.0);
        let k = rng.normal_vec(b * n * kvh * d, 1.0);
        let v = rng.normal_vec(b * n * kvh * d, 1.0);
        // Rows t0..t1 of a (B, n, X) array as a (B, t1 - t0, X) array.
        let rows = |x: &[f32], width: usize, t0: usize, t1: usize| -> Vec<f32> {
            (0..b).flat_map(|bi| x[(bi * n + t0) * width..(bi * n + t1) * width].to_vec()).collect()
        };
        let kc = GpuTensor::zeros(gpu, &[b, s, kvh, d]);
        let vc = GpuTensor::zeros(gpu, &[b, s, kvh, d]);
        let up = |x: &[f32], t: usize| GpuTensor::from_slice(gpu, &[b, t, kvh, d], x);

        // Prefill: all 10 tokens at pos0 = 0.
        let mut rec = Recorder::new(gpu);
        kv_write(&mut rec, &up(&k, n), &kc, 0).unwrap();
        kv_write(&mut rec, &up(&v, n), &vc, 0).unwrap();
        let gq = GpuTensor::from_slice(gpu, &[b, n, h, d], &q);
        let out_prefill = GpuTensor::zeros(gpu, &[b, n, h, d]);
        let lse_prefill = GpuTensor::zeros(gpu, &[b, h, n]);
        attention_forward(&mut rec, &gq, &kc, &vc, 0, &out_prefill, &lse_prefill).unwrap();
        rec.submit();
        let prefill = pollster::block_on(out_prefill.to_vec(gpu)).unwrap();

        // Fresh caches: 9 tokens, then the 10th written at pos0 = 9 and decoded alone.
        let kc2 = GpuTensor::zeros(gpu, &[b, s, kvh, d]);
        let vc2 = GpuTensor::zeros(gpu, &[b, s, kvh, d]);
        let mut rec = Recorder::new(gpu);
        kv_write(&mut rec, &up(&rows(&k, kvh * d, 0, 9), 9), &kc2, 0).unwrap();
        kv_write(&mut rec, &up(&rows(&v, kvh * d, 0, 9), 9), &vc2, 0).unwrap();
        kv_write(&mut rec, &up(&rows(&k, kvh * d, 9, 10), 1), &kc2, 9).unwrap();
        kv_write(&mut rec, &up(&rows(&v, kvh * d, 9, 10), 1), &vc2, 9).unwrap();
        let gq1 = GpuTensor::from_slice(gpu, &[b, 1, h, d], &rows(&q, h * d, 9, 10));
        let out_decode = GpuTensor::zeros(gpu, &[b, 1, h, d]);
        let lse_decode = GpuTensor::zeros(gpu, &[b, h, 1]);
        attention_forward(&mut rec, &gq1, &kc2, &vc2, 9, &out_decode, &lse_decode).unwrap();
        rec.submit();
        let decode = pollster::block_on(out_decode.to_vec(gpu)).unwrap();

        assert_close(&decode, &rows(&prefill, h * d, 9, 10), 1e-5, 1e-4, "decode vs prefill last row");
        let dims = AttentionDims { b, t: n, s: n, h, kvh, d, pos0: 0 };
        assert_close(&prefill, &attention_forward_cpu(&q, &k, &v, dims).0, 1e-5, 1e-4, "prefill vs cpu");
    }

    #[test]
    fn attention_rejects_bad_shapes() {
        let Some(gpu) = test_gpu() else { return };
        let q = GpuTensor::zeros(gpu, &[1, 4, 6, 8]);
        let k = GpuTensor::zeros(gpu, &[1, 8, 4, 8]);
        let out = GpuTensor::zeros(gpu, &[1, 4, 6, 8]);
        let lse = GpuTensor::zeros(gpu, &[1, 6, 4]);
        let mut rec = Recorder::new(gpu);
        // 6 query heads over 4 kv heads.
        assert!(attention_forward(&mut rec, &q, &k, &k, 0, &out, &lse).is_err());
        let k = GpuTensor::zeros(gpu, &[1, 8, 3, 8]);
        // pos0 + T = 5 + 4 > S = 8.
        assert!(attention_forward(&mut rec, &q, &k, &k, 5, &out, &lse).is_err());
        assert!(attention_forward(&mut rec, &q, &k, &k, 4, &out, &lse).is_ok());
    }
}
