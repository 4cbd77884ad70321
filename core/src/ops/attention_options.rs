//! What an attention call adds to plain causal attention: a sliding window and the score
//! scale (Gemma 3 uses both; Llama and Qwen2 use neither). [`AttentionOptions::default()`] is
//! today's behaviour: plain causal, scale `1 / sqrt(D)`.
//!
//! # The mask
//! The query at absolute position `p` sees the keys `j` with `p - window < j <= p`: the
//! `window` most recent positions, its own included. This is transformers' mask exactly
//! (`masking_utils.py`: `sliding_window_overlay` keeps `kv_idx > q_idx - sliding_window`, and
//! `sliding_window_causal_mask_function` ands it with `kv_idx <= q_idx`), so Gemma 3's
//! `sliding_window = 512` lets a query see 512 keys. `window = 0`, or any window of at least
//! the cache capacity `S`, is plain causal.
//!
//! ```
//! use anytune_core::ops::attention_options::AttentionOptions;
//! let w = AttentionOptions::sliding(3);
//! assert_eq!(w.first_key(5), 3); // position 5 sees keys 3, 4, 5
//! assert_eq!(w.first_key(1), 0); // position 1 sees keys 0, 1
//! assert_eq!(AttentionOptions::default().first_key(5), 0);
//! ```

use super::attention::AttentionDims;
use crate::error::{Error, Result};

/// The mask window and score scale of one attention call; `Default` is plain causal attention
/// with scale `1 / sqrt(D)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AttentionOptions {
    /// Sliding window: the query at position `p` sees keys `p - window < j <= p` (`window`
    /// keys, itself included). Default `0`: plain causal (so does any window `>= S`).
    pub window: usize,
    /// Score scale, finite and positive. Default `None`: `1 / sqrt(D)`. Gemma 3:
    /// `1 / sqrt(query_pre_attn_scalar)`.
    pub scale: Option<f32>,
}

impl AttentionOptions {
    /// Sliding-window causal attention over `window` keys, default scale.
    pub fn sliding(window: usize) -> AttentionOptions {
        AttentionOptions { window, scale: None }
    }

    /// The first key position the query at absolute position `p` sees (it sees `first ..= p`).
    pub fn first_key(&self, p: usize) -> usize {
        if self.window == 0 { 0 } else { (p + 1).saturating_sub(self.window) }
    }

    /// The score scale for `dims` (`1 / sqrt(D)` unless set); not validated, see [`Self::check`].
    pub fn scale_for(&self, dims: &AttentionDims) -> f32 {
        self.scale.unwrap_or_else(|| dims.scale())
    }

    /// Errors unless the scale is finite and positive.
    pub fn check(&self) -> Result<()> {
        match self.scale {
            Some(s) if !(s.is_finite() && s > 0.0) => Err(Error::invalid(
                "attention scale",
                format!("{s} must be finite and positive (e.g. 1/sqrt(head_dim) or 1/sqrt(query_pre_attn_scalar))"),
            )),
            _ => Ok(()),
        }
    }

    /// The window the kernels get: in `1 ..= S`, `S` meaning plain causal (so the shaders need
    /// no branch: `first = p + 1 - min(p + 1, window)`).
    pub(crate) fn kernel_window(&self, dims: &AttentionDims) -> u32 {
        let w = if self.window == 0 || self.window >= dims.s { dims.s } else { self.window };
        w as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// transformers' sliding mask, written out: `kv_idx <= q_idx && kv_idx > q_idx - window`.
    fn hf_sees(q: i64, kv: i64, window: i64) -> bool {
        kv <= q && kv > q - window
    }

    #[test]
    fn first_key_matches_transformers_sliding_mask() {
        for window in 1..7usize {
            let o = AttentionOptions::sliding(window);
            for p in 0..12usize {
                for j in 0..=p {
                    let ours = j >= o.first_key(p);
                    assert_eq!(ours, hf_sees(p as i64, j as i64, window as i64), "window {window} p {p} j {j}");
                }
                // Exactly `window` keys once the window is full.
                assert_eq!(p + 1 - o.first_key(p), (p + 1).min(window));
            }
        }
    }

    #[test]
    fn kernel_window_is_s_for_causal() {
        let dims = AttentionDims { b: 1, t: 4, s: 10, h: 1, kvh: 1, d: 4, pos0: 0 };
        assert_eq!(AttentionOptions::default().kernel_window(&dims), 10);
        assert_eq!(AttentionOptions::sliding(10).kernel_window(&dims), 10);
        assert_eq!(AttentionOptions::sliding(usize::MAX).kernel_window(&dims), 10);
        assert_eq!(AttentionOptions::sliding(3).kernel_window(&dims), 3);
    }

    #[test]
    fn check_refuses_bad_scales_by_name() {
        for bad in [0.0, -0.5, f32::NAN, f32::INFINITY] {
            let e = AttentionOptions { window: 0, scale: Some(bad) }.check().unwrap_err().to_string();
            assert!(e.contains("attention scale") && e.contains("finite and positive"), "{e}");
        }
        assert!(AttentionOptions { window: 0, scale: Some(0.0625) }.check().is_ok());
        assert!(AttentionOptions::default().check().is_ok());
    }
}
