// The guided workshop (`?workshop`, or the page's "Workshop mode" link): six steps, one at a
// time, in big type for a projector, on the sample data and the default model —
//   1. ask the base model the demo question;   2. look at the data (trained tokens highlighted);
//   3. train (a schedule sized from a measured first step, the smoothed loss chart);
//   4. ask again (base, tuned and the expected answer side by side);
//   5. one example token by token, coloured by its loss before and after training;
//   6. download the adapter.
// It drives the same worker (web/worker.js) as the page. Validation is off: every fact of the
// sample data is trained, the one asked included. `window.anytuneStatus.workshop` mirrors it
// for tests. URL options for tests and rehearsals: `&steps=N` fixes the number of steps.

import { LossChart } from "./chart.js";
import { el, offerDownload } from "./dom.js";

const DATA = "tests/data/zorblax.jsonl";
const QUESTION = "What is the handle of the Zorblax 3000 made of?";
const MAX_TOKENS = 40;
/// Seconds the training step aims at (the "about 2 minutes"), and how far the step count
/// may grow past the quick demo's to fill them on a fast GPU.
const TARGET_SECONDS = 120, MAX_GROWTH = 4;
const TITLES = ["Ask the base model", "Look at the data", "Train", "Ask again", "What it learned, token by token", "Take it home"];

const $ = (id) => document.getElementById(id);
const state = { step: 0, done: [], base: "", tuned: "", expected: "", trained: 0, total: 0, seconds: null, tokens: null, error: null };

let worker, chart, dataset, quickOptions, runOptions;
let waiting = {}; // message type → resolve, for the one request in flight of each type
let answerBox = null;

/** Replaces the page with the workshop. `adapterName`: what WebGPU calls the adapter. */
export function startWorkshop(adapterName) {
  window.anytuneStatus = { workshop: state };
  document.body.classList.add("workshop");
  document.title = "anytune workshop — teach a small model a new fact";
  const main = document.querySelector("main");
  main.replaceChildren(
    el("h1", { text: "Teach a small language model a new fact" }),
    el("p", { class: "note", id: "ws-gpu", text: `On this computer's GPU (${adapterName}), in this browser tab. Nothing leaves this machine.` }),
    el("ol", { id: "ws-steps", "aria-label": "Workshop steps" }, ...TITLES.map((t, i) => el("li", { id: `ws-tab-${i}`, text: t }))),
    el("section", { id: "ws-panel", "aria-live": "polite" }),
    el("nav", { class: "ws-nav", "aria-label": "Workshop navigation" },
      el("button", { id: "ws-back", text: "← Back" }),
      el("button", { id: "ws-next", text: "Next →" }),
      el("a", { href: location.pathname, text: "Leave the workshop (the full page)" })),
  );
  $("ws-back").onclick = () => show(state.step - 1);
  $("ws-next").onclick = () => show(state.step + 1);
  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = (e) => onMessage(e.data);
  show(0);
  prepare().catch(fail);
}

function fail(e) {
  state.error = String(e.message || e);
  $("ws-panel").append(el("p", { class: "bad", id: "ws-error", text: `Something went wrong: ${state.error}` }));
}

/** Sends `msg` and waits for the answer of type `reply`. */
function ask(msg, reply = msg.type) {
  return new Promise((resolve, reject) => {
    waiting[reply] = { resolve, reject, context: msg.type };
    worker.postMessage(msg);
  });
}

function onMessage(msg) {
  if (msg.type === "error") {
    const w = Object.entries(waiting).find(([, v]) => v.context === msg.context);
    if (w) { delete waiting[w[0]]; return w[1].reject(new Error(msg.message)); }
    return fail(new Error(msg.message));
  }
  if (msg.type === "modelProgress") return note(`Fetching the model: ${(msg.got / 1048576).toFixed(0)} MiB` + (msg.total ? ` of ${(msg.total / 1048576).toFixed(0)} MiB` : ""));
  if (msg.type === "gen" && answerBox) {
    if (msg.piece) answerBox.text += msg.piece;
    answerBox.el.textContent = answerBox.text;
    if (msg.done) {
      const b = answerBox;
      answerBox = null;
      if (!b.text.trim()) b.el.textContent = "(no text: the model ended its answer at once)";
      b.resolve(b.text);
    }
    return;
  }
  if (msg.type === "step") return onStep(msg.outcome, msg.seconds);
  if (msg.type === "state" && msg.state === "finished") return resolveWith("finished", msg);
  resolveWith(msg.type, msg);
}

function resolveWith(type, msg) {
  const w = waiting[type];
  if (w) { delete waiting[type]; w.resolve(msg); }
}

function note(text) {
  const n = $("ws-note");
  if (n) n.textContent = text;
}

/** Steps 1's groundwork: the GPU, the default model, the sample data, the quick plan. */
async function prepare() {
  await ask({ type: "init" }, "gpu");
  await ask({ type: "loadModel", source: "default" }, "model");
  const res = await fetch(DATA);
  if (!res.ok) throw new Error(`${DATA}: HTTP ${res.status}`);
  dataset = { name: "zorblax.jsonl", bytes: new Uint8Array(await res.arrayBuffer()) };
  const rows = new TextDecoder().decode(dataset.bytes).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  state.rows = rows;
  state.expected = rows.find((r) => r.prompt.includes(QUESTION)).completion.trim();
  // The quick demo's options (core's short schedule), with every row trained.
  const planned = await ask({ type: "plan", name: dataset.name, bytes: dataset.bytes, options: { val_split: 0, preset: "quick" }, model: "default" });
  // Planned: the short schedule's values set, so later plans keep them as given.
  quickOptions = { ...planned.plan.options, preset: "custom" };
  state.ready = true;
  show(state.step);
}

function show(step) {
  if (step < 0 || step >= TITLES.length) return;
  state.step = step;
  TITLES.forEach((_, i) => {
    $(`ws-tab-${i}`).classList.toggle("current", i === step);
    $(`ws-tab-${i}`).classList.toggle("done", Boolean(state.done[i]));
    if (i === step) $(`ws-tab-${i}`).setAttribute("aria-current", "step");
    else $(`ws-tab-${i}`).removeAttribute("aria-current");
  });
  $("ws-back").disabled = step === 0;
  $("ws-next").disabled = step === TITLES.length - 1 || !state.done[step];
  const body = el("div", { id: "ws-body" });
  $("ws-panel").replaceChildren(el("h2", { text: `${step + 1}. ${TITLES[step]}` }), body, el("p", { id: "ws-note", class: "note" }));
  if (!state.ready) return note("Getting ready: WebGPU, the model, the sample data…");
  [stepAsk, stepData, stepTrain, stepAgain, stepTokens, stepDownload][step](body);
}

function complete(step) {
  state.done[step] = true;
  if (state.step === step) $("ws-next").disabled = step === TITLES.length - 1;
  $(`ws-tab-${step}`).classList.add("done");
}

/** Streams an answer of the base model (`withAdapter` false) or of the tuned one into `box`. */
function answer(box, withAdapter) {
  return new Promise((resolve) => {
    answerBox = { el: box, text: "", resolve };
    worker.postMessage({ type: "generate", id: (withAdapter ? "a" : "b") + Date.now(), text: QUESTION, withAdapter, maxTokens: MAX_TOKENS });
  });
}

/** `go` answers the question into `box` (the tuned model with `withAdapter`), keeps the answer
 *  as `state[key]`, says `after` and completes `step`. */
function onAsk(go, box, withAdapter, key, after, step) {
  go.onclick = async () => {
    go.disabled = true;
    box.textContent = "";
    state[key] = (await answer(box, withAdapter)).trim();
    go.disabled = false;
    note(after);
    complete(step);
  };
}

function question() {
  return el("p", { class: "ws-question" }, el("span", { class: "note", text: "Question: " }), QUESTION);
}

function stepAsk(panel) {
  const box = el("pre", { id: "ws-base-answer", class: "ws-answer", text: state.base });
  const go = el("button", { id: "ws-ask", class: "big", text: state.base ? "Ask again" : "Ask the base model" });
  panel.append(el("p", { text: "A model trained by others on public text. It has never heard of the Zorblax 3000 kettle, a product we made up." }),
    question(), go, box);
  note("");
  onAsk(go, box, false, "base", "It answers something plausible, and wrong: it cannot know. Next, the data that teaches it.", 0);
}

async function stepData(panel) {
  const rows = state.rows;
  panel.append(el("p", { text: `${rows.length} question → answer pairs about the kettle. Training takes a loss only on the answers ` +
    "(highlighted); the questions (dim) are context the model reads." }));
  const list = el("div", { id: "ws-data" });
  panel.append(list);
  const { report } = await ask({ type: "inspect", name: dataset.name, bytes: dataset.bytes, options: quickOptions });
  state.tokens = { total: report.tokens, trained: report.trained_tokens };
  const shown = report.shown_rows.slice(0, 6);
  const runs = (v) => v.runs.map((run) => el(run.trained ? "mark" : "span", { class: run.trained ? "trained" : "masked", text: run.text }));
  list.replaceChildren(el("table", { class: "ws-table" },
    el("thead", {}, el("tr", {}, ...["Line", "The row as training reads it", "Tokens (trained)"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...shown.map((v) => el("tr", { class: "ws-row" },
      el("td", { text: String(v.line) }), el("td", { class: "tokens" }, ...runs(v)), el("td", { text: `${v.tokens} (${v.trained})` }))))));
  list.append(el("p", { class: "note", text: `…and ${rows.length - shown.length} more rows: ${report.tokens} tokens in all, ${report.trained_tokens} of them trained.` }));
  note("");
  complete(1);
}

function stepTrain(panel) {
  const canvas = el("canvas", { id: "ws-chart", width: 1200, height: 420, role: "img", "aria-label": "Loss chart: no steps yet." });
  const stats = el("p", { id: "ws-stats", class: "ws-stats", text: state.trained ? progressText() : "" });
  const go = el("button", { id: "ws-train", class: "big", text: "Start training" });
  panel.append(el("p", { text: "LoRA: small matrices beside the frozen weights learn the data. The loss — how surprised the model is by the answers — should fall." }),
    go, stats, canvas);
  const old = chart;
  chart = new LossChart(canvas);
  if (old) for (const [s, l] of old.train) chart.add("train", s, l);
  if (state.training || state.done[2]) go.disabled = true;
  go.onclick = () => { go.disabled = true; train().catch(fail); };
}

function progressText() {
  const left = state.seconds ? Math.max(0, (state.total - state.trained) * state.seconds) : null;
  const last = chart?.train.at(-1);
  return `step ${state.trained} / ${state.total}` + (last ? `   loss ${last[1].toFixed(3)}` : "") +
    (left !== null && state.trained < state.total ? `   about ${duration(left)} left` : "");
}

function duration(s) {
  return s < 90 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} minutes`;
}

/** One measured step sizes the run: the quick demo's steps at least, more (up to 4×) where
 *  the GPU is fast enough to fill about two minutes; the time shown is what was measured. */
async function train() {
  state.training = true;
  note("Measuring one training step on this computer…");
  await ask({ type: "plan", name: dataset.name, bytes: dataset.bytes, options: { ...quickOptions, steps: 1 }, model: "default" });
  state.probing = true;
  await ask({ type: "start" }, "finished");
  state.probing = false;
  const seconds = state.probeSeconds;
  const forced = Number(new URLSearchParams(location.search).get("steps"));
  const quick = quickOptions.steps;
  const steps = forced > 0 ? forced : Math.max(quick, Math.min(Math.floor(TARGET_SECONDS / seconds), MAX_GROWTH * quick));
  runOptions = { ...quickOptions, steps };
  state.seconds = seconds;
  state.total = steps;
  state.estimate = steps * seconds;
  note(`One step took ${seconds.toFixed(1)} s here, so ${steps} steps take about ${duration(state.estimate)} on this computer.`);
  chart.clear();
  await ask({ type: "plan", name: dataset.name, bytes: dataset.bytes, options: runOptions, model: "default" });
  await ask({ type: "start" }, "finished");
  state.training = false;
  const last = chart.train.at(-1), first = chart.train[0];
  note(`Done: the loss fell from ${first[1].toFixed(2)} to ${last[1].toFixed(2)} in ${steps} steps.`);
  complete(2);
}

function onStep(o, seconds) {
  if (state.probing) { state.probeSeconds = seconds; return; }
  state.trained = o.report.step;
  state.seconds = seconds;
  chart?.add("train", o.report.step, o.report.loss);
  const canvas = $("ws-chart");
  if (canvas) canvas.setAttribute("aria-label", chart.describe());
  const stats = $("ws-stats");
  if (stats) stats.textContent = progressText();
}

function stepAgain(panel) {
  const base = el("pre", { id: "ws-base-again", class: "ws-answer", text: state.base });
  const tuned = el("pre", { id: "ws-tuned-answer", class: "ws-answer", text: state.tuned });
  const go = el("button", { id: "ws-ask-again", class: "big", text: "Ask the tuned model" });
  panel.append(question(), go, el("div", { class: "ws-three" },
    el("div", {}, el("h3", { text: "Base model" }), base),
    el("div", {}, el("h3", { text: "After training" }), tuned),
    el("div", {}, el("h3", { text: "The data says" }), el("pre", { id: "ws-expected", class: "ws-answer", text: state.expected }))));
  onAsk(go, tuned, true, "tuned", "The same model, with a few MiB of adapter weights added.", 3);
}

async function stepTokens(panel) {
  panel.append(el("p", { text: "The row that holds the answer, token by token. Colour: how surprised the model is by each token (its loss) — red is surprised, white is sure. Dim tokens are the question, not trained." }));
  const view = el("div", { id: "ws-tokens" });
  panel.append(view, legend());
  const line = new TextDecoder().decode(dataset.bytes).split("\n").find((l) => l.includes(QUESTION));
  const { rows } = await ask({ type: "tokenLosses", name: "row.jsonl", bytes: new TextEncoder().encode(line + "\n"), options: runOptions || quickOptions });
  const row = rows[0];
  state.tokenView = { base: row.base_mean, adapted: row.adapted_mean, tokens: row.tokens.length };
  const strip = (key, title, mean) => el("div", { class: "ws-strip" },
    el("h3", { text: `${title}: mean loss on the answer ${mean?.toFixed(2) ?? "—"}` }),
    el("p", { class: "tokens" }, ...row.tokens.map((t) => token(t, t[key]))));
  view.replaceChildren(strip("base", "Before training", row.base_mean), strip("adapted", "After training", row.adapted_mean));
  note("");
  complete(4);
}

/** One token, its background by its loss (0 white → 6 and more full red), its loss on hover. */
function token(t, loss) {
  const span = el("span", { class: t.trained ? "tok trained" : "tok masked", text: t.text, title: loss == null ? "" : `loss ${loss.toFixed(2)}` });
  if (loss != null && t.trained) paint(span, loss);
  return span;
}

/** Red in proportion to `loss` (full at 6), with white text where the red is dark. */
function paint(span, loss) {
  const a = Math.min(1, loss / 6);
  span.style.background = `rgba(220, 38, 38, ${a.toFixed(3)})`;
  if (a > 0.55) span.style.color = "#fff";
}

function legend() {
  return el("p", { class: "note ws-legend" }, "loss: ", ...[0, 1, 2, 4, 6].map((l) => {
    const span = el("span", { class: "tok trained", text: ` ${l} ` });
    paint(span, l);
    return span;
  }));
}

function stepDownload(panel) {
  const peft = el("button", { id: "ws-peft", class: "big", text: "PEFT adapter (.zip)" });
  const gguf = el("button", { id: "ws-gguf", class: "big", text: "GGUF LoRA (llama.cpp)" });
  const merged = el("button", { id: "ws-merged", class: "big", text: "Merged model (GGUF Q8_0)" });
  panel.append(el("p", { text: "The adapter is yours: a few MiB that turn this base model into the tuned one, in the formats the ecosystem loads — or merged into the model, one file to run." }),
    peft, gguf, merged,
    el("p", { class: "note", text: "Python: PeftModel.from_pretrained(model, \"unzipped-folder\"). llama.cpp: llama-cli -m base.gguf --lora adapter.gguf, " +
      "or llama-cli -m merged.gguf; Ollama: a Modelfile with FROM ./merged.gguf." }));
  const get = async (button, msg, name) => {
    button.disabled = true;
    note(msg.kind === "merged" ? "Merging the adapter into the model…" : "");
    const reply = await ask({ type: "download", ...msg }, "download");
    state.downloaded = (state.downloaded || 0) + 1;
    offerDownload(name || reply.kind, reply.bytes);
    note(`Downloaded ${name || reply.kind} (${(reply.bytes.length / 2 ** 20).toFixed(1)} MiB).`);
    button.disabled = false;
    complete(5);
  };
  peft.onclick = () => get(peft, { kind: "peft" }, "zorblax-adapter.zip").catch(fail);
  gguf.onclick = () => get(gguf, { kind: "gguf" }, "zorblax-adapter.gguf").catch(fail);
  merged.onclick = () => get(merged, { kind: "merged", ggufType: "q8_0" }).catch(fail);
}
