//! The page's steps around training, through the same core functions as the CLI:
//! `anytune data inspect` ([`Engine::inspect`]), `anytune data clean` ([`Engine::clean`]),
//! `anytune data convert` ([`Engine::convert`]),
//! `anytune compare` ([`Engine::compare`], rated on the page with core's `rate.js`) and
//! `anytune eval` ([`Engine::eval_metrics`]), and the workshop's per-token view
//! ([`Engine::token_losses`]). Results are JSON strings, as in `lib.rs`.

use crate::{Engine, js_err, json};
use anytune_core::chat::Message;
use anytune_core::compare::prompts::read_prompts;
use anytune_core::compare::{Report, answer, html};
use anytune_core::data::DataFile;
use anytune_core::data::encode::RenderChat;
use anytune_core::eval::token_losses::token_losses;
use anytune_core::eval::{EvalConfig, evaluate};
use anytune_core::generate::GenerateOptions;
use anytune_core::model::AdapterWeights;
use anytune_core::prep::clean::{CleanOptions, clean};
use anytune_core::prep::convert::{ConvertOptions, convert};
use anytune_core::prep::inspect::{InspectOptions, inspect};
use anytune_core::train::RunOptions;
use wasm_bindgen::prelude::*;

/// Good rows shown token by token for the page's row picker: the first this many.
pub const SHOWN_ROWS: usize = 100;

/// The adapter's name in the page's comparison (and in its marks).
pub const PAGE_ADAPTER: &str = "adapter";

/// core's blinded rating component (`compare/rate.js`), for the page to import.
#[wasm_bindgen(js_name = rateJs)]
pub fn rate_js() -> String {
    html::RATE_JS.to_string()
}

/// The rating component's style (`compare/rate.css`).
#[wasm_bindgen(js_name = rateCss)]
pub fn rate_css() -> String {
    html::RATE_CSS.to_string()
}

#[wasm_bindgen]
impl Engine {
    /// core's `inspect` of dataset `name` with the loaded model's tokenizer and chat template;
    /// `options` is the run's options JSON (its `max_seq_len` and `train_on_everything` apply).
    /// Returns the report's JSON (as `anytune data inspect --json`) with `text` (what the CLI
    /// prints) and the first [`SHOWN_ROWS`] good rows token by token in `shown_rows`.
    pub fn inspect(&self, name: &str, bytes: &[u8], options: &str) -> Result<String, JsError> {
        let run = RunOptions::from_json(options).map_err(js_err)?;
        let model = self.model()?;
        let opts = InspectOptions {
            max_seq_len: run.max_seq_len,
            train_on_everything: run.train_on_everything,
            show_first: SHOWN_ROWS,
            ..InspectOptions::default()
        };
        let render = |m: &[Message], g: bool| model.render_chat(m, g);
        let render: Option<RenderChat> = model.chat_template.as_ref().map(|_| &render as RenderChat);
        let report = inspect(DataFile { bytes, name }, &model.tokenizer, render, &opts).map_err(js_err)?;
        let mut v = serde_json::to_value(&report).map_err(js_err)?;
        v["text"] = report.to_string().into();
        json(&v)
    }

    /// core's `clean` of dataset `name`; `options` is [`CleanOptions`] as JSON (missing keys
    /// take the defaults: every rule on). Returns JSON `{report, text, jsonl}`: the report
    /// (every dropped or changed row with its line and reason), what the CLI prints, and the
    /// cleaned rows as JSONL text.
    pub fn clean(&self, name: &str, bytes: &[u8], options: &str) -> Result<String, JsError> {
        let opts: CleanOptions = serde_json::from_str(options).map_err(|e| js_err(format!("clean options: {e}")))?;
        let out = clean(DataFile { bytes, name }, &opts).map_err(js_err)?;
        let jsonl = String::from_utf8(out.jsonl).map_err(js_err)?;
        json(&serde_json::json!({ "text": out.report.to_string(), "report": out.report, "jsonl": jsonl }))
    }

    /// core's `convert` of dataset `name` into chat rows (`anytune data convert`); `options` is
    /// [`ConvertOptions`] as JSON (the CSV columns of prompt, completion, text and label, a system
    /// prompt). Returns JSON `{report, text, jsonl}`: the report (rows, every skipped row with its
    /// line), a one-line summary and the chat rows as JSONL text.
    pub fn convert(&self, name: &str, bytes: &[u8], options: &str) -> Result<String, JsError> {
        let opts: ConvertOptions = serde_json::from_str(options).map_err(|e| js_err(format!("convert options: {e}")))?;
        let out = convert(DataFile { bytes, name }, &opts).map_err(js_err)?;
        let jsonl = String::from_utf8(out.jsonl).map_err(js_err)?;
        let r = &out.report;
        let text = format!("{}: {} → {} chat rows, {} bad rows skipped", r.file, r.from, r.rows, r.bad_rows.len());
        json(&serde_json::json!({ "text": text, "report": out.report, "jsonl": jsonl }))
    }

    /// `anytune compare` on the page: the prompts file `name` (`.txt`: one user message per
    /// line, or with `raw` one raw prompt per line, as `--raw`; `.jsonl`: rows with `prompt` or `messages` and an optional `expected`, so a
    /// prompt/completion dataset works as it is) answered by the base model and by the run's
    /// adapter with the same greedy sampling (`max_tokens` new tokens at most), paired in an
    /// order blinded with `seed`. `on_progress(system, prompt, prompts)` is called before each
    /// answer. Returns what rate.js's `mountCompare` reads (core's `html::page_data`).
    pub async fn compare(&self, name: &str, bytes: &[u8], raw: bool, max_tokens: usize, seed: u32, on_progress: &js_sys::Function) -> Result<String, JsError> {
        let model = self.model()?;
        let adapter: &dyn AdapterWeights = self.run()?.adapter();
        let prompts = read_prompts(bytes, name, raw).map_err(js_err)?;
        let options = GenerateOptions { max_tokens, ..GenerateOptions::default() };
        let total = prompts.len() as u32;
        let progress = |s: usize, p: usize| {
            let _ = on_progress.call3(&JsValue::NULL, &(s as u32).into(), &(p as u32).into(), &total.into());
        };
        let answers = answer::answer_all(&self.gpu, model, &[None, Some(adapter)], &prompts, name, &options, progress).await.map_err(js_err)?;
        let report = Report::new(name, prompts, &[PAGE_ADAPTER.to_string()], answers, &answer::describe(&options), seed as u64).map_err(js_err)?;
        Ok(html::page_data(&report))
    }

    /// `anytune eval` on dataset `name` under the base model or with the run's adapter
    /// (`with_adapter`): loss, perplexity, token accuracy, and exact/contains/starts-with on
    /// prompt → answer rows (greedy answers) and accuracy/F1 on label rows. `options` is the
    /// run's options JSON (`max_seq_len`, `batch`, `train_on_everything`, `skip_bad_rows`).
    /// Returns core's `ModelEval` as JSON.
    #[wasm_bindgen(js_name = evalMetrics)]
    pub async fn eval_metrics(&self, name: &str, bytes: &[u8], options: &str, with_adapter: bool) -> Result<String, JsError> {
        let options = RunOptions::from_json(options).map_err(js_err)?;
        let adapter: Option<&dyn AdapterWeights> = if with_adapter { Some(self.run()?.adapter()) } else { None };
        let cfg = EvalConfig { options, labels: None, generate: true, max_tokens: None, head: None };
        json(&evaluate(&self.gpu, self.model()?, adapter, DataFile { bytes, name }, &cfg).await.map_err(js_err)?)
    }

    /// Every token of the rows of `name` (at most 16) with its loss under the base model and,
    /// once a run exists, with its adapter (core's `eval::token_losses`). `options`: the run's
    /// options JSON. Returns a JSON array of rows `{tokens: [{text, trained, base, adapted}],
    /// base_mean, adapted_mean}`.
    #[wasm_bindgen(js_name = tokenLosses)]
    pub async fn token_losses(&self, name: &str, bytes: &[u8], options: &str) -> Result<String, JsError> {
        let options = RunOptions::from_json(options).map_err(js_err)?;
        let adapter: Option<&dyn AdapterWeights> = self.run.as_ref().map(|r| r.adapter() as &dyn AdapterWeights);
        json(&token_losses(&self.gpu, self.model()?, adapter, DataFile { bytes, name }, &options).await.map_err(js_err)?)
    }
}
