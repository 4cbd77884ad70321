// `anytune compare`'s rating page, opened from file:// (no server): nothing names a system
// before its pair is rated; every pair rated by clicking (one by keyboard), a comment added,
// the marks surviving a reload, downloaded as marks.json and summarised by
// `anytune compare --summarise`, whose counts must be the ones clicked.
// Alone: ANYTUNE_BROWSER_FILTER=compare node tests/browser/test.mjs (after cargo build -p anytune).

import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { launchBrowser, openPage, waitForText } from "./harness.mjs";

const REPO = resolve(import.meta.dirname, "../..");
const BIN = process.env.ANYTUNE_BIN || join(REPO, "target/debug/anytune");
const MODEL = join(REPO, "tests/fixtures/tiny-llama-Q4_0.gguf");
const DATA = join(REPO, "tests/data/zorblax.jsonl");
const NAMES = ["alpha-lora", "beta-lora"];
const PROMPTS = [
  { prompt: "Question: Who makes the Zorblax 3000 kettle?\nAnswer:", expected: " Quillfeather Appliances." },
  { prompt: "</script><img src=x onerror=\"window.pwned=1\">" },
  { prompt: "Question: What colour is it?\nAnswer:" },
];
// One choice per pair, in page order (6 pairs: 3 prompts × 2 adapters); pair 0 by keyboard.
const CHOICES = ["right", "left", "tie", "both_bad", "left", "right"];
const KEYS = { left: "1", right: "2", tie: "3", both_bad: "4" };

const anytune = (args) => execFileSync(BIN, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** Trains a tiny adapter and writes report.html comparing it (as PEFT and as GGUF) with the base. */
async function makeReport(dir) {
  const adapter = join(dir, "adapter");
  anytune(["train", "--model", MODEL, "--data", DATA, "--out", adapter, "--steps", "4", "--lr", "1e-2", "--targets", "all-linear", "--seed", "1"]);
  const prompts = join(dir, "prompts.jsonl");
  await writeFile(prompts, PROMPTS.map((p) => JSON.stringify(p)).join("\n") + "\n");
  const report = join(dir, "report.html");
  anytune(["compare", "--model", MODEL, "--prompts", prompts, "--adapter", `${NAMES[0]}=${adapter}`,
    "--adapter", `${NAMES[1]}=${join(adapter, "adapter.gguf")}`, "--out", report, "--max-tokens", "12", "--seed", "2"]);
  return report;
}

/** "Left: X · Right: Y" of a rated pair → [X, Y]. */
async function revealed(page, i) {
  const text = await waitForText(page, `#pair-${i}-reveal`, /Left: .+ · Right: .+/);
  return text.match(/Left: (.+?) · Right: (.+?)(Expected answer|$)/).slice(1, 3);
}

export function compareTests(test) {
  test("compare: the rating page from file:// is blinded, rated by click and keyboard, and summarised", async () => {
    const dir = await mkdtemp(join(tmpdir(), "anytune-compare-"));
    const context = await launchBrowser({ webgpu: false });
    try {
      const url = pathToFileURL(await makeReport(dir)).href;
      const page = await openPage(context, url);
      await waitForText(page, "#progress", /Rated 0 of 6 pairs/);
      const before = await page.evaluate(() => document.body.innerText);
      for (const name of NAMES) if (before.includes(name)) throw new Error(`${name} is shown before any rating`);
      if (!before.includes("</script><img src=x")) throw new Error("the hostile prompt is not shown as text");
      if (await page.evaluate(() => document.querySelectorAll("img").length || window.pwned)) throw new Error("the hostile prompt became HTML");

      // Pair 0 by keyboard (focus the pair, press its key; j moves on), the rest by clicking.
      const expected = { [NAMES[0]]: { wins: 0, losses: 0, ties: 0, both_bad: 0 }, [NAMES[1]]: { wins: 0, losses: 0, ties: 0, both_bad: 0 } };
      for (const [i, choice] of CHOICES.entries()) {
        if (i === 0) {
          await page.focus("#pair-0");
          await page.keyboard.press(KEYS[choice]);
          await page.keyboard.press("j");
          const focused = await page.evaluate(() => document.activeElement.id);
          if (focused !== "pair-1") throw new Error(`j moved the focus to ${JSON.stringify(focused)}, not pair-1`);
        } else {
          const shown = await page.evaluate((i) => document.body.innerText.split(`Pair ${i + 1} of 6`)[1].split(`Pair ${i + 2} of 6`)[0], i);
          for (const name of NAMES) if (shown.includes(name)) throw new Error(`pair ${i} names ${name} before it is rated`);
          await page.click(`label[for=pair-${i}-${choice}]`);
        }
        const [left, right] = await revealed(page, i);
        const adapter = left === "base" ? right : left;
        if (!NAMES.includes(adapter) || ![left, right].includes("base")) throw new Error(`pair ${i} revealed ${left} / ${right}`);
        const winner = { left, right }[choice];
        const t = expected[adapter];
        if (choice === "tie") t.ties++;
        else if (choice === "both_bad") t.both_bad++;
        else if (winner === adapter) t.wins++;
        else t.losses++;
      }
      await page.fill("#pair-1-comment", "terse </script> but right");
      await waitForText(page, "#progress", /Rated 6 of 6 pairs\. All rated/);

      // The marks survive a reload. (Seen once: a reload within milliseconds of the last
      // localStorage write showed none of the marks; no person reloads that fast.)
      await page.waitForTimeout(300);
      await page.reload();

      await waitForText(page, "#progress", /Rated 6 of 6 pairs/);
      for (const [i, choice] of CHOICES.entries()) {
        if (!(await page.isChecked(`#pair-${i}-${choice}`))) throw new Error(`pair ${i}: ${choice} is not checked after a reload`);
      }
      if ((await page.inputValue("#pair-1-comment")) !== "terse </script> but right") throw new Error("the comment did not survive the reload");
      await revealed(page, 5);

      const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
      if (dl.suggestedFilename() !== "marks.json") throw new Error(`downloaded ${dl.suggestedFilename()}`);
      const marksPath = join(dir, "marks.json");
      await dl.saveAs(marksPath);
      const marks = JSON.parse(await readFile(marksPath, "utf8"));
      if (marks.marks.length !== 6 || marks.marks.find((m) => m.pair === 1).comment !== "terse </script> but right") {
        throw new Error(`marks.json: ${JSON.stringify(marks)}`);
      }
      await waitForText(page, "#download-status", /Downloaded marks\.json: 6 rated pairs/);

      const summary = JSON.parse(anytune(["compare", "--summarise", marksPath, "--json"]));
      for (const t of summary.tallies) {
        const got = { wins: t.wins, losses: t.losses, ties: t.ties, both_bad: t.both_bad };
        if (JSON.stringify(got) !== JSON.stringify(expected[t.adapter])) {
          throw new Error(`${t.adapter}: summarised ${JSON.stringify(got)}, clicked ${JSON.stringify(expected[t.adapter])}`);
        }
      }
      const table = anytune(["compare", "--summarise", marksPath]);
      if (!/6 marks of 6 pairs/.test(table) || !/ties\/2/.test(table)) throw new Error(`table:\n${table}`);
      console.log(`  # ${JSON.stringify(expected)}`);
      if (page.errors.length) throw new Error(page.errors.join("; "));
      if (context.offOrigin.length) throw new Error(`the page contacted: ${context.offOrigin.join(", ")}`);
    } finally {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, { timeout: 240000 });
}
