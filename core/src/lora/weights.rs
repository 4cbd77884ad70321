//! [`LoraWeights`]: the host-side A and B matrices of every adapted layer, initialised exactly
//! as PEFT does (A Kaiming-uniform, B zero, so the adapted model starts equal to the base).

use super::config::{LoraConfig, ModuleShape, Target};
use crate::error::{Error, Result};
use crate::model::ModelConfig;
use crate::rng::Rng;

/// One adapted linear layer: `y = W·x + s·B·(A·x)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraModule {
    pub layer: usize,
    pub target: Target,
    pub in_features: usize,
    pub out_features: usize,
    /// A, `(r, in_features)` row-major (PyTorch layout of `lora_A.weight`).
    pub a: Vec<f32>,
    /// B, `(out_features, r)` row-major (PyTorch layout of `lora_B.weight`), Hugging Face row
    /// order (q/k rows are NOT in GGUF's interleaved order).
    pub b: Vec<f32>,
    /// DoRA's magnitude m, `(out_features)` (PEFT's `lora_magnitude_vector`); empty without
    /// DoRA, and for a fresh DoRA adapter until the GPU sets it to `‖W + s·B·A‖` per row
    /// ([`crate::lora::LoraParams::from_weights`]).
    pub magnitude: Vec<f32>,
}

impl LoraModule {
    /// The rank r (rows of A).
    pub fn rank(&self) -> usize {
        self.a.len() / self.in_features.max(1)
    }

    /// The weight update `s·B·A`, `(out_features, in_features)` row-major.
    ///
    /// # Shapes
    /// B `(out, r)` · A `(r, in)` → `(out, in)`.
    pub fn delta(&self, scale: f32) -> Vec<f32> {
        let (r, n_in) = (self.rank(), self.in_features);
        let mut out = vec![0f32; self.out_features * n_in];
        for o in 0..self.out_features {
            let row = &mut out[o * n_in..(o + 1) * n_in];
            for k in 0..r {
                let bk = scale * self.b[o * r + k];
                for (y, &a) in row.iter_mut().zip(&self.a[k * n_in..(k + 1) * n_in]) {
                    *y += bk * a;
                }
            }
        }
        out
    }

    /// Merges this adapter into the base weight `w` `(out, in)` (Hugging Face row order):
    /// LoRA `W + s·B·A`; DoRA (a magnitude present) `m ⊙ (W + s·B·A) / ‖W + s·B·A‖` row by row,
    /// as PEFT's `merge_and_unload` does.
    pub fn merge_into(&self, w: &mut [f32], scale: f32) {
        w.iter_mut().zip(self.delta(scale)).for_each(|(x, d)| *x += d);
        if self.magnitude.len() == self.out_features {
            for (row, &m) in w.chunks_mut(self.in_features.max(1)).zip(&self.magnitude) {
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                row.iter_mut().for_each(|x| *x *= m / norm);
            }
        }
    }
}

/// Every adapter of a model, with the configuration that made it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraWeights {
    pub config: LoraConfig,
    /// Layer by layer, targets in block order.
    pub modules: Vec<LoraModule>,
}

/// The bound of PyTorch's `kaiming_uniform_(w, a=sqrt(5))` for `fan_in` inputs (PEFT's
/// initialisation of `lora_A`): gain = sqrt(2 / (1 + a²)), std = gain / sqrt(fan_in),
/// bound = sqrt(3)·std, which is 1 / sqrt(fan_in).
pub fn kaiming_bound(fan_in: usize) -> f32 {
    let a2 = 5.0f64;
    let gain = (2.0 / (1.0 + a2)).sqrt();
    let std = gain / (fan_in as f64).sqrt();
    (3.0f64.sqrt() * std) as f32
}

impl LoraWeights {
    /// Fresh adapters for `model`: A uniform in `[-bound, bound)` with
    /// [`kaiming_bound`]`(in_features)` from `seed` (drawn module by module, row-major), B zero.
    pub fn init(config: &LoraConfig, model: &ModelConfig, seed: u64) -> Result<LoraWeights> {
        let mut rng = Rng::new(seed);
        let modules = config
            .modules(model)?
            .into_iter()
            .map(|m| {
                let bound = kaiming_bound(m.in_features);
                let a = (0..config.r * m.in_features)
                    .map(|_| (2.0 * rng.uniform() - 1.0) * bound)
                    .collect();
                LoraModule::zeros_b(m, config.r, a)
            })
            .collect();
        Ok(LoraWeights {
            config: config.clone(),
            modules,
        })
    }

    /// The scale s of `config`.
    pub fn scale(&self) -> f32 {
        self.config.scale()
    }

    /// The module adapting `target` in block `layer`.
    pub fn module(&self, layer: usize, target: Target) -> Option<&LoraModule> {
        self.modules
            .iter()
            .find(|m| m.layer == layer && m.target == target)
    }

    /// Checks every module against `model`: layer in range, A `(r, in)` and B `(out, r)` with
    /// the model's features and the config's r. `file` names the adapter in errors.
    pub fn check_model(&self, model: &ModelConfig, file: &str) -> Result<()> {
        for m in &self.modules {
            let name = format!("layer {} {}", m.layer, m.target.peft_name());
            if m.layer >= model.n_layers {
                return Err(Error::format(
                    file,
                    format!("{name}: the model has only {} layers", model.n_layers),
                ));
            }
            let (n_in, n_out) = m.target.features(model);
            let r = self.config.r;
            if (m.in_features, m.out_features) != (n_in, n_out)
                || m.a.len() != r * n_in
                || m.b.len() != n_out * r
            {
                return Err(Error::format(
                    file,
                    format!(
                        "{name}: A ({} values) and B ({} values) do not fit the model: A should be ({r}, {n_in}) and B ({n_out}, {r})",
                        m.a.len(),
                        m.b.len()
                    ),
                ));
            }
            let want_m = if self.config.use_dora { n_out } else { 0 };
            if !m.magnitude.is_empty() && m.magnitude.len() != want_m {
                return Err(Error::format(
                    file,
                    format!(
                        "{name}: the DoRA magnitude has {} values, expected {want_m} (use_dora is {})",
                        m.magnitude.len(),
                        self.config.use_dora
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl LoraModule {
    fn zeros_b(m: ModuleShape, r: usize, a: Vec<f32>) -> LoraModule {
        let b = vec![0.0; m.out_features * r];
        LoraModule {
            layer: m.layer,
            target: m.target,
            in_features: m.in_features,
            out_features: m.out_features,
            a,
            b,
            magnitude: Vec::new(),
        }
    }
}

/// Reorders the rows of a row-major `(n_heads·head_dim, cols)` matrix from Hugging Face order to
/// GGUF's interleaved q/k order (llama.cpp's converter permutation): GGUF row `h·D + 2i + j`
/// holds HF row `h·D + j·D/2 + i`.
pub fn permute_rows_to_gguf(m: &[f32], cols: usize, n_heads: usize, head_dim: usize) -> Vec<f32> {
    let src = crate::model::names::unpermute_rows(n_heads, head_dim);
    let mut out = vec![0f32; m.len()];
    for (hf_row, &g) in src.iter().enumerate() {
        out[g * cols..(g + 1) * cols].copy_from_slice(&m[hf_row * cols..(hf_row + 1) * cols]);
    }
    out
}

/// The inverse of [`permute_rows_to_gguf`]: GGUF row order back to Hugging Face order.
pub fn permute_rows_to_hf(m: &[f32], cols: usize, n_heads: usize, head_dim: usize) -> Vec<f32> {
    let src = crate::model::names::unpermute_rows(n_heads, head_dim);
    let mut out = vec![0f32; m.len()];
    for (hf_row, &g) in src.iter().enumerate() {
        out[hf_row * cols..(hf_row + 1) * cols].copy_from_slice(&m[g * cols..(g + 1) * cols]);
    }
    out
}

/// Largest `lora_alpha` an adapter file may give (real adapters use 8 to 512; the scale
/// alpha / r multiplies every update, so a huge alpha overflows f32 in the forward pass).
pub const MAX_FILE_ALPHA: f64 = 65536.0;

/// `alpha` read from an adapter file's `key`, checked: finite, above zero, at most
/// [`MAX_FILE_ALPHA`]; or what is wrong.
pub(crate) fn check_file_alpha(alpha: f64, key: &str) -> std::result::Result<f32, String> {
    if alpha.is_finite() && alpha > 0.0 && alpha <= MAX_FILE_ALPHA {
        Ok(alpha as f32)
    } else {
        Err(format!("{key} = {alpha} is out of range (above 0, at most {MAX_FILE_ALPHA})"))
    }
}

/// Little-endian f32 values of a tensor's bytes.
pub(crate) fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Little-endian bytes of f32 values.
pub(crate) fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}
