//! Which GGUF type each tensor gets under a llama.cpp quantization preset ("file type"), as
//! llama.cpp's `llama_tensor_get_type` chooses it for the tensors of the architectures anytune
//! runs. Used to build synthetic models of a real file's tensor types (`bench --synthetic`),
//! and the rule the GGUF export follows.
//!
//! Q4_K_M, as llama.cpp (llama-quant.cpp) defines it for these roles:
//! - the output projection, and the token embedding when it is tied to it: Q6_K;
//! - `attn_v` and `ffn_down` of the layers [`use_more_bits`] picks: Q6_K; other layers Q4_K;
//! - every other matrix: Q4_K; norms and 1-D tensors stay F32;
//! - a matrix whose rows are not a multiple of 256 values cannot hold K blocks and falls
//!   back: Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0 (llama.cpp's fallback table).
//!
//! Q5_K_M is the same rule with Q5_K in place of Q4_K ([`q5_k_m`]).
//!
//! Checked against the published Gemma 3 270M Q4_K_M file (tests/tests/gemma3.rs).

use super::GgmlType;

/// The role of a matrix, for the preset rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresetRole {
    /// The token embedding; `tied` when it is also the output projection.
    Embedding { tied: bool },
    /// `output.weight`.
    Output,
    /// `attn_v` of block `layer`.
    AttnV { layer: usize },
    /// `ffn_down` of block `layer`.
    FfnDown { layer: usize },
    /// q, k, o, gate, up.
    Other,
}

/// llama.cpp's `use_more_bits(i, n)`: the first and last eighth of the layers, and every third
/// layer in between, get more bits on `attn_v` and `ffn_down`.
pub fn use_more_bits(layer: usize, n_layers: usize) -> bool {
    let eighth = n_layers / 8;
    layer < eighth || layer >= 7 * n_layers / 8 || (layer - eighth) % 3 == 2
}

/// The Q4_K_M type of a matrix with rows of `cols` values in a model of `n_layers` blocks.
/// An untied token embedding is Q4_K like the other matrices (llama.cpp leaves it to the base type).
pub fn q4_k_m(role: PresetRole, n_layers: usize, cols: usize) -> GgmlType {
    let wanted = match role {
        PresetRole::Output | PresetRole::Embedding { tied: true } => GgmlType::Q6K,
        PresetRole::AttnV { layer } | PresetRole::FfnDown { layer } if use_more_bits(layer, n_layers) => GgmlType::Q6K,
        _ => GgmlType::Q4K,
    };
    k_fallback(wanted, cols)
}

/// The Q5_K_M type of a matrix: Q4_K_M's rule with Q5_K where Q4_K_M puts Q4_K (llama.cpp
/// gives `attn_v` and `ffn_down` of the [`use_more_bits`] layers Q6_K under both presets).
pub fn q5_k_m(role: PresetRole, n_layers: usize, cols: usize) -> GgmlType {
    match q4_k_m(role, n_layers, 256) {
        GgmlType::Q4K => k_fallback(GgmlType::Q5K, cols),
        wanted => k_fallback(wanted, cols),
    }
}

/// llama.cpp's substitute for a K type when rows of `cols` values are not whole 256-value
/// super-blocks (Q2_K and Q3_K fall back to IQ4_NL there, which anytune does not run: Q4_0 here).
pub fn k_fallback(ty: GgmlType, cols: usize) -> GgmlType {
    if cols.is_multiple_of(ty.block_size()) {
        return ty;
    }
    match ty {
        GgmlType::Q4K => GgmlType::Q5_0,
        GgmlType::Q5K => GgmlType::Q5_1,
        GgmlType::Q6K => GgmlType::Q8_0,
        GgmlType::Q2K | GgmlType::Q3K => GgmlType::Q4_0,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_bits_layers_of_an_18_layer_model() {
        let picked: Vec<usize> = (0..18).filter(|&l| use_more_bits(l, 18)).collect();
        assert_eq!(picked, [0, 1, 4, 7, 10, 13, 15, 16, 17]);
    }

    #[test]
    fn k_types_fall_back_when_rows_are_not_whole_super_blocks() {
        assert_eq!(q4_k_m(PresetRole::Other, 18, 640), GgmlType::Q5_0);
        assert_eq!(q4_k_m(PresetRole::Other, 18, 1024), GgmlType::Q4K);
        assert_eq!(q4_k_m(PresetRole::FfnDown { layer: 0 }, 18, 2048), GgmlType::Q6K);
        assert_eq!(q4_k_m(PresetRole::AttnV { layer: 0 }, 18, 640), GgmlType::Q8_0);
        assert_eq!(q4_k_m(PresetRole::Embedding { tied: true }, 18, 640), GgmlType::Q8_0);
        assert_eq!(q5_k_m(PresetRole::Other, 18, 640), GgmlType::Q5_1);
        assert_eq!(q5_k_m(PresetRole::Other, 18, 1024), GgmlType::Q5K);
        assert_eq!(q5_k_m(PresetRole::FfnDown { layer: 1 }, 18, 1024), GgmlType::Q6K);
        assert_eq!(q5_k_m(PresetRole::FfnDown { layer: 2 }, 18, 1024), GgmlType::Q5K);
        assert_eq!(q5_k_m(PresetRole::Output, 18, 640), GgmlType::Q8_0);
    }
}
