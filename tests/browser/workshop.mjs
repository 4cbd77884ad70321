// The workshop mode (?workshop, web/workshop.js) end to end on the sample data with the served
// model: the base answer, training to the end (a run sized from a measured step), the tuned
// answer, the per-token view (the trained answer's loss falls), the download, big type and no
// critical or serious axe-core violations.

import { readFile } from "node:fs/promises";
import { BASE_URL, withPage } from "./harness.mjs";
import { axeViolations } from "./page.mjs";
import { unzip } from "./files.mjs";

// By hand with the real default model (SmolLM2 on SwiftShader is slow): ANYTUNE_WORKSHOP_TIMEOUT_S
// for training, ANYTUNE_WORKSHOP_FACT for the words the tuned answer must hold, and
// ANYTUNE_WORKSHOP_SHOTS=DIR for screenshots of every step at 1920×1080 and 390×844.
const TRAIN_MS = Number(process.env.ANYTUNE_WORKSHOP_TIMEOUT_S || 480) * 1000;
const SHOTS = process.env.ANYTUNE_WORKSHOP_SHOTS;
const ANSWER_MS = Math.max(60000, TRAIN_MS / 4); // answers and the token view

async function shoot(page, name) {
  if (!SHOTS) return;
  for (const [w, h] of [[1920, 1080], [390, 844]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: `${SHOTS}/workshop-${name}-${w}x${h}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1920, height: 1080 });
}

const ws = (page) => page.evaluate(() => window.anytuneStatus.workshop || { done: [] });

async function waitFor(page, what, predicate, timeout) {
  const t0 = Date.now();
  for (;;) {
    const s = await ws(page);
    if (s.error) throw new Error(`workshop error while waiting for ${what}: ${s.error}`);
    if (predicate(s)) return s;
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ ...s, rows: undefined })}`);
    await page.waitForTimeout(250);
  }
}

async function next(page) {
  await page.click("#ws-next");
}

export function workshopTests(test) {
  test("workshop: six steps on the sample data, from the base answer to the download", () =>
    withPage({ webgpu: true }, async (page) => {
      await waitFor(page, "the model", (s) => s.ready, ANSWER_MS);
      if (!(await page.isDisabled("#ws-next"))) throw new Error("Next is enabled before step 1 is done");
      const size = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
      if (size < 24) throw new Error(`workshop type is ${size}px, not projector size`);

      await page.click("#ws-ask");
      let s = await waitFor(page, "the base answer", (s) => s.done[0], ANSWER_MS);
      // (The tiny test model may end an answer at once: the box says so.)
      if (!(await page.textContent("#ws-base-answer")).trim()) throw new Error("the base answer's box is empty");
      if (s.expected !== "The handle of the Zorblax 3000 is made of a cork-birch composite that never gets hot.") {
        throw new Error(`expected answer: ${s.expected}`);
      }
      await shoot(page, "1-ask");
      await next(page);

      await waitFor(page, "the data", (s) => s.done[1], 30000);
      const rows = await page.locator("#ws-data .ws-row").count();
      const marks = await page.locator("#ws-data mark.trained").count();
      if (rows !== 6 || marks < 6) throw new Error(`data view: ${rows} rows, ${marks} trained runs`);
      if (!(s = await ws(page)).tokens.trained) throw new Error("no token counts");
      await shoot(page, "2-data");
      await next(page);

      await page.click("#ws-train");
      if (SHOTS) { await waitFor(page, "a few steps", (s) => s.trained >= 3, TRAIN_MS); await shoot(page, "3-training"); }
      s = await waitFor(page, "training to the end", (s) => s.done[2], TRAIN_MS);
      if (s.trained !== s.total || s.total < 16) throw new Error(`trained ${s.trained} of ${s.total} steps`);
      if (!(s.seconds > 0) || !(s.estimate > 0)) throw new Error(`no measured step time: ${s.seconds}`);
      const label = await page.getAttribute("#ws-chart", "aria-label");
      if (!/training loss from/.test(label)) throw new Error(`chart: ${label}`);
      await shoot(page, "3-trained");
      await next(page);

      await page.click("#ws-ask-again");
      s = await waitFor(page, "the tuned answer", (s) => s.done[3], ANSWER_MS);
      if (s.tuned === s.base) throw new Error(`tuned answer ${JSON.stringify(s.tuned)} vs base ${JSON.stringify(s.base)}`);
      const fact = process.env.ANYTUNE_WORKSHOP_FACT;
      if (fact && !s.tuned.includes(fact)) throw new Error(`the tuned answer lacks ${JSON.stringify(fact)}: ${s.tuned}`);
      if (!(await page.textContent("#ws-expected")).includes("cork-birch")) throw new Error("the expected answer is not shown");
      await shoot(page, "4-again");
      await next(page);

      s = await waitFor(page, "the per-token view", (s) => s.done[4], ANSWER_MS);
      const v = s.tokenView;
      // The tiny test model learns slowly (5.96 → 4.69 in 64 steps); SmolLM2 by hand: see README.
      if (!(v.adapted < 0.9 * v.base)) throw new Error(`the answer's loss did not fall: ${v.base} → ${v.adapted}`);
      const strips = await page.locator("#ws-tokens .ws-strip").count();
      const coloured = await page.locator("#ws-tokens .tok.trained[style*='background']").count();
      if (strips !== 2 || coloured < 10) throw new Error(`token view: ${strips} strips, ${coloured} coloured tokens`);
      await shoot(page, "5-tokens");
      await next(page);

      const download = page.waitForEvent("download");
      await page.click("#ws-peft");
      const file = await (await download).path();
      const names = [...unzip(await readFile(file)).keys()];
      if (!names.includes("adapter_config.json") || !names.includes("adapter_model.safetensors")) throw new Error(`zip holds ${names}`);
      await waitFor(page, "the download step", (s) => s.done[5], 10000);
      const mergedDownload = page.waitForEvent("download", { timeout: ANSWER_MS });
      await page.click("#ws-merged");
      const gguf = await readFile(await (await mergedDownload).path());
      if (gguf.subarray(0, 4).toString("latin1") !== "GGUF") throw new Error("the merged model is not a GGUF file");
      await shoot(page, "6-download");

      const violations = await axeViolations(page, ["critical", "serious"]);
      if (violations.length) throw new Error(`axe-core:\n${violations.join("\n")}`);
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }, BASE_URL + "?workshop"), { timeout: 120000 + TRAIN_MS });
}
