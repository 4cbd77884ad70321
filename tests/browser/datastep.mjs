// The dataset step (issue #14 item 3): a table preview of the first rows (chat rows as bubbles),
// every bad row listed at once with "Drop these rows", and a CSV's columns mapped to roles
// (core's `convert`), each leading to a run that plans.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitForText, withPage } from "./harness.mjs";
import { REPO, loadServedModel } from "./flow.mjs";

/** Waits for the run on the dataset to be planned; says which and why not. */
async function planned(page, what) {
  try {
    await waitForText(page, "#plan-status", /steps of/);
  } catch (e) {
    throw new Error(`${what}: ${e.message}; the dataset box says: ${await page.textContent("#data-errors")}`);
  }
}

const row = (p, c) => JSON.stringify({ prompt: p, completion: c });

export function dataStepTests(test) {
  test("item 3: preview table and chat bubbles, all bad rows dropped at once, CSV columns mapped to roles", () =>
    withPage({ webgpu: true }, async (page) => {
      const dir = await mkdtemp(join(tmpdir(), "anytune-data-"));
      try {
        await loadServedModel(page);
        // Chat rows: bubbles by role.
        await page.setInputFiles("#data-file", join(REPO, "tests/data/zorblax_chat.jsonl"));
        // (The tiny served model has no chat template, so these rows are refused for training.)
        await page.waitForSelector("#data-preview .bubble.user");
        const bubbles = { user: await page.locator("#data-preview .bubble.user").count(), assistant: await page.locator("#data-preview .bubble.assistant").count() };
        if (bubbles.user < 5 || bubbles.assistant < 5) throw new Error(`chat preview: ${JSON.stringify(bubbles)}`);

        // Three bad rows among good ones: all listed, then dropped in one go.
        const good = Array.from({ length: 6 }, (_, i) => row(`Question ${i}?`, ` Answer ${i}.`));
        const lines = [good[0], "{not json", good[1], '{"prompt": "no completion"}', good[2], good[3], "[1, 2]", good[4], good[5]];
        const bad = join(dir, "bad.jsonl");
        await writeFile(bad, lines.join("\n") + "\n");
        await page.setInputFiles("#data-file", bad);
        // The file is read asynchronously: wait for its preview, not the previous file's.
        await page.waitForFunction(() => /bad\.jsonl/.test(document.querySelector("#data-preview b")?.textContent));
        const headers = await page.locator("#preview-table th").allTextContents();
        if (!headers.includes("prompt") || !headers.includes("completion")) throw new Error(`preview table headers: ${headers}`);
        await page.waitForSelector("#drop-bad-rows");
        const issues = await page.textContent("#inspect-issues");
        for (const line of [2, 4, 7]) if (!issues.includes(`bad row, line ${line}:`)) throw new Error(`line ${line} not listed: ${issues}`);
        if (!/Drop these 3 bad rows/.test(await page.textContent("#drop-bad-rows"))) throw new Error("no drop action for 3 rows");
        await page.click("#drop-bad-rows");
        const counts = await waitForText(page, "#clean-counts", /rows read/);
        if (!/9 rows read: 6 kept unchanged, 0 kept with normalised text, 3 dropped/.test(counts)) throw new Error(counts);
        await planned(page, "the rows left");

        // A CSV whose header names nothing core knows: the columns are mapped by hand.
        const csv = join(dir, "qa.csv");
        await writeFile(csv, "id,question,answer\n" + Array.from({ length: 5 }, (_, i) => `${i},"What is ${i}, really?",It is ${i}.`).join("\n") + "\n");
        await page.setInputFiles("#data-file", csv);
        await page.waitForSelector("#csv-columns:not(.hidden)");
        const cells = await page.locator("#preview-table td").allTextContents();
        if (!cells.includes("What is 0, really?")) throw new Error(`CSV preview: ${cells}`);
        await page.click("#csv-use");
        if (!/choose a prompt and a completion column/.test(await page.textContent("#csv-status"))) throw new Error("no columns chosen was not refused");
        await page.selectOption("#csv-map select[data-column=question]", "prompt");
        await page.selectOption("#csv-map select[data-column=answer]", "completion");
        await page.fill("#csv-system", "You answer briefly.");
        await page.click("#csv-use");
        const done = await waitForText(page, "#csv-status", /chat rows/);
        if (!/→ 5 chat rows, 0 bad rows skipped/.test(done)) throw new Error(done);
        await page.waitForFunction(() => /qa\.jsonl/.test(document.querySelector("#data-preview b")?.textContent));
        const system = await page.locator("#data-preview .bubble.system").count();
        const name = await page.textContent("#data-preview b");
        if (system !== 5 || !/qa\.jsonl/.test(name)) throw new Error(`converted preview: ${name}, ${system} system bubbles`);
        // Chat rows need the model's chat template: the tiny model has none, and the page says so.
        await waitForText(page, "#data-errors", /chat rows need a chat template/);
        if (page.errors.length) throw new Error(page.errors.join("; "));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }));
}
