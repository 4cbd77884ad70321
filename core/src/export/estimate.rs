//! How big an export will be before it is made, so the web page can refuse one that does not fit
//! its memory: the file (each tensor in the type the export gives it, plus the base's metadata)
//! and the peak while exporting — the base's files, which stay in memory, the writer's tensors
//! and the finished file (both held at the end), and one tensor's f32 values merged.

use super::gguf::tensor_type;
use super::merge::MergeSource;
use super::types::ExportType;
use crate::error::{Error, Result};
use crate::formats::ModelFiles;

/// Sizes of a GGUF export, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportEstimate {
    /// The exported file.
    pub file_bytes: u64,
    /// Memory held at the peak of the export.
    pub peak_bytes: u64,
}

/// The sizes of exporting the model in `files` as a GGUF of `ty`.
pub fn estimate_gguf(files: &ModelFiles, ty: ExportType) -> Result<ExportEstimate> {
    let src = MergeSource::open(files, None, "")?;
    let input: u64 = (0..files.len()).map(|i| files.bytes(i).len() as u64).sum();
    let (mut base_tensors, mut out_tensors, mut largest) = (0u64, 0u64, 0u64);
    for p in src.plan() {
        let cols = p.shape.last().copied().unwrap_or(1);
        let rows = (p.shape.iter().product::<usize>() / cols.max(1)) as u64;
        base_tensors += rows * src.stored_type(p)?.row_bytes(cols) as u64;
        out_tensors += rows * tensor_type(&src, p, ty).row_bytes(cols) as u64;
        largest = largest.max(rows * cols as u64 * 4);
    }
    // The metadata (vocabulary, chat template) is copied from the base as it is.
    let file_bytes = out_tensors + input.saturating_sub(base_tensors);
    Ok(ExportEstimate { file_bytes, peak_bytes: input + 2 * file_bytes + 2 * largest })
}

/// Refuses an export whose peak exceeds `budget` bytes (`source` says what the budget is).
pub fn check_export_budget(e: &ExportEstimate, ty: ExportType, budget: u64, source: &str) -> Result<()> {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    if e.peak_bytes > budget {
        return Err(Error::TooLarge {
            what: format!(
                "exporting the merged model as {} needs about {:.0} MiB of memory (a {:.0} MiB file, the base model and the \
                 writer's copy): choose a smaller type, or export with `anytune export` on a computer",
                ty.name(),
                mib(e.peak_bytes),
                mib(e.file_bytes)
            ),
            limit: format!("{:.0} MiB, {source}", mib(budget)),
        });
    }
    Ok(())
}
