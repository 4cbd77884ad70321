//! Test helpers for the backward kernels: the scalar loss `L = sum(out * r)` for a random `r`
//! (so `dL/dout = r`) and its gradient by central differences of a CPU forward.

/// `L = sum(out * r)` in f64.
pub(crate) fn weighted_sum(out: &[f32], r: &[f32]) -> f64 {
    assert_eq!(out.len(), r.len());
    out.iter().zip(r).map(|(&o, &w)| o as f64 * w as f64).sum()
}

/// `dL/dx` by central differences: `(L(x + e_i h) - L(x - e_i h)) / (2h)` for every element,
/// with the step actually representable in f32.
pub(crate) fn numeric_grad(x: &[f32], h: f32, loss: impl Fn(&[f32]) -> f64) -> Vec<f32> {
    let mut xs = x.to_vec();
    let mut grad = vec![0f32; x.len()];
    for i in 0..x.len() {
        let plus = x[i] + h;
        let minus = x[i] - h;
        xs[i] = plus;
        let lp = loss(&xs);
        xs[i] = minus;
        let lm = loss(&xs);
        xs[i] = x[i];
        grad[i] = ((lp - lm) / (plus as f64 - minus as f64)) as f32;
    }
    grad
}
