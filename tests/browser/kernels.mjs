// Both kernel families in the browser (issue #11): the page forced to `?kernels=cpu` and to
// `?kernels=gpu` on the same WebGPU adapter (SwiftShader here) trains the same run to the same
// adapter, within the float tolerance of two kernel sets (different summation orders), and says
// which family it uses. Prints each family's tokens/s (issue #14 item 7's measurement).

import { readSafetensors, unzip, normDiff } from "./files.mjs";
import { BASE_URL, waitForText, withPage } from "./harness.mjs";
import { DATA, OPTIONS, download, loadServedModel, setOptions, status, waitForState } from "./flow.mjs";

// The tiled (gpu) and the llvmpipe-shaped (cpu) kernels add in other orders; after 8 AdamW steps
// the adapters agree to the same bound as browser vs native (flow.mjs: PARITY_REL, PARITY_ABS).
const REL = 1e-3, ABS = 1e-3;

async function trainWith(family) {
  let out;
  await withPage({ webgpu: true }, async (page) => {
    const gpu = await waitForText(page, "#gpu-status", /limits:/);
    if (!new RegExp(`kernels: ${family} \\(chosen by the caller\\)`).test(gpu)) throw new Error(`gpu status for ${family}: ${gpu}`);
    await loadServedModel(page);
    await page.setInputFiles("#data-file", DATA);
    await setOptions(page, OPTIONS);
    await page.click("#start");
    await waitForState(page, "finished", 180000);
    const stats = await page.textContent("#stats");
    const s = await status(page);
    const peft = await download(page, "#download-peft");
    out = { losses: s.train, stats, tensors: readSafetensors(unzip(peft.bytes).get("adapter_model.safetensors")) };
    if (page.errors.length) throw new Error(page.errors.join("; "));
  }, `${BASE_URL}?kernels=${family}`);
  return out;
}

export function kernelTests(test) {
  test("kernels: ?kernels=cpu and ?kernels=gpu train the same run to the same adapter", async () => {
    const cpu = await trainWith("cpu");
    const gpu = await trainWith("gpu");
    const { rel, abs } = normDiff(gpu.tensors, cpu.tensors);
    const speed = (s) => (s.match(/([\d.]+) tokens\/s/) || [])[1];
    console.log(`  # gpu vs cpu family: largest relative difference ${rel.toExponential(2)}, element ${abs.toExponential(2)}; ` +
      `tokens/s cpu ${speed(cpu.stats)}, gpu ${speed(gpu.stats)}; losses cpu ${cpu.losses.map((l) => l.toFixed(4)).join(" ")}, gpu ${gpu.losses.map((l) => l.toFixed(4)).join(" ")}`);
    if (!(rel < REL && abs < ABS)) throw new Error(`the families' adapters differ: relative ${rel}, element ${abs}`);
  }, { timeout: 420000 });
}
