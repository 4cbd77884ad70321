//! GPU pooling of the classification head: [`last_token_forward`] gathers the hidden state of
//! each sequence's last token, [`last_token_backward`] puts the pooled gradient back on those
//! rows (a gather per output element, WGSL having no float atomics). CPU references:
//! [`reference::gather_last`](super::reference::gather_last) and
//! [`reference::scatter_last`](super::reference::scatter_last).

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};
use crate::ops::embedding::GpuIds;

/// Mirrors `Params` in `shaders/last_token_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LastTokenParams {
    b: u32,
    c: u32,
    n: u32,
    _pad: u32,
}

/// Errors unless every index of `last` is below the `n` tokens of the batch; call with the host
/// indices before recording either kernel.
pub fn check_last(last: &[u32], n: usize) -> Result<()> {
    match last.iter().position(|&i| i as usize >= n) {
        Some(b) => Err(Error::invalid("head", format!("sequence {b}'s last token {} is past the batch's {n} tokens", last[b]))),
        None => Ok(()),
    }
}

/// The `(b, c, n)` of a pooling whose `tokens` tensor is `(N, C)` and `pooled` `(B, C)`.
fn params(tokens: &GpuTensor, pooled: &GpuTensor, last: &GpuIds) -> Result<LastTokenParams> {
    let c = *tokens.shape.last().unwrap_or(&0);
    let (b, n) = (last.len, tokens.len().checked_div(c).unwrap_or(0));
    if c == 0 || pooled.len() != b * c {
        return Err(Error::invalid("head", format!("pooled tensor has {} values, expected {b} sequences × {c}", pooled.len())));
    }
    Ok(LastTokenParams { b: b as u32, c: c as u32, n: n as u32, _pad: 0 })
}

/// Records `pooled[b, :] = hidden[last[b], :]`.
///
/// # Shapes
/// `hidden`: `(N, C)`, `last`: `(B)`, `pooled`: `(B, C)`.
pub fn last_token_forward(rec: &mut Recorder, hidden: &GpuTensor, last: &GpuIds, pooled: &GpuTensor) -> Result<()> {
    let p = params(hidden, pooled, last)?;
    let bindings = [hidden.binding(), last.buffer.as_entire_binding(), pooled.binding()];
    rec.dispatch(&kernels::LAST_TOKEN_FORWARD, &p, &bindings, grid_1d(pooled.len(), 256));
    Ok(())
}

/// Records `dhidden = 0` except `dhidden[last[b], :] += dpooled[b, :]` (overwrites `dhidden`).
///
/// # Shapes
/// `dpooled`: `(B, C)`, `last`: `(B)`, `dhidden`: `(N, C)`.
pub fn last_token_backward(rec: &mut Recorder, dpooled: &GpuTensor, last: &GpuIds, dhidden: &GpuTensor) -> Result<()> {
    let p = params(dhidden, dpooled, last)?;
    let bindings = [dpooled.binding(), last.buffer.as_entire_binding(), dhidden.binding()];
    rec.dispatch(&kernels::LAST_TOKEN_BACKWARD, &p, &bindings, grid_1d(dhidden.len(), 256));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::reference::{gather_last, scatter_last};
    use crate::testing::{Rng, assert_close, test_gpu};

    #[test]
    fn last_token_kernels_match_cpu_on_odd_shapes() {
        let Some(gpu) = test_gpu() else { return };
        let mut rng = Rng::new(3);
        // (C, lengths of the sequences): widths that are not multiples of the workgroup.
        for (c, lens) in [(5usize, vec![4usize, 2, 3]), (64, vec![1]), (257, vec![7, 1, 30, 2, 9])] {
            let n: usize = lens.iter().sum();
            let last: Vec<usize> = lens.iter().scan(0, |end, l| { *end += l; Some(*end - 1) }).collect();
            let ids: Vec<u32> = last.iter().map(|&i| i as u32).collect();
            check_last(&ids, n).unwrap();
            let hidden = rng.normal_vec(n * c, 1.0);
            let dpooled = rng.normal_vec(lens.len() * c, 1.0);
            let gids = GpuIds::from_slice(gpu, &ids);
            let gh = GpuTensor::from_slice(gpu, &[n, c], &hidden);
            let gp = GpuTensor::zeros(gpu, &[lens.len(), c]);
            let mut rec = Recorder::new(gpu);
            last_token_forward(&mut rec, &gh, &gids, &gp).unwrap();
            let got = pollster::block_on(gp.read(rec)).unwrap();
            assert_close(&got, &gather_last(&hidden, c, &last).unwrap(), 0.0, 0.0, &format!("forward c={c}"));
            let gdp = GpuTensor::from_slice(gpu, &[lens.len(), c], &dpooled);
            let gdh = GpuTensor::from_slice(gpu, &[n, c], &vec![9.0; n * c]); // overwritten
            let mut rec = Recorder::new(gpu);
            last_token_backward(&mut rec, &gdp, &gids, &gdh).unwrap();
            let got = pollster::block_on(gdh.read(rec)).unwrap();
            assert_close(&got, &scatter_last(&dpooled, n, c, &last).unwrap(), 0.0, 0.0, &format!("backward c={c}"));
        }
    }

    #[test]
    fn out_of_range_last_token_is_refused() {
        let e = check_last(&[3, 9], 9).unwrap_err().to_string();
        assert!(e.contains("sequence 1") && e.contains("last token 9") && e.contains("9 tokens"), "{e}");
    }
}
