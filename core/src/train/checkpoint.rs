//! Training checkpoints: everything needed to continue a run exactly — LoRA A and B, the AdamW
//! moments, the step, the data position and the best validation loss — in one safetensors file
//! (tensors `<layer>.<module>.<A|B>.<param|m|v>`, the rest as JSON in `__metadata__`). The CLI
//! writes it to a temporary name and renames it over the old one, so a run killed at any moment
//! leaves the last complete checkpoint.

use super::trainer::Trainer;
use crate::data::DataPosition;
use crate::error::{Error, Result};
use crate::formats::safetensors::SafetensorsFile;
use crate::formats::safetensors_write::SafetensorsWriter;
use crate::gpu::Gpu;

/// The scalar part of a checkpoint.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointInfo {
    /// Optimizer steps taken.
    pub step: usize,
    /// Where the training batches continue.
    pub data: DataPosition,
    /// Lowest validation loss so far.
    pub best_val_loss: Option<f32>,
    /// Evaluations since the best one (early stopping).
    pub evals_since_best: usize,
    /// The LoRA configuration the tensors belong to (`adapter_config.json` text).
    pub adapter_config: String,
}

const INFO_KEY: &str = "anytune_checkpoint";

impl Trainer {
    /// Serialises the trainer's state with `info` (its `step` is taken from the trainer).
    pub async fn checkpoint_bytes(&self, gpu: &Gpu, mut info: CheckpointInfo) -> Result<Vec<u8>> {
        info.step = self.step;
        let mut w = SafetensorsWriter::new();
        w.set_metadata(INFO_KEY, serde_json::to_string(&info).map_err(|e| Error::invalid("checkpoint", e.to_string()))?);
        let state = self.state_tensors();
        let tensors: Vec<&crate::gpu::GpuTensor> = state.iter().map(|(_, t)| *t).collect();
        let values = crate::gpu::readback::read_tensors(gpu, &tensors).await?;
        for ((name, tensor), values) in state.into_iter().zip(values) {
            w.add_f32(name, &tensor.shape, &values)?;
        }
        w.to_bytes()
    }

    /// Restores a state written by [`Trainer::checkpoint_bytes`] into this trainer (same model,
    /// adapter layout and batch shape); `file` names it in errors.
    pub fn restore_checkpoint(&mut self, gpu: &Gpu, bytes: &[u8], file: &str) -> Result<CheckpointInfo> {
        let st = SafetensorsFile::parse(bytes, file)?;
        let info: CheckpointInfo = st
            .metadata
            .get(INFO_KEY)
            .ok_or_else(|| Error::format(file, "not an anytune checkpoint (no anytune_checkpoint metadata)"))
            .and_then(|j| serde_json::from_str(j).map_err(|e| Error::format(file, format!("checkpoint metadata: {e}"))))?;
        for (name, tensor) in self.state_tensors() {
            let t = st.tensor(&name).ok_or_else(|| Error::format(file, format!("tensor {name} is missing")))?;
            if t.shape != tensor.shape || t.ty(file)? != crate::quant::GgmlType::F32 {
                return Err(Error::format(
                    file,
                    format!("tensor {name}: {:?} does not match this run's {:?} f32 (other LoRA settings?)", t.shape, tensor.shape),
                ));
            }
            tensor.write(gpu, &bytemuck::pod_collect_to_vec::<u8, f32>(t.bytes(bytes)));
        }
        self.step = info.step;
        Ok(info)
    }
}
