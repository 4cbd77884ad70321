//! The ranges a [`ModelConfig`] must lie in, checked once when a model's configuration is read
//! (GGUF metadata or `config.json`), before anything is allocated from it.
//!
//! Every size is at least 1 and at most [`MAX_DIM`] (the largest published models are around
//! 2^17 wide in vocabulary and 2^15 in width), layers at most [`MAX_LAYERS`], the context at most
//! [`MAX_CONTEXT`]; every product of sizes the loader and the kernels compute (`H·D`, `KVH·D`,
//! `C·H·D`, `C·F`, `V·C`) must fit a `usize` (32 bits on wasm32), so nothing computed from the
//! file wraps around. Floats must be finite and positive (RoPE theta and scaling, the norm's
//! epsilon at most [`MAX_NORM_EPS`]).

use super::ModelConfig;
use crate::ops::rope::RopeType;

/// Largest vocabulary, width, head count, head dimension or MLP width accepted.
pub const MAX_DIM: usize = 1 << 20;
/// Largest number of transformer blocks accepted.
pub const MAX_LAYERS: usize = 1 << 12;
/// Largest context length (`context_length`, `max_position_embeddings`) accepted.
pub const MAX_CONTEXT: usize = 1 << 24;
/// Largest RMS-norm epsilon accepted (real models use 1e-6 to 1e-5).
pub const MAX_NORM_EPS: f32 = 0.1;

/// What is wrong with `c`, or `Ok`.
pub(super) fn check(c: &ModelConfig) -> Result<(), String> {
    let sizes = [
        ("vocab_size", c.vocab_size, MAX_DIM),
        ("dim (embedding length, hidden_size)", c.dim, MAX_DIM),
        ("n_layers (block_count, num_hidden_layers)", c.n_layers, MAX_LAYERS),
        ("n_heads (attention head count)", c.n_heads, MAX_DIM),
        ("n_kv_heads (key/value head count)", c.n_kv_heads, MAX_DIM),
        ("head_dim (key_length)", c.head_dim, MAX_DIM),
        ("ffn_dim (feed_forward_length, intermediate_size)", c.ffn_dim, MAX_DIM),
        ("max_seq_len (context_length, max_position_embeddings)", c.max_seq_len, MAX_CONTEXT),
    ];
    for (name, v, max) in sizes {
        if !(1..=max).contains(&v) {
            return Err(format!("{name} = {v} is out of range (1 to {max})"));
        }
    }
    let product = |name: &str, factors: &[usize]| {
        factors.iter().try_fold(1usize, |a, &f| a.checked_mul(f)).ok_or_else(|| {
            let factors: Vec<String> = factors.iter().map(usize::to_string).collect();
            format!("{name} = {} overflows (the sizes are too large together)", factors.join(" × "))
        })
    };
    let q = product("n_heads × head_dim", &[c.n_heads, c.head_dim])?;
    let kv = product("n_kv_heads × head_dim", &[c.n_kv_heads, c.head_dim])?;
    if q > MAX_DIM {
        return Err(format!("n_heads × head_dim = {} × {} is above {MAX_DIM}", c.n_heads, c.head_dim));
    }
    product("dim × n_heads × head_dim", &[c.dim, q])?;
    product("dim × n_kv_heads × head_dim", &[c.dim, kv])?;
    product("dim × ffn_dim", &[c.dim, c.ffn_dim])?;
    product("vocab_size × dim", &[c.vocab_size, c.dim])?;
    if c.n_heads % c.n_kv_heads != 0 {
        return Err(format!("{} attention heads are not a multiple of {} key/value heads", c.n_heads, c.n_kv_heads));
    }
    if c.head_dim % 2 != 0 {
        return Err(format!("head dimension {} is odd; RoPE needs it even", c.head_dim));
    }
    positive("rope_theta (rope.freq_base)", c.rope_theta)?;
    positive("norm_eps (layer_norm_rms_epsilon, rms_norm_eps)", c.norm_eps)?;
    if c.norm_eps > MAX_NORM_EPS {
        return Err(format!("norm_eps = {} is above {MAX_NORM_EPS}", c.norm_eps));
    }
    if let Some(s) = &c.rope_scaling {
        positive("rope_scaling factor", s.factor)?;
        if s.rope_type == RopeType::Llama3 {
            positive("rope_scaling low_freq_factor", s.low_freq_factor)?;
            positive("rope_scaling high_freq_factor", s.high_freq_factor)?;
            if s.high_freq_factor <= s.low_freq_factor {
                return Err(format!(
                    "rope_scaling high_freq_factor {} must be above low_freq_factor {}",
                    s.high_freq_factor, s.low_freq_factor
                ));
            }
            let orig = s.original_max_position_embeddings;
            if !(1..=MAX_CONTEXT).contains(&orig) {
                return Err(format!("rope_scaling original_max_position_embeddings = {orig} is out of range (1 to {MAX_CONTEXT})"));
            }
        }
    }
    Ok(())
}

/// `x` must be finite and above zero.
fn positive(name: &str, x: f32) -> Result<(), String> {
    if x.is_finite() && x > 0.0 { Ok(()) } else { Err(format!("{name} = {x} is not a finite positive number")) }
}
