// The page: WebGPU detection, model, dataset, options, training controls, chart, "Try it",
// downloads, and the saved run. All the work happens in web/worker.js; this file only talks to
// it and updates the page. `window.anytuneStatus` mirrors the run for tests and the console.

import { LossChart } from "./chart.js";
import { initSteps } from "./steps.js";
import { commandLine, runToml } from "./command.js";
import { preview } from "./preview.js";

const $ = (id) => document.getElementById(id);
const status = { state: "idle", step: 0, total: 0, train: [], val: [], model: null, pausing: false, answering: false, restored: false };
window.anytuneStatus = status;
const chart = new LossChart($("chart"));
let worker = null;
let modelSource = null; // "default" | { name, sizes }
let dataset = null; // { name, bytes }
let savedMeta = null;
let genId = 0;
let tokensSeen = 0, secondsSpent = 0;
let browserAdapterName = "";
let steps = null; // web/steps.js: inspect and Clean, prompts rated blind, test-set metrics
let schema = []; // core's option schema (optionSchema())
let lastPlan = null;
let memoryBudget = ""; // what a run's whole estimate is checked against (the worker says)
let software = false; // a CPU adapter (SwiftShader, lavapipe): the quick demo is core's short schedule
let measured = { flops: 0, seconds: 0 }; // of this session's steps: the quick demo's time estimate

/// A section that is off is greyed out and inert: no clicks, no keyboard focus, no key presses.
function enable(section, on) {
  $(section).classList.toggle("off", !on);
  $(section).inert = !on;
}

function show(id, text, cls) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("hidden", !text);
  if (cls !== undefined) el.className = cls + (text ? "" : " hidden");
}

async function main() {
  if (!navigator.gpu) {
    show("gpu-status", "WebGPU is not available in this browser, so anytune cannot run here.\n" +
      "Use a recent Chrome or Edge (on Linux: chrome://flags/#enable-unsafe-webgpu, or start Chromium with " +
      "--enable-unsafe-webgpu), Safari 26+ or Firefox with WebGPU enabled — or run anytune natively: " +
      "`anytune train --data your.jsonl --out adapter`.", "bad");
    return;
  }
  // wgpu leaves the adapter's name empty in a browser; the page can ask WebGPU itself.
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  if (!adapter) return show("gpu-status", noAdapterHelp(""), "bad");
  const info = adapter.info;
  browserAdapterName = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(" ") || "WebGPU adapter";
  await offlineSupport();
  if (new URLSearchParams(location.search).has("workshop")) {
    const { startWorkshop } = await import("./workshop.js");
    return startWorkshop(browserAdapterName);
  }
  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = (e) => onMessage(e.data);
  worker.onerror = (e) => show("gpu-status", "The training worker failed to start: " + e.message, "bad");
  // `?kernels=cpu|gpu` forces a kernel family (tests, measurements); else core chooses.
  worker.postMessage({ type: "init", kernels: new URLSearchParams(location.search).get("kernels") });
  steps = initSteps({ post: (m) => worker.postMessage(m), options, dataset: () => dataset, useDataset, status });
  wire();
}

/// What to do when the browser has WebGPU but gives no adapter (WebGPU turned off, the GPU
/// blocklisted, hardware acceleration off); `detail` is what wgpu said, if anything.
function noAdapterHelp(detail) {
  return "This browser has WebGPU, but it offers no GPU adapter, so anytune cannot run here.\n" +
    "Check that hardware acceleration is on (chrome://settings/system) and what chrome://gpu says about WebGPU; " +
    "on Linux start Chromium with --enable-unsafe-webgpu --enable-features=Vulkan. " +
    "Or run anytune natively: `anytune train --data your.jsonl --out adapter`." +
    (detail ? `\n\nDetails: ${detail.split("\n")[0]}` : "");
}

/// Registers the service worker that keeps the page, the wasm and the model for offline use, and
/// on a first visit waits (briefly) until it controls the page, so that the training worker's
/// model download goes through it and is kept.
async function offlineSupport() {
  if (!navigator.serviceWorker) return;
  const timeout = (ms) => new Promise((r) => setTimeout(r, ms));
  try {
    await navigator.serviceWorker.register(new URL("./sw.js", import.meta.url), { scope: "../" });
    if (navigator.serviceWorker.controller) return;
    const claimed = new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
    await Promise.race([navigator.serviceWorker.ready.then(() => claimed), timeout(5000)]);
  } catch (e) {
    console.warn("anytune: no offline support (service worker not registered):", e.message);
  }
}

function onMessage(msg) {
  if (steps.onMessage(msg)) return;
  switch (msg.type) {
    case "schema": return applySchema(msg.schema);
    case "optionErrors": return stalePlan(msg) || showFieldErrors(msg.errors);
    case "answering":
      status.answering = msg.busy;
      return showTrainState();
    case "gpu": {
      memoryBudget = msg.budget;
      show("gpu-status", msg.info.text.trim().replace(/^adapter: (?=\(|$)/m, `adapter: ${browserAdapterName} `) +
        `\n(WebGPU in a worker; limits are the adapter's own. A run's whole memory estimate is checked against ${msg.budget}.)`, "");
      enable("model-section", true);
      break;
    }
    case "modelProgress":
      show("model-status", `Fetching the model: ${(msg.got / 1048576).toFixed(1)}` +
        (msg.total ? ` of ${(msg.total / 1048576).toFixed(1)} MiB` : " MiB"));
      break;
    case "model": {
      const m = msg.info;
      modelSource = msg.source;
      status.model = m;
      show("model-status", `${m.name}: ${m.arch}, ${m.layers} layers, dim ${m.dim}, ${m.heads} heads / ${m.kv_heads} KV heads, ` +
        `vocab ${m.vocab}, ${(m.parameters / 1e6).toFixed(1)} M parameters (${m.types.join(", ")}), ` +
        `${(m.weights_bytes / 1048576).toFixed(1)} MiB on the GPU${m.chat_template ? ", chat template" : ""}`, "good");
      enable("data-section", true);
      enable("try-section", true); // the base model answers before any training
      enable("options-section", true);
      if (dataset) { plan(); steps.datasetChanged(dataset, "picked"); }
      break;
    }
    case "plan": return stalePlan(msg) || onPlan(msg.plan);
    case "started": return onStarted(msg);
    case "step": return onStep(msg.outcome, msg.seconds);
    case "state": return onState(msg.state);
    case "gen": {
      const side = msg.id[0];
      if (pendingGen[side] !== msg.id) break; // a piece of an answer no box waits for any more
      const out = $(side === "a" ? "out-adapter" : "out-base");
      if (msg.done) {
        out.dataset.done = "1";
        if (!out.textContent) out.textContent = "(no text: the model ended its answer at once)";
        genFinished(side);
      } else {
        out.textContent += msg.piece;
      }
      break;
    }
    case "download":
      if (msg.kind.includes("-merged-")) show("merged-status", `Downloaded ${msg.kind} (${(msg.bytes.length / 2 ** 20).toFixed(1)} MiB).`, "");
      return save(msg.kind, msg.bytes);
    case "saved": savedMeta = msg.meta; return showSaved();
    case "benchTrain": return bench.settle(msg.timing);
    case "error": return onError(msg);
  }
}

/// `anytuneBench(options)` in the console (and tests/browser/speed.mjs): the browser's `anytune
/// bench --train` on the loaded model — core's timed LoRA step with the same options — resolving
/// to its timing (seconds per step, tokens/s, dispatches, memory, GPU time per kernel).
const bench = {
  pending: null,
  run(options) {
    if (this.pending) return Promise.reject(new Error("a benchmark is already running"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      worker.postMessage({ type: "benchTrain", options });
    });
  },
  settle(timing, error) {
    const p = this.pending;
    this.pending = null;
    if (p) error ? p.reject(new Error(error)) : p.resolve(timing);
  },
};
window.anytuneBench = (options = {}) => bench.run(options);

function onError(msg) {
  if (msg.context === "plan" && stalePlan(msg)) return;
  if (msg.context === "benchTrain") return bench.settle(null, msg.message);
  const text = msg.message;
  if (msg.context === "plan" && text.startsWith("invalid ")) {
    // An option outside its range (core's schema names it and its range): not the dataset's fault.
    show("plan-status", `Fix the option marked above: ${text}`, "bad");
    enable("train-section", false);
  } else if (msg.context === "plan") {
    show("data-summary", ""); // the previous dataset's summary would read as this one's
    show("data-errors", text);
    show("plan-status", "Fix the dataset (or tick “skip bad rows”) to continue.");
    enable("train-section", false);
  } else if (msg.context === "loadModel" || msg.context === "restoreSaved") {
    show("model-status", text, "bad");
  } else if (msg.context === "init") {
    show("gpu-status", noAdapterHelp(text), "bad");
  } else if (msg.context === "download" && msg.id === "merged") {
    show("merged-status", text, "bad");
  } else if (msg.context === "generate") {
    const side = msg.id && msg.id.startsWith("a") ? "a" : "b";
    $(side === "a" ? "out-adapter" : "out-base").textContent = "error: " + text;
    genFinished(side);
  } else {
    show("stats", "error: " + text, "bad");
  }
}

function wire() {
  $("load-model").onclick = () => {
    const source = document.querySelector("input[name=model-source]:checked").value;
    const files = [...$("model-file").files];
    if (source === "files" && !files.length) return show("model-status", "Choose the model file(s) first.", "bad");
    show("model-status", "Loading…", "");
    worker.postMessage({ type: "loadModel", source, files });
  };
  $("model-file").onchange = () => { document.querySelector("input[value=files]").checked = true; };
  $("data-file").onchange = (e) => e.target.files[0] && readDataset(e.target.files[0]);
  const drop = $("drop");
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) readDataset(e.dataTransfer.files[0]);
  };
  $("sample-zorblax").onclick = () => fetchSample("tests/data/zorblax.jsonl");
  $("sample-chat").onclick = () => fetchSample("tests/data/zorblax_chat.jsonl");
  $("options").oninput = (e) => {
    // Changing an option by hand leaves the preset: the fields are the run. Choosing a preset
    // puts the options presets set back to their defaults first.
    if (e.target.name === "preset") resetPresetFields();
    else $("options").elements.preset.value = "custom";
    e.target.classList.remove("planned");
    if (dataset) plan();
  };
  $("download-toml").onclick = () => lastPlan && saveText("run.toml", runToml(lastPlan.options, schema, runFiles()));
  $("start").onclick = () => {
    $("start").disabled = true;
    worker.postMessage({ type: "start" });
  };
  $("pause").onclick = () => {
    // The worker stops after the step (or answer token) in progress: say so at once.
    status.pausing = true;
    $("pause").disabled = true;
    showTrainState();
    worker.postMessage({ type: "pause" });
  };
  $("resume").onclick = () => worker.postMessage({ type: "resume" });
  $("stop").onclick = () => worker.postMessage({ type: "stop" });
  $("generate").onclick = generate;
  $("download-peft").onclick = () => worker.postMessage({ type: "download", kind: "peft" });
  $("download-gguf").onclick = () => worker.postMessage({ type: "download", kind: "gguf" });
  $("download-merged").onclick = () => {
    const ggufType = $("merged-type").value;
    show("merged-status", `Merging the adapter into the base as ${ggufType}…`, "");
    worker.postMessage({ type: "download", kind: "merged", id: "merged", ggufType });
  };
  $("resume-saved").onclick = resumeSaved;
  $("saved-model-file").onchange = (e) => restore([...e.target.files]);
  $("discard-saved").onclick = () => worker.postMessage({ type: "discardSaved" });
}

async function fetchSample(url) {
  const res = await fetch(url);
  readDataset(new File([await res.arrayBuffer()], url.split("/").pop()));
}

async function readDataset(file) {
  useDataset(file.name, new Uint8Array(await file.arrayBuffer()), "picked");
}

/// Makes `bytes` the dataset (`how`: "picked", "cleaned" by Clean or "Drop these rows", or
/// "converted" from a CSV's columns) and plans the run.
function useDataset(name, bytes, how) {
  dataset = { name, bytes };
  $("data-preview").replaceChildren(preview(new TextDecoder().decode(bytes.subarray(0, 64 * 1024)), name));
  plan();
  if (status.model) steps.datasetChanged(dataset, how);
}

// Values the page starts with where they differ from anytune's defaults: a page shows a
// validation curve, so it holds out 10% and validates every 5 steps.
const PAGE_PRESETS = { val_split: 0.1, eval_every: 5 };

/// The form's defaults, bounds and tooltips from core's option schema (`optionSchema()`), so
/// the page never declares an option's default or range itself. Out-of-range values are still
/// refused by core when the run is planned, with the option's name and range.
function applySchema(list) {
  schema = list;
  const f = $("options").elements;
  for (const o of schema) {
    const input = f[o.name];
    if (!input) continue;
    input.title = `${o.doc} Allowed: ${o.range}.`;
    const value = o.name in PAGE_PRESETS ? PAGE_PRESETS[o.name] : o.default;
    if (o.kind === "flag") { input.checked = Boolean(value); continue; }
    if (o.kind === "count" || o.kind === "real") {
      input.min = o.min;
      if (o.max < 1e15) input.max = o.max;
      input.step = o.kind === "count" ? "1" : "any";
    }
    if (input.tagName !== "SELECT" && value !== null) input.value = value;
  }
}

/// The options a preset sets (core's `apply_preset`): choosing another preset puts them back to
/// the page's defaults first, so the previous preset's values (epochs, validation interval) do
/// not stay behind in the fields.
const PRESET_FIELDS = ["steps", "epochs", "batch", "lr", "targets", "layers", "eval_every"];

function resetPresetFields() {
  const f = $("options").elements;
  for (const o of schema.filter((o) => PRESET_FIELDS.includes(o.name))) {
    const value = o.name in PAGE_PRESETS ? PAGE_PRESETS[o.name] : o.default;
    f[o.name].value = value === null ? "" : String(value);
    f[o.name].classList.remove("planned");
  }
}

function options() {
  const f = $("options").elements;
  const num = (n) => Number(f[n].value);
  return {
    preset: f.preset.value, rank: num("rank"), alpha: num("alpha"), targets: f.targets.value, layers: f.layers.value || "all",
    lr: num("lr"), steps: f.steps.value ? num("steps") : null, epochs: num("epochs"),
    max_seq_len: num("max_seq_len"), batch: num("batch"), val_split: num("val_split"),
    eval_every: num("eval_every"), seed: num("seed"), saved_activations: f.saved_activations.value,
    skip_bad_rows: f.skip_bad_rows.checked, train_on_everything: f.train_on_everything.checked,
  };
}

/// The latest plan asked for: the worker answers every request in order, and an answer to an
/// older one (fields typed quickly, one plan per change) must not write its options back into
/// the form over newer values.
let planSeq = 0;
const stalePlan = (msg) => msg.seq !== undefined && msg.seq !== planSeq;

function plan() {
  if (!status.model || status.state === "training" || status.state === "paused") return;
  show("data-errors", "");
  worker.postMessage({ type: "plan", name: dataset.name, bytes: dataset.bytes, options: options(), model: modelSource, seq: ++planSeq });
}

/// Each option's error next to its field (core's schema refusal, by the option's name); none
/// clears them all.
function showFieldErrors(errors) {
  const f = $("options").elements;
  for (const o of schema) {
    const input = f[o.name];
    if (!input) continue;
    const label = input.closest("label");
    let box = label.querySelector(".field-error");
    if (!box) {
      box = document.createElement("small");
      box.className = "field-error bad";
      box.id = `error-${o.name}`;
      box.setAttribute("aria-live", "polite");
      label.append(box);
    }
    box.textContent = errors[o.name] || "";
    input.setAttribute("aria-invalid", String(Boolean(errors[o.name])));
  }
  const names = Object.keys(errors);
  if (names.length) {
    show("plan-status", `Fix the option${names.length > 1 ? "s" : ""} marked above: ${Object.values(errors).join("; ")}`, "bad");
    enable("train-section", false);
  }
}

/// The planned options in the form's fields, so that what the page shows is what will run
/// (core's short schedule on a software adapter, the quick demo, a batch that fills the GPU);
/// the fields it changed are marked. The field being edited is left alone: a plan answer that
/// lands while the user (or a test) is typing there would move the caret and mix its value into
/// theirs ("16" then "8" typed read "168"); their edit sends a newer plan anyway.
function showPlannedOptions(planned) {
  const f = $("options").elements;
  for (const o of schema) {
    const input = f[o.name];
    if (!input || !(o.name in planned) || input === document.activeElement) continue;
    const v = planned[o.name];
    let changed;
    if (o.kind === "flag") {
      changed = input.checked !== Boolean(v);
      input.checked = Boolean(v);
    } else {
      // Core keeps some reals in f32 (val_split): 7 significant digits show them as given (0.1).
      const text = v === null ? "" : o.kind === "real" ? String(Number(Number(v).toPrecision(7))) : String(v);
      changed = input.value !== text;
      if (input.tagName === "SELECT" && ![...input.options].some((opt) => opt.value === text)) input.add(new Option(text, text));
      input.value = text;
    }
    if (changed) input.classList.add("planned");
  }
}

/// The presets' labels, the selected one with how long its plan takes here ("Quick demo — about
/// N minutes here"): the plan's floating-point work at the speed measured in this session's
/// steps, else at an assumed speed (software adapter 1.5 GFLOP/s, the SwiftShader figure of
/// SmolLM2-135M; a GPU 100 GFLOP/s). The note says what the selected preset sets.
function presetLabels(p) {
  const rate = measured.seconds > 0 ? measured.flops / measured.seconds : software ? 1.5e9 : 1e11;
  const minutes = (p.flops_per_step * p.total_steps) / rate / 60;
  const about = minutes < 1 ? "under a minute" : `about ${Math.round(minutes)} minute${Math.round(minutes) === 1 ? "" : "s"}`;
  const preset = p.options.preset;
  const time = (name) => (preset === name ? ` — ${about} here` : "");
  $("preset-quick").textContent = `Quick demo${time("quick")}`;
  const model = status.model ? status.model.known_as || status.model.name : "this model";
  $("preset-model").textContent = `Recommended for ${model}${time("model")}`;
  const timed = ` Time ${measured.seconds > 0 ? "from the steps measured on this computer" : "estimated (measured once a run has taken steps)"}.`;
  const note = p.notes.find((n) => n.startsWith(`preset ${preset}`));
  $("preset-note").textContent = preset === "quick"
    ? `Core's short schedule: few steps of one row, a higher learning rate, LoRA on every linear layer of the top layers.${timed}`
    : preset === "model"
      ? `The full run recommended for ${model} — ${note ? note.slice(note.indexOf("): ") + 3) : "its family's settings"}.${timed}`
      : `The fields as you set them${software ? "; left empty, steps take core's short schedule on this software (CPU) adapter" : ""}.`;
}

function onPlan(p) {
  lastPlan = p;
  software = p.software;
  showFieldErrors({});
  showPlannedOptions(p.options);
  presetLabels(p);
  $("command").textContent = commandLine(p.options, schema, runFiles());
  show("data-summary", p.summary_text);
  const bad = p.summary.bad_rows.map((r) => `${r.file}:${r.line}: ${r.reason}`);
  show("data-errors", bad.length ? `${p.summary.skipped_rows} bad rows skipped:\n${bad.join("\n")}` : "");
  const lines = [
    `${p.trainable.toLocaleString()} trainable parameters; ${p.total_steps} steps of ${p.options.batch} × ${p.seq_len} tokens`,
    `${p.memory_text}; the whole estimate is checked against ${memoryBudget}`,
    ...p.notes,
  ];
  if (p.notes.some((n) => /short schedule: /.test(n))) lines.push("The fields show what will run: on a software adapter core's short schedule fills those you left at their defaults (marked).");
  if (!p.fits) lines.push(`Too large for this GPU adapter: ${p.fits_error}.`);
  show("plan-status", lines.join("\n"), p.fits ? "" : "bad");
  enable("train-section", p.fits);
  $("start").disabled = !p.fits;
}

/// The model and data of the run, as `anytune train` names them.
function runFiles() {
  const model = modelSource === "default" || !modelSource ? "smollm2-135m" : modelSource.name;
  return { model, data: dataset ? dataset.name : "data.jsonl", out: "adapter" };
}

function saveText(name, text) {
  save(name, new TextEncoder().encode(text));
}

function onStarted(msg) {
  chart.clear();
  const h = msg.history || { train: [], val: [] };
  for (const [step, loss] of h.train) chart.add("train", step, loss);
  for (const [step, loss] of h.val) chart.add("val", step, loss);
  Object.assign(status, { step: msg.step, total: msg.total, train: [], val: [], history: h, restored: msg.restored, pausing: false });
  tokensSeen = 0; secondsSpent = 0;
  if (msg.restored) {
    // A run opened again shows its options as they were, its steps and its chart.
    showPlannedOptions(msg.options);
    const last = h.train.at(-1), val = h.val.at(-1);
    show("stats", `step ${msg.step} / ${msg.total}` + (last ? `   loss ${last[1].toFixed(4)}` : "") +
      (val ? `\nvalidation loss ${val[1].toFixed(4)}` : "") +
      (msg.step >= msg.total ? "\nfinished (opened from this browser)" : "\nresumed from this browser"), "");
  }
  enable("try-section", true);
  enable("download-section", true);
}

function onStep(o, seconds) {
  const r = o.report;
  tokensSeen += r.tokens;
  secondsSpent += seconds;
  if (lastPlan) { measured.flops += lastPlan.flops_per_step; measured.seconds += seconds; }
  status.step = r.step;
  status.train.push(r.loss);
  chart.add("train", r.step, r.loss);
  if (o.val) {
    status.val.push(o.val.loss);
    chart.add("val", r.step, o.val.loss);
  }
  // Step time only: answering "Try it" between steps does not count.
  const eta = (secondsSpent / Math.max(status.train.length, 1)) * (status.total - r.step);
  show("stats", `step ${r.step} / ${status.total}   loss ${r.loss.toFixed(4)}   lr ${r.lr.toExponential(2)}   ` +
    `${(tokensSeen / secondsSpent).toFixed(0)} tokens/s   ETA ${Math.round(eta)} s` +
    (o.val ? `\nvalidation loss ${o.val.loss.toFixed(4)}, perplexity ${o.val.perplexity.toFixed(2)}` : "") +
    (o.early_stop ? "\nearly stop: validation loss stopped improving" : ""), "");
}

/// The run's state in words: "pausing after this step…" as soon as Pause is pressed, and
/// whether a question is being answered between steps.
function showTrainState() {
  const s = status.state;
  let text = status.pausing && s === "training" ? "pausing after this step…" : s;
  if (status.answering) text += s === "training" ? " — answering your question between steps (not counted in the ETA)" : " — answering your question";
  $("train-state").textContent = text;
}

function onState(state) {
  status.state = state;
  if (state !== "training") status.pausing = false;
  showTrainState();
  $("start").disabled = state === "training" || state === "paused";
  $("pause").disabled = state !== "training" || status.pausing;
  $("resume").disabled = state !== "paused";
  $("stop").disabled = state !== "training" && state !== "paused";
  steps.stateChanged(state);
  // A finished run stays for "Try it" and downloads; a new plan lets Start begin another.
  if (state === "finished" && dataset) plan();
}

/** The id of the answer each box waits for ("b": base, "a": adapter), or null. */
const pendingGen = { a: null, b: null };

/** A box's answer ended: Generate is enabled again once neither box waits. */
function genFinished(side) {
  pendingGen[side] = null;
  if (pendingGen.a || pendingGen.b) return;
  $("generate").disabled = false;
  $("generate").textContent = "Generate";
  $("gen-pair").removeAttribute("aria-busy");
}

/** The Try-it answer options, or null (with the reason shown) when one is out of range. */
function genOptions() {
  const maxTokens = Number($("gen-max-tokens").value), temperature = Number($("gen-temperature").value);
  const bad = !Number.isInteger(maxTokens) || maxTokens < 1 ? `new tokens: ${$("gen-max-tokens").value} is not a whole number of at least 1`
    : !(temperature >= 0 && temperature <= 100) ? `temperature: ${$("gen-temperature").value} is not a number from 0 (greedy) to 100` : "";
  show("gen-status", bad, bad ? "bad" : "");
  return bad ? null : { maxTokens, temperature, raw: $("gen-raw").checked, seed: genId };
}

function generate() {
  const text = $("prompt").value;
  const options = genOptions();
  if (!options) return;
  $("generate").disabled = true; // one question at a time: two would share the boxes
  $("generate").textContent = "Answering…";
  $("gen-pair").setAttribute("aria-busy", "true");
  for (const withAdapter of [false, true]) {
    const side = withAdapter ? "a" : "b";
    const out = $(withAdapter ? "out-adapter" : "out-base");
    out.textContent = "";
    delete out.dataset.done;
    if (withAdapter && status.state === "idle") {
      out.textContent = "(train first)";
      out.dataset.done = "1";
      genFinished(side);
      continue;
    }
    const id = side + genId++;
    pendingGen[side] = id;
    worker.postMessage({ type: "generate", id, text, withAdapter, ...options });
  }
}

function save(kind, bytes) {
  const name = { peft: "adapter.zip", gguf: "adapter.gguf" }[kind] || kind; // or a file name
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function showSaved() {
  const m = savedMeta;
  const box = $("saved-run");
  box.classList.toggle("hidden", !m || status.state !== "idle");
  if (!m) return;
  const finished = m.total && m.step >= m.total;
  const model = m.model === "default" ? "the default model" : `${m.model.name} (pick it again to ${finished ? "open" : "resume"} it)`;
  $("saved-text").textContent = `A ${finished ? "finished " : ""}run saved in this browser: ${m.dataset.name} on ${model}, ` +
    `step ${m.step}${m.total ? " of " + m.total : ""}.`;
  // A finished run is opened (its adapter, chart and options), not resumed.
  $("resume-saved").textContent = finished ? "Open it" : "Resume it";
}

function resumeSaved() {
  if (savedMeta.model === "default") return restore([]);
  $("saved-model-file").click();
}

function restore(files) {
  $("saved-run").classList.add("hidden");
  show("model-status", "Loading…", "");
  worker.postMessage({ type: "restoreSaved", files });
}

main();
