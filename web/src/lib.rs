//! anytune in the browser: a thin wasm-bindgen shell over `anytune-core`, driven by the page's
//! Web Worker (`web/worker.js`). [`Engine`] holds the WebGPU device, the model and the training
//! run, and calls the same core functions as the CLI: `Model::load`, `RunPlan`/`TrainRun`,
//! `generate_with`, the PEFT/GGUF writers. Results cross the boundary as JSON strings or bytes;
//! errors as `JsError` (only here).

pub mod pipeline;
pub mod zip;

use anytune_core::data::DataFile;
use anytune_core::formats::source::ModelFiles;
use anytune_core::generate::{GenerateOptions, chat_prompt_ids, generate_with};
use anytune_core::gpu::{Gpu, GpuOptions};
use anytune_core::model::{AdapterWeights, Model};
use anytune_core::train::{AdapterFiles, RunOptions, RunPlan, TrainRun, check_fits, evaluate_file};
use wasm_bindgen::prelude::*;

/// anytune's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Every training option with its doc, default and allowed range (core's option schema), as
/// JSON: the page takes its form's defaults and bounds from here.
#[wasm_bindgen(js_name = optionSchema)]
pub fn option_schema() -> String {
    RunOptions::schema_json().to_string()
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn json(value: &impl serde::Serialize) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(js_err)
}

/// The WebGPU device, a model, and at most one training run.
#[wasm_bindgen]
pub struct Engine {
    gpu: Gpu,
    files: ModelFiles,
    model: Option<Model>,
    base_name: String,
    plan: Option<RunPlan>,
    run: Option<TrainRun>,
}

#[wasm_bindgen]
impl Engine {
    /// Opens the WebGPU adapter with its own limits and optional features.
    pub async fn open() -> Result<Engine, JsError> {
        let gpu = Gpu::new(&GpuOptions::default()).await.map_err(js_err)?;
        Ok(Engine { gpu, files: ModelFiles::new(), model: None, base_name: String::new(), plan: None, run: None })
    }

    /// The adapter as JSON: name, backend, limits, features, and `text` (what `anytune info`
    /// prints).
    #[wasm_bindgen(js_name = adapterInfo)]
    pub fn adapter_info(&self) -> Result<String, JsError> {
        let mut v = serde_json::to_value(&self.gpu.report).map_err(js_err)?;
        v["text"] = self.gpu.report.to_string().into();
        json(&v)
    }

    /// Adds one file of the next model (a `.gguf`, or the files of a Hugging Face folder).
    #[wasm_bindgen(js_name = addModelFile)]
    pub fn add_model_file(&mut self, name: &str, bytes: Vec<u8>) {
        self.files.add(name, bytes);
    }

    /// Loads the files added so far as the model (dropping any run) and returns its description
    /// as JSON; `name` goes into the adapter's `base_model_name_or_path`.
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&mut self, name: &str) -> Result<String, JsError> {
        let files = std::mem::take(&mut self.files);
        self.plan = None;
        self.run = None;
        self.model = None;
        let model = Model::load(&self.gpu, &files).map_err(js_err)?;
        let c = &model.config;
        let info = serde_json::json!({
            "name": name,
            "arch": c.arch.name(),
            "layers": c.n_layers,
            "dim": c.dim,
            "heads": c.n_heads,
            "kv_heads": c.n_kv_heads,
            "vocab": c.vocab_size,
            "parameters": c.parameter_count(),
            "weights_bytes": model.weights.gpu_bytes(),
            "chat_template": model.chat_template.is_some(),
            "types": model.tensor_types.iter().map(|(t, n)| format!("{t} ×{n}")).collect::<Vec<_>>(),
        });
        self.base_name = name.to_string();
        self.model = Some(model);
        json(&info)
    }

    fn model(&self) -> Result<&Model, JsError> {
        self.model.as_ref().ok_or_else(|| JsError::new("no model loaded"))
    }

    /// Prepares a run on dataset `name` with `options` (JSON with [`RunOptions`]' keys; missing
    /// keys take the defaults). Returns JSON: the data summary (format, counts, truncation, bad
    /// rows with lines), `summary_text`, trainable parameters, steps, sequence length, memory
    /// estimate, `fits` (and `fits_error`), notes. Bad rows without `skip_bad_rows` are an
    /// error naming the line.
    pub fn plan(&mut self, name: &str, bytes: &[u8], options: &str) -> Result<String, JsError> {
        self.plan = None;
        let options = RunOptions::from_json(options).map_err(js_err)?;
        let model = self.model()?;
        let plan = RunPlan::new(&self.gpu, model, DataFile { bytes, name }, None, &options, &self.base_name).map_err(js_err)?;
        let fits = check_fits(&self.gpu, &plan.memory);
        let out = serde_json::json!({
            "summary": plan.summary(),
            "summary_text": plan.summary().to_string(),
            "trainable": plan.lora.parameter_count(),
            "total_steps": plan.total_steps,
            "seq_len": plan.t,
            "memory": plan.memory,
            "memory_text": plan.memory.to_string(),
            "fits": fits.is_ok(),
            "fits_error": fits.err().map(|e| e.to_string()),
            "notes": plan.notes,
            "options": plan.options,
        });
        self.plan = Some(plan);
        json(&out)
    }

    /// Starts the planned run (allocating its buffers), from `checkpoint` bytes when given.
    pub fn start(&mut self, checkpoint: Option<Vec<u8>>) -> Result<(), JsError> {
        let plan = self.plan.take().ok_or_else(|| JsError::new("no run planned: choose a dataset first"))?;
        let model = self.model.as_ref().ok_or_else(|| JsError::new("no model loaded"))?;
        let mut run = TrainRun::start(&self.gpu, model, plan).map_err(js_err)?;
        if let Some(bytes) = checkpoint {
            run.resume(&self.gpu, &bytes, "the saved checkpoint").map_err(js_err)?;
        }
        self.run = Some(run);
        Ok(())
    }

    fn run(&self) -> Result<&TrainRun, JsError> {
        self.run.as_ref().ok_or_else(|| JsError::new("no training run"))
    }

    /// `[steps taken, total steps]` of the run.
    pub fn progress(&self) -> Result<Vec<u32>, JsError> {
        let run = self.run()?;
        Ok(vec![run.step_count() as u32, run.total_steps as u32])
    }

    /// One optimizer step (and validation when due); JSON of core's `StepOutcome`.
    pub async fn step(&mut self) -> Result<String, JsError> {
        let (gpu, model) = (&self.gpu, self.model.as_ref().ok_or_else(|| JsError::new("no model loaded"))?);
        let run = self.run.as_mut().ok_or_else(|| JsError::new("no training run"))?;
        let outcome = run.step(gpu, model).await.map_err(js_err)?;
        json(&outcome)
    }

    /// The run's checkpoint (adapter, optimizer state, step, data position) as bytes.
    pub async fn checkpoint(&self) -> Result<Vec<u8>, JsError> {
        self.run()?.checkpoint(&self.gpu).await.map_err(js_err)
    }

    async fn adapter_files(&self) -> Result<AdapterFiles, JsError> {
        let weights = self.run()?.adapter_weights(&self.gpu).await.map_err(js_err)?;
        AdapterFiles::new(&weights, self.model()?, &self.base_name).map_err(js_err)
    }

    /// The adapter in PEFT's format: a ZIP of `adapter_config.json` and `adapter_model.safetensors`.
    #[wasm_bindgen(js_name = peftZip)]
    pub async fn peft_zip(&self) -> Result<Vec<u8>, JsError> {
        let f = self.adapter_files().await?;
        let files: [(&str, &[u8]); 2] = [
            (anytune_core::lora::PEFT_CONFIG_FILE, f.config_json.as_bytes()),
            (anytune_core::lora::PEFT_WEIGHTS_FILE, &f.safetensors),
        ];
        Ok(zip::zip_stored(&files))
    }

    /// The adapter as a GGUF LoRA for llama.cpp's `--lora`.
    #[wasm_bindgen(js_name = ggufAdapter)]
    pub async fn gguf_adapter(&self) -> Result<Vec<u8>, JsError> {
        Ok(self.adapter_files().await?.gguf)
    }

    /// Loss, perplexity and token accuracy of dataset `name` (held-out data) under the base
    /// model or with the run's current adapter (`with_adapter`), through the same pipeline as
    /// `anytune eval` (core's `evaluate_file`); `options` is JSON with `max_seq_len`, `batch`,
    /// `train_on_everything`, `skip_bad_rows` (missing keys take the defaults). Returns JSON:
    /// `{loss, perplexity, accuracy, targets, sequences, summary}`.
    pub async fn evaluate(&self, name: &str, bytes: &[u8], options: &str, with_adapter: bool) -> Result<String, JsError> {
        let options = RunOptions::from_json(options).map_err(js_err)?;
        let adapter: Option<&dyn AdapterWeights> = if with_adapter { Some(self.run()?.adapter()) } else { None };
        let file = DataFile { bytes, name };
        json(&evaluate_file(&self.gpu, self.model()?, adapter, file, &options).await.map_err(js_err)?)
    }

    /// Greedy generation for `text` — rendered as a user message with the model's chat
    /// template when it has one, else used as a raw prompt — with the run's current adapter
    /// (`with_adapter`) or the base model alone. `on_text(piece)` streams the text.
    pub async fn generate(&self, text: &str, with_adapter: bool, max_tokens: usize, on_text: &js_sys::Function) -> Result<String, JsError> {
        let model = self.model()?;
        let ids = chat_prompt_ids(model, text).map_err(js_err)?;
        let adapter: Option<&dyn AdapterWeights> = if with_adapter { Some(self.run()?.adapter()) } else { None };
        let options = GenerateOptions { max_tokens, ..Default::default() };
        let stream = |piece: &str| {
            let _ = on_text.call1(&JsValue::NULL, &JsValue::from_str(piece));
        };
        let out = generate_with(&self.gpu, model, adapter, &ids, &options, stream).await.map_err(js_err)?;
        Ok(out.text)
    }
}
