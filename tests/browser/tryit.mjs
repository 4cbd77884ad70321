// "Try it" (issue #14 item 4): the base model answers as soon as a model is loaded, before any
// training; Generate shows a busy state while it answers; the answer options (new tokens,
// temperature, raw prompt) reach the engine, and an out-of-range one is refused next to them.

import { withPage } from "./harness.mjs";
import { loadServedModel } from "./flow.mjs";

const answered = (page) => page.waitForFunction(() => document.querySelector("#out-base").dataset.done && document.querySelector("#out-adapter").dataset.done, null, { timeout: 60000 });

export function tryItTests(test) {
  test("item 4: Try it before training (base only), busy state, max tokens / temperature / raw options", () =>
    withPage({ webgpu: true }, async (page) => {
      await loadServedModel(page);
      if (await page.locator("#try-section").evaluate((e) => e.inert)) throw new Error("Try it is off with a model loaded");
      if (!(await page.isDisabled("#compare-run"))) throw new Error("base-vs-adapter rating is on before a run");

      await page.fill("#gen-temperature", "-1");
      await page.click("#generate");
      const refusal = await page.textContent("#gen-status");
      if (!/temperature: -1 is not a number from 0/.test(refusal) || (await page.isDisabled("#generate"))) throw new Error(`refusal: ${refusal}`);

      const ask = async (maxTokens, temperature, raw) => {
        await page.fill("#gen-max-tokens", String(maxTokens));
        await page.fill("#gen-temperature", String(temperature));
        await page.setChecked("#gen-raw", raw);
        // What Generate and the answer boxes showed while answering, however short that was.
        await page.evaluate(() => {
          window.seenBusy = [];
          const note = () => window.seenBusy.push([document.querySelector("#generate").textContent, document.querySelector("#generate").disabled, document.querySelector("#gen-pair").getAttribute("aria-busy")]);
          new MutationObserver(note).observe(document.querySelector("#try-section"), { subtree: true, attributes: true, childList: true, characterData: true });
        });
        await page.click("#generate");
        await answered(page);
        const busy = await page.evaluate(() => window.seenBusy.some(([text, disabled, aria]) => text === "Answering…" && disabled && aria === "true"));
        return { busy, base: await page.textContent("#out-base"), adapter: await page.textContent("#out-adapter") };
      };
      // (The tiny test model often ends a greedy answer at once; sampled, it says something.)
      const greedy = await ask(12, 0, true);
      if (greedy.adapter !== "(train first)") throw new Error(`adapter box before training: ${greedy.adapter}`);
      if (/error/.test(greedy.base) || !greedy.base) throw new Error(`base answer: ${greedy.base}`);
      if (!greedy.busy) throw new Error("Generate showed no busy state while answering");
      const long = await ask(12, 1.5, true), short = await ask(1, 1.5, true), chat = await ask(12, 1.5, false);
      const answers = [greedy, long, short, chat].map((a) => a.base);
      console.log(`  # greedy, sampled 12, sampled 1, sampled chat: ${JSON.stringify(answers)}`);
      if (answers.some((a) => /error/.test(a))) throw new Error(`answers: ${JSON.stringify(answers)}`);
      if (long.base === greedy.base) throw new Error("temperature 1.5 answered as greedy does");
      if (!(short.base.length < long.base.length) && !/no text/.test(short.base)) throw new Error(`1 new token gave no less than 12: ${JSON.stringify(answers)}`);
      if ((await page.textContent("#generate")) !== "Generate" || (await page.getAttribute("#gen-pair", "aria-busy"))) throw new Error("the busy state stayed");
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }));
}
