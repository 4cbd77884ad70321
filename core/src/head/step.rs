//! The classification head on the GPU, forward and backward, built from existing ops:
//! [`last_token_forward`] → `logits = pooled · scoreᵀ` ([`matmul`]) → softmax cross-entropy
//! over the L labels ([`cross_entropy_forward`] with V = L); backward: dlogits in place
//! (mean over the B sequences), `d_score += dlogitsᵀ · pooled`, `dpooled = dlogits · score`,
//! [`last_token_backward`] into `d_hidden` (the input of the final norm's backward).
//! CPU reference: [`super::reference::head_step`].

use super::last_token::{last_token_backward, last_token_forward};
use crate::error::Result;
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::ops::cross_entropy::{cross_entropy_backward, cross_entropy_forward};
use crate::ops::embedding::GpuIds;
use crate::ops::matmul::{MatmulShape, matmul};

/// The head's activations for one batch of B sequences and L labels.
pub struct HeadBuffers {
    /// `(B, C)`: the last token's hidden state of each sequence.
    pub pooled: GpuTensor,
    /// `(B, L)`: the head's logits; after [`head_backward`], dlogits.
    pub logits: GpuTensor,
    /// `(B)`: each sequence's loss (read back for the mean).
    pub loss: GpuTensor,
    /// `(B)`: logsumexp of each row of logits, saved for the backward.
    pub lse: GpuTensor,
    /// `(B, C)`: the gradient of `pooled`.
    pub dpooled: GpuTensor,
}

impl HeadBuffers {
    /// Allocates the buffers for `b` sequences, hidden size `c` and `l` labels.
    pub fn new(gpu: &Gpu, b: usize, c: usize, l: usize) -> HeadBuffers {
        HeadBuffers {
            pooled: GpuTensor::zeros(gpu, &[b, c]),
            logits: GpuTensor::zeros(gpu, &[b, l]),
            loss: GpuTensor::zeros(gpu, &[b]),
            lse: GpuTensor::zeros(gpu, &[b]),
            dpooled: GpuTensor::zeros(gpu, &[b, c]),
        }
    }
}

/// Records the head's forward: pooled, logits and the per-sequence loss.
///
/// # Shapes
/// `hidden`: `(N, C)`, `last`, `labels`: `(B)` u32 (labels below L), `score`: `(L, C)`.
pub fn head_forward(rec: &mut Recorder, hidden: &GpuTensor, last: &GpuIds, score: &GpuTensor, labels: &GpuIds, bufs: &HeadBuffers) -> Result<()> {
    let (b, c) = (last.len, bufs.pooled.len() / last.len.max(1));
    let l = score.len() / c.max(1);
    last_token_forward(rec, hidden, last, &bufs.pooled)?;
    matmul(rec, &bufs.pooled, score, &bufs.logits, MatmulShape::new(b, l, c).trans_b())?;
    cross_entropy_forward(rec, &bufs.logits, labels, 0, &bufs.loss, &bufs.lse)
}

/// Records the head's backward after [`head_forward`]: `d_score += ∂loss/∂score` and
/// `d_hidden = ∂loss/∂hidden` (overwritten), loss = the mean over the B sequences.
///
/// # Shapes
/// As [`head_forward`]; `d_score`: `(L, C)`, `d_hidden`: `(N, C)`.
pub fn head_backward(rec: &mut Recorder, last: &GpuIds, score: &GpuTensor, labels: &GpuIds, bufs: &HeadBuffers, d_score: &GpuTensor, d_hidden: &GpuTensor) -> Result<()> {
    let (b, c) = (last.len, bufs.pooled.len() / last.len.max(1));
    let l = score.len() / c.max(1);
    cross_entropy_backward(rec, labels, &bufs.lse, 0, 1.0 / b.max(1) as f32, &bufs.logits)?;
    matmul(rec, &bufs.logits, &bufs.pooled, d_score, MatmulShape::new(l, c, b).trans_a().accumulate())?;
    matmul(rec, &bufs.logits, score, &bufs.dpooled, MatmulShape::new(b, c, l))?;
    last_token_backward(rec, &bufs.dpooled, last, d_hidden)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::reference::head_step;
    use crate::testing::{Rng, assert_close, test_gpu};

    #[test]
    fn gpu_head_matches_the_cpu_reference() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(11);
        for (c, l, lens) in [(64usize, 2usize, vec![5usize, 3, 8]), (70, 3, vec![1, 9])] {
            let (n, bsz) = (lens.iter().sum::<usize>(), lens.len());
            let last: Vec<usize> = lens.iter().scan(0, |end, x| { *end += x; Some(*end - 1) }).collect();
            let labels: Vec<usize> = (0..bsz).map(|i| i % l).collect();
            let hidden = rng.normal_vec(n * c, 1.0);
            let score = rng.normal_vec(l * c, 0.1);
            let want = head_step(&hidden, c, &last, &score, &labels).unwrap();
            let (loss, dhidden, dscore, logits) = (want.loss, want.d_hidden, want.d_score, want.logits);
            let to_u32 = |v: &[usize]| v.iter().map(|&x| x as u32).collect::<Vec<u32>>();
            let (glast, glabels) = (GpuIds::from_slice(gpu, &to_u32(&last)), GpuIds::from_slice(gpu, &to_u32(&labels)));
            let (gh, gs) = (GpuTensor::from_slice(gpu, &[n, c], &hidden), GpuTensor::from_slice(gpu, &[l, c], &score));
            let (gds, gdh) = (GpuTensor::zeros(gpu, &[l, c]), GpuTensor::zeros(gpu, &[n, c]));
            let bufs = HeadBuffers::new(gpu, bsz, c, l);
            let mut rec = Recorder::new(gpu);
            head_forward(&mut rec, &gh, &glast, &gs, &glabels, &bufs).unwrap();
            let got = pollster::block_on(bufs.logits.read(rec)).unwrap();
            assert_close(&got, &logits, 1e-5, 1e-4, &format!("logits c={c}"));
            let mut rec = Recorder::new(gpu);
            head_backward(&mut rec, &glast, &gs, &glabels, &bufs, &gds, &gdh).unwrap();
            let losses = pollster::block_on(bufs.loss.read(rec)).unwrap();
            let mean = losses.iter().sum::<f32>() / bsz as f32;
            assert!((mean - loss).abs() < 1e-5, "loss {mean} vs {loss}");
            assert_close(&pollster::block_on(gds.read(Recorder::new(gpu))).unwrap(), &dscore, 1e-6, 1e-4, "d_score");
            assert_close(&pollster::block_on(gdh.read(Recorder::new(gpu))).unwrap(), &dhidden, 1e-6, 1e-4, "d_hidden");
        }
    }
}
