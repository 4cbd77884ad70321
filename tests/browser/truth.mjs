// The page tells the truth about a run: a finished run opened again shows as finished (bug 6);
// "Try it" neither stalls training nor holds up Pause (bug 7); impossible runs and bad options
// are refused next to their field (bug 8); the fields show what will run, with presets and the
// equivalent command and run.toml (item 1); the chart's smoothing, hover and axis titles (item 5).

import { spawnSync } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchBrowser, openPage, waitForText, withPage } from "./harness.mjs";
import { DATA, OPTIONS, REPO, download, loadServedModel, setOptions, status, waitForState } from "./flow.mjs";

const BIN = process.env.ANYTUNE_BIN || join(REPO, "target/debug/anytune");

async function withSample(page) {
  await loadServedModel(page);
  await page.setInputFiles("#data-file", DATA);
  await waitForText(page, "#plan-status", /steps of/);
}

const fieldError = (page, name) => page.evaluate((n) => document.querySelector(`#options [name=${n}]`).closest("label").querySelector(".field-error")?.textContent ?? "", name);

export function truthTests(test) {
  test("bugs 8 and 4: batch 4096 is refused by the whole estimate; lr −1, val split 0.95, rank 0 and layers 40-50 next to their fields", () =>
    withPage({ webgpu: true }, async (page) => {
      await loadServedModel(page);
      // Rows of 256 tokens in batches of 4096: about 15 GiB in all on the tiny model (more than
      // the budget: half of navigator.deviceMemory, at most 8 GiB), each buffer within its limit.
      const long = Array.from({ length: 8 }, (_, i) => JSON.stringify({ text: `row ${i}: ` + "the kettle boils water quickly and quietly. ".repeat(60) })).join("\n");
      await page.setInputFiles("#data-file", { name: "long.jsonl", mimeType: "application/json", buffer: Buffer.from(long) });
      await waitForText(page, "#plan-status", /steps of/);
      await page.locator("#options [name=batch]").fill("4096");
      const plan = await waitForText(page, "#plan-status", /Too large/);
      if (!/needs [\d.]+ GiB of GPU memory in all/.test(plan) || !/navigator\.deviceMemory|assumed/.test(plan)) throw new Error(`plan: ${plan}`);
      if (!(await page.locator("#start").isDisabled())) throw new Error("Start stays enabled for a run that does not fit");
      await page.locator("#options [name=batch]").fill("2");
      // The new plan, not the refused one (which also says "steps of").
      await page.waitForFunction(() => { const t = document.querySelector("#plan-status").textContent; return /steps of/.test(t) && !/Too large/.test(t); });
      if (await page.locator("#start").isDisabled()) throw new Error("Start stays disabled once the run fits");
      await page.locator("#options [name=lr]").fill("-1");
      await page.locator("#options [name=val_split]").fill("0.95");
      await page.waitForFunction(() => document.querySelectorAll("#options .field-error:not(:empty)").length === 2);
      const lr = await fieldError(page, "lr"), split = await fieldError(page, "val_split");
      if (!/invalid lr: -1 is out of range \(allowed: a number in \(0, 10\]\)/.test(lr)) throw new Error(`lr: ${lr}`);
      if (!/invalid val_split: 0\.95 is out of range \(allowed: a number in \[0, 0\.5\]\)/.test(split)) throw new Error(`val_split: ${split}`);
      if (await fieldError(page, "rank")) throw new Error("a valid field is marked");
      if (await page.locator("#train-section").evaluate((e) => !e.inert)) throw new Error("Start is reachable with bad options");
      if (/fix the dataset/i.test(await page.textContent("#data-section"))) throw new Error("option errors in the dataset box");
      // Fixed, the marks go.
      await page.locator("#options [name=lr]").fill("0.01");
      await page.locator("#options [name=val_split]").fill("0.25");
      await waitForText(page, "#plan-status", /steps of/);
      if (await fieldError(page, "lr") || await fieldError(page, "val_split")) throw new Error("errors stayed after the fix");
      // Bug 4: rank 0 (refused by the schema) and layers 40-50 (refused with the model's 2
      // layers, at planning) show under their own fields, never in the dataset box.
      for (const [name, bad, good, re] of [["rank", "0", "4", /invalid rank: 0/], ["layers", "40-50", "all", /invalid layers \(--layers\): layer 40 does not exist \(the model has 2 layers: 0-1\)/]]) {
        await page.locator(`#options [name=${name}]`).fill(bad);
        await page.waitForFunction((n) => document.querySelector(`#options [name=${n}]`).closest("label").querySelector(".field-error")?.textContent, name, { timeout: 15000 })
          .catch(async () => { throw new Error(`${name} ${bad}: no error under the field; plan: ${await page.textContent("#plan-status")}; dataset: ${await page.textContent("#data-errors")}`); });
        const error = await fieldError(page, name);
        if (!re.test(error)) throw new Error(`${name} ${bad}: ${error}`);
        if (/fix the dataset/i.test(await page.textContent("#data-section")) || (await page.textContent("#data-errors")).trim()) throw new Error(`${name} ${bad}: an option error in the dataset box`);
        await page.locator(`#options [name=${name}]`).fill(good);
        await waitForText(page, "#plan-status", /steps of/);
      }
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }));

  test("item 1: the fields show the planned run; presets; the command and run.toml that anytune train reads", () =>
    withPage({ webgpu: true }, async (page) => {
      await withSample(page);
      // The quick demo (the default preset) is core's short schedule, in the fields.
      const field = (n) => page.locator(`#options [name=${n}]`).inputValue();
      const quick = { steps: await field("steps"), batch: await field("batch"), lr: await field("lr"), targets: await field("targets") };
      if (quick.steps === "" || quick.batch !== "1" || quick.lr !== "0.01" || quick.targets !== "all-linear") throw new Error(`quick demo fields: ${JSON.stringify(quick)}`);
      const label = await page.textContent("#preset-quick");
      if (!/^Quick demo — (about \d+ minutes?|under a minute) here$/.test(label)) throw new Error(`preset label: ${label}`);
      const plan = await page.textContent("#plan-status");
      if (!new RegExp(`${quick.steps} steps of 1 ×`).test(plan)) throw new Error(`plan vs fields: ${plan}`);
      // The model's preset: the recommended full run (core's apply_preset), in the fields, named
      // after the model, with the time here; the quick demo's values do not stay behind.
      await page.selectOption("#options [name=preset]", "model");
      const modelPlan = await waitForText(page, "#plan-status", /preset model \(Llama-style/);
      const rec = { steps: await field("steps"), epochs: await field("epochs"), lr: await field("lr"), targets: await field("targets"), layers: await field("layers"), batch: await field("batch"), eval_every: await field("eval_every") };
      const recSteps = Number(modelPlan.match(/(\d+) steps of/)[1]);
      if (rec.steps !== "" || rec.epochs !== "3" || rec.lr !== "0.001" || rec.targets !== "all-linear" || rec.layers !== "all" || rec.batch !== "4" ||
          rec.eval_every !== String(Math.ceil(recSteps / 10))) throw new Error(`model preset fields: ${JSON.stringify(rec)}, ${recSteps} steps`);
      // Named as the model is known (its GGUF's general.name, as in adapter_config.json).
      const recLabel = await page.textContent("#preset-model");
      if (!/^Recommended for tiny-llama — (about \d+ minutes?|under a minute) here$/.test(recLabel)) throw new Error(`model preset label: ${recLabel}`);
      const recNote = await page.textContent("#preset-note");
      if (!recNote.startsWith("The full run recommended for tiny-llama — 3 epochs (")) throw new Error(`model preset note: ${recNote}`);
      if ((await page.textContent("#preset-quick")) !== "Quick demo") throw new Error("the unselected quick demo still shows a time");
      if (!(await page.textContent("#command")).includes("--preset model")) throw new Error(`command: ${await page.textContent("#command")}`);
      await page.selectOption("#options [name=preset]", "quick");
      await waitForText(page, "#plan-status", /preset quick: short schedule/);
      const back = { lr: await field("lr"), epochs: await field("epochs"), eval_every: await field("eval_every") };
      if (back.lr !== "0.01" || back.epochs !== "1" || back.eval_every !== "5") throw new Error(`back to the quick demo: ${JSON.stringify(back)}`);
      for (const name of ["rank", "alpha", "targets", "layers", "lr", "val_split"]) {
        const help = await page.evaluate((n) => document.querySelector(`#options [name=${n}]`).closest("label").querySelector(".help")?.textContent ?? "", name);
        if (help.length < 20) throw new Error(`no explanation beside ${name}`);
      }
      // Editing a field makes the preset Custom; the command follows the fields.
      await setOptions(page, OPTIONS);
      if ((await field("preset")) !== "custom") throw new Error("the preset did not become Custom");
      await page.click("#command-box summary");
      const command = await page.textContent("#command");
      for (const flag of ["anytune train", "--data zorblax.jsonl", "--steps 8", "--lr 0.01", "--rank 4", "--targets all-linear", "--batch 2", "--val-split 0.25", "--seed 1"]) {
        if (!command.includes(flag)) throw new Error(`command lacks ${flag}: ${command}`);
      }
      const toml = await download(page, "#download-toml");
      if (toml.name !== "run.toml") throw new Error(toml.name);
      // `anytune train --config run.toml --dry-run` reads it and plans the same steps.
      const dir = await mkdtemp(join(tmpdir(), "anytune-toml-"));
      try {
        const text = toml.bytes.toString("utf8").replace('model = "smollm2-135m"', `model = ${JSON.stringify(join(REPO, "tests/fixtures/tiny-llama-Q4_0.gguf"))}`);
        await writeFile(join(dir, "run.toml"), text);
        await copyFile(DATA, join(dir, "zorblax.jsonl"));
        const run = spawnSync(BIN, ["train", "--config", join(dir, "run.toml"), "--dry-run"], { encoding: "utf8" });
        if (run.status !== 0 || !/8 steps of 2 × 64 tokens/.test(run.stderr)) throw new Error(`anytune train --config run.toml --dry-run: ${run.stderr}`);
        if (!/LoRA: r 4, alpha 16, all-linear/.test(run.stderr)) throw new Error(`dry run options: ${run.stderr}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }));

  test("bug 7 and item 5: Try it runs between steps, Pause answers at once; the chart smooths and hovers", () =>
    withPage({ webgpu: true }, async (page) => {
      await withSample(page);
      await setOptions(page, { ...OPTIONS, steps: 40, eval_every: 10 });
      await page.click("#start");
      await page.waitForFunction(() => window.anytuneStatus.step >= 2, null, { timeout: 60000 });
      await page.fill("#prompt", "Who makes the Zorblax 3000 kettle?");
      await page.click("#generate");
      // Training goes on while the question is answered.
      const asked = (await status(page)).step;
      await page.waitForFunction((s) => window.anytuneStatus.step >= s + 2 || window.anytuneStatus.state !== "training", asked, { timeout: 60000 });
      const during = await page.evaluate(() => ({ answering: window.anytuneStatus.answering, done: Boolean(document.querySelector("#out-adapter").dataset.done), state: document.querySelector("#train-state").textContent }));
      console.log(`  # while answering: ${JSON.stringify(during)}`);
      // Before, training stalled until both answers were complete.
      if (during.done || !/answering your question between steps/.test(during.state)) throw new Error(`training waited for the answer: ${JSON.stringify(during)}`);
      // Pause is shown at once and lands within a step or a token, not after the whole answer.
      await page.click("#pause");
      const shown = await page.textContent("#train-state");
      if (!/pausing after this step/.test(shown)) throw new Error(`no pausing state: ${shown}`);
      const t0 = Date.now();
      await waitForState(page, "paused", 30000);
      const waited = Date.now() - t0;
      console.log(`  # paused ${waited} ms after Pause`);
      await page.waitForFunction(() => document.querySelector("#out-base").dataset.done && document.querySelector("#out-adapter").dataset.done, null, { timeout: 120000 });
      const answers = [await page.textContent("#out-base"), await page.textContent("#out-adapter")];
      if (/error/.test(answers.join(" "))) throw new Error(`answers: ${JSON.stringify(answers)}`);
      const s = await status(page);
      if (s.step >= 40) throw new Error("the run finished before the pause");
      // The chart: axis titles drawn, values on hover, the smoothed line over the raw one.
      const box = await page.locator("#chart").boundingBox();
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.4);
      const hover = await page.locator("#chart").getAttribute("data-hover");
      if (!/^step \d+ {2}loss [\d.]+ {2}smoothed [\d.]+/.test(hover || "")) throw new Error(`hover: ${hover}`);
      const smoothed = await page.evaluate(async () => (await import("/web/chart.js")).smooth([4, 2, 2, 2]).map((v) => v.toFixed(3)).join(" "));
      if (smoothed !== "4.000 2.750 2.367 2.199") throw new Error(`smooth: ${smoothed}`);
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }), { timeout: 300000 });

  test("bug 6: a finished run opened after a reload shows as finished, with its steps, chart and options", async () => {
    const context = await launchBrowser({ webgpu: true });
    try {
      const page = await openPage(context);
      await withSample(page);
      await setOptions(page, OPTIONS);
      await page.click("#start");
      await waitForState(page, "finished", 120000);
      const before = await status(page);
      await page.reload();
      const banner = await waitForText(page, "#saved-text", /zorblax\.jsonl/);
      if (!/finished run/.test(banner) || !banner.includes(`step ${OPTIONS.steps} of ${OPTIONS.steps}`)) throw new Error(`banner: ${banner}`);
      if ((await page.textContent("#resume-saved")) !== "Open it") throw new Error("a finished run is offered as resumable");
      await page.click("#resume-saved");
      await waitForState(page, "finished");
      const stats = await waitForText(page, "#stats", /step 8 \/ 8/);
      if (!/finished/.test(stats)) throw new Error(`stats: ${stats}`);
      const points = Number(await page.locator("#chart").getAttribute("data-points"));
      if (points !== before.train.length + before.val.length) throw new Error(`chart: ${points} points, expected ${before.train.length + before.val.length}`);
      for (const [name, value] of Object.entries(OPTIONS)) {
        const v = await page.locator(`#options [name=${name}]`).inputValue();
        if (v !== String(value)) throw new Error(`option ${name}: ${v}, the run had ${value}`);
      }
      if ((await page.textContent("#train-state")) !== "finished") throw new Error(await page.textContent("#train-state"));
      // Its adapter is there: downloads work.
      const peft = await download(page, "#download-peft");
      if (peft.bytes.length < 1000) throw new Error("no adapter");
      if (page.errors.length) throw new Error(page.errors.join("; "));
    } finally {
      await context.close();
    }
  }, { timeout: 300000 });
}
