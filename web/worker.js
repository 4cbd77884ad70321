// The training worker: owns the wasm Engine (WebGPU device, model, run) so the page never
// freezes. Messages in: init, loadModel, plan, start, pause, resume, stop, generate, download,
// restoreSaved, discardSaved. Messages out: schema, gpu, model, plan, optionErrors, started, step,
// state, answering, gen, download, saved, error.
// Between steps it answers queued requests (generate, download) one token at a time, for at most
// as long as a step takes, so "Try it" neither stalls training nor holds up a pause. Checkpoints
// go to the origin-private file system (OPFS) and survive a reload, with the run's loss history.

import init, { Engine, optionSchema, optionErrors } from "./pkg/anytune_web.js";
import * as saved from "./saved_run.js";
import { TYPES as PIPELINE, handlePipeline } from "./pipeline_worker.js";

let engine = null;
let state = "idle"; // idle | training | paused | finished
let pauseRequested = false;
let stopRequested = false;
let current = null; // { model, dataset: {name, bytes}, options } of the run, for OPFS
const queue = []; // requests answered between steps
let answer = null; // the "generate" message being answered, one token per engine.generateNext()
let history = { train: [], val: [] }; // [step, loss] of the run, kept with its checkpoints
let stepMs = 250; // how long the last step took: the time given to answers between two steps
let modelSource = null; // { source, files } of the loaded model: added again to export it

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
const setState = (s) => { state = s; post({ type: "state", state }); };

async function handle(msg) {
  switch (msg.type) {
    case "init": {
      await init();
      post({ type: "schema", schema: JSON.parse(optionSchema()) });
      engine = await Engine.open(msg.kernels || undefined);
      const info = JSON.parse(engine.adapterInfo());
      setBudget();
      post({ type: "gpu", info, budget: budgetText });
      post({ type: "saved", meta: await saved.loadMeta() });
      return;
    }
    case "loadModel": return loadModel(msg.source, msg.files);
    case "plan": {
      // Every field checked by core's schema first, so each bad one is named next to itself.
      const errors = JSON.parse(optionErrors(JSON.stringify(msg.options)));
      post({ type: "optionErrors", errors, seq: msg.seq });
      if (Object.keys(errors).length) return;
      let plan;
      try {
        plan = JSON.parse(engine.plan(msg.name, msg.bytes, JSON.stringify(msg.options)));
      } catch (e) {
        // A refusal of one option that needs the data or the model (val_split, rank, layers).
        const name = (String(e.message).match(/^invalid ([a-z_]+)(?: \(--[a-z-]+\))?: /) || [])[1];
        if (name && name in msg.options) post({ type: "optionErrors", errors: { [name]: String(e.message) }, seq: msg.seq });
        throw e;
      }
      current = { model: msg.model, dataset: { name: msg.name, bytes: msg.bytes }, options: plan.options };
      post({ type: "plan", plan, seq: msg.seq });
      return;
    }
    case "start": {
      const checkpoint = msg.fromSaved ? await saved.loadCheckpoint() : undefined;
      engine.start(checkpoint);
      if (!msg.fromSaved) await saved.saveRun(current);
      history = msg.history || { train: [], val: [] };
      const [step, total] = engine.progress();
      post({ type: "started", step, total, history, options: current.options, restored: Boolean(msg.fromSaved) });
      // A finished run opened again: its adapter, chart and options, for "Try it" and downloads.
      if (step >= total) return setState("finished");
      return train();
    }
    case "pause": pauseRequested = true; return;
    case "resume": return train();
    case "stop": stopRequested = true; if (state !== "training") await finish(); return;
    case "generate":
    case "download":
      queue.push(msg);
      if (state !== "training") await serveQueue(Infinity);
      return;
    case "restoreSaved": {
      // A run saved before a reload: the same model (the default, or the files the user picks
      // again), the saved dataset and options, then its checkpoint.
      const meta = await saved.loadMeta();
      await loadModel(meta.model === "default" ? "default" : "files", msg.files);
      const dataset = await saved.loadDataset();
      await handle({ type: "plan", name: dataset.name, bytes: dataset.bytes, options: meta.options, model: meta.model });
      return handle({ type: "start", fromSaved: true, history: meta.history });
    }
    case "discardSaved": await saved.clear(); post({ type: "saved", meta: null }); return;
    default: if (PIPELINE.includes(msg.type)) return handlePipeline(engine, msg, post);
  }
}

let budgetText = "";

/// The memory budget every plan's whole estimate is checked against. WebGPU reports no memory
/// size, so: half of the memory the browser says this device has (navigator.deviceMemory, which
/// Chrome rounds down and caps at 8 GiB; 4 GiB assumed where it is not reported). Each buffer is
/// also checked against the adapter's own maxBufferSize / storage-binding limits (check_fits).
function setBudget() {
  const reported = self.navigator.deviceMemory;
  const device = reported || 4;
  budgetText = `this browser's budget: half of the ${device} GiB of memory ${reported ? "navigator.deviceMemory reports" : "assumed (the browser reports none)"}, as WebGPU gives no memory size`;
  engine.setMemoryBudget((device / 2) * 1024 ** 3, budgetText);
}

async function loadModel(source, files) {
  modelSource = { source, files };
  if (source === "default") {
    const name = await addModelFiles(modelSource);
    const info = JSON.parse(engine.loadModel(name));
    post({ type: "model", info, source: "default" });
    return;
  }
  await addModelFiles(modelSource);
  const name = files.length === 1 ? files[0].name : "local model";
  post({ type: "model", info: JSON.parse(engine.loadModel(name)), source: { name, sizes: files.map((f) => f.size) } });
}

/// Hands the model's files to the engine (the default model fetched again: the service worker
/// keeps it); returns the default's file name.
async function addModelFiles({ source, files }) {
  if (source === "default") {
    const { bytes, name } = await fetchWithProgress(new URL("../model/default.gguf", import.meta.url));
    engine.addModelFile(name, bytes);
    return name;
  }
  for (const f of files) engine.addModelFile(f.name, new Uint8Array(await f.arrayBuffer()));
  return null;
}

/// The run's adapter merged into the base, as a GGUF of `ggufType`, named after the run's dataset.
async function mergedModel(ggufType) {
  await addModelFiles(modelSource);
  const bytes = await engine.exportGguf(ggufType);
  const run = (current?.dataset?.name || "run").replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_");
  return { name: `${run}-merged-${ggufType}.gguf`, bytes };
}

async function fetchWithProgress(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get("content-length")) || 0;
  const reader = res.body.getReader();
  const parts = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    post({ type: "modelProgress", got, total });
  }
  const bytes = new Uint8Array(got);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  // `anytune serve` names the file (the name goes into adapter_config.json).
  const disposition = res.headers.get("content-disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || "SmolLM2-135M-Instruct.Q4_1.gguf";
  return { bytes, name };
}

const tick = () => new Promise((r) => setTimeout(r, 0)); // lets pause/stop/generate messages in

async function train() {
  pauseRequested = false;
  setState("training");
  for (;;) {
    if (pauseRequested || stopRequested) break;
    // Answers between steps, for as long as a step takes: both go on at about half speed.
    if (answer || queue.length) await serveQueue(stepMs);
    if (pauseRequested || stopRequested) break;
    const t0 = performance.now();
    const outcome = JSON.parse(await engine.step());
    stepMs = performance.now() - t0;
    history.train.push([outcome.report.step, outcome.report.loss]);
    if (outcome.val) history.val.push([outcome.report.step, outcome.val.loss]);
    post({ type: "step", outcome, seconds: stepMs / 1000 });
    if (outcome.checkpoint_due) await saveCheckpoint();
    if (outcome.done) break;
    await tick();
  }
  if (pauseRequested && !stopRequested) {
    await saveCheckpoint();
    setState("paused");
    await serveQueue(Infinity);
    return;
  }
  await finish();
}

async function finish() {
  await saveCheckpoint();
  stopRequested = false;
  setState("finished");
  await serveQueue(Infinity);
}

async function saveCheckpoint() {
  const [step, total] = engine.progress();
  await saved.saveCheckpoint(await engine.checkpoint(), { step, total, history });
  post({ type: "saved", meta: await saved.loadMeta() });
}

/// Works on the queued requests for about `ms` (at least one token or one download): a
/// question is answered one token at a time (engine.generateNext), so a pause, a stop or a
/// training step is never held up by a whole answer. Says when it is busy ("answering").
async function serveQueue(ms) {
  if (!answer && !queue.length) return;
  post({ type: "answering", busy: true });
  const t0 = performance.now();
  while (answer || queue.length) {
    const msg = answer || queue.shift();
    try {
      if (msg.type === "download") {
        const { name, bytes } = msg.kind === "merged" ? await mergedModel(msg.ggufType)
          : { name: msg.kind, bytes: msg.kind === "peft" ? await engine.peftZip() : await engine.ggufAdapter() };
        post({ type: "download", kind: name, bytes }, [bytes.buffer]);
      } else {
        if (!answer) {
          await engine.generateStart(msg.text, msg.withAdapter, msg.maxTokens, msg.temperature ?? 0, Boolean(msg.raw), msg.seed ?? 0);
          answer = msg;
        }
        const piece = await engine.generateNext();
        if (piece === undefined) {
          answer = null;
          post({ type: "gen", id: msg.id, done: true });
        } else if (piece) {
          post({ type: "gen", id: msg.id, piece });
        }
      }
    } catch (e) {
      answer = null;
      post({ type: "error", context: msg.type, id: msg.id, message: String(e.message || e) });
    }
    if (performance.now() - t0 >= ms) break;
    if (ms === Infinity) await tick();
  }
  post({ type: "answering", busy: Boolean(answer || queue.length) });
}

// One message at a time: each waits for the previous (the Engine is used by one call at a
// time); pause/stop only set flags, so they are handled at once.
let chain = Promise.resolve();
self.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "pause" || (msg.type === "stop" && state === "training")) {
    handle(msg);
    return;
  }
  if ((msg.type === "generate" || msg.type === "download") && state === "training") {
    queue.push(msg);
    return;
  }
  chain = chain.then(() => handle(msg)).catch((err) => {
    post({ type: "error", context: msg.type, seq: msg.seq, message: String(err.message || err) });
  });
};
