//! Dataset files → prepared sequences, for `anytune eval` (training goes through core's
//! `RunPlan`, which prepares its files the same way).

use anyhow::Result;
use anytune_core::data::{DataConfig, DataFile, Dataset, read_dataset_path};
use anytune_core::model::Model;
use anytune_core::train::run::prepare_data;
use std::path::Path;

/// Reads `path` and prepares it for `model` (its chat template renders chat rows); prints the
/// summary.
pub fn prepare_file(model: &Model, path: &Path, cfg: &DataConfig) -> Result<Dataset> {
    let (bytes, name) = read_dataset_path(path)?;
    let dataset = prepare_data(model, DataFile { bytes: &bytes, name: &name }, None, cfg)?;
    eprintln!("{}", dataset.summary);
    Ok(dataset)
}
