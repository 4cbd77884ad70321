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

/// A field of [`ModelConfig`], named in errors by the key its file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Vocab,
    Dim,
    Layers,
    Heads,
    KvHeads,
    HeadDim,
    Ffn,
    Context,
    RopeTheta,
    NormEps,
}

impl Field {
    /// The GGUF metadata key of an architecture: `llama.embedding_length`.
    pub fn gguf_key(self, arch: &str) -> String {
        let key = match self {
            Field::Vocab => "vocab_size",
            Field::Dim => "embedding_length",
            Field::Layers => "block_count",
            Field::Heads => "attention.head_count",
            Field::KvHeads => "attention.head_count_kv",
            Field::HeadDim => "attention.key_length",
            Field::Ffn => "feed_forward_length",
            Field::Context => "context_length",
            Field::RopeTheta => "rope.freq_base",
            Field::NormEps => "attention.layer_norm_rms_epsilon",
        };
        format!("{arch}.{key}")
    }

    /// The `config.json` key: `hidden_size`.
    pub fn hf_key(self) -> String {
        match self {
            Field::Vocab => "vocab_size",
            Field::Dim => "hidden_size",
            Field::Layers => "num_hidden_layers",
            Field::Heads => "num_attention_heads",
            Field::KvHeads => "num_key_value_heads",
            Field::HeadDim => "head_dim",
            Field::Ffn => "intermediate_size",
            Field::Context => "max_position_embeddings",
            Field::RopeTheta => "rope_theta",
            Field::NormEps => "rms_norm_eps",
        }
        .to_string()
    }
}

/// What is wrong with `c`, or `Ok`; `key` names each field as the file calls it.
pub(super) fn check(c: &ModelConfig, key: &dyn Fn(Field) -> String) -> Result<(), String> {
    let sizes = [
        (Field::Vocab, c.vocab_size, MAX_DIM),
        (Field::Dim, c.dim, MAX_DIM),
        (Field::Layers, c.n_layers, MAX_LAYERS),
        (Field::Heads, c.n_heads, MAX_DIM),
        (Field::KvHeads, c.n_kv_heads, MAX_DIM),
        (Field::HeadDim, c.head_dim, MAX_DIM),
        (Field::Ffn, c.ffn_dim, MAX_DIM),
        (Field::Context, c.max_seq_len, MAX_CONTEXT),
    ];
    for (field, v, max) in sizes {
        if !(1..=max).contains(&v) {
            return Err(format!("{} = {v} is out of range (1 to {max})", key(field)));
        }
    }
    let product = |fields: &[Field], factors: &[usize]| {
        factors.iter().try_fold(1usize, |a, &f| a.checked_mul(f)).ok_or_else(|| {
            let names: Vec<String> = fields.iter().map(|&f| key(f)).collect();
            let factors: Vec<String> = factors.iter().map(usize::to_string).collect();
            format!("{} = {} overflows (the sizes are too large together)", names.join(" × "), factors.join(" × "))
        })
    };
    let q = product(&[Field::Heads, Field::HeadDim], &[c.n_heads, c.head_dim])?;
    let kv = product(&[Field::KvHeads, Field::HeadDim], &[c.n_kv_heads, c.head_dim])?;
    if q > MAX_DIM {
        return Err(format!("{} × {} = {} × {} is above {MAX_DIM}", key(Field::Heads), key(Field::HeadDim), c.n_heads, c.head_dim));
    }
    product(&[Field::Dim, Field::Heads, Field::HeadDim], &[c.dim, q])?;
    product(&[Field::Dim, Field::KvHeads, Field::HeadDim], &[c.dim, kv])?;
    product(&[Field::Dim, Field::Ffn], &[c.dim, c.ffn_dim])?;
    product(&[Field::Vocab, Field::Dim], &[c.vocab_size, c.dim])?;
    if !c.n_heads.is_multiple_of(c.n_kv_heads) {
        return Err(format!(
            "{} = {} attention heads are not a multiple of {} = {} key/value heads",
            key(Field::Heads),
            c.n_heads,
            key(Field::KvHeads),
            c.n_kv_heads
        ));
    }
    if !c.head_dim.is_multiple_of(2) {
        return Err(format!("{} = {} is odd: the head dimension must be even for RoPE", key(Field::HeadDim), c.head_dim));
    }
    let (theta, eps) = (key(Field::RopeTheta), key(Field::NormEps));
    positive(&theta, c.rope_theta)?;
    positive(&eps, c.norm_eps)?;
    if c.norm_eps > MAX_NORM_EPS {
        return Err(format!("{eps} = {} is above {MAX_NORM_EPS}", c.norm_eps));
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
    if let Some(sw) = &c.sliding_window {
        if !(1..=MAX_CONTEXT).contains(&sw.window) {
            return Err(format!("sliding_window = {} is out of range (1 to {MAX_CONTEXT})", sw.window));
        }
        if sw.sliding.len() != c.n_layers {
            return Err(format!("layer_types lists {} layers, the model has {} = {}", sw.sliding.len(), key(Field::Layers), c.n_layers));
        }
        positive("rope_local_base_freq", sw.local_rope_theta)?;
    }
    if let Some(q) = c.query_pre_attn_scalar {
        positive("query_pre_attn_scalar", q)?;
    }
    Ok(())
}

/// `x` must be finite and above zero.
fn positive(name: &str, x: f32) -> Result<(), String> {
    if x.is_finite() && x > 0.0 { Ok(()) } else { Err(format!("{name} = {x} is not a finite positive number")) }
}
