// The service worker that makes the page work offline once loaded: the page's files (HTML, JS,
// CSS, the wasm) are answered from the network when it is there — so a new build is picked up —
// and from the cache when it is not; the model (large, and fixed for a given server) is kept
// after its first download and answered from the cache. Same-origin GET requests only; nothing
// here ever contacts another origin.

const CACHE = "anytune-v1";
const SHELL = [
  "./", "./index.html", "./web/app.js", "./web/worker.js", "./web/chart.js", "./web/saved_run.js",
  "./web/command.js", "./web/style.css", "./web/pkg/anytune_web.js", "./web/pkg/anytune_web_bg.wasm",
  "./web/steps.js", "./web/dom.js", "./web/data_step.js", "./web/compare_step.js", "./web/metrics_step.js",
  "./web/pipeline_worker.js", "./web/workshop.js", "./web/preview.js", "./web/csv_columns.js",
  "./tests/data/zorblax.jsonl",
];
const MODEL = "/model/default.gguf";

self.addEventListener("install", (event) => {
  const base = new URL("../", self.location).href;
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL.map((p) => new URL(p, base).href))));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || event.request.headers.has("range")) return;
  event.respondWith(url.pathname === MODEL ? cacheFirst(event.request) : networkFirst(event.request));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (e) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw e;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
