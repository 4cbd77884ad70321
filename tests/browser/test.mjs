// The web page in Chromium, served by `anytune serve` (tests/browser/run.sh starts it).
// Tests key on the page's element ids and on `window.anytuneStatus` (the run's state, losses).
// The served "default" model is the tiny fixture (run.sh: serve --model tiny-llama-Q4_0.gguf).

import { test, run, withPage, waitForText, launchBrowser, openPage } from "./harness.mjs";
import { flowTests } from "./flow.mjs";
import { pageTests } from "./page.mjs";
import { compareTests } from "./compare.mjs";
import { pipelineTests } from "./pipeline.mjs";
import { truthTests } from "./truth.mjs";
import { workshopTests } from "./workshop.mjs";
import { exportTests } from "./export.mjs";
import { tryItTests } from "./tryit.mjs";
import { dataStepTests } from "./datastep.mjs";
import { benchTests, kernelTests } from "./kernels.mjs";

test("WebGPU: #gpu-status names the adapter and its limits", () =>
  withPage({ webgpu: true }, async (page) => {
    const text = await waitForText(page, "#gpu-status", /limits:|not available|no GPU adapter|error/i);
    if (/WebGPU is not available/.test(text) || !/adapter: .*\S/.test(text) || !/limits: /.test(text)) {
      throw new Error(`expected the adapter and its limits, got: ${JSON.stringify(text)}`);
    }
    // Nothing empty shows: no "()" or ", )" for what the browser's adapter does not report.
    if (/\(\)|, \)|\(,/.test(text)) throw new Error(`empty adapter fields shown: ${JSON.stringify(text)}`);
    if (page.errors.length) throw new Error(page.errors.join("; "));
  }));

test("no WebGPU: #gpu-status says WebGPU is not available", () =>
  withPage({ webgpu: false }, async (page) => {
    await waitForText(page, "#gpu-status", /WebGPU is not available/);
    if (page.errors.length) throw new Error(page.errors.join("; "));
  }));

test("wasm: web/pkg loads and anytune-core opens the WebGPU adapter", () =>
  withPage({ webgpu: true }, async (page) => {
    const info = await page.evaluate(async () => {
      const wasm = await import("/web/pkg/anytune_web.js");
      await wasm.default(); // fetches anytune_web_bg.wasm (instantiateStreaming needs application/wasm)
      const engine = await wasm.Engine.open();
      return { version: wasm.version(), adapter: JSON.parse(engine.adapterInfo()).text };
    });
    if (!/^\d+\.\d+\.\d+/.test(info.version)) throw new Error(`version() returned ${JSON.stringify(info.version)}`);
    if (!info.adapter.trim()) throw new Error("adapterInfo() returned nothing");
    if (page.errors.length) throw new Error(page.errors.join("; "));
  }));

pageTests(test);
flowTests(test);
compareTests(test);
pipelineTests(test);
truthTests(test);
workshopTests(test);
exportTests(test);
tryItTests(test);
dataStepTests(test);
kernelTests(test);
benchTests(test);

await run();
