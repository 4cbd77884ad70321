// The page's whole flow in Chromium: load the served model, pick a dataset, train, watch the
// chart and the loss, generate, download the adapter and check its files; bad rows; a paused
// run surviving a reload; and parity with `anytune train` (same seed, model, data, options).

import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { launchBrowser, openPage, waitForText, withPage } from "./harness.mjs";
import { maxRelativeDiff, normDiff, readSafetensors, unzip } from "./files.mjs";

export const REPO = resolve(import.meta.dirname, "../..");
const MODEL = join(REPO, "tests/fixtures/tiny-llama-Q4_0.gguf");
export const DATA = join(REPO, "tests/data/zorblax.jsonl");
const TINY = JSON.parse(await readFile(join(REPO, "tests/fixtures/tiny-llama/config.json"), "utf8"));
// The options of every training test, as the page's form fields and as `anytune train` flags.
export const OPTIONS = { steps: 8, lr: 0.01, rank: 4, targets: "all-linear", batch: 2, max_seq_len: 64, val_split: 0.25, eval_every: 4, seed: 1 };
const FLAGS = Object.entries(OPTIONS).flatMap(([k, v]) => [`--${k.replaceAll("_", "-")}`, String(v)]);
// Float tolerance between the browser's adapter (SwiftShader or another WebGPU adapter) and the
// native one (lavapipe): the same kernels compiled by different compilers (other FMA contraction
// and rounding), then 8 AdamW steps. AdamW's update m/√v is ±lr for any gradient size, so an
// element whose gradient is near zero can move by a good part of lr (1e-2) on a rounding
// difference: we bound each tensor's relative Frobenius difference and every element's
// difference to a tenth of one step (measured: 2.8e-4 largest element difference).
const PARITY_REL = 1e-3, PARITY_ABS = 1e-3;
// The same browser resumed after a reload: the same kernels on the same device, exact.
const RESUME = 1e-6;

function checkParity(tensors, native, what) {
  const { rel, abs } = normDiff(tensors, native);
  console.log(`  # ${what}: largest relative difference ${rel.toExponential(2)}, largest element difference ${abs.toExponential(2)}`);
  if (!(rel <= PARITY_REL && abs <= PARITY_ABS)) throw new Error(`${what}: ‖Δ‖/‖native‖ ${rel}, max |Δ| ${abs}`);
}

let nativeAdapter = null;
let browserAdapter = null;

/** The adapter `anytune train` makes with OPTIONS (once). */
async function native() {
  if (nativeAdapter) return nativeAdapter;
  const out = await mkdtemp(join(tmpdir(), "anytune-native-"));
  execFileSync(process.env.ANYTUNE_BIN || join(REPO, "target/debug/anytune"),
    ["train", "--model", MODEL, "--data", DATA, "--out", out, ...FLAGS], { stdio: ["ignore", "ignore", "pipe"] });
  nativeAdapter = readSafetensors(await readFile(join(out, "adapter_model.safetensors")));
  await rm(out, { recursive: true, force: true });
  return nativeAdapter;
}

export async function loadServedModel(page) {
  await waitForText(page, "#gpu-status", /limits:/);
  await page.click("#load-model");
  await waitForText(page, "#model-status", /2 layers/);
}

export async function setOptions(page, options) {
  for (const [name, value] of Object.entries(options)) {
    const field = page.locator(`#options [name=${name}]`);
    if ((await field.evaluate((e) => e.tagName)) === "SELECT") await field.selectOption(String(value));
    else await field.fill(String(value));
  }
  // The plan's own line ("8 steps of", not "168 steps of"), and the fields as filled: a plan
  // answer that landed during a fill once mixed its value into the typed one.
  const plan = await waitForText(page, "#plan-status", new RegExp(`(^|\\s)${options.steps} steps of`));
  for (const [name, value] of Object.entries(options)) {
    const got = await page.locator(`#options [name=${name}]`).inputValue();
    if (got !== String(value)) throw new Error(`field ${name} reads ${JSON.stringify(got)} after filling ${JSON.stringify(String(value))}`);
  }
  // Said once, and no empty adapter name: "GPU memory: GPU memory:", "adapter ()" were bugs.
  if (/GPU memory:.*GPU memory:|\(\)|, \)/s.test(plan)) throw new Error(`plan status: ${JSON.stringify(plan)}`);
}

export const status = (page) => page.evaluate(() => structuredClone(window.anytuneStatus));

export async function waitForState(page, state, timeout = 90000) {
  await page.waitForFunction((s) => window.anytuneStatus.state === s, state, { timeout });
}

export async function download(page, button) {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click(button)]);
  return { name: dl.suggestedFilename(), bytes: await readFile(await dl.path()) };
}

/** Checks the PEFT zip: config fields, and every LoRA tensor's key and shape. */
function checkPeft(zip) {
  const files = unzip(zip);
  const config = JSON.parse(files.get("adapter_config.json").toString("utf8"));
  // base_model_name_or_path: the model as its GGUF metadata names it (general.name), not the file.
  const want = { peft_type: "LORA", task_type: "CAUSAL_LM", r: OPTIONS.rank, lora_alpha: 16, bias: "none", use_rslora: false, fan_in_fan_out: false, base_model_name_or_path: "tiny-llama" };
  for (const [k, v] of Object.entries(want)) {
    if (config[k] !== v) throw new Error(`adapter_config.json ${k}: ${JSON.stringify(config[k])}, expected ${JSON.stringify(v)}`);
  }
  const modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
  if ([...config.target_modules].sort().join() !== [...modules].sort().join()) throw new Error(`target_modules ${config.target_modules}`);
  const tensors = readSafetensors(files.get("adapter_model.safetensors"));
  const { hidden_size: d, intermediate_size: f, num_hidden_layers: n, head_dim: hd, num_key_value_heads: kv } = TINY;
  const dims = { q_proj: [d, d], k_proj: [d, kv * hd], v_proj: [d, kv * hd], o_proj: [d, d], gate_proj: [d, f], up_proj: [d, f], down_proj: [f, d] };
  const expected = {};
  for (let i = 0; i < n; i++) {
    for (const m of modules) {
      const key = `base_model.model.model.layers.${i}.${m.endsWith("_proj") && ["gate_proj", "up_proj", "down_proj"].includes(m) ? "mlp" : "self_attn"}.${m}`;
      const [inF, outF] = dims[m];
      expected[`${key}.lora_A.weight`] = [OPTIONS.rank, inF];
      expected[`${key}.lora_B.weight`] = [outF, OPTIONS.rank];
    }
  }
  for (const [k, shape] of Object.entries(expected)) {
    if (!tensors[k]) throw new Error(`adapter_model.safetensors lacks ${k}`);
    if (tensors[k].dtype !== "F32" || tensors[k].shape.join() !== shape.join()) throw new Error(`${k}: ${tensors[k].dtype} ${tensors[k].shape}, expected F32 ${shape}`);
  }
  if (Object.keys(tensors).length !== Object.keys(expected).length) throw new Error(`extra tensors: ${Object.keys(tensors).length}`);
  return tensors;
}

export function flowTests(test) {
  test("train: dataset, chart, falling loss, try it, downloads, parity with anytune train", () =>
    withPage({ webgpu: true }, async (page) => {
      await loadServedModel(page);
      await page.setInputFiles("#data-file", DATA);
      await waitForText(page, "#data-summary", /prompt.completion/i);
      await waitForText(page, "#data-preview", /Zorblax 3000/);
      // The form's defaults, bounds and tooltips come from core's option schema, and a value
      // outside its range is refused by name with the range, in the plan status.
      const rank = await page.locator("#options [name=rank]").evaluate((e) => [e.value, e.min, e.max, e.title]);
      if (rank[0] !== "8" || rank[1] !== "1" || rank[2] !== "4096" || !rank[3].includes("Allowed: a whole number from 1 to 4096")) {
        throw new Error(`rank field from the schema: ${rank}`);
      }
      await page.locator("#options [name=lr]").fill("-1");
      await waitForText(page, "#plan-status", /invalid lr: -1 is out of range \(allowed: a number in \(0, 10\]\)/);
      await setOptions(page, OPTIONS);
      await page.click("#start");
      // The chart grows while training, and the page answers during it (the worker trains).
      const seen = new Set();
      let worstFrame = 0;
      while ((await status(page)).state !== "finished") {
        const t0 = Date.now();
        seen.add(await page.locator("#chart").getAttribute("data-points"));
        worstFrame = Math.max(worstFrame, Date.now() - t0);
        await page.waitForTimeout(50);
      }
      const s = await status(page);
      if (s.train.length !== OPTIONS.steps) throw new Error(`${s.train.length} steps, expected ${OPTIONS.steps}`);
      if (s.val.length !== 2) throw new Error(`validation at steps 4 and 8 expected, got ${s.val.length}`);
      const first = (s.train[0] + s.train[1]) / 2, last = (s.train.at(-1) + s.train.at(-2)) / 2;
      if (!(last < first - 0.2)) throw new Error(`the loss did not fall: ${s.train.map((l) => l.toFixed(3)).join(" ")}`);
      if (seen.size < 3) throw new Error(`the chart did not update while training (saw ${[...seen]})`);
      if (worstFrame > 2000) throw new Error(`the page was unresponsive for ${worstFrame} ms`);
      if (Number(await page.locator("#chart").getAttribute("data-points")) !== OPTIONS.steps + 2) throw new Error("chart points");
      await waitForText(page, "#stats", /step 8 \/ 8 .*tokens\/s/);

      await page.fill("#prompt", "Who makes the Zorblax 3000 kettle?");
      await page.click("#generate");
      await page.waitForFunction(() => document.querySelector("#out-base").dataset.done && document.querySelector("#out-adapter").dataset.done);
      const base = await page.locator("#out-base").textContent(), adapted = await page.locator("#out-adapter").textContent();
      const real = [base, adapted].filter((t) => t.trim() && !t.startsWith("(no text"));
      if (!real.length || /error/.test(base + adapted)) throw new Error(`generation: ${JSON.stringify([base, adapted])}`);
      // Generate is disabled while answering, so a second press (even by script) cannot mix two
      // answers in one box; pressing again after the answers gives the same (greedy) answers.
      await page.evaluate(() => { document.querySelector("#generate").click(); document.querySelector("#generate").click(); });
      if (!(await page.locator("#generate").isDisabled())) throw new Error("Generate stays enabled while generating");
      await page.waitForFunction(() => document.querySelector("#out-base").dataset.done && document.querySelector("#out-adapter").dataset.done);
      await page.waitForFunction(() => !document.querySelector("#generate").disabled);
      const again = [await page.locator("#out-base").textContent(), await page.locator("#out-adapter").textContent()];
      if (again[0] !== base || again[1] !== adapted) throw new Error(`answers mixed: ${JSON.stringify({ first: [base, adapted], again })}`);

      const peft = await download(page, "#download-peft");
      if (peft.name !== "adapter.zip") throw new Error(peft.name);
      const tensors = checkPeft(peft.bytes);
      const gguf = await download(page, "#download-gguf");
      if (gguf.bytes.subarray(0, 4).toString() !== "GGUF" || !gguf.bytes.includes("adapter.lora.alpha") || !gguf.bytes.includes("blk.0.attn_q.weight.lora_a")) {
        throw new Error("adapter.gguf is not a GGUF LoRA adapter");
      }
      browserAdapter = tensors;
      if (process.env.ANYTUNE_BROWSER_KEEP) {
        // For tests/golden/check_adapters.py (PEFT and gguf-py load the browser's adapter).
        const dir = join(process.env.ANYTUNE_BROWSER_KEEP, "browser");
        await mkdir(dir, { recursive: true });
        for (const [name, bytes] of unzip(peft.bytes)) await writeFile(join(dir, name), bytes);
        await writeFile(join(dir, "adapter.gguf"), gguf.bytes);
      }
      checkParity(tensors, await native(), "browser vs anytune train");
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }), { timeout: 300000 });

  test("offline: once loaded, the page, the wasm and the model work without the server", async () => {
    const context = await launchBrowser({ webgpu: true });
    try {
      const page = await openPage(context);
      await loadServedModel(page);
      const controlled = await page.evaluate(() => Boolean(navigator.serviceWorker.controller));
      if (!controlled) throw new Error("the service worker does not control the page");
      await context.setOffline(true);
      // Offline really is offline: a file the page never fetched cannot be had.
      const reached = await page.evaluate(() => fetch("/tests/data/zorblax_chat.jsonl").then(() => true, () => false));
      if (reached) throw new Error("still online after setOffline(true)");
      await page.reload();
      await loadServedModel(page);
      await page.setInputFiles("#data-file", DATA);
      await waitForText(page, "#plan-status", /steps of/);
      if (context.offOrigin.length) throw new Error(`other origins: ${context.offOrigin}`);
    } finally {
      await context.close();
    }
  });

  test("bad rows (on a Hugging Face model opened from disk): line-numbered errors, then skipped and listed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "anytune-bad-"));
    const file = join(dir, "bad.jsonl");
    const good = (await readFile(DATA, "utf8")).split("\n").slice(0, 6);
    await writeFile(file, [good[0], good[1], "{not json", good[2], '{"prompt": "only a prompt"}', good[3]].join("\n") + "\n");
    try {
      await withPage({ webgpu: true }, async (page) => {
        await waitForText(page, "#gpu-status", /limits:/);
        const folder = join(REPO, "tests/fixtures/tiny-llama");
        await page.setInputFiles("#model-file", ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"].map((f) => join(folder, f)));
        await page.click("#load-model");
        await waitForText(page, "#model-status", /local model: llama, 2 layers/);
        // A good dataset first: its summary must not stay once a bad one replaces it.
        await page.setInputFiles("#data-file", DATA);
        await waitForText(page, "#data-summary", /rows read: 40/);
        await page.setInputFiles("#data-file", file);
        await waitForText(page, "#data-errors", /bad\.jsonl:3/);
        const stale = await page.textContent("#data-summary");
        if (/zorblax|rows read: 40/.test(stale)) throw new Error(`the old dataset's summary stayed: ${JSON.stringify(stale)}`);
        await page.check("#options [name=skip_bad_rows]");
        const text = await waitForText(page, "#data-errors", /2 bad rows skipped/);
        if (!/bad\.jsonl:3:/.test(text) || !/bad\.jsonl:5:/.test(text)) throw new Error(`bad rows listed: ${text}`);
        await waitForText(page, "#data-summary", /rows read: 4, skipped \(bad\): 2/);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("reload: a paused run is kept in the browser and resumes to the same adapter", async () => {
    const context = await launchBrowser({ webgpu: true });
    try {
      const page = await openPage(context);
      await loadServedModel(page);
      await page.setInputFiles("#data-file", DATA);
      await setOptions(page, OPTIONS);
      await page.click("#start");
      await page.waitForFunction(() => window.anytuneStatus.step >= 3, null, { timeout: 90000 });
      await page.click("#pause");
      await waitForState(page, "paused");
      const pausedAt = (await status(page)).step;
      await page.reload();
      const banner = await waitForText(page, "#saved-text", /zorblax\.jsonl/);
      if (!banner.includes(`step ${pausedAt} of ${OPTIONS.steps}`)) throw new Error(`saved run: ${banner} (paused at ${pausedAt})`);
      await page.click("#resume-saved");
      await waitForState(page, "finished");
      const s = await status(page);
      if (s.train.length !== OPTIONS.steps - pausedAt) throw new Error(`resumed for ${s.train.length} steps after ${pausedAt}`);
      const tensors = checkPeft((await download(page, "#download-peft")).bytes);
      if (browserAdapter) {
        const diff = maxRelativeDiff(tensors, browserAdapter);
        if (!(diff <= RESUME)) throw new Error(`the resumed adapter differs from the uninterrupted one by ${diff}`);
      }
      checkParity(tensors, await native(), "resumed in the browser vs anytune train");
      if (page.errors.length) throw new Error(page.errors.join("; "));
      if (context.offOrigin.length) throw new Error(`other origins: ${context.offOrigin}`);
    } finally {
      await context.close();
    }
  }, { timeout: 300000 });
}
