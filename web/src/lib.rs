//! anytune in the browser: a thin wasm-bindgen shell over `anytune-core`. It grows into the
//! training worker with the web-page issue; for now it opens the WebGPU adapter and reports it.
//! Errors cross the boundary as `JsError` only here.

use anytune_core::gpu::{Gpu, GpuOptions};
use wasm_bindgen::prelude::*;

/// anytune's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Opens the WebGPU adapter and returns what `anytune info` prints about it.
#[wasm_bindgen(js_name = adapterInfo)]
pub async fn adapter_info() -> Result<String, JsError> {
    let gpu = Gpu::new(&GpuOptions::default()).await.map_err(|e| JsError::new(&e.to_string()))?;
    Ok(gpu.report.to_string())
}
