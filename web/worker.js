// The training worker: owns the wasm Engine (WebGPU device, model, run) so the page never
// freezes. Messages in: init, loadModel, plan, start, pause, resume, stop, generate, download,
// restoreSaved, discardSaved. Messages out: schema, gpu, model, plan, step, state, gen, download, saved, error.
// Between steps it answers queued requests (generate, download), so "Try it" works while
// training. Checkpoints go to the origin-private file system (OPFS) and survive a reload.

import init, { Engine, optionSchema } from "./pkg/anytune_web.js";
import * as saved from "./saved_run.js";
import { TYPES as PIPELINE, handlePipeline } from "./pipeline_worker.js";

let engine = null;
let state = "idle"; // idle | training | paused | finished
let pauseRequested = false;
let stopRequested = false;
let current = null; // { model, dataset: {name, bytes}, options } of the run, for OPFS
const queue = []; // requests answered between steps

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
const setState = (s) => { state = s; post({ type: "state", state }); };

async function handle(msg) {
  switch (msg.type) {
    case "init": {
      await init();
      post({ type: "schema", schema: JSON.parse(optionSchema()) });
      engine = await Engine.open();
      post({ type: "gpu", info: JSON.parse(engine.adapterInfo()) });
      post({ type: "saved", meta: await saved.loadMeta() });
      return;
    }
    case "loadModel": return loadModel(msg.source, msg.files);
    case "plan": {
      const plan = JSON.parse(engine.plan(msg.name, msg.bytes, JSON.stringify(msg.options)));
      current = { model: msg.model, dataset: { name: msg.name, bytes: msg.bytes }, options: plan.options };
      post({ type: "plan", plan });
      return;
    }
    case "start": {
      const checkpoint = msg.fromSaved ? await saved.loadCheckpoint() : undefined;
      engine.start(checkpoint);
      if (!msg.fromSaved) await saved.saveRun(current);
      const [step, total] = engine.progress();
      post({ type: "started", step, total });
      return train();
    }
    case "pause": pauseRequested = true; return;
    case "resume": return train();
    case "stop": stopRequested = true; if (state !== "training") await finish(); return;
    case "generate":
    case "download":
      queue.push(msg);
      if (state !== "training") await drainQueue();
      return;
    case "restoreSaved": {
      // A run saved before a reload: the same model (the default, or the files the user picks
      // again), the saved dataset and options, then its checkpoint.
      const meta = await saved.loadMeta();
      await loadModel(meta.model === "default" ? "default" : "files", msg.files);
      const dataset = await saved.loadDataset();
      await handle({ type: "plan", name: dataset.name, bytes: dataset.bytes, options: meta.options, model: meta.model });
      return handle({ type: "start", fromSaved: true });
    }
    case "discardSaved": await saved.clear(); post({ type: "saved", meta: null }); return;
    default: if (PIPELINE.includes(msg.type)) return handlePipeline(engine, msg, post);
  }
}

async function loadModel(source, files) {
  if (source === "default") {
    const { bytes, name } = await fetchWithProgress(new URL("../model/default.gguf", import.meta.url));
    engine.addModelFile(name, bytes);
    const info = JSON.parse(engine.loadModel(name));
    post({ type: "model", info, source: "default" });
    return;
  }
  for (const f of files) {
    engine.addModelFile(f.name, new Uint8Array(await f.arrayBuffer()));
  }
  const name = files.length === 1 ? files[0].name : "local model";
  post({ type: "model", info: JSON.parse(engine.loadModel(name)), source: { name, sizes: files.map((f) => f.size) } });
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

async function train() {
  pauseRequested = false;
  setState("training");
  for (;;) {
    await drainQueue();
    if (pauseRequested || stopRequested) break;
    const t0 = performance.now();
    const outcome = JSON.parse(await engine.step());
    post({ type: "step", outcome, seconds: (performance.now() - t0) / 1000 });
    if (outcome.checkpoint_due) await saveCheckpoint();
    if (outcome.done) break;
    // Let pause/stop/generate messages in.
    await new Promise((r) => setTimeout(r, 0));
  }
  if (pauseRequested && !stopRequested) {
    await saveCheckpoint();
    setState("paused");
    return;
  }
  await finish();
}

async function finish() {
  await saveCheckpoint();
  stopRequested = false;
  setState("finished");
  await drainQueue();
}

async function saveCheckpoint() {
  const [step, total] = engine.progress();
  await saved.saveCheckpoint(await engine.checkpoint(), { step, total });
  post({ type: "saved", meta: await saved.loadMeta() });
}

async function drainQueue() {
  while (queue.length) {
    const msg = queue.shift();
    try {
      if (msg.type === "generate") {
        const text = await engine.generate(msg.text, msg.withAdapter, msg.maxTokens,
          (piece) => post({ type: "gen", id: msg.id, piece }));
        post({ type: "gen", id: msg.id, done: true, text });
      } else {
        const bytes = msg.kind === "peft" ? await engine.peftZip() : await engine.ggufAdapter();
        post({ type: "download", kind: msg.kind, bytes }, [bytes.buffer]);
      }
    } catch (e) {
      post({ type: "error", context: msg.type, id: msg.id, message: String(e.message || e) });
    }
  }
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
    post({ type: "error", context: msg.type, message: String(err.message || err) });
  });
};
