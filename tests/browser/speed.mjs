// Not a test: the page's training speed against the native binary's on this machine (issue #14,
// item 7). Both run core's timed LoRA step (`train::bench_step`) with the same options: natively
// `anytune bench --train --profile`, in the browser `anytuneBench()` on the page's worker. Prints
// each side's step time, tokens/s and GPU time per kernel (timestamp queries), and the ratios.
// Run by tests/browser/speed.sh (it serves the default model and sets ANYTUNE_URL, ANYTUNE_BIN).
//   SPEED_OPTIONS='{"batch":1,"tokens":128,"targets":"all-linear","layers":"22-29"}'

import { execFileSync } from "node:child_process";
import { BASE_URL, withPage, waitForText } from "./harness.mjs";

const options = { batch: 1, tokens: 128, rank: 8, targets: "all-linear", layers: "22-29", iters: 2, profile: true, ...JSON.parse(process.env.SPEED_OPTIONS || "{}") };
const kernels = process.env.SPEED_KERNELS; // cpu | gpu: force the page's family (?kernels=)

function native() {
  const args = ["bench", "--train", "--batch", options.batch, "--tokens", options.tokens, "--rank", options.rank,
    "--targets", options.targets, "--layers", options.layers, "--iters", options.iters, ...(options.profile ? ["--profile"] : [])].map(String);
  const out = execFileSync(process.env.ANYTUNE_BIN, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const best = Number(out.match(/step: ([\d.]+) s best/)[1]);
  const profile = [...out.matchAll(/^(\w+)\s+(\d+)\s+([\d.]+)\s+[\d.]+%$/gm)].map((m) => ({ kernel: m[1], dispatches: Number(m[2]), seconds: Number(m[3]) / 1e3 }));
  const wall = out.match(/profiled step: ([\d.]+) s wall, ([\d.]+) s/);
  return { best, tokens_per_s: (options.batch * options.tokens) / best, dispatches: Number(out.match(/(\d+) dispatches and 1 submit/)[1]),
    profile, profiled_wall_seconds: wall ? Number(wall[1]) : NaN, profiled_gpu_seconds: wall ? Number(wall[2]) : NaN, adapter: out.match(/^adapter: (.*)$/m)[1] };
}

async function browser() {
  let timing, adapter;
  const url = kernels ? `${BASE_URL}?kernels=${kernels}` : BASE_URL;
  // Timestamp queries are behind Chrome's WebGPU developer features (unquantized) and unsafe APIs.
  await withPage({ webgpu: true, args: ["--enable-webgpu-developer-features", "--enable-dawn-features=allow_unsafe_apis"] }, async (page) => {
    adapter = (await waitForText(page, "#gpu-status", /limits:/)).split("\n").slice(0, 2).join(" ");
    await page.click("#load-model");
    await waitForText(page, "#model-status", /layers/, { timeout: 120000 });
    timing = await page.evaluate((o) => window.anytuneBench(o), options);
  }, url);
  return { ...timing, adapter };
}

const ms = (s) => (s * 1e3).toFixed(0).padStart(8);
const n = native();
const b = await browser();
console.log(`options: ${JSON.stringify(options)}`);
for (const [name, r] of [["native", n], ["browser", b]]) {
  console.log(`${name.padEnd(8)} ${r.adapter}\n         step ${r.best.toFixed(3)} s best, ${r.tokens_per_s.toFixed(1)} tokens/s, ${r.dispatches} dispatches; ` +
    `profiled step ${r.profiled_wall_seconds.toFixed(3)} s wall, ${r.profiled_gpu_seconds.toFixed(3)} s GPU`);
}
console.log(`browser / native: step time ${(b.best / n.best).toFixed(2)}×, GPU time ${(b.profiled_gpu_seconds / n.profiled_gpu_seconds).toFixed(2)}×, ` +
  `browser time outside the GPU ${(b.profiled_wall_seconds - b.profiled_gpu_seconds).toFixed(3)} s of ${b.profiled_wall_seconds.toFixed(3)} s`);
const byName = new Map(n.profile.map((k) => [k.kernel, k]));
console.log(`${"kernel".padEnd(28)} ${"dispatches".padStart(10)} ${"native ms".padStart(9)} ${"browser ms".padStart(10)}  ratio`);
for (const k of b.profile.slice(0, 25)) {
  const nk = byName.get(k.kernel);
  console.log(`${k.kernel.padEnd(28)} ${String(k.dispatches).padStart(10)} ${nk ? ms(nk.seconds).padStart(9) : "        -"} ${ms(k.seconds).padStart(10)}  ${nk ? (k.seconds / nk.seconds).toFixed(2) : "-"}`);
}
