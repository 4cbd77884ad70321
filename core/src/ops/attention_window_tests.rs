//! GPU tests of attention with [`AttentionOptions`] (sliding window, scale): forward and both
//! backward kernels against the CPU references, finite differences, and decode against plain
//! causal attention over just the window's rows. Shapes: Gemma 3's (H 4, KVH 1, D 256) and
//! small ones, scalar (D % 4 != 0) and vec4 kernels, GQA, lengths that are not multiples of 64.
//! Then the loop-budget chunks ([`super::attention_chunks`]): small budgets on small shapes
//! (many chunks), and rows long enough to pass lavapipe's loop limit with the real budget.

use super::attention::tests::{check_forward_vs_cpu, gpu_attention_with};
use super::attention_chunks::LOOP_BUDGET;
use super::attention::{AttentionDims, AttentionOptions, attention_forward_with};
use super::attention_backward::tests::{check_backward_vs_cpu, check_backward_vs_finite_differences};
use crate::gpu::{Gpu, GpuTensor, KernelFamily, Recorder};
use crate::testing::{Rng, assert_close, test_gpu, test_gpu_with, test_gpus};

/// `AttentionDims` in argument order.
fn dims(b: usize, t: usize, s: usize, h: usize, kvh: usize, d: usize, pos0: usize) -> AttentionDims {
    AttentionDims { b, t, s, h, kvh, d, pos0 }
}

fn opts(window: usize, scale: Option<f32>) -> AttentionOptions {
    AttentionOptions { window, scale }
}

/// Training, prefill into a longer cache, decode past the window, window 1 and window >= S.
#[test]
fn sliding_window_forward_matches_cpu() {
    for gpu in test_gpus() {
        sliding_window_forward_matches_cpu_on(gpu);
    }
}

fn sliding_window_forward_matches_cpu_on(gpu: &Gpu) {
    let mut rng = Rng::new(61);
    let cases = [
        (dims(2, 13, 13, 4, 2, 6, 0), opts(5, None)),
        (dims(1, 37, 37, 4, 1, 256, 0), opts(16, Some(0.05))),
        (dims(2, 7, 20, 9, 3, 64, 5), opts(4, None)),
        (dims(2, 1, 40, 4, 1, 256, 33), opts(8, None)),
        (dims(1, 1, 40, 4, 2, 6, 30), opts(3, Some(0.3))),
        (dims(1, 13, 13, 4, 4, 16, 0), opts(100, None)),
    ];
    for (dims, opts) in cases {
        check_forward_vs_cpu(gpu, &mut rng, dims, opts, LOOP_BUDGET);
    }
    // Window 1: each query sees only its own key, so out = its value row.
    let (t, h, d) = (5, 2, 16);
    let (v, out) = check_forward_vs_cpu(gpu, &mut rng, dims(1, t, t, h, 1, d, 0), opts(1, None), LOOP_BUDGET);
    let want: Vec<f32> = (0..t * h).flat_map(|r| v[(r / h) * d..][..d].to_vec()).collect();
    assert_close(&out, &want, 1e-6, 1e-5, "window 1 picks the own value row");
}

/// Decode at `pos0` with window `w` over a long cache equals plain causal attention over a
/// cache holding only rows `pos0 + 1 - w ..= pos0` (GPU against GPU: checks the mask
/// independently of the CPU reference).
#[test]
fn sliding_window_decode_equals_causal_over_the_window_rows() {
    for gpu in test_gpus() {
        sliding_window_decode_on(gpu);
    }
}

fn sliding_window_decode_on(gpu: &Gpu) {
    let mut rng = Rng::new(62);
    for (h, kvh, d, s, pos0, w) in [(4, 1, 256, 50, 41, 9), (6, 2, 6, 30, 29, 4), (4, 2, 16, 64, 20, 21)] {
        let q = rng.normal_vec(h * d, 1.5);
        let k = rng.normal_vec(s * kvh * d, 1.5);
        let v = rng.normal_vec(s * kvh * d, 1.0);
        let (out, lse) = gpu_attention_with(gpu, &q, &k, &v, dims(1, 1, s, h, kvh, d, pos0), AttentionOptions::sliding(w));
        let first = (pos0 + 1).saturating_sub(w);
        let rows = |x: &[f32]| x[first * kvh * d..(pos0 + 1) * kvh * d].to_vec();
        let n = pos0 + 1 - first;
        let short = dims(1, 1, n, h, kvh, d, n - 1);
        let (want_out, want_lse) = gpu_attention_with(gpu, &q, &rows(&k), &rows(&v), short, AttentionOptions::default());
        assert_close(&out, &want_out, 1e-6, 1e-5, &format!("decode window {w} at {pos0} vs causal over its rows"));
        assert_close(&lse, &want_lse, 1e-6, 1e-5, &format!("decode lse window {w} at {pos0}"));
    }
}

/// dq (pass 1) and dk, dv (pass 2), including cache rows that no window reaches (zeros).
#[test]
fn sliding_window_backward_matches_cpu() {
    let mut rng = Rng::new(63);
    let cases = [
        (dims(2, 7, 7, 9, 3, 64, 0), opts(3, None)),
        (dims(1, 13, 13, 4, 4, 6, 0), opts(5, None)),
        (dims(2, 5, 12, 4, 2, 6, 5), opts(3, Some(0.4))),
        (dims(1, 20, 20, 4, 1, 256, 0), opts(7, Some(0.05))),
        (dims(1, 9, 9, 4, 1, 16, 0), opts(4, None)),
        (dims(1, 3, 16, 4, 1, 16, 9), opts(2, None)),
        // Windows across the GPU family's query and key tiles.
        (dims(2, 50, 50, 4, 1, 40, 0), opts(19, Some(0.3))),
    ];
    for gpu in test_gpus() {
        for (dims, opts) in cases {
            check_backward_vs_cpu(gpu, &mut rng, dims, opts, LOOP_BUDGET);
        }
    }
}

#[test]
fn sliding_window_backward_matches_finite_differences() {
    let mut rng = Rng::new(64);
    let cases = [
        (dims(1, 5, 5, 2, 1, 3, 0), opts(2, None)),
        (dims(1, 4, 4, 4, 2, 5, 0), opts(3, Some(0.8))),
        // D = 4: the vec4 kernels; pos0 > 0 and spare cache rows.
        (dims(1, 3, 7, 2, 1, 4, 3), opts(2, Some(0.7))),
    ];
    for gpu in test_gpus() {
        for (dims, opts) in cases {
            check_backward_vs_finite_differences(gpu, &mut rng, dims, opts);
        }
    }
}

#[test]
fn attention_refuses_a_bad_scale_by_name() {
    let Some(gpu) = test_gpu() else { return };
    let q = GpuTensor::zeros(gpu, &[1, 4, 2, 8]);
    let k = GpuTensor::zeros(gpu, &[1, 4, 1, 8]);
    let lse = GpuTensor::zeros(gpu, &[1, 2, 4]);
    let mut rec = Recorder::new(gpu);
    for bad in [f32::NAN, 0.0, -1.0, f32::INFINITY] {
        let e = attention_forward_with(&mut rec, &q, &k, &k, 0, opts(2, Some(bad)), &q, &lse).unwrap_err();
        assert!(e.to_string().contains("attention scale"), "{e}");
    }
}

/// Budgets of 200 and 300 iterations split every pass into many chunks (D 16: 22 keys per
/// forward chunk, 32 per dq chunk, 8 queries per dk/dv chunk; D 6: 9 keys per forward chunk):
/// causal and windowed, training, prefill into a longer cache, decode.
#[test]
fn chunked_attention_matches_cpu_under_small_budgets() {
    // The CPU family's chunks; the GPU family runs one dispatch per pass whatever the budget.
    let Some(gpu) = test_gpu_with(KernelFamily::Cpu) else { return };
    let mut rng = Rng::new(67);
    for (dims, opts, budget) in [
        (dims(1, 37, 37, 4, 1, 16, 0), opts(0, None), 300),
        (dims(2, 37, 37, 4, 2, 16, 0), opts(5, Some(0.3)), 300),
        (dims(1, 13, 20, 6, 2, 6, 5), opts(0, None), 200),
        (dims(1, 13, 20, 6, 2, 6, 5), opts(4, None), 200),
        (dims(2, 1, 64, 4, 1, 16, 50), opts(0, None), 300),
        (dims(2, 1, 64, 4, 1, 16, 50), opts(9, None), 300),
    ] {
        check_forward_vs_cpu(gpu, &mut rng, dims, opts, budget);
        check_backward_vs_cpu(gpu, &mut rng, dims, opts, budget);
    }
}

/// Rows past lavapipe's 65 535 loop iterations with the real budget (wrong before the split:
/// max |diff| 0.7 in the forward, 14 in dk): Gemma 3 shapes, decode over 600 keys (causal
/// and window 512) and training over 150 tokens (4 query heads per kv head).
#[test]
fn long_rows_match_cpu() {
    let mut rng = Rng::new(68);
    for gpu in test_gpus() {
        for opts in [opts(0, None), opts(512, None)] {
            check_forward_vs_cpu(gpu, &mut rng, dims(1, 1, 600, 4, 1, 256, 599), opts, LOOP_BUDGET);
            check_backward_vs_cpu(gpu, &mut rng, dims(1, 150, 150, 4, 1, 256, 0), opts, LOOP_BUDGET);
        }
    }
}
