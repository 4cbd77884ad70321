// Both kernel families in the browser (issue #11): the page forced to `?kernels=cpu` and to
// `?kernels=gpu` on the same WebGPU adapter (SwiftShader here) trains the same run to the same
// adapter, within the float tolerance of two kernel sets (different summation orders), and says
// which family it uses; the gpu family's default, activations saved in 16 bits, trains to an
// adapter within the rounding of those saves. Prints each family's tokens/s (issue #14 item 7's
// measurement).
// And `anytuneBench()`, the page's `anytune bench --train`, against the native one.

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { readSafetensors, unzip, normDiff } from "./files.mjs";
import { BASE_URL, waitForText, withPage } from "./harness.mjs";
import { DATA, OPTIONS, REPO, download, loadServedModel, setOptions, status, waitForState } from "./flow.mjs";

// The tiled (gpu) and the llvmpipe-shaped (cpu) kernels add in other orders; after 8 AdamW steps
// the adapters agree to the same bound as browser vs native (flow.mjs: PARITY_REL, PARITY_ABS).
const REL = 1e-3, ABS = 1e-3;
// Saved in 16 bits (f16 / bf16: relative rounding 2^-11 / 2^-9 of what backward reads) the
// gradients move by ~3e-3 of their size (tests/tests/train_options.rs); after these 8 steps the
// adapter moved by 5.6e-4 (relative and per element, SwiftShader): the bound leaves ten times that.
const REL16 = 5e-3, ABS16 = 5e-3;

async function trainWith(family, saved) {
  let out;
  await withPage({ webgpu: true }, async (page) => {
    const gpu = await waitForText(page, "#gpu-status", /limits:/);
    if (!new RegExp(`kernels: ${family} \\(chosen by the caller\\)`).test(gpu)) throw new Error(`gpu status for ${family}: ${gpu}`);
    await loadServedModel(page);
    await page.setInputFiles("#data-file", DATA);
    await setOptions(page, { ...OPTIONS, saved_activations: saved });
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
    const cpu = await trainWith("cpu", "auto");
    const gpu = await trainWith("gpu", "f32");
    const gpu16 = await trainWith("gpu", "auto");
    const { rel, abs } = normDiff(gpu.tensors, cpu.tensors);
    const d16 = normDiff(gpu16.tensors, cpu.tensors);
    const speed = (s) => (s.match(/([\d.]+) tokens\/s/) || [])[1];
    console.log(`  # gpu vs cpu family: largest relative difference ${rel.toExponential(2)}, element ${abs.toExponential(2)}; ` +
      `tokens/s cpu ${speed(cpu.stats)}, gpu ${speed(gpu.stats)}; losses cpu ${cpu.losses.map((l) => l.toFixed(4)).join(" ")}, gpu ${gpu.losses.map((l) => l.toFixed(4)).join(" ")}`);
    console.log(`  # gpu family saving in 16 bits vs cpu: relative ${d16.rel.toExponential(2)}, element ${d16.abs.toExponential(2)}; losses ${gpu16.losses.map((l) => l.toFixed(4)).join(" ")}`);
    if (!(rel < REL && abs < ABS)) throw new Error(`the families' adapters differ: relative ${rel}, element ${abs}`);
    if (!(d16.rel < REL16 && d16.abs < ABS16)) throw new Error(`saved in 16 bits the adapter differs: relative ${d16.rel}, element ${d16.abs}`);
    if (!(normDiff(gpu16.tensors, gpu.tensors).rel > 0)) throw new Error("auto gave the gpu family's f32 adapter bit for bit: it did not save in 16 bits");
  }, { timeout: 600000 });
}

/** `anytune bench --train` on the tiny model: its FLOPs per token and memory estimate lines. */
function nativeBench(flags) {
  const out = execFileSync(process.env.ANYTUNE_BIN || join(REPO, "target/debug/anytune"),
    ["bench", "--train", "--model", join(REPO, "tests/fixtures/tiny-llama-Q4_0.gguf"), ...flags], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return { mflops: Number(out.match(/FLOPs per token: ([\d.]+) MFLOP/)[1]), memory: out.match(/^GPU memory: .*$/m)[0] };
}

export function benchTests(test) {
  test("bench: anytuneBench() is anytune bench --train on the page (same work and memory estimate); bad options refused", () =>
    withPage({ webgpu: true }, async (page) => {
      await loadServedModel(page);
      const options = { tokens: 16, batch: 2, rank: 4, targets: "all-linear", layers: "1", iters: 2 };
      const r = await page.evaluate((o) => window.anytuneBench(o), options);
      if (r.seconds.length !== 2 || !(r.best > 0) || Math.abs(r.tokens_per_s - 32 / r.best) > 1e-6 * r.tokens_per_s) throw new Error(`timing: ${JSON.stringify(r)}`);
      if (!(r.dispatches > 0) || r.profile.length !== 0) throw new Error(`dispatches ${r.dispatches}, profile ${JSON.stringify(r.profile)}`);
      // The same step as the native bench: FLOPs per token and the memory estimate (the tiny
      // model's buffers fit both adapters' limits, so the estimates are the same).
      const n = nativeBench(["--tokens", "16", "--batch", "2", "--rank", "4", "--targets", "all-linear", "--layers", "1", "--iters", "1"]);
      if (Math.abs(r.flops_per_token / 1e6 - n.mflops) > 0.05) throw new Error(`FLOPs per token: page ${r.flops_per_token}, native ${n.mflops} M`);
      const mib = (b) => (b / 1048576).toFixed(0);
      if (!n.memory.startsWith(`GPU memory: ${mib(r.memory.total)} MiB`)) throw new Error(`memory: page ${r.memory.total} bytes, native "${n.memory}"`);
      for (const [bad, re] of [[{ batch: 0 }, /invalid batch: 0 is below 1/], [{ fast: 1 }, /benchTrain options: unknown field `fast`/], [{ layers: "7" }, /layer/]]) {
        const error = await page.evaluate((o) => window.anytuneBench(o).then(() => "resolved", (e) => e.message), bad);
        if (!re.test(error)) throw new Error(`anytuneBench(${JSON.stringify(bad)}): ${error}`);
      }
      if (page.errors.length) throw new Error(page.errors.join("; "));
    }));
}
