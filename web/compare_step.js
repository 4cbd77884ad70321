// "Try it" with several prompts, as `anytune compare`: the prompts (typed one per line, or the
// dataset's last rows with their expected answers) answered by the base model and by the
// adapter with the same greedy sampling (the worker's Engine.compare, core's answer_all and
// Report), then rated blind with core's own rating component (rate.js and rate.css, which the
// wasm hands over) in a shadow root, so its ids and style stay its own. Its "Download
// marks.json" writes the marks schema that `anytune compare --summarise` reads.

const $ = (id) => document.getElementById(id);

/** Rows of the dataset used as prompts with "the dataset's last rows". */
export const DATA_PROMPTS = 4;

export class CompareStep {
  /** `app`: { post(msg), dataset(), status }. */
  constructor(app) {
    this.app = app;
    this.rate = null; // { mountCompare, css } once the worker sent rate.js
    this.waiting = null; // the compare data waiting for rate.js
    $("compare-run").onclick = () => this.run();
    $("compare-run").disabled = true; // base vs adapter: once a run has started
  }

  stateChanged(state) {
    if (!this.busy) $("compare-run").disabled = state === "idle";
  }

  run() {
    const prompts = this.prompts();
    if (!prompts) return;
    $("compare-run").disabled = true;
    this.busy = true;
    $("compare-status").textContent = "Answering…";
    if (!this.rate) this.app.post({ type: "rateAssets" });
    const maxTokens = Number($("compare-max-tokens").value) || 48;
    const seed = Math.floor(Math.random() * 2 ** 31);
    // Typed prompts are user messages for the chat template, or continued as they are when the
    // model has none (`anytune compare --raw`).
    const raw = prompts.name.endsWith(".txt") && !this.app.status.model?.chat_template;
    this.app.post({ type: "compare", name: prompts.name, bytes: prompts.bytes, raw, maxTokens, seed });
  }

  /** The prompts file to answer: typed lines as `prompts.txt`, or the dataset's last rows. */
  prompts() {
    if ($("compare-source").value === "typed") {
      return { name: "prompts.txt", bytes: new TextEncoder().encode($("compare-prompts").value) };
    }
    const dataset = this.app.dataset();
    if (!dataset || !dataset.name.toLowerCase().endsWith(".jsonl")) {
      $("compare-status").textContent = "The dataset's rows work as prompts when it is a .jsonl file (prompt/completion or messages rows).";
      return null;
    }
    // Every other line blanked: the prompts keep their line numbers in the dataset.
    const lines = new TextDecoder().decode(dataset.bytes).split("\n");
    const rows = lines.map((l, i) => (l.trim() ? i : -1)).filter((i) => i >= 0).slice(-DATA_PROMPTS);
    const text = lines.map((l, i) => (rows.includes(i) ? l : "")).join("\n");
    return { name: dataset.name, bytes: new TextEncoder().encode(text) };
  }

  onMessage(msg) {
    switch (msg.type) {
      case "rateAssets": {
        const url = URL.createObjectURL(new Blob([msg.js], { type: "text/javascript" }));
        import(url).then((mod) => {
          this.rate = { mountCompare: mod.mountCompare, css: msg.css };
          if (this.waiting) this.mount(this.waiting);
        });
        return true;
      }
      case "compareProgress":
        $("compare-status").textContent = `${msg.system === 0 ? "base model" : "adapter"}: answering prompt ${msg.prompt + 1} of ${msg.prompts}`;
        return true;
      case "compare":
        if (this.rate) this.mount(msg.data);
        else this.waiting = msg.data;
        return true;
      case "error":
        if (msg.context !== "compare" && msg.context !== "rateAssets") return false;
        $("compare-status").textContent = `compare failed: ${msg.message}`;
        $("compare-run").disabled = false;
        this.busy = false;
        return true;
    }
    return false;
  }

  /** The rating component on `data` (core's page data), in a fresh shadow root. */
  mount(data) {
    this.waiting = null;
    const host = document.createElement("div");
    host.id = "compare-host";
    $("compare-rate").replaceChildren(host);
    const root = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = this.rate.css;
    root.append(style);
    this.rate.mountCompare(root, data);
    $("compare-status").textContent = `${data.pairs.length} pairs (${data.settings}). Rate each, then download marks.json ` +
      "for `anytune compare --summarise marks.json`.";
    $("compare-run").disabled = false;
    this.busy = false;
  }
}
