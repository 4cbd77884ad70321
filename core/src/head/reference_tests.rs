use super::*;
use crate::rng::Rng;

const C: usize = 5;
const L: usize = 3;

fn setup() -> (Vec<f32>, Vec<usize>, Vec<f32>, Vec<usize>) {
    let mut rng = Rng::new(7);
    let hidden = rng.normal_vec(9 * C, 1.0); // 9 tokens: sequences of 4, 2 and 3
    let score = rng.normal_vec(L * C, 0.5);
    (hidden, vec![3, 5, 8], score, vec![2, 0, 1])
}

fn loss(hidden: &[f32], last: &[usize], score: &[f32], labels: &[usize]) -> f64 {
    head_step(hidden, C, last, score, labels).unwrap().loss as f64
}

/// Central differences of the loss against each element of `x`, compared with `grad`.
fn check(x: &[f32], grad: &[f32], f: impl Fn(&[f32]) -> f64) {
    let eps = 1e-2f32;
    for i in 0..x.len() {
        let (mut up, mut down) = (x.to_vec(), x.to_vec());
        up[i] += eps;
        down[i] -= eps;
        let numeric = (f(&up) - f(&down)) / (2.0 * eps as f64);
        assert!((numeric - grad[i] as f64).abs() < 2e-3, "element {i}: numeric {numeric}, analytic {}", grad[i]);
    }
}

#[test]
fn head_gradients_match_finite_differences() {
    let (hidden, last, score, labels) = setup();
    let HeadStep { d_hidden: dhidden, d_score: dscore, .. } = head_step(&hidden, C, &last, &score, &labels).unwrap();
    check(&hidden, &dhidden, |h| loss(h, &last, &score, &labels));
    check(&score, &dscore, |s| loss(&hidden, &last, s, &labels));
    // Only the last token of each sequence gets a gradient.
    for (row, g) in dhidden.chunks(C).enumerate() {
        assert_eq!(g.iter().any(|&x| x != 0.0), last.contains(&row), "row {row}");
    }
}

#[test]
fn loss_is_log_l_for_a_zero_head_and_prediction_takes_the_first_max() {
    let (hidden, last, _, labels) = setup();
    let HeadStep { loss, logits, .. } = head_step(&hidden, C, &last, &[0.0; L * C], &labels).unwrap();
    assert!((loss - (L as f32).ln()).abs() < 1e-6);
    assert_eq!(predict(&logits, L), vec![0, 0, 0]);
    assert_eq!(predict(&[0.1, 2.0, 2.0, -1.0, -3.0, -2.0], L), vec![1, 0]);
}

#[test]
fn bad_indices_are_refused_with_what_is_wrong() {
    let (hidden, _, score, labels) = setup();
    let e = head_step(&hidden, C, &[3, 5, 9], &score, &labels).unwrap_err().to_string();
    assert!(e.contains("last token 9") && e.contains("9 tokens"), "{e}");
    let e = head_step(&hidden, C, &[3, 5, 8], &score, &[0, 3, 1]).unwrap_err().to_string();
    assert!(e.contains("label index 3") && e.contains("3 labels"), "{e}");
}
