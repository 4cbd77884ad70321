// Browser-test helpers: the system Chromium driven by playwright-core (no browser download),
// a fresh profile per launch, a guard that fails a test when the page contacts any origin but
// the local server, and a tiny runner (TAP-like lines, exit code 1 on any failure).
//
//   import { test, run, withPage, waitForText } from "./harness.mjs";
//   test("page loads", () => withPage({ webgpu: true }, async (page) => {
//     await waitForText(page, "#gpu-status", /limits:/);
//   }));
//   await run();

import { chromium } from "playwright-core";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The browser binary: `$ANYTUNE_CHROMIUM`, default the Debian package's /usr/bin/chromium. */
export const CHROMIUM = process.env.ANYTUNE_CHROMIUM || "/usr/bin/chromium";

/** The page under test: `$ANYTUNE_URL` (run.sh sets it to the `anytune serve` URL). */
export const BASE_URL = process.env.ANYTUNE_URL || "http://127.0.0.1:8080/";

/** Chromium flags for every launch: quiet, no first-run UI, no background traffic. */
const COMMON_ARGS = [
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-domain-reliability",
];

/** Flags that turn WebGPU on (on Linux it is behind --enable-unsafe-webgpu; Vulkan lets it use
 * the system's Vulkan driver, lavapipe included, or Chromium's SwiftShader). */
const WEBGPU_ARGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--ignore-gpu-blocklist"];

/** Flags that take WebGPU away, as on a browser without it. */
const NO_WEBGPU_ARGS = ["--disable-features=WebGPU"];

/**
 * Launches Chromium with a fresh, temporary profile and returns its BrowserContext.
 * `webgpu: false` launches without WebGPU (--disable-features=WebGPU, and `navigator.gpu` hidden
 * by an init script in pages). `context.offOrigin` lists the URLs of requests to any origin
 * but 127.0.0.1 (they are aborted, not sent). `context.close()` also deletes the profile.
 */
export async function launchBrowser({ webgpu = true, headless = true, args = [] } = {}) {
  const userDataDir = await mkdtemp(join(tmpdir(), "anytune-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless,
    args: [...COMMON_ARGS, ...(webgpu ? WEBGPU_ARGS : NO_WEBGPU_ARGS), ...args],
  });
  if (!webgpu) {
    await context.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined, configurable: true });
    });
  }
  await guardOrigins(context);
  const close = context.close.bind(context);
  context.close = async () => {
    open.delete(context);
    try {
      await close();
    } finally {
      await rm(userDataDir, { recursive: true, force: true });
    }
  };
  open.add(context);
  return context;
}

/** True for URLs the page may load: the local server, and data:/blob:/about:/file: URLs. */
export function isLocal(url) {
  const u = new URL(url);
  if (["data:", "blob:", "about:", "file:"].includes(u.protocol)) return true;
  return u.hostname === "127.0.0.1";
}

/**
 * Records (in `context.offOrigin`) and aborts every request, WebSocket included, to an origin
 * other than the local server. `launchBrowser` installs it; call it for contexts made otherwise.
 */
export async function guardOrigins(context) {
  context.offOrigin = [];
  await context.route((url) => !isLocal(url.href), (route) => {
    context.offOrigin.push(route.request().url());
    return route.abort("blockedbyclient");
  });
  context.on("page", (page) => watchWebSockets(context, page));
  for (const page of context.pages()) watchWebSockets(context, page);
}

function watchWebSockets(context, page) {
  page.on("websocket", (ws) => {
    if (!isLocal(ws.url().replace(/^ws/, "http"))) context.offOrigin.push(ws.url());
  });
}

/**
 * Opens `url` (default BASE_URL) in a new page of `context`. `page.errors` collects uncaught
 * exceptions and console errors (of the page and its workers); set ANYTUNE_BROWSER_VERBOSE=1 to
 * echo the console.
 */
export async function openPage(context, url = BASE_URL) {
  const page = await context.newPage();
  page.errors = [];
  const onConsole = (msg) => {
    if (process.env.ANYTUNE_BROWSER_VERBOSE) console.log(`  [console.${msg.type()}] ${msg.text()}`);
    if (msg.type() === "error") page.errors.push(`console: ${msg.text()}`);
  };
  page.on("console", onConsole);
  page.on("pageerror", (e) => page.errors.push(`uncaught: ${e.message}`));
  page.on("worker", (w) => w.on("console", onConsole));
  await page.goto(url);
  return page;
}

/**
 * Launches a browser, opens BASE_URL, runs `fn(page, context)`, then fails if the page made a
 * request to another origin; always closes the browser.
 */
export async function withPage(options, fn, url = BASE_URL) {
  const context = await launchBrowser(options);
  try {
    const page = await openPage(context, url);
    await fn(page, context);
    if (context.offOrigin.length) {
      throw new Error(`the page contacted other origins: ${context.offOrigin.join(", ")}`);
    }
  } finally {
    await context.close();
  }
}

/** The text of the first element matching `selector` ("" when there is none). */
export async function textOf(page, selector) {
  return page.evaluate((sel) => document.querySelector(sel)?.textContent ?? "", selector);
}

/**
 * Waits until the text of `selector` matches `re`; on timeout, throws with the text it had.
 */
export async function waitForText(page, selector, re, { timeout = 30000 } = {}) {
  try {
    await page.waitForFunction(
      ([sel, source, flags]) => new RegExp(source, flags).test(document.querySelector(sel)?.textContent ?? ""),
      [selector, re.source, re.flags],
      { timeout },
    );
  } catch (e) {
    throw new Error(`${selector} never matched ${re} within ${timeout} ms; it reads: ${JSON.stringify(await textOf(page, selector))}`);
  }
  return textOf(page, selector);
}

const tests = [];
/** Browsers not closed yet: `run` closes those a failed or timed-out test left behind. */
const open = new Set();

/** Registers a named test: `fn` is async and throws to fail. */
export function test(name, fn, { timeout = 120000 } = {}) {
  tests.push({ name, fn, timeout });
}

/**
 * Runs the registered tests in order (only those whose name contains `$ANYTUNE_BROWSER_FILTER`,
 * or one of its `|`-separated parts, when set), prints `ok - name` / `not ok - name: reason`, then `browser: N passed, M failed`,
 * and sets the exit code to 1 when any failed. Returns `{ passed, failed }`.
 */
export async function run() {
  const filter = process.env.ANYTUNE_BROWSER_FILTER || "";
  let passed = 0;
  let failed = 0;
  for (const t of tests.filter((t) => filter.split("|").some((f) => t.name.includes(f)))) {
    const start = Date.now();
    let timer;
    try {
      await Promise.race([
        t.fn(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${t.timeout} ms`)), t.timeout);
        }),
      ]);
      passed++;
      console.log(`ok - ${t.name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      // One line per test; the rest of the message (playwright's call log) indented below.
      const [first, ...rest] = String(e?.message ?? e).replace(/\x1b\[[0-9;]*m/g, "").split("\n");
      console.log(`not ok - ${t.name}: ${first}`);
      for (const line of rest.filter((l) => l.trim())) console.log(`  # ${line}`);
    } finally {
      clearTimeout(timer);
      for (const context of [...open]) await context.close().catch(() => {});
    }
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
  return { passed, failed };
}
