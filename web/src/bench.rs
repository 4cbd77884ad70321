//! `Engine.benchTrain`: the browser's `anytune bench --train` — core's timed LoRA step
//! ([`bench_step`]) on the loaded model, so the page's speed is measured exactly as the native
//! binary's (same batch, shapes, warm-up), with GPU time per kernel where the adapter has
//! timestamp queries. `tests/browser/speed.mjs` compares the two.

use crate::{Engine, js_err, json};
use anytune_core::train::ActivationStore;
use anytune_core::train::bench_step::{StepBench, bench_step};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// The options of [`Engine::bench_train`], as JSON (each may be left out).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct BenchOptions {
    batch: usize,
    tokens: usize,
    rank: usize,
    targets: String,
    layers: String,
    recompute: bool,
    /// `auto`, `f32` or `16bit` (`--saved-activations`).
    saved_activations: String,
    iters: usize,
    profile: bool,
}

impl Default for BenchOptions {
    /// `anytune bench --train`'s defaults.
    fn default() -> Self {
        BenchOptions { batch: 1, tokens: 128, rank: 8, targets: "q_proj,v_proj".into(), layers: "all".into(), recompute: false, saved_activations: "auto".into(), iters: 3, profile: false }
    }
}

#[wasm_bindgen]
impl Engine {
    /// Times LoRA training steps of the loaded model: `options` JSON with `batch`, `tokens`,
    /// `rank`, `targets`, `layers`, `recompute`, `saved_activations`, `iters`, `profile` (the flags of `anytune bench
    /// --train`, same defaults). Returns core's `StepTiming` as JSON (seconds per step, tokens/s,
    /// dispatches, memory estimate, and with `profile` GPU time per kernel). The worker runs it
    /// between other messages (never during a step of a run).
    #[wasm_bindgen(js_name = benchTrain)]
    pub async fn bench_train(&self, options: &str) -> Result<String, JsError> {
        let o: BenchOptions = serde_json::from_str(options).map_err(|e| js_err(format!("benchTrain options: {e}")))?;
        let saved_activations = ActivationStore::parse(&o.saved_activations).map_err(js_err)?;
        let setup = StepBench { batch: o.batch, tokens: o.tokens, rank: o.rank, targets: o.targets, layers: o.layers, recompute: o.recompute, saved_activations, iters: o.iters, profile: o.profile };
        let timing = bench_step(&self.gpu, self.model()?, &setup, &|| js_sys::Date::now() / 1000.0).await.map_err(js_err)?;
        json(&timing)
    }
}
