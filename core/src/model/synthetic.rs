//! Models of a real model's shapes and tensor types with random weights, built in memory as a
//! GGUF file: what `anytune bench --synthetic NAME` runs, so a GPU machine that cannot take the
//! model files needs only the binary. Speed does not depend on the weights' values; the outputs
//! are meaningless. The tokenizer is a stand-in of the right vocabulary size (the bench feeds
//! token ids, never text).

use crate::error::{Error, Result};
use crate::formats::{GgufWriter, MetaValue, ModelFiles};
use crate::model::names::{LayerTensor, ModelTensor, Naming};
use crate::quant::GgmlType;
use crate::quant::presets::{PresetRole, q4_k_m};
use crate::quant::quantize::random_blocks;
use crate::rng::Rng;

/// How the matrices of a synthetic model are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyntheticTypes {
    /// Every block matrix in one type, the token embedding in another (SmolLM2's Q4_1 file:
    /// Q4_1 matrices, a Q8_0 embedding).
    Uniform { matrices: GgmlType, embedding: GgmlType },
    /// llama.cpp's Q4_K_M preset ([`q4_k_m`]).
    Q4KM,
}

/// A real model's architecture and tensor types.
#[derive(Clone, Copy, Debug)]
pub struct SyntheticModel {
    /// The name `--synthetic` takes.
    pub name: &'static str,
    /// What it mirrors.
    pub about: &'static str,
    arch: &'static str,
    layers: usize,
    dim: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    ffn: usize,
    vocab: usize,
    context: usize,
    rope_theta: f32,
    norm_eps: f32,
    /// Gemma 3's sliding window (every sixth layer global), 0 for none.
    sliding_window: usize,
    types: SyntheticTypes,
}

/// The synthetic models, by name.
pub const SYNTHETIC_MODELS: [SyntheticModel; 3] = [
    SyntheticModel {
        name: "smollm2-135m",
        about: "SmolLM2-135M-Instruct as the default model's file: Q4_1 matrices, Q8_0 embedding",
        ..SMOLLM2
    },
    SyntheticModel {
        name: "smollm2-135m-q8_0",
        about: "SmolLM2-135M with every matrix in Q8_0",
        types: SyntheticTypes::Uniform { matrices: GgmlType::Q8_0, embedding: GgmlType::Q8_0 },
        ..SMOLLM2
    },
    SyntheticModel {
        name: "gemma3-270m",
        about: "Gemma 3 270M as its Q4_K_M file (Q4_K/Q6_K, Q5_0/Q8_0 where rows are not whole K blocks)",
        arch: "gemma3",
        layers: 18,
        dim: 640,
        heads: 4,
        kv_heads: 1,
        head_dim: 256,
        ffn: 2048,
        vocab: 262_144,
        context: 32_768,
        rope_theta: 1e6,
        norm_eps: 1e-6,
        sliding_window: 512,
        types: SyntheticTypes::Q4KM,
    },
];

const SMOLLM2: SyntheticModel = SyntheticModel {
    name: "",
    about: "",
    arch: "llama",
    layers: 30,
    dim: 576,
    heads: 9,
    kv_heads: 3,
    head_dim: 64,
    ffn: 1536,
    vocab: 49_152,
    context: 8192,
    rope_theta: 100_000.0,
    norm_eps: 1e-5,
    sliding_window: 0,
    types: SyntheticTypes::Uniform { matrices: GgmlType::Q4_1, embedding: GgmlType::Q8_0 },
};

/// The synthetic model called `name`, or an error listing the known names.
pub fn find_synthetic(name: &str) -> Result<&'static SyntheticModel> {
    SYNTHETIC_MODELS.iter().find(|m| m.name == name).ok_or_else(|| {
        let known: Vec<&str> = SYNTHETIC_MODELS.iter().map(|m| m.name).collect();
        Error::invalid("--synthetic", format!("{name:?} is not a synthetic model (known: {})", known.join(", ")))
    })
}

impl SyntheticModel {
    /// The file name the model is loaded under (`synthetic-NAME.gguf`).
    pub fn file_name(&self) -> String {
        format!("synthetic-{}.gguf", self.name)
    }

    /// The type of a matrix of this model (rows of `cols` values).
    fn matrix_type(&self, role: PresetRole, cols: usize) -> GgmlType {
        match (self.types, role) {
            (SyntheticTypes::Uniform { embedding, .. }, PresetRole::Embedding { .. }) => embedding,
            (SyntheticTypes::Uniform { matrices, .. }, _) => matrices,
            (SyntheticTypes::Q4KM, role) => q4_k_m(role, self.layers, cols),
        }
    }

    /// Every tensor as (name, type, shape in PyTorch order): tied embeddings, no biases.
    pub fn tensors(&self) -> Vec<(String, GgmlType, Vec<usize>)> {
        use LayerTensor::*;
        let (d, q, kv, f) = (self.dim, self.heads * self.head_dim, self.kv_heads * self.head_dim, self.ffn);
        let gemma = self.arch == "gemma3";
        let mut out = vec![
            (Naming::Gguf.model(ModelTensor::Embedding).to_string(), self.matrix_type(PresetRole::Embedding { tied: true }, d), vec![self.vocab, d]),
            (Naming::Gguf.model(ModelTensor::OutputNorm).to_string(), GgmlType::F32, vec![d]),
        ];
        for layer in 0..self.layers {
            let mut norms = vec![(AttnNorm, d), (FfnNorm, d)];
            if gemma {
                norms.extend([(QNorm, self.head_dim), (KNorm, self.head_dim), (PostAttnNorm, d), (PostFfnNorm, d)]);
            }
            for (role, n) in norms {
                out.push((Naming::Gguf.layer(layer, role), GgmlType::F32, vec![n]));
            }
            let matrices = [
                (Q, PresetRole::Other, q, d),
                (K, PresetRole::Other, kv, d),
                (V, PresetRole::AttnV { layer }, kv, d),
                (O, PresetRole::Other, d, q),
                (Gate, PresetRole::Other, f, d),
                (Up, PresetRole::Other, f, d),
                (Down, PresetRole::FfnDown { layer }, d, f),
            ];
            for (role, preset, rows, cols) in matrices {
                out.push((Naming::Gguf.layer(layer, role), self.matrix_type(preset, cols), vec![rows, cols]));
            }
        }
        out
    }

    /// The model as GGUF bytes: its metadata, a stand-in tokenizer of `vocab` tokens, and random
    /// weights (norm weights near 1, matrices ~N(0, 0.02²) quantized to their types) from `seed`.
    pub fn gguf(&self, seed: u64) -> Result<Vec<u8>> {
        let mut w = GgufWriter::new();
        let a = self.arch;
        let u = |v: usize| MetaValue::U32(v as u32);
        let mut meta = vec![
            ("general.architecture".to_string(), MetaValue::String(a.into())),
            ("general.name".to_string(), MetaValue::String(format!("synthetic {}", self.name))),
            (format!("{a}.block_count"), u(self.layers)),
            (format!("{a}.context_length"), u(self.context)),
            (format!("{a}.embedding_length"), u(self.dim)),
            (format!("{a}.feed_forward_length"), u(self.ffn)),
            (format!("{a}.attention.head_count"), u(self.heads)),
            (format!("{a}.attention.head_count_kv"), u(self.kv_heads)),
            (format!("{a}.attention.key_length"), u(self.head_dim)),
            (format!("{a}.attention.value_length"), u(self.head_dim)),
            (format!("{a}.rope.freq_base"), MetaValue::F32(self.rope_theta)),
            (format!("{a}.attention.layer_norm_rms_epsilon"), MetaValue::F32(self.norm_eps)),
            (format!("{a}.vocab_size"), u(self.vocab)),
        ];
        if self.sliding_window > 0 {
            meta.push((format!("{a}.attention.sliding_window"), u(self.sliding_window)));
        }
        // A byte-level vocabulary of the right size with one merge ("a b" → "ab"): it loads and
        // encodes, which is all the bench needs of it.
        let tokens: Vec<MetaValue> = ["a", "b", "ab"]
            .into_iter()
            .map(str::to_string)
            .chain((3..self.vocab).map(|i| format!("x{i}")))
            .map(MetaValue::String)
            .collect();
        meta.extend([
            ("tokenizer.ggml.model".to_string(), MetaValue::String("gpt2".into())),
            ("tokenizer.ggml.tokens".to_string(), MetaValue::Array(tokens)),
            ("tokenizer.ggml.merges".to_string(), MetaValue::Array(vec![MetaValue::String("a b".into())])),
            ("tokenizer.ggml.eos_token_id".to_string(), MetaValue::U32(0)),
        ]);
        for (key, value) in meta {
            w.add_meta(key, value)?;
        }
        let mut rng = Rng::new(seed);
        for (name, ty, shape) in self.tensors() {
            let n: usize = shape.iter().product();
            let bytes = if ty == GgmlType::F32 {
                (0..n).flat_map(|_| (1.0 + rng.normal(0.05)).to_le_bytes()).collect()
            } else {
                random_blocks(ty, n / ty.block_size(), 0.02, &mut rng)
            };
            w.add_tensor(name, ty, &shape, bytes)?;
        }
        Ok(w.to_bytes())
    }

    /// The model as the files [`crate::model::Model::load`] takes.
    pub fn files(&self, seed: u64) -> Result<ModelFiles> {
        let mut files = ModelFiles::new();
        files.add(&self.file_name(), self.gguf(seed)?);
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::GgufFile;

    /// The synthetic SmolLM2 holds the real file's tensor count and types (210 Q4_1 matrices,
    /// 61 F32 norms, one Q8_0 embedding) and parses as GGUF with every name the loader reads.
    #[test]
    fn synthetic_smollm2_has_the_real_files_tensor_types() {
        let m = find_synthetic("smollm2-135m").unwrap();
        let mut counts = std::collections::BTreeMap::new();
        for (_, ty, _) in m.tensors() {
            *counts.entry(ty.name()).or_insert(0) += 1;
        }
        assert_eq!(counts, [("F32", 61), ("Q4_1", 210), ("Q8_0", 1)].into_iter().collect());
    }

    /// A small stand-in built the same way parses, names the right architecture and holds
    /// weights of the declared types and sizes.
    #[test]
    fn synthetic_gguf_parses_with_its_tensors() {
        let m = SyntheticModel { name: "t", layers: 2, vocab: 300, ..*find_synthetic("gemma3-270m").unwrap() };
        let bytes = m.gguf(1).unwrap();
        let f = GgufFile::parse(&bytes, "t.gguf").unwrap();
        assert_eq!(f.tensor("blk.1.ffn_down.weight").unwrap().shape, vec![640, 2048]);
        assert_eq!(m.tensors().len(), 2 + 2 * 13);
        assert!(find_synthetic("nope").unwrap_err().to_string().contains("smollm2-135m"));
    }
}
