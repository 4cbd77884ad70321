//! ggml's reference K-quant quantizers, `quantize_row_q{2,3,4,5,6}_K_ref` (`ggml-quants.c`):
//! what `llama-quantize` writes without an importance matrix, byte for byte (the tests below
//! compare with ggml's C output in tests/golden/kquant-blocks.safetensors, written by
//! tests/golden/check_kquants.sh). One 256-value super-block per call; the block layouts are
//! those [`super::kquants`] decodes.
//!
//! Every type works the same way:
//! 1. each sub-block (16 or 32 values) gets its own scale (and min) from a search in
//!    [`super::kfit`];
//! 2. the sub-block scales are quantized against the largest one (4, 6 or 8 bits) with an f16
//!    super-block scale `d` (and `dmin`);
//! 3. every value is quantized again with the scale it will be decoded with (`d * sc`), unless
//!    that scale is zero (then the quants of step 1 stay), and the quants are packed.

use super::kfit::{GROUP_MAX_EPS, Search, fit_q3, fit_symmetric, fit_with_min, nearest_int};
use super::kquants::{scale_min_k4, scale_q3_k};
use half::f16;

/// Values per super-block.
const QK: usize = 256;

/// `v` rounded to f16 as ggml stores it (`GGML_FP32_TO_FP16`, round to nearest even), and the
/// value read back (`GGML_FP16_TO_FP32`).
fn half(v: f32) -> ([u8; 2], f32) {
    let h = f16::from_f32(v);
    (h.to_le_bytes(), h.to_f32())
}

/// The largest of `v` and 0 (ggml's `max_scale` / `max_min` loops: positive values only).
fn largest(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, &s| if s > m { s } else { m })
}

/// The value of largest magnitude of `v` (the first on ties) and that magnitude.
fn largest_magnitude(v: &[f32]) -> (f32, f32) {
    v.iter().fold((0f32, 0f32), |(m, a), &s| {
        if s.abs() > a { (s, s.abs()) } else { (m, a) }
    })
}

/// Packs 256 2-bit quants as Q2_K and Q3_K store them: 64 bytes, quant `128 h + 32 s + l` at
/// bits `2 s` of byte `32 h + l`.
fn pack2(q: &[u8; QK]) -> [u8; 64] {
    let mut qs = [0u8; 64];
    for (i, b) in qs.iter_mut().enumerate() {
        let base = 128 * (i / 32) + i % 32;
        *b = q[base] | (q[base + 32] << 2) | (q[base + 64] << 4) | (q[base + 96] << 6);
    }
    qs
}

/// Q2_K's 4-bit codes of its sub-block scales (`shift` 0) or mins (`shift` 4), OR-ed into
/// `codes`: `v * 15 / max` rounded; returns the f16 step `max / 15` (0 when no value is positive).
fn four_bit_codes(v: &[f32; 16], shift: u32, codes: &mut [u8; 16]) -> ([u8; 2], f32) {
    let max = largest(v);
    if max <= 0.0 {
        return half(0.0);
    }
    let iscale = 15.0 / max;
    for (c, &x) in codes.iter_mut().zip(v) {
        *c |= (nearest_int(iscale * x) << shift) as u8;
    }
    half(max / 15.0)
}

/// `quantize_row_q2_K_ref`: 16 sub-blocks of 16, [`fit_with_min`] with |x| weights and
/// absolute errors; 4-bit scales and mins. Writes `scales[16], qs[64], d, dmin` (84 bytes).
pub fn q2_k(x: &[f32], out: &mut Vec<u8>) {
    let mut q = [0u8; QK];
    let (mut scales, mut mins) = ([0f32; 16], [0f32; 16]);
    let search = Search {
        rmin: -0.5,
        rdelta: 0.1,
        nstep: 15,
        use_mad: true,
    };
    for j in 0..16 {
        let xs = &x[16 * j..16 * j + 16];
        let w: Vec<f32> = xs.iter().map(|v| v.abs()).collect();
        (scales[j], mins[j]) = fit_with_min(xs, &w, 3, search, &mut q[16 * j..16 * j + 16]);
    }
    let mut sc = [0u8; 16];
    let (d_bytes, d) = four_bit_codes(&scales, 0, &mut sc);
    let (dmin_bytes, dmin) = four_bit_codes(&mins, 4, &mut sc);
    for (j, &code) in sc.iter().enumerate() {
        let dl = d * (code & 0xF) as f32;
        if dl == 0.0 {
            continue;
        }
        let ml = dmin * (code >> 4) as f32;
        for i in 16 * j..16 * j + 16 {
            q[i] = nearest_int((x[i] + ml) / dl).clamp(0, 3) as u8;
        }
    }
    out.extend(sc);
    out.extend(pack2(&q));
    out.extend(d_bytes);
    out.extend(dmin_bytes);
}

/// Step 1 of Q3_K and Q6_K: the scale `fit` finds for each 16-value sub-block, its quants in `q`.
fn symmetric_scales(
    x: &[f32],
    fit: impl Fn(&[f32], &mut [u8]) -> f32,
    q: &mut [u8; QK],
) -> [f32; 16] {
    std::array::from_fn(|j| fit(&x[16 * j..16 * j + 16], &mut q[16 * j..16 * j + 16]))
}

/// Step 3 of Q3_K and Q6_K: the values of each 16-value sub-block `j` whose decoding scale
/// `step(j)` is not zero quantized again with it, to `-nmax..nmax` stored with an offset of nmax.
fn requantize_symmetric(x: &[f32], nmax: i32, step: impl Fn(usize) -> f32, q: &mut [u8; QK]) {
    for j in 0..16 {
        let dl = step(j);
        if dl == 0.0 {
            continue;
        }
        for i in 16 * j..16 * j + 16 {
            q[i] = (nearest_int(x[i] / dl).clamp(-nmax, nmax - 1) + nmax) as u8;
        }
    }
}

/// `quantize_row_q3_K_ref`: 16 sub-blocks of 16, [`fit_q3`]; signed 6-bit scales (stored
/// `+ 32`: 4 low bits in `scales[j % 8]`, 2 high bits in `scales[8 + j % 4]`), 3-bit quants (2
/// low bits as Q2_K, the third in `hmask`). Writes `hmask[32], qs[64], scales[12], d` (110 bytes).
pub fn q3_k(x: &[f32], out: &mut Vec<u8>) {
    let mut q = [0u8; QK];
    let scales = symmetric_scales(x, |xs, q| fit_q3(xs, 4, q), &mut q);
    let (max_scale, _) = largest_magnitude(&scales);
    let mut packed = [0u8; 12];
    let (d_bytes, d) = if max_scale != 0.0 {
        let iscale = -32.0 / max_scale;
        for (j, &s) in scales.iter().enumerate() {
            let l = ((nearest_int(iscale * s) as i8).clamp(-32, 31) + 32) as u8;
            packed[j % 8] |= (l & 0xF) << (4 * (j / 8));
            packed[8 + j % 4] |= (l >> 4) << (2 * (j / 4));
        }
        half(1.0 / iscale)
    } else {
        half(0.0)
    };
    requantize_symmetric(x, 4, |j| d * scale_q3_k(j, &packed) as f32, &mut q);
    let mut hmask = [0u8; 32];
    for (i, q) in q.iter_mut().enumerate() {
        if *q > 3 {
            hmask[i % 32] |= 1 << (i / 32);
            *q -= 4;
        }
    }
    out.extend(hmask);
    out.extend(pack2(&q));
    out.extend(packed);
    out.extend(d_bytes);
}

/// Steps 1 and 2 of Q4_K and Q5_K: 8 sub-blocks of 32 with weights `rms + |x|` (the
/// sub-block's root mean square), [`fit_with_min`] on `0..=nmax`, 6-bit scales and mins packed
/// as [`scale_min_k4`] reads them, then the quants for the stored scales. Returns
/// `(d, dmin, scales[12])` as bytes and the quants.
fn with_mins(x: &[f32], nmax: i32, search: Search) -> ([u8; 16], [u8; QK]) {
    let mut q = [0u8; QK];
    let (mut scales, mut mins) = ([0f32; 8], [0f32; 8]);
    for j in 0..8 {
        let xs = &x[32 * j..32 * j + 32];
        let mut sum_x2 = 0f32;
        for v in xs {
            sum_x2 += v * v;
        }
        let rms = (sum_x2 / 32.0).sqrt();
        let w: Vec<f32> = xs.iter().map(|v| rms + v.abs()).collect();
        (scales[j], mins[j]) = fit_with_min(xs, &w, nmax, search, &mut q[32 * j..32 * j + 32]);
    }
    let (max_scale, max_min) = (largest(&scales), largest(&mins));
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut head = [0u8; 16];
    let packed = &mut head[4..16];
    for j in 0..8 {
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            packed[j - 4] |= (ls >> 4) << 6;
            packed[j] |= (lm >> 4) << 6;
        }
    }
    let (d_bytes, d) = half(max_scale / 63.0);
    let (dmin_bytes, dmin) = half(max_min / 63.0);
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, packed);
        let dl = d * sc as f32;
        if dl == 0.0 {
            continue;
        }
        let ml = dmin * m as f32;
        for i in 32 * j..32 * j + 32 {
            q[i] = nearest_int((x[i] + ml) / dl).clamp(0, nmax) as u8;
        }
    }
    head[0..2].copy_from_slice(&d_bytes);
    head[2..4].copy_from_slice(&dmin_bytes);
    (head, q)
}

/// `quantize_row_q4_K_ref`: [`with_mins`] with 4-bit quants; each 64 values fill 32 bytes (low
/// nibbles the first 32, high nibbles the next). Writes `d, dmin, scales[12], qs[128]` (144 bytes).
pub fn q4_k(x: &[f32], out: &mut Vec<u8>) {
    let (head, q) = with_mins(
        x,
        15,
        Search {
            rmin: -1.0,
            rdelta: 0.1,
            nstep: 20,
            use_mad: false,
        },
    );
    out.extend(head);
    out.extend((0..128).map(|i| {
        let base = 64 * (i / 32) + i % 32;
        q[base] | (q[base + 32] << 4)
    }));
}

/// `quantize_row_q5_K_ref`: [`with_mins`] with 5-bit quants: the low 4 bits as Q4_K's, bit 4
/// of quant `i` in bit `i / 32` of `qh[i % 32]`. Writes `d, dmin, scales[12], qh[32], qs[128]`
/// (176 bytes).
pub fn q5_k(x: &[f32], out: &mut Vec<u8>) {
    let (head, q) = with_mins(
        x,
        31,
        Search {
            rmin: -0.5,
            rdelta: 0.1,
            nstep: 15,
            use_mad: false,
        },
    );
    let mut qh = [0u8; 32];
    for (i, &v) in q.iter().enumerate() {
        qh[i % 32] |= (v >> 4) << (i / 32);
    }
    out.extend(head);
    out.extend(qh);
    out.extend((0..128).map(|i| {
        let base = 64 * (i / 32) + i % 32;
        (q[base] & 0xF) | ((q[base + 32] & 0xF) << 4)
    }));
}

/// `quantize_row_q6_K_ref`: 16 sub-blocks of 16, [`fit_symmetric`] on -32..=31; int8 scales
/// against the largest magnitude (mapped to -128); 6-bit quants, 4 low bits in `ql`, 2 high
/// in `qh`. An all-zero block (largest scale below 1e-15) is 210 zero bytes. Writes
/// `ql[128], qh[64], scales[16], d` (210 bytes).
pub fn q6_k(x: &[f32], out: &mut Vec<u8>) {
    let mut q = [0u8; QK];
    let scales = symmetric_scales(x, |xs, q| fit_symmetric(xs, 32, q), &mut q);
    let (max_scale, max_abs) = largest_magnitude(&scales);
    if max_abs < GROUP_MAX_EPS {
        out.extend([0u8; 210]);
        return;
    }
    let iscale = -128.0 / max_scale;
    let (d_bytes, d) = half(1.0 / iscale);
    let sc: Vec<i8> = scales
        .iter()
        .map(|&s| nearest_int(iscale * s).min(127) as i8)
        .collect();
    requantize_symmetric(x, 32, |j| d * sc[j] as f32, &mut q);
    let (mut ql, mut qh) = ([0u8; 128], [0u8; 64]);
    for h in 0..2 {
        for l in 0..32 {
            let v = |k: usize| q[128 * h + 32 * k + l];
            ql[64 * h + l] = (v(0) & 0xF) | ((v(2) & 0xF) << 4);
            ql[64 * h + l + 32] = (v(1) & 0xF) | ((v(3) & 0xF) << 4);
            qh[32 * h + l] =
                (v(0) >> 4) | ((v(1) >> 4) << 2) | ((v(2) >> 4) << 4) | ((v(3) >> 4) << 6);
        }
    }
    out.extend(ql);
    out.extend(qh);
    out.extend(sc.iter().map(|&s| s as u8));
    out.extend(d_bytes);
}

#[cfg(test)]
mod tests {
    use super::super::GgmlType;
    use super::super::dequant::dequantize;
    use super::super::quantize::quantize;
    use crate::formats::{GgufFile, SafetensorsFile};
    use crate::testing::Rng;

    const K_TYPES: [GgmlType; 5] = [
        GgmlType::Q2K,
        GgmlType::Q3K,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
    ];

    fn repo(rel: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(rel)
    }

    /// ggml's own bytes (tests/golden/check_kquants.sh ran `quantize_row_q*_K_ref` on these
    /// 12 blocks: normal, weight-like, outliers, zero, constant, one-signed, sub-blocks of
    /// magnitudes 1e-6..10, f16-underflowing, half zero, large, an exact grid): ours are equal.
    #[test]
    fn k_quantizers_write_ggmls_bytes() {
        let bytes = std::fs::read(repo("tests/golden/kquant-blocks.safetensors")).unwrap();
        let golden = SafetensorsFile::parse(&bytes, "kquant-blocks.safetensors").unwrap();
        let raw = |name: &str| {
            golden
                .tensor(name)
                .unwrap_or_else(|| panic!("no {name}"))
                .bytes(&bytes)
        };
        let x: Vec<f32> = raw("x")
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(x.len(), 12 * 256);
        for ty in K_TYPES {
            let want = raw(ty.name());
            let got = quantize(ty, &x).unwrap();
            assert_eq!(got.len(), want.len(), "{}", ty.name());
            if let Some(at) = got.iter().zip(want).position(|(a, b)| a != b) {
                let n = ty.block_bytes();
                panic!(
                    "{}: block {} byte {} is {:#04x}, ggml wrote {:#04x}",
                    ty.name(),
                    at / n,
                    at % n,
                    got[at],
                    want[at]
                );
            }
        }
    }

    /// Root-mean-square error of quantize → dequantize relative to the values' RMS, per type.
    fn relative_rms_errors(x: &[f32]) -> Vec<(GgmlType, f32)> {
        let rms = |v: &mut dyn Iterator<Item = f32>| {
            let (s, n) = v.fold((0f64, 0usize), |(s, n), e| (s + (e as f64).powi(2), n + 1));
            (s / n as f64).sqrt() as f32
        };
        let size = rms(&mut x.iter().copied());
        K_TYPES
            .into_iter()
            .map(|ty| {
                let y = dequantize(ty, &quantize(ty, x).unwrap(), x.len()).unwrap();
                (ty, rms(&mut x.iter().zip(&y).map(|(a, b)| a - b)) / size)
            })
            .collect()
    }

    /// Each type's relative RMS error bound on N(0, 1) values, and on real weights (ggml's own
    /// quantizers give 0.296, 0.150, 0.071, 0.036, 0.018 on normal values; the real ones are
    /// heavier-tailed).
    const BOUNDS: [(GgmlType, f32, f32); 5] = [
        (GgmlType::Q2K, 0.31, 0.34),
        (GgmlType::Q3K, 0.16, 0.18),
        (GgmlType::Q4K, 0.075, 0.085),
        (GgmlType::Q5K, 0.038, 0.043),
        (GgmlType::Q6K, 0.019, 0.023),
    ];

    fn check_round_trip(x: &[f32], real: bool, what: &str) {
        for ((ty, err), (bty, normal, real_bound)) in relative_rms_errors(x).into_iter().zip(BOUNDS)
        {
            assert_eq!(ty, bty);
            let bound = if real { real_bound } else { normal };
            println!(
                "{what} {}: relative RMS error {err:.4} (bound {bound})",
                ty.name()
            );
            assert!(
                err <= bound,
                "{what} {}: relative RMS error {err} > {bound}",
                ty.name()
            );
        }
    }

    #[test]
    fn round_trips_on_normal_values_are_within_each_types_error() {
        let x = Rng::new(5).normal_vec(256 * 64, 1.0);
        check_round_trip(&x, false, "N(0, 1)");
        // Larger values, the same relative error. (Much smaller ones lose precision: the f16
        // super-block scale becomes subnormal below 6e-5, as in ggml.)
        let y: Vec<f32> = x.iter().map(|v| v * 100.0).collect();
        check_round_trip(&y, false, "N(0, 100²)");
    }

    /// Real weights: 256 rows of SmolLM2-135M's token embedding (Q8_0 in the cached default
    /// model, dequantized), when the file is on this machine.
    #[test]
    fn round_trips_on_real_weights_are_within_each_types_error() {
        let Some(home) = std::env::var_os("HOME") else {
            return;
        };
        let path = std::path::Path::new(&home)
            .join(".cache/anytune/models/SmolLM2-135M-Instruct.Q4_1.gguf");
        let Ok(file) = std::fs::read(&path) else {
            println!("SKIPPED: {} is not on this machine", path.display());
            return;
        };
        let gguf = GgufFile::parse(&file, "smollm2").unwrap();
        let t = gguf.tensor("token_embd.weight").unwrap();
        let ty = t.ty("smollm2").unwrap();
        let n = 256 * t.shape[1];
        let w = dequantize(ty, &t.bytes(&file)[..ty.row_bytes(n)], n).unwrap();
        check_round_trip(&w, true, "SmolLM2 token_embd");
    }

    /// A length that is not whole super-blocks is refused naming the type, not cut short.
    #[test]
    fn partial_blocks_are_refused() {
        let e = quantize(GgmlType::Q4K, &[0.5; 300])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Q4_K")
                && e.contains("300 values are not a whole number of 256-value blocks"),
            "{e}"
        );
    }

    /// Non-finite and huge values give blocks (of whatever bytes), never a panic.
    #[test]
    fn non_finite_values_do_not_panic() {
        let mut x = vec![1.0f32; 256];
        x[3] = f32::NAN;
        x[100] = f32::INFINITY;
        x[200] = 1e30;
        for ty in K_TYPES {
            assert_eq!(quantize(ty, &x).unwrap().len(), ty.block_bytes());
        }
    }
}
