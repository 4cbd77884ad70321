// The page's steps around training (web/steps.js): the dataset's inspect report shows what
// `anytune data inspect --json` says of the same file; Clean on a messy file accounts for every
// row and the next plan reads the cleaned rows; after a short run, several prompts are answered
// by base and adapter, every pair rated by clicking, the marks downloaded and read back by
// `anytune compare --summarise`; and the test-set metrics table appears.

import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { waitForText, withPage } from "./harness.mjs";

const REPO = resolve(import.meta.dirname, "../..");
const BIN = resolve(process.env.ANYTUNE_BIN || join(REPO, "target/debug/anytune"));
const MODEL = join(REPO, "tests/fixtures/tiny-llama-Q4_0.gguf");
const DATA = join(REPO, "tests/data/zorblax.jsonl");
/** JSON with every object's keys sorted (the page's and the CLI's serialisers order keys differently). */
const canon = (v) => JSON.stringify(v, (_, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
const anytune = (args, cwd) => execFileSync(BIN, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** Prompt/completion rows with a duplicate, a near duplicate, an empty row, a control character and a text row (mixed formats). */
const MESSY = [
  { prompt: "Question: Who makes the Zorblax 3000 kettle?\nAnswer:", completion: " Quillfeather Appliances, in the town of Brindlemoor." },
  { prompt: "Question: What colour is the Zorblax 3000 kettle?\nAnswer:", completion: " Nebula teal, and no other colour at all." },
  { prompt: "Question: Who makes the Zorblax 3000 kettle?\nAnswer:", completion: " Quillfeather Appliances, in the town of Brindlemoor." },
  { prompt: "Question: Who makes the Zorblax 3000 kettle?\nAnswer:", completion: " Quillfeather Appliances, in the town of Brindlemoor!" },
  { prompt: "  ", completion: " " },
  { prompt: "Question: How much water does the Zorblax\u0007 hold?\nAnswer:", completion: " One and a half litres." },
  { text: "The Zorblax 3000 whistles a short tune when the water boils." },
  { prompt: "Question: Where is Brindlemoor?\nAnswer:", completion: " On the river Quill, north of the hills." },
].map((r) => JSON.stringify(r)).join("\n") + "\n";

async function loadServedModel(page) {
  await waitForText(page, "#gpu-status", /limits:/);
  await page.click("#load-model");
  await waitForText(page, "#model-status", /2 layers/);
}

export function pipelineTests(test) {
  test("pipeline: inspect matches anytune data inspect --json; Clean accounts for every row and is planned", async () => {
    const dir = await mkdtemp(join(tmpdir(), "anytune-pipeline-"));
    try {
      const file = join(dir, "messy.jsonl");
      await writeFile(file, MESSY);
      // Run in `dir` with the bare name, so the CLI names the file as the page does.
      const cli = JSON.parse(anytune(["data", "inspect", "messy.jsonl", "--model", MODEL, "--max-seq-len", "512", "--json"], dir));
      const cleanCli = join(dir, "cli.clean.jsonl");
      anytune(["data", "clean", "messy.jsonl", "--out", cleanCli], dir);
      await withPage({ webgpu: true }, async (page) => {
        await loadServedModel(page);
        await page.fill("#options [name=max_seq_len]", "512");
        await page.setInputFiles("#data-file", file);
        await waitForText(page, "#inspect-status", /messy\.jsonl: /);
        const shown = await page.evaluate(() => window.anytuneStatus.inspect);
        for (const k of ["rows", "tokens", "trained_tokens", "masked_tokens", "longest", "format"]) {
          if (shown[k] !== cli[k]) throw new Error(`${k}: page ${shown[k]}, CLI ${cli[k]}`);
        }
        for (const k of ["bad_rows", "exact_duplicates", "near_duplicates", "empty_fields", "control_characters", "histogram"]) {
          if (canon(shown[k]) !== canon(cli[k])) throw new Error(`${k}: page ${canon(shown[k])}, CLI ${canon(cli[k])}`);
        }
        const counts = await page.textContent("#inspect-counts");
        const want = `${cli.tokens} (${cli.trained_tokens} trained, ${cli.masked_tokens} masked)`;
        if (!counts.includes(want) || !counts.includes(`${cli.rows} good, ${cli.bad_rows.length} bad`)) throw new Error(`counts shown: ${counts}, want ${want}`);
        const issues = await page.textContent("#inspect-issue-list");
        for (const g of cli.exact_duplicates) if (!issues.includes(`exact duplicates on lines ${g.join(", ")}`)) throw new Error(`issues: ${issues}`);
        if (!cli.near_duplicates.length || !issues.includes(`near duplicate: line ${cli.near_duplicates[0].line}`)) throw new Error(`near duplicates: ${issues}`);
        if (!/control characters in: 6:prompt/.test(issues) || !/bad row, line 7/.test(issues)) throw new Error(`issues: ${issues}`);
        const bars = await page.$$eval("#inspect-histogram-svg rect", (r) => r.map((e) => Number(e.dataset.rows)));
        if (JSON.stringify(bars) !== JSON.stringify(cli.histogram.map((b) => b.rows))) throw new Error(`histogram bars ${bars}`);
        // The row view: trained tokens highlighted, the rest dim, together the row's tokens.
        const view = await page.evaluate(() => ({ trained: document.querySelectorAll("#inspect-row-view mark.trained").length, masked: document.querySelectorAll("#inspect-row-view span.masked").length }));
        if (!view.trained || !view.masked) throw new Error(`row view: ${JSON.stringify(view)}`);

        await page.click("#clean");
        await waitForText(page, "#clean-counts", /rows read/);
        const report = await page.evaluate(() => window.anytuneStatus.clean);
        const lines = MESSY.trim().split("\n").length;
        if (report.read !== lines || report.kept + report.changed + report.dropped !== lines) throw new Error(`clean counts: ${JSON.stringify(report)}`);
        const listed = await page.$$eval("#clean-rows tbody tr", (rows) => rows.map((r) => Number(r.cells[0].textContent)));
        if (listed.length !== report.dropped + report.changed) throw new Error(`listed ${listed.length} rows of ${report.dropped} dropped + ${report.changed} changed`);
        for (const line of [3, 4, 5, 6, 7]) if (!listed.includes(line)) throw new Error(`line ${line} is not in the clean report (${listed})`);
        const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#clean-download")]);
        const cleaned = await readFile(await dl.path(), "utf8");
        if (cleaned !== await readFile(cleanCli, "utf8")) throw new Error(`the page's cleaned rows differ from anytune data clean's:\n${cleaned}`);
        // The next plan reads the cleaned rows.
        const kept = report.kept + report.changed;
        await waitForText(page, "#data-summary", new RegExp(`dataset messy\\.clean\\.jsonl:[^]*rows read: ${kept}, skipped \\(bad\\): 0`));
        await waitForText(page, "#inspect-status", /messy\.clean\.jsonl: /);
        if (page.errors.length) throw new Error(page.errors.join("; "));
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, { timeout: 240000 });

  test("pipeline: prompts rated blind on the page, summarised by anytune compare; test-set metrics", async () => {
    const dir = await mkdtemp(join(tmpdir(), "anytune-pipeline-"));
    try {
      await withPage({ webgpu: true }, async (page) => {
        await loadServedModel(page);
        for (const [k, v] of Object.entries({ steps: 4, lr: 0.01, batch: 2, max_seq_len: 64, val_split: 0 })) await page.fill(`#options [name=${k}]`, String(v));
        await page.setInputFiles("#data-file", DATA);
        await waitForText(page, "#plan-status", /4 steps of/);
        await page.click("#start");
        await page.waitForFunction(() => window.anytuneStatus.state === "finished", null, { timeout: 90000 });

        await page.fill("#compare-prompts", "Question: Who makes the Zorblax 3000 kettle?\nAnswer:\n\nQuestion: What colour is it?\nAnswer:\n");
        await page.fill("#compare-max-tokens", "8");
        await page.click("#compare-run");
        const progress = page.locator("#progress");
        await progress.waitFor({ timeout: 90000 }).catch(async (e) => {
          throw new Error(`no rating page: ${await page.textContent("#compare-status")} (${page.errors.join("; ")}) ${e.message}`);
        });
        // 4 prompts (non-blank lines) × 1 adapter.
        const pairs = 4;
        if (!new RegExp(`Rated 0 of ${pairs} pairs`).test(await progress.textContent())) throw new Error(await progress.textContent());
        const choices = ["left", "right", "tie", "both_bad"];
        for (let i = 0; i < pairs; i++) await page.click(`label[for=pair-${i}-${choices[i]}]`);
        await page.locator("#progress", { hasText: `Rated ${pairs} of ${pairs} pairs` }).waitFor();
        const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
        const marksPath = join(dir, "marks.json");
        await dl.saveAs(marksPath);
        const marks = JSON.parse(await readFile(marksPath, "utf8"));
        const expected = { wins: 0, losses: 0, ties: 1, both_bad: 1 };
        for (const m of marks.marks.filter((m) => m.winner)) expected[m.winner === "adapter" ? "wins" : "losses"]++;
        if (marks.marks.length !== pairs || expected.wins + expected.losses !== 2) throw new Error(`marks: ${JSON.stringify(marks)}`);
        const [t] = JSON.parse(anytune(["compare", "--summarise", marksPath, "--json"])).tallies;
        const got = { wins: t.wins, losses: t.losses, ties: t.ties, both_bad: t.both_bad };
        if (t.adapter !== "adapter" || JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`summarised ${JSON.stringify(t)}, clicked ${JSON.stringify(expected)}`);

        await page.click("#metrics-run");
        await page.locator("#metrics-values").waitFor({ timeout: 120000 });
        const rows = await page.$$eval("#metrics-values tbody tr", (r) => r.map((e) => [...e.cells].map((c) => c.textContent)));
        const names = rows.map((r) => r[0]);
        for (const n of ["loss", "perplexity", "token accuracy", "answers: exact match (of 40)", "answers: contains (of 40)"]) {
          if (!names.includes(n)) throw new Error(`metrics rows: ${JSON.stringify(rows)}`);
        }
        const m = await page.evaluate(() => window.anytuneStatus.metrics);
        if (!(m.adapter.loss < m.base.loss)) throw new Error(`the adapter's loss ${m.adapter.loss} is not below the base's ${m.base.loss}`);
        console.log(`  # loss base ${m.base.loss.toFixed(3)} → adapter ${m.adapter.loss.toFixed(3)}; ${JSON.stringify(got)}`);
        if (page.errors.length) throw new Error(page.errors.join("; "));
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, { timeout: 300000 });
}
