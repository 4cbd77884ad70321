// Test-set metrics, as `anytune eval`: on a test file the user picks (else the dataset itself),
// the base model and the base + adapter side by side — loss, perplexity, token accuracy, and
// exact / contains / starts-with of greedy answers on prompt → answer rows, accuracy and macro
// F1 on label rows (core's eval::evaluate through Engine.evalMetrics). `window.anytuneStatus
// .metrics` holds the last result.

import { table } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class MetricsStep {
  /** `app`: { post(msg), options(), dataset(), status }. */
  constructor(app) {
    this.app = app;
    $("metrics-run").onclick = () => this.run();
  }

  stateChanged(state) {
    $("metrics-run").disabled = state === "idle" || state === "training";
  }

  async run() {
    const picked = $("metrics-file").files[0];
    const file = picked ? { name: picked.name, bytes: new Uint8Array(await picked.arrayBuffer()) } : this.app.dataset();
    if (!file) return;
    $("metrics-run").disabled = true;
    $("metrics-status").textContent = `Measuring the base model on ${file.name}…` +
      (picked ? "" : " (no test file picked: the training file itself, so the adapter has seen these rows)");
    const { max_seq_len, batch, train_on_everything, skip_bad_rows } = this.app.options();
    this.app.post({ type: "evalMetrics", name: file.name, bytes: file.bytes, options: { max_seq_len, batch, train_on_everything, skip_bad_rows } });
  }

  onMessage(msg) {
    if (msg.type === "evalProgress") {
      $("metrics-status").textContent = "Measuring with the adapter…";
    } else if (msg.type === "evalMetrics") {
      this.app.status.metrics = { base: msg.base, adapter: msg.adapter };
      $("metrics-status").textContent = `Metrics on ${msg.name}:`;
      $("metrics-table").replaceChildren(metricsTable(msg.base, msg.adapter));
      $("metrics-run").disabled = false;
    } else if (msg.type === "error" && msg.context === "evalMetrics") {
      $("metrics-status").textContent = `metrics failed: ${msg.message}`;
      $("metrics-run").disabled = false;
    } else return false;
    return true;
  }
}

/** One row per metric, base and adapter side by side (rows a file has no data for are left out). */
function metricsTable(base, adapter) {
  const pct = (x) => (x == null ? "–" : `${(100 * x).toFixed(1)}%`);
  const num = (x, d) => (x == null ? "–" : x.toFixed(d));
  const rows = [
    ["loss", num(base.loss, 4), num(adapter.loss, 4)],
    ["perplexity", num(base.perplexity, 2), num(adapter.perplexity, 2)],
    ["token accuracy", pct(base.accuracy), pct(adapter.accuracy)],
  ];
  const g = [base.generation, adapter.generation];
  if (g[0] && g[1]) {
    for (const k of ["exact_match", "contains", "starts_with"]) {
      rows.push([`answers: ${k.replace("_", " ")} (of ${g[0].rows})`, pct(g[0][k]), pct(g[1][k])]);
    }
  }
  const c = [base.classification, adapter.classification];
  if (c[0] && c[1]) {
    rows.push([`labels: accuracy (of ${c[0].rows})`, pct(c[0].accuracy), pct(c[1].accuracy)]);
    rows.push(["labels: macro F1", num(c[0].macro_f1, 3), num(c[1].macro_f1, 3)]);
  }
  return table("Test-set metrics", ["Metric", "Base model", "With the adapter"], rows, "metrics-values");
}
