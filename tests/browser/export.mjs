// The page's "Download merged model": after a short run, the merged GGUF (q8_0 by default, f16
// chosen) downloads under the run's name, is a GGUF, and `anytune score` loads it, and the same
// file comes from the finished run opened again after a reload; the Engine's
// exportGguf refuses an export over the memory budget, saying the sizes. A screenshot of the
// control (1920×1080) goes to $ANYTUNE_SHOTS (default /tmp/anytune-shots), outside the repository.

import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withPage, waitForText } from "./harness.mjs";
import { DATA, REPO, download, loadServedModel, setOptions, waitForState } from "./flow.mjs";

const BIN = process.env.ANYTUNE_BIN || join(REPO, "target/debug/anytune");
const SHOTS = process.env.ANYTUNE_SHOTS || "/tmp/anytune-shots";
const SHORT = { steps: 2, lr: 0.01, rank: 4, targets: "all-linear", batch: 2, max_seq_len: 64, seed: 1 };

/** `anytune score` of the file: its JSON (the model loaded and ran). */
function score(bytes, name) {
  return (async () => {
    const dir = await mkdtemp(join(tmpdir(), "anytune-merged-"));
    const file = join(dir, name);
    await writeFile(file, bytes);
    try {
      return JSON.parse(execFileSync(BIN, ["score", "--model", file, "--text", "The Zorblax 3000 kettle"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
}

export function exportTests(test) {
  test("export: Download merged model gives a GGUF (q8_0, f16) named after the run that anytune score loads", () =>
    withPage({ webgpu: true }, async (page) => {
      await page.setViewportSize({ width: 1920, height: 1080 });
      await loadServedModel(page);
      await page.setInputFiles("#data-file", DATA);
      await waitForText(page, "#plan-status", /steps of/);
      await setOptions(page, SHORT);
      await page.click("#start");
      await waitForState(page, "finished");
      await page.locator("#download-merged").scrollIntoViewIfNeeded();
      await mkdir(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, "merged-download.png") });
      const sizes = {};
      let q8 = null;
      for (const type of ["q8_0", "f16"]) {
        await page.selectOption("#merged-type", type);
        const { name, bytes } = await download(page, "#download-merged");
        if (name !== `zorblax-merged-${type}.gguf`) throw new Error(`downloaded ${name}`);
        if (bytes.subarray(0, 4).toString("latin1") !== "GGUF") throw new Error(`${name} is not a GGUF: ${bytes.subarray(0, 4)}`);
        await waitForText(page, "#merged-status", new RegExp(`Downloaded ${name}`));
        const scored = await score(bytes, name);
        if (!Number.isFinite(scored.sum_logprob) || scored.ids.length < 2) throw new Error(`score: ${JSON.stringify(scored).slice(0, 300)}`);
        sizes[type] = bytes.length;
        if (type === "q8_0") q8 = bytes;
      }
      console.log(`  # merged GGUF: q8_0 ${sizes.q8_0} bytes, f16 ${sizes.f16} bytes; screenshot ${join(SHOTS, "merged-download.png")}`);
      if (!(sizes.q8_0 < sizes.f16)) throw new Error(`q8_0 ${sizes.q8_0} bytes is not smaller than f16 ${sizes.f16}`);
      // The finished run opened again after a reload: the same merged model, byte for byte.
      await page.reload();
      await waitForText(page, "#saved-text", /finished run/);
      await page.click("#resume-saved");
      await waitForState(page, "finished");
      await page.selectOption("#merged-type", "q8_0");
      const again = await download(page, "#download-merged");
      if (Buffer.compare(again.bytes, q8) !== 0) throw new Error(`the reopened run's q8_0 GGUF differs (${again.bytes.length} vs ${q8.length} bytes)`);
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }), { timeout: 240000 });

  test("export: exportGguf over the memory budget is refused with the sizes", () =>
    withPage({ webgpu: true }, async (page) => {
      const err = await page.evaluate(async () => {
        const wasm = await import("/web/pkg/anytune_web.js");
        await wasm.default();
        const engine = await wasm.Engine.open();
        const model = new Uint8Array(await (await fetch("/model/default.gguf")).arrayBuffer());
        engine.addModelFile("default.gguf", model);
        engine.loadModel("default.gguf");
        const rows = '{"prompt": "Q: kettle? A:", "completion": " teal"}\n'.repeat(4);
        engine.plan("rows.jsonl", new TextEncoder().encode(rows), JSON.stringify({ steps: 1, batch: 2 }), false);
        engine.start();
        await engine.step();
        engine.setMemoryBudget(100000, "a test budget");
        engine.addModelFile("default.gguf", model);
        try {
          await engine.exportGguf("q8_0");
          return null;
        } catch (e) {
          return String(e.message || e);
        }
      });
      if (!err || !/q8_0 needs about \d+ MiB/.test(err) || !/a test budget/.test(err)) throw new Error(`refusal: ${err}`);
    }));
}
