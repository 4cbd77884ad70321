//! The per-sub-block scale searches of ggml's K-quant reference quantizers (`ggml-quants.c`):
//! given 16 or 32 values, find the scale (and for the affine types the min) and the integer
//! quants that [`super::kquantize`] then packs. Each is evaluated in ggml's order, one f32
//! operation at a time (Rust never fuses a multiply-add), so the chosen quants are ggml's.
//!
//! - [`fit_with_min`] (`make_qkx2_quants`): `x ≈ scale * q - min`, q in `0..=nmax`, a weighted
//!   least-squares fit tried for `nstep + 1` trial grids (Q2_K, Q4_K, Q5_K);
//! - [`fit_symmetric`] (`make_qx_quants` with x² weights): `x ≈ scale * (q - nmax)`, 18 trial
//!   grids around `-nmax / max` (Q6_K);
//! - [`fit_q3`] (`make_q3_quants`): the same grid, then up to 5 rounds of moving one quant at a
//!   time while the weighted fit improves (Q3_K).

/// Sub-blocks whose largest magnitude is below this are all zero (ggml's `GROUP_MAX_EPS`).
pub const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's `nearest_int`: `v` rounded to the nearest integer, ties to even, by adding
/// 1.5 · 2²³ and reading the low mantissa bits. Exact for |v| ≤ 2²² (ggml asserts that); larger
/// values and NaN give a meaningless integer, as in ggml's release build, never a panic.
pub fn nearest_int(v: f32) -> i32 {
    let bits = (v + 12_582_912.0).to_bits() as i32;
    (bits & 0x007f_ffff) - 0x0040_0000
}

/// The trial grids of [`fit_with_min`]: grid `is` (0..=nstep) has `rmin + rdelta * is + nmax`
/// steps across the values' range; errors are absolute (`use_mad`) or squared.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub rmin: f32,
    pub rdelta: f32,
    pub nstep: i32,
    pub use_mad: bool,
}

/// `make_qkx2_quants`: quants `q` (0..=nmax) of `x` with weights `w`, and `(scale, min)` with
/// `x ≈ scale * q - min` (min ≥ 0: ggml never lets the offset go above zero). `x`, `w` and `q`
/// have the same length (16 or 32).
pub fn fit_with_min(x: &[f32], w: &[f32], nmax: i32, s: Search, q: &mut [u8]) -> (f32, f32) {
    let n = x.len();
    let (mut min, mut max) = (x[0], x[0]);
    let mut sum_w = w[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        q.fill(0);
        return (0.0, -min);
    }
    let error = |d: f32| if s.use_mad { d.abs() } else { d * d };
    let grid = |iscale: f32, v: f32, min: f32| nearest_int(iscale * (v - min)).clamp(0, nmax);
    let iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best = 0f32;
    for i in 0..n {
        q[i] = grid(iscale, x[i], min) as u8;
        best += w[i] * error(scale * q[i] as f32 + min - x[i]);
    }
    // As in ggml, each trial grid starts from the best (scale, min) so far: `min` moves.
    let mut trial = [0u8; 32];
    for is in 0..=s.nstep {
        let iscale = (s.rmin + s.rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0f32, 0f32, 0f32);
        for i in 0..n {
            let l = grid(iscale, x[i], min);
            trial[i] = l as u8;
            let l = l as f32;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut err = 0f32;
            for i in 0..n {
                err += w[i] * error(this_scale * trial[i] as f32 + this_min - x[i]);
            }
            if err < best {
                q.copy_from_slice(&trial[..n]);
                best = err;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// The value of largest magnitude in `x` (the first one on ties), and that magnitude.
fn signed_max(x: &[f32]) -> (f32, f32) {
    let (mut max, mut amax) = (0f32, 0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    (max, amax)
}

/// The x²-weighted sums `(Σ w x l, Σ w l²)` of a symmetric grid `l`.
fn weighted_sums(x: &[f32], l: impl Fn(usize) -> i32) -> (f32, f32) {
    let (mut sumlx, mut suml2) = (0f32, 0f32);
    for (i, &v) in x.iter().enumerate() {
        let (w, l) = (v * v, l(i) as f32);
        sumlx += w * v * l;
        suml2 += w * l * l;
    }
    (sumlx, suml2)
}

/// `make_qx_quants(n, nmax, x, q, rmse_type 1, no importance)`: quants `q` (0..2 nmax, stored
/// with an offset of nmax) and the scale with `x ≈ scale * (q - nmax)`, the best of the grids
/// `-(nmax + 0.1 is) / max` (is in -9..=9) under x²-weighted squared error.
pub fn fit_symmetric(x: &[f32], nmax: i32, q: &mut [u8]) -> f32 {
    let (max, amax) = signed_max(x);
    if amax < GROUP_MAX_EPS {
        q.fill(0);
        return 0.0;
    }
    let grid = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-nmax, nmax - 1);
    let iscale = -(nmax as f32) / max;
    for (q, &v) in q.iter_mut().zip(x) {
        *q = (grid(iscale, v) + nmax) as u8;
    }
    let (sumlx, suml2) = weighted_sums(x, |i| grid(iscale, x[i]));
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in (-9..=9).filter(|&is| is != 0) {
        let iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = weighted_sums(x, |i| grid(iscale, x[i]));
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (q, &v) in q.iter_mut().zip(x) {
                *q = (grid(iscale, v) + nmax) as u8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// `make_q3_quants(n, nmax, x, q, do_rmse true)`: the grid `-nmax / max`, then up to 5 passes
/// that move single quants to `x · Σl² / Σxl` (all sums x²-weighted, the value itself left out)
/// while the fit `(Σ w x l)² / Σ w l²` grows. Quants in `q` with an offset of nmax; returns the
/// scale `Σ w x l / Σ w l²`.
pub fn fit_q3(x: &[f32], nmax: i32, q: &mut [u8]) -> f32 {
    let (max, amax) = signed_max(x);
    if amax < GROUP_MAX_EPS {
        q.fill(0);
        return 0.0;
    }
    let clamp = |l: i32| l.clamp(-nmax, nmax - 1);
    let iscale = -(nmax as f32) / max;
    let mut l = [0i32; 16];
    for (l, &v) in l.iter_mut().zip(x) {
        *l = clamp(nearest_int(iscale * v));
    }
    let (mut sumlx, mut suml2) = weighted_sums(x, |i| l[i]);
    for _ in 0..5 {
        let mut changed = false;
        for (i, &v) in x.iter().enumerate() {
            let w = v * v;
            let mut slx = sumlx - w * v * l[i] as f32;
            if slx > 0.0 {
                let mut sl2 = suml2 - w * l[i] as f32 * l[i] as f32;
                let new_l = clamp(nearest_int(v * sl2 / slx));
                if new_l != l[i] {
                    slx += w * v * new_l as f32;
                    sl2 += w * new_l as f32 * new_l as f32;
                    if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        l[i] = new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (q, l) in q.iter_mut().zip(l) {
        *q = (l + nmax) as u8;
    }
    if suml2 > 0.0 { sumlx / suml2 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        let cases = [
            (0.5, 0),
            (1.5, 2),
            (2.5, 2),
            (-0.5, 0),
            (-1.5, -2),
            (2.49, 2),
            (-3.7, -4),
            (63.4, 63),
            (4_194_303.0, 4_194_303),
        ];
        for (v, want) in cases {
            assert_eq!(nearest_int(v), want, "{v}");
        }
        // Out of range and NaN: some integer, no panic.
        let _ = (
            nearest_int(1e30),
            nearest_int(f32::NAN),
            nearest_int(f32::INFINITY),
        );
    }

    /// A sub-block on an exact grid is recovered exactly by each search.
    #[test]
    fn searches_recover_values_on_a_grid() {
        let x: Vec<f32> = (0..32).map(|i| (i % 16) as f32 * 0.25 - 1.0).collect();
        let mut q = [0u8; 32];
        let s = Search {
            rmin: -1.0,
            rdelta: 0.1,
            nstep: 20,
            use_mad: false,
        };
        let (scale, min) = fit_with_min(&x, &[1.0; 32], 15, s, &mut q);
        for (v, &q) in x.iter().zip(&q) {
            assert!(
                (scale * q as f32 - min - v).abs() < 1e-6,
                "{v}: {scale} * {q} - {min}"
            );
        }
        let x: Vec<f32> = (0..16).map(|i| (i as f32 - 8.0) * 0.5).collect();
        let mut q = [0u8; 16];
        let scale = fit_symmetric(&x, 32, &mut q);
        for (v, &q) in x.iter().zip(&q) {
            assert!(
                (scale * (q as f32 - 32.0) - v).abs() < 1e-5,
                "{v}: {scale} * ({q} - 32)"
            );
        }
        let x: Vec<f32> = (0..16).map(|i| ((i % 8) as f32 - 4.0) * 0.5).collect();
        let scale = fit_q3(&x, 4, &mut q);
        for (v, &q) in x.iter().zip(&q) {
            assert!(
                (scale * (q as f32 - 4.0) - v).abs() < 1e-5,
                "{v}: {scale} * ({q} - 4)"
            );
        }
    }
}
