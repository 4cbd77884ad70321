//! Token accuracy for evaluation: whether the largest logit of each row is its target,
//! `hit[r] = argmax_v logits[r, v] == target[r]` (ties → the lowest id, as `torch.argmax`).
//! It runs on the same row chunks of the lm head as [`super::cross_entropy`] (never more logits
//! than one chunk), writing into a batch-wide `hit` at `offset`, so one readback gives every
//! row. Ignored targets ([`super::cross_entropy::IGNORE`], any id ≥ V) get 0; the accuracy is
//! `sum(hit) / count_targets`.

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};
use crate::ops::embedding::GpuIds;

/// Mirrors `Params` in `shaders/argmax_forward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ArgmaxParams {
    rows: u32,
    v: u32,
    offset: u32,
    _pad: u32,
}

/// Records `hit[offset + r] = (argmax logits[r, :] == targets[offset + r])` as 1.0 / 0.0.
///
/// # Shapes
/// `logits`: `(R, V)` (rows `offset..offset+R` of the batch), `targets`: `(N)` u32,
/// `hit`: `(N)` with `N ≥ offset + R`; rows `offset..offset+R` are written.
pub fn argmax_forward(rec: &mut Recorder, logits: &GpuTensor, targets: &GpuIds, offset: usize, hit: &GpuTensor) -> Result<()> {
    let v = *logits.shape.last().unwrap_or(&0);
    if logits.shape.len() < 2 || v == 0 {
        return Err(Error::invalid("argmax logits", format!("shape {:?}: expected (R, V) with V > 0", logits.shape)));
    }
    let rows = logits.len() / v;
    if offset + rows > targets.len || hit.len() != targets.len {
        return Err(Error::invalid(
            "argmax targets / hit",
            format!("{} targets and {} hits for rows {offset}..{} of this chunk", targets.len, hit.len(), offset + rows),
        ));
    }
    let params = ArgmaxParams { rows: rows as u32, v: v as u32, offset: offset as u32, _pad: 0 };
    let bindings = [logits.binding(), targets.buffer.as_entire_binding(), hit.binding()];
    rec.dispatch(&kernels::ARGMAX_FORWARD, &params, &bindings, grid_1d(rows, 1));
    Ok(())
}

/// CPU reference: the index of the first maximum of `row`.
pub fn argmax_cpu(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

/// CPU reference: `hit (R)` for `logits (R, V)` and `targets (R)` (0 for ignored rows).
pub fn argmax_hits_cpu(logits: &[f32], targets: &[u32], v: usize) -> Vec<f32> {
    (0..logits.len() / v)
        .map(|r| {
            let t = targets[r] as usize;
            if t < v && argmax_cpu(&logits[r * v..(r + 1) * v]) == t { 1.0 } else { 0.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::cross_entropy::IGNORE;
    use crate::testing::{Rng, assert_close, test_gpu};

    /// GPU against the CPU reference on odd shapes (V not a multiple of 256, V < 256, one row,
    /// the full SmolLM2 vocabulary), with ties, ignored rows and a chunk offset. Targets are
    /// the row's argmax for half the rows (hits) and random otherwise, so both outcomes occur.
    #[test]
    fn argmax_matches_cpu_with_ties_and_ignored_rows() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(5);
        for (rows, v) in [(1usize, 1usize), (7, 37), (13, 1000), (5, 257), (3, 49152), (40, 300)] {
            // Small integers: many ties, including ties for the maximum.
            let logits: Vec<f32> = rng.normal_vec(rows * v, 2.0).iter().map(|x| x.round()).collect();
            let chunk: Vec<u32> = (0..rows)
                .map(|r| match r % 4 {
                    1 => IGNORE,
                    3 => v as u32 + 2,
                    0 => argmax_cpu(&logits[r * v..(r + 1) * v]) as u32,
                    _ => rng.below(v) as u32,
                })
                .collect();
            let offset = 2;
            let mut targets = vec![0u32; rows + 3];
            targets[offset..offset + rows].copy_from_slice(&chunk);
            let glogits = GpuTensor::from_slice(gpu, &[rows, v], &logits);
            let gids = GpuIds::from_slice(gpu, &targets);
            let ghit = GpuTensor::from_slice(gpu, &[rows + 3], &vec![7.0; rows + 3]);
            let mut rec = Recorder::new(gpu);
            argmax_forward(&mut rec, &glogits, &gids, offset, &ghit).unwrap();
            let got = pollster::block_on(ghit.read(rec)).unwrap();
            let want = argmax_hits_cpu(&logits, &chunk, v);
            assert_close(&got[offset..offset + rows], &want, 0.0, 0.0, &format!("argmax hits rows={rows} v={v}"));
            assert_eq!(&got[..offset], &[7.0, 7.0], "rows before the chunk untouched");
            assert!(want.contains(&1.0), "rows={rows} v={v}: the test has hits");
        }
    }

    #[test]
    fn argmax_cpu_takes_the_first_maximum() {
        assert_eq!(argmax_cpu(&[1.0, 3.0, 3.0, -1.0]), 1);
        assert_eq!(argmax_cpu(&[2.0, 2.0]), 0);
        assert_eq!(argmax_hits_cpu(&[0.0, 5.0, 5.0, 1.0, 1.0, 1.0], &[2, IGNORE], 3), vec![0.0, 0.0]);
    }
}
