// The page's behaviour around the flow: the help shown when WebGPU gives no adapter, sections
// that are off being inert (no keyboard either), and an automated accessibility check (axe-core).

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { launchBrowser, openPage, waitForText, withPage } from "./harness.mjs";

const AXE = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's violations on the page as it is now, as "impact id: help (n nodes)" lines. */
export async function axeViolations(page, impacts) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => (await window.axe.run(document)).violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })));
  return found.filter((v) => impacts.includes(v.impact)).map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.join(", ")})`);
}

export function pageTests(test) {
  test("no adapter: navigator.gpu without an adapter shows the help, not a wgpu dump", async () => {
    const context = await launchBrowser({ webgpu: true });
    try {
      // As with WebGPU turned off in chrome://flags or a blocklisted GPU: the API is there, no adapter.
      await context.addInitScript(() => { GPU.prototype.requestAdapter = async () => null; });
      const page = await openPage(context);
      const text = await waitForText(page, "#gpu-status", /no GPU adapter/);
      if (!/hardware acceleration/.test(text) || !/anytune train/.test(text) || /wgpu|Error\(/.test(text)) {
        throw new Error(`gpu status: ${JSON.stringify(text)}`);
      }
      if (!(await page.locator("#model-section").evaluate((e) => e.inert))) throw new Error("the model section is not inert");
    } finally {
      await context.close();
    }
  });

  test("off sections are inert: Start cannot be reached or pressed from the keyboard", () =>
    withPage({ webgpu: true }, async (page) => {
      await waitForText(page, "#gpu-status", /limits:/);
      for (const id of ["#data-section", "#options-section", "#train-section", "#try-section", "#download-section"]) {
        if (!(await page.locator(id).evaluate((e) => e.inert))) throw new Error(`${id} is off but not inert`);
      }
      // Tab through the whole page: focus never lands inside an off section.
      const reached = new Set();
      for (let i = 0; i < 20; i++) {
        await page.keyboard.press("Tab");
        reached.add(await page.evaluate(() => document.activeElement?.closest("section.off")?.id || ""));
      }
      reached.delete("");
      if (reached.size) throw new Error(`focus reached off sections: ${[...reached]}`);
      await page.evaluate(() => document.querySelector("#start").focus());
      await page.keyboard.press("Enter");
      await page.waitForTimeout(300);
      const stats = await page.textContent("#stats");
      const plan = await page.textContent("#plan-status");
      if (/no run planned/.test(stats + plan) || (await page.evaluate(() => window.anytuneStatus.state)) !== "idle") {
        throw new Error(`Start acted while off: ${JSON.stringify({ stats, plan })}`);
      }
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }));

  test("accessibility: axe-core finds no critical or serious violations, before and after loading", () =>
    withPage({ webgpu: true }, async (page) => {
      await waitForText(page, "#gpu-status", /limits:/);
      const before = await axeViolations(page, ["critical", "serious"]);
      await page.click("#load-model");
      await waitForText(page, "#model-status", /2 layers/);
      await page.click("#sample-zorblax");
      await waitForText(page, "#plan-status", /steps of/);
      const after = await axeViolations(page, ["critical", "serious"]);
      const all = [...before, ...after];
      if (all.length) throw new Error(all.join("\n"));
      const chart = await page.locator("#chart").getAttribute("aria-label");
      if (!/^Loss chart/.test(chart)) throw new Error(`chart label: ${chart}`);
    }));
}
