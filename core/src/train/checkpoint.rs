//! Training checkpoints: everything needed to continue a run exactly — LoRA A and B, the AdamW
//! moments, the step, the data position and the best validation loss — in one safetensors file
//! (tensors `<layer>.<module>.<A|B>.<param|m|v>`, or with `--full` every parameter
//! `<HF name>.<param|m|v>`, the rest as JSON in `__metadata__`). The CLI
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
    /// What else the result depends on: the options and the data (absent in checkpoints of
    /// anytune before 0.1.1, which are checked by their LoRA layout only).
    #[serde(default)]
    pub run: Option<RunIdentity>,
}

/// What a run's result depends on besides its LoRA layout, so that a resume with other data
/// or other options is refused by name instead of silently continuing a different run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunIdentity {
    /// Every option as planned (after the software schedule), as JSON.
    pub options: serde_json::Value,
    /// FNV-1a 64 hashes (hex) of the training file and the validation file's bytes.
    pub train_data: String,
    pub val_data: Option<String>,
}

/// Options a resumed run may change: they decide when files are written, not what is trained.
pub const RESUMABLE_CHANGES: &[&str] = &["checkpoint_every"];

impl RunIdentity {
    /// The identity of a run with `options` on these data bytes.
    pub fn new(options: &crate::train::RunOptions, train: &[u8], val: Option<&[u8]>) -> RunIdentity {
        let options = serde_json::Value::Object(
            crate::train::RunOptions::schema().iter().filter_map(|s| Some((s.name.to_string(), options.get(s.name)?))).collect(),
        );
        RunIdentity { options, train_data: fnv1a64_hex(train), val_data: val.map(fnv1a64_hex) }
    }

    /// Why a checkpoint of `saved` cannot continue this run, naming each difference; `None`
    /// when it can.
    pub fn mismatch(&self, saved: &RunIdentity) -> Option<String> {
        let mut why = Vec::new();
        if saved.train_data != self.train_data {
            why.push(format!("the training data differs (hash {} in the checkpoint, {} now)", saved.train_data, self.train_data));
        }
        if saved.val_data != self.val_data {
            why.push("the validation file differs".to_string());
        }
        let options = crate::train::RunOptions::from_value;
        match (options(&saved.options), options(&self.options)) {
            (Ok(then), Ok(now)) => why.extend(then.differences(&now, RESUMABLE_CHANGES).into_iter().map(|d| format!("option {d}"))),
            _ => why.push("the checkpoint's options cannot be read".to_string()),
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// FNV-1a, 64 bits, as hex: a fingerprint of a data file (not a cryptographic hash).
fn fnv1a64_hex(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{h:016x}")
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
