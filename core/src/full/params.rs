//! The trained tensors of full fine-tuning and their AdamW state: [`to_f32`] makes every matrix
//! of the model an f32 GPU buffer (a quantized or half-precision base is dequantized on the GPU
//! at load), [`FullParams`] views the model's own buffers (no second copy: matrices, biases and
//! norms) and keeps the two f32 moments of each.

use super::{FullGrads, Slot};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, GpuTensor, Recorder};
use crate::model::Model;
use crate::model::linear::{Norm, Target};
use crate::model::names::Naming;
use crate::model::weights::LayerWeights;
use crate::ops::adamw::{AdamW, GpuScale, adamw_update_about};
use crate::ops::embedding::{GpuIds, embedding_forward};
use crate::quant::GgmlType;
use crate::weights::{Weight, WeightChunk};

/// Converts every matrix of `model` (linears, embedding, untied lm_head) to one f32 buffer;
/// returns the bytes of the tensors dequantized (0 when the base is f32 already). A matrix whose
/// f32 form exceeds one storage binding is refused by name.
pub fn to_f32(gpu: &Gpu, model: &mut Model) -> Result<u64> {
    let w = &mut model.weights;
    let mut all: Vec<&mut Weight> = vec![&mut w.token_embd];
    all.extend(w.output.as_mut());
    for l in &mut w.layers {
        all.extend([&mut l.wq, &mut l.wk, &mut l.wv, &mut l.wo, &mut l.w_gate, &mut l.w_up, &mut l.w_down]);
    }
    let mut converted = 0;
    for weight in all {
        let bytes = (weight.rows * weight.cols * 4) as u64;
        if bytes > gpu.max_binding() {
            return Err(Error::TooLarge {
                what: format!("full fine-tuning: {} ({} × {}) is {} MiB as f32, one storage binding", weight.name, weight.rows, weight.cols, bytes >> 20),
                limit: format!("{} MiB per binding", gpu.max_binding() >> 20),
            });
        }
        // Dequantize on the GPU: gather every row of the table. An f32 matrix is copied the same
        // way: stored weights are read-only buffers, and a resume writes the trained values.
        let dequantized = weight.ty != GgmlType::F32;
        let ids: Vec<u32> = (0..weight.rows as u32).collect();
        let out = GpuTensor::zeros(gpu, &[weight.rows, weight.cols]);
        let mut rec = Recorder::new(gpu);
        embedding_forward(&mut rec, &GpuIds::from_slice(gpu, &ids), weight, &out)?;
        rec.submit();
        *weight = Weight {
            name: weight.name.clone(),
            ty: GgmlType::F32,
            rows: weight.rows,
            cols: weight.cols,
            chunks: vec![WeightChunk { buffer: out.buffer, row_start: 0, rows: weight.rows }],
        };
        if dequantized {
            converted += bytes;
        }
    }
    gpu.take_error()?;
    Ok(converted)
}

/// One trained tensor: a view of the model's buffer and its AdamW moments.
struct Param {
    slot: Slot,
    /// Its Hugging Face name.
    name: String,
    /// The model's value minus the parameter ([`Slot::stored_offset`]).
    offset: f32,
    value: GpuTensor,
    m: GpuTensor,
    v: GpuTensor,
}

/// Every trained tensor of a model made f32 by [`to_f32`], with AdamW's `m` and `v` (f32).
pub struct FullParams {
    params: Vec<Param>,
}

impl FullParams {
    /// Views of every tensor of `model` ([`Slot::all`]: matrices, biases, every norm; refused
    /// unless [`to_f32`] ran) and zero moments.
    pub fn new(gpu: &Gpu, model: &Model) -> Result<FullParams> {
        let arch = model.config.arch;
        let params = Slot::all(model)
            .into_iter()
            .map(|slot| {
                let value = view(model, slot)?;
                let (m, v) = (GpuTensor::zeros(gpu, &value.shape), GpuTensor::zeros(gpu, &value.shape));
                let (name, offset) = (slot.name(arch, Naming::HuggingFace), slot.stored_offset(arch));
                Ok(Param { slot, name, offset, value, m, v })
            })
            .collect::<Result<_>>()?;
        Ok(FullParams { params })
    }

    /// Trained elements (all parameters of the model).
    pub fn count(&self) -> usize {
        self.params.iter().map(|p| p.value.len()).sum()
    }

    /// Records one AdamW step (`step` from 1) of every tensor from `grads`, decoupled weight
    /// decay on all of them (as `torch.optim.AdamW(model.parameters())`: on the parameter, so
    /// Gemma's `1 + w` norms decay towards 1).
    pub fn update(&self, rec: &mut Recorder, opt: &AdamW, step: u32, grad_scale: f32, clip: Option<GpuScale>, grads: &FullGrads) -> Result<()> {
        for p in &self.params {
            adamw_update_about(rec, opt, step, grad_scale, clip, grads.get(p.slot)?, &p.value, &p.m, &p.v, p.offset)?;
        }
        Ok(())
    }

    /// Reads every trained parameter back, by Hugging Face name and in its convention (Gemma's
    /// norms as `w`, not the model's `1 + w`), for
    /// [`crate::export::merge::MergeSource::with_trained`]. Checkpoints save the model's values
    /// ([`FullParams::iter`]).
    pub async fn to_host(&self, gpu: &Gpu) -> Result<std::collections::HashMap<String, Vec<f32>>> {
        let mut out = std::collections::HashMap::new();
        for p in &self.params {
            let mut values = p.value.to_vec(gpu).await?;
            if p.offset != 0.0 {
                values.iter_mut().for_each(|x| *x -= p.offset);
            }
            out.insert(p.name.clone(), values);
        }
        Ok(out)
    }

    /// Every tensor with its gradient in `grads`, in [`Slot::all`] order.
    pub fn with_grads<'a>(&'a self, grads: &'a FullGrads) -> Vec<(&'a GpuTensor, &'a GpuTensor)> {
        // Every slot of the model has a gradient (FullGrads is built from the same model).
        self.params.iter().filter_map(|p| grads.get(p.slot).ok().map(|g| (&p.value, g))).collect()
    }

    /// Every tensor with its Hugging Face name: `(name, value, m, v)`, in [`Slot::all`] order
    /// (`value` as the model holds it: see [`Slot::stored_offset`]).
    pub fn iter(&self) -> impl Iterator<Item = (String, &GpuTensor, &GpuTensor, &GpuTensor)> {
        self.params.iter().map(|p| (p.name.clone(), &p.value, &p.m, &p.v))
    }
}

/// A tensor aliasing the model's buffer for `slot`.
fn view(model: &Model, slot: Slot) -> Result<GpuTensor> {
    let w = &model.weights;
    let tensor = |t: &GpuTensor| GpuTensor { buffer: t.buffer.clone(), shape: t.shape.clone() };
    let matrix = |m: &Weight| match (m.ty, m.chunks.as_slice()) {
        (GgmlType::F32, [chunk]) => Ok(GpuTensor { buffer: chunk.buffer.clone(), shape: vec![m.rows, m.cols] }),
        _ => Err(Error::invalid("--full", format!("{} is {:?} in {} chunk(s): full fine-tuning trains f32 weights; convert the model with full::to_f32 at load (anytune train --full does)", m.name, m.ty, m.chunks.len()))),
    };
    let layer = |l: usize| -> Result<&LayerWeights> {
        w.layers.get(l).ok_or_else(|| Error::invalid("full fine-tuning layer", format!("{l} is not below {}", w.layers.len())))
    };
    let present = |t: &Option<GpuTensor>| {
        t.as_ref().map(tensor).ok_or_else(|| Error::invalid("--full", format!("{}: the model has no {slot:?}", model.name)))
    };
    match slot {
        Slot::Embedding => matrix(&w.token_embd),
        Slot::Head => matrix(w.lm_head()),
        Slot::Norm(Norm::Output) => Ok(tensor(&w.output_norm)),
        Slot::Norm(Norm::Attn(l)) => Ok(tensor(&layer(l)?.attn_norm)),
        Slot::Norm(Norm::Ffn(l)) => Ok(tensor(&layer(l)?.ffn_norm)),
        Slot::Norm(Norm::Q(l)) => present(&layer(l)?.q_norm),
        Slot::Norm(Norm::K(l)) => present(&layer(l)?.k_norm),
        Slot::Norm(Norm::PostAttn(l)) => present(&layer(l)?.post_attn_norm),
        Slot::Norm(Norm::PostFfn(l)) => present(&layer(l)?.post_ffn_norm),
        Slot::Bias(site) => {
            let lw = layer(site.layer)?;
            present(match site.target {
                Target::Q => &lw.bq,
                Target::K => &lw.bk,
                Target::V => &lw.bv,
                _ => &None,
            })
        }
        Slot::Linear(site) => {
            let lw = layer(site.layer)?;
            matrix(match site.target {
                Target::Q => &lw.wq,
                Target::K => &lw.wk,
                Target::V => &lw.wv,
                Target::O => &lw.wo,
                Target::Gate => &lw.w_gate,
                Target::Up => &lw.w_up,
                Target::Down => &lw.w_down,
            })
        }
    }
}
