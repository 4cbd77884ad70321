//! anytune in the browser: a thin wasm-bindgen shell over `anytune-core`, driven by the page's
//! Web Worker (`web/worker.js`). [`Engine`] holds the WebGPU device, the model and the training
//! run, and calls the same core functions as the CLI: `Model::load`, `RunPlan`/`TrainRun`,
//! `generate_with`, the PEFT/GGUF writers. Results cross the boundary as JSON strings or bytes;
//! errors as `JsError` (only here).

pub mod bench;
pub mod pipeline;
pub mod zip;

use anytune_core::data::DataFile;
use anytune_core::export::{ExportFormat, ExportOptions, ExportType, check_export_budget, estimate_gguf, export};
use anytune_core::formats::source::ModelFiles;
use anytune_core::generate::{GenerateOptions, Generator, chat_prompt_ids, generate_with};
use anytune_core::gpu::{Gpu, GpuOptions, KernelFamily};
use anytune_core::lora::LoraParams;
use anytune_core::model::{AdapterWeights, Model};
use anytune_core::sample::SamplingConfig;
use anytune_core::train::options::{Origin, RawValue};
use anytune_core::train::run::prepare_data;
use anytune_core::train::{
    AdapterFiles, RunOptions, RunPlan, TrainRun, check_budget, check_fits, evaluate_file, training_flops_per_token,
};
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

/// Each option of `options` (JSON, the page's form) checked on its own by core's schema
/// ([`RunOptions::set`]), so that every bad field is reported at once: JSON `{name: error}`,
/// empty when all are valid.
#[wasm_bindgen(js_name = optionErrors)]
pub fn option_errors(options: &str) -> Result<String, JsError> {
    let value: serde_json::Value = serde_json::from_str(options).map_err(js_err)?;
    let mut errors = serde_json::Map::new();
    for (key, v) in value.as_object().into_iter().flatten() {
        let mut o = RunOptions::default();
        if v.is_null() && o.get(key) == Some(serde_json::Value::Null) {
            continue;
        }
        if let Err(e) = o.set(key, &RawValue::from_json(v), &Origin::Api) {
            errors.insert(key.clone(), e.to_string().into());
        }
    }
    json(&errors)
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
    /// The memory a run may take in all (WebGPU reports no size) and where that figure came from.
    budget: Option<(u64, String)>,
    /// An answer in progress ([`Engine::generate_start`]) and the adapter it answers with (a
    /// copy taken when it started, so training steps between its tokens do not change it).
    answer: Option<(Generator, Option<LoraParams>)>,
}

#[wasm_bindgen]
impl Engine {
    /// Opens the WebGPU adapter with its own limits and optional features. `kernels` forces a
    /// kernel family (`"cpu"` or `"gpu"`, the page's `?kernels=`); none: chosen from the adapter.
    pub async fn open(kernels: Option<String>) -> Result<Engine, JsError> {
        let kernels = kernels.map(|k| KernelFamily::parse(&k, "kernels")).transpose().map_err(js_err)?;
        let gpu = Gpu::new(&GpuOptions { kernels, ..GpuOptions::default() }).await.map_err(js_err)?;
        Ok(Engine { gpu, files: ModelFiles::new(), model: None, base_name: String::new(), plan: None, run: None, budget: None, answer: None })
    }

    /// The adapter as JSON: name, backend, limits, features, and `text` (what `anytune info`
    /// prints).
    #[wasm_bindgen(js_name = adapterInfo)]
    pub fn adapter_info(&self) -> Result<String, JsError> {
        let mut v = serde_json::to_value(&self.gpu.report).map_err(js_err)?;
        v["text"] = self.gpu.report.to_string().into();
        json(&v)
    }

    /// Sets the memory budget every plan's whole estimate is checked against (`bytes`), and
    /// what it is (`source`, said in the refusal).
    #[wasm_bindgen(js_name = setMemoryBudget)]
    pub fn set_memory_budget(&mut self, bytes: f64, source: String) {
        self.budget = Some((bytes.max(0.0) as u64, source));
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
            "known_as": model.known_as,
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
        // PEFT's base_model_name_or_path: the name the model is known by (GGUF metadata), else `name`.
        self.base_name = model.known_as.clone().unwrap_or_else(|| name.to_string());
        self.model = Some(model);
        json(&info)
    }

    fn model(&self) -> Result<&Model, JsError> {
        self.model.as_ref().ok_or_else(|| JsError::new("no model loaded"))
    }

    /// Prepares a run on dataset `name` with `options` (JSON with [`RunOptions`]' keys; missing
    /// keys take the defaults). Returns JSON: the data summary (format, counts, truncation, bad
    /// rows with lines), `summary_text`, trainable parameters, steps, sequence length, memory
    /// estimate, `fits` (and `fits_error`: a buffer over the storage-binding limit, or the whole
    /// estimate over the memory budget), `flops_per_step`, `software` (a CPU adapter), notes.
    /// The options' `preset` (custom, quick, model: core's `train::model_preset::apply_preset`)
    /// resets and sets its options. Bad rows without `skip_bad_rows` are an error naming the line.
    pub fn plan(&mut self, name: &str, bytes: &[u8], options: &str) -> Result<String, JsError> {
        self.plan = None;
        let options = RunOptions::from_json(options).map_err(js_err)?;
        if options.head {
            return Err(js_err(anytune_core::Error::invalid("head", "a classification head is not on the page yet: train it with `anytune train --head`")));
        }
        let model = self.model()?;
        let file = DataFile { bytes, name };
        let dataset = prepare_data(model, file, None, &options.data_config()).map_err(js_err)?;
        let plan = RunPlan::from_dataset(&self.gpu, model, dataset, (file, None), &options, &self.base_name).map_err(js_err)?;
        let fits = check_fits(&self.gpu, &plan.memory)
            .and_then(|()| self.budget.as_ref().map_or(Ok(()), |(b, source)| check_budget(&plan.memory, *b, source)));
        let o = &plan.options;
        let flops_per_step = training_flops_per_token(model, &plan.lora, plan.t) * (o.batch * o.grad_accum * plan.t) as f64;
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
            "flops_per_step": flops_per_step,
            "software": self.gpu.report.device_type == "Cpu",
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
        self.adapter_files().await?.gguf.ok_or_else(|| JsError::new("a DoRA adapter has no GGUF LoRA: llama.cpp has no DoRA; download the PEFT files"))
    }

    /// The run's adapter merged into the base as a GGUF of `ty` (`q8_0`, `f16`, …), through
    /// core's `export`. The engine drops the base's files after `loadModel` (to spare memory),
    /// so the worker adds them again first (`addModelFile`); they are used here and dropped.
    /// Refused before any work when the export's estimated peak memory exceeds the budget (or
    /// the 4 GiB of wasm32 memory), saying both sizes.
    #[wasm_bindgen(js_name = exportGguf)]
    pub async fn export_gguf(&mut self, ty: &str) -> Result<Vec<u8>, JsError> {
        let files = std::mem::take(&mut self.files);
        if files.is_empty() {
            return Err(JsError::new("exportGguf: add the base model's files again (addModelFile) first"));
        }
        let ty = ExportType::parse(ty).map_err(js_err)?;
        let estimate = estimate_gguf(&files, ty).map_err(js_err)?;
        const WASM_MEMORY: u64 = 4 << 30;
        let (budget, source) = match &self.budget {
            Some((b, source)) if *b < WASM_MEMORY => (*b, source.clone()),
            _ => (WASM_MEMORY, "the 4 GiB of a wasm32 page's memory".to_string()),
        };
        check_export_budget(&estimate, ty, budget, &source).map_err(js_err)?;
        let weights = self.run()?.adapter_weights(&self.gpu).await.map_err(js_err)?;
        let out = export(&files, Some(&weights), "the run's adapter", &ExportOptions { format: ExportFormat::Gguf, ty }).map_err(js_err)?;
        out.files.into_iter().find(|(name, _)| name == "model.gguf").map(|(_, bytes)| bytes).ok_or_else(|| JsError::new("the export wrote no model.gguf"))
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

    /// Starts answering `text` one token at a time: each [`Engine::generate_next`] call makes
    /// one token, so the worker can train, pause or stop between them. `text` is a user message
    /// rendered with the model's chat template (when it has one), or with `raw` a prompt
    /// continued as it is. `temperature` 0 is greedy, else sampled with `seed`. With
    /// `with_adapter`, the run's adapter as it is now.
    #[wasm_bindgen(js_name = generateStart)]
    pub async fn generate_start(&mut self, text: &str, with_adapter: bool, max_tokens: usize, temperature: f32, raw: bool, seed: u32) -> Result<(), JsError> {
        self.answer = None;
        let model = self.model()?;
        let ids = match raw {
            true => model.tokenizer.encode(text, true),
            false => chat_prompt_ids(model, text),
        }
        .map_err(js_err)?;
        let sampling = SamplingConfig { temperature, seed: seed as u64, ..SamplingConfig::greedy() };
        let options = GenerateOptions { max_tokens, sampling, ..Default::default() };
        options.validate(model.config.max_seq_len).map_err(js_err)?;
        let generator = Generator::new(&self.gpu, model, &ids, &options).map_err(js_err)?;
        let adapter = match with_adapter {
            true => {
                let weights = self.run()?.adapter_weights(&self.gpu).await.map_err(js_err)?;
                Some(LoraParams::from_weights(&self.gpu, model, &weights).map_err(js_err)?)
            }
            false => None,
        };
        self.answer = Some((generator, adapter));
        Ok(())
    }

    /// The next piece of the answer in progress (maybe empty), or `undefined` when it has ended.
    #[wasm_bindgen(js_name = generateNext)]
    pub async fn generate_next(&mut self) -> Result<Option<String>, JsError> {
        let model = self.model.as_ref().ok_or_else(|| JsError::new("no model loaded"))?;
        let Some((generator, adapter)) = self.answer.as_mut() else { return Ok(None) };
        let adapter = adapter.as_ref().map(|a| a as &dyn AdapterWeights);
        let piece = generator.next_token(&self.gpu, model, adapter).await;
        if !matches!(piece, Ok(Some(_))) {
            self.answer = None;
        }
        piece.map_err(js_err)
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
