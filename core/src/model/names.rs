//! Where each weight of a Llama-family model lives in a GGUF file and in a Hugging Face
//! checkpoint. Names are built from a per-format prefix and a per-role suffix, never spelled
//! out in full elsewhere.

/// The role of a tensor inside one transformer block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerTensor {
    AttnNorm,
    Q,
    K,
    V,
    QBias,
    KBias,
    VBias,
    O,
    FfnNorm,
    /// Per-head RMSNorm weights of q and k (Qwen3, Gemma 3), D values.
    QNorm,
    KNorm,
    /// Gemma 3's sandwich norms: after attention, before and after the MLP (its `FfnNorm` is
    /// HF's `pre_feedforward_layernorm`, so it has a role of its own).
    PostAttnNorm,
    PreFfnNorm,
    PostFfnNorm,
    Gate,
    Up,
    Down,
}

/// Tensors outside the blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelTensor {
    Embedding,
    OutputNorm,
    Output,
}

/// A naming scheme: GGUF (`blk.3.attn_q.weight`) or Hugging Face (`model.layers.3.self_attn.q_proj.weight`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    Gguf,
    HuggingFace,
}

impl Naming {
    pub fn layer(self, layer: usize, t: LayerTensor) -> String {
        use LayerTensor::*;
        match self {
            Naming::Gguf => {
                let suffix = match t {
                    AttnNorm => "attn_norm.weight",
                    Q => "attn_q.weight",
                    K => "attn_k.weight",
                    V => "attn_v.weight",
                    QBias => "attn_q.bias",
                    KBias => "attn_k.bias",
                    VBias => "attn_v.bias",
                    O => "attn_output.weight",
                    FfnNorm | PreFfnNorm => "ffn_norm.weight",
                    QNorm => "attn_q_norm.weight",
                    KNorm => "attn_k_norm.weight",
                    PostAttnNorm => "post_attention_norm.weight",
                    PostFfnNorm => "post_ffw_norm.weight",
                    Gate => "ffn_gate.weight",
                    Up => "ffn_up.weight",
                    Down => "ffn_down.weight",
                };
                format!("blk.{layer}.{suffix}")
            }
            Naming::HuggingFace => {
                let suffix = match t {
                    AttnNorm => "input_layernorm.weight",
                    Q => "self_attn.q_proj.weight",
                    K => "self_attn.k_proj.weight",
                    V => "self_attn.v_proj.weight",
                    QBias => "self_attn.q_proj.bias",
                    KBias => "self_attn.k_proj.bias",
                    VBias => "self_attn.v_proj.bias",
                    O => "self_attn.o_proj.weight",
                    FfnNorm => "post_attention_layernorm.weight",
                    QNorm => "self_attn.q_norm.weight",
                    KNorm => "self_attn.k_norm.weight",
                    PostAttnNorm => "post_attention_layernorm.weight",
                    PreFfnNorm => "pre_feedforward_layernorm.weight",
                    PostFfnNorm => "post_feedforward_layernorm.weight",
                    Gate => "mlp.gate_proj.weight",
                    Up => "mlp.up_proj.weight",
                    Down => "mlp.down_proj.weight",
                };
                format!("model.layers.{layer}.{suffix}")
            }
        }
    }

    pub fn model(self, t: ModelTensor) -> &'static str {
        match (self, t) {
            (Naming::Gguf, ModelTensor::Embedding) => "token_embd.weight",
            (Naming::Gguf, ModelTensor::OutputNorm) => "output_norm.weight",
            (Naming::Gguf, ModelTensor::Output) => "output.weight",
            (Naming::HuggingFace, ModelTensor::Embedding) => "model.embed_tokens.weight",
            (Naming::HuggingFace, ModelTensor::OutputNorm) => "model.norm.weight",
            (Naming::HuggingFace, ModelTensor::Output) => "lm_head.weight",
        }
    }
}

/// GGUF stores Llama's q/k rows permuted (llama.cpp's converter interleaves the two RoPE halves of
/// each head). Returns, for each Hugging Face row `r` of a `(n_heads * head_dim, in)` matrix, the
/// GGUF row that holds it: HF row `h*D + j*D/2 + i` is GGUF row `h*D + 2*i + j`.
pub fn unpermute_rows(n_heads: usize, head_dim: usize) -> Vec<usize> {
    let half = head_dim / 2;
    let mut src = Vec::with_capacity(n_heads * head_dim);
    for h in 0..n_heads {
        for j in 0..2 {
            for i in 0..half {
                src.push(h * head_dim + 2 * i + j);
            }
        }
    }
    src
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permutation llama.cpp's converter applies (reshape(H, 2, D/2) → swap axes 1, 2),
    /// written the other way round: unpermuting a permuted matrix restores it.
    #[test]
    fn unpermute_inverts_the_converter_permutation() {
        let (h, d) = (3, 8);
        // permute: GGUF row (hh, i, j) = HF row (hh, j, i)
        let mut gguf_holds = vec![0; h * d];
        for hh in 0..h {
            for i in 0..d / 2 {
                for j in 0..2 {
                    gguf_holds[hh * d + i * 2 + j] = hh * d + j * d / 2 + i;
                }
            }
        }
        let src = unpermute_rows(h, d);
        for (hf_row, &g) in src.iter().enumerate() {
            assert_eq!(gguf_holds[g], hf_row);
        }
    }

    #[test]
    fn names_follow_each_format() {
        assert_eq!(Naming::Gguf.layer(3, LayerTensor::Q), "blk.3.attn_q.weight");
        assert_eq!(Naming::HuggingFace.layer(0, LayerTensor::Down), "model.layers.0.mlp.down_proj.weight");
        assert_eq!(Naming::HuggingFace.model(ModelTensor::Output), "lm_head.weight");
    }
}
