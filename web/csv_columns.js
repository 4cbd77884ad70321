// CSV columns → roles: which column is the prompt, the completion, the text or the label, as
// `anytune data convert --prompt-column … --completion-column …` takes them. Shown when a CSV is
// picked, pre-filled from the header's names (core's own defaults: prompt, completion, text,
// label, instruction, output); "Use these columns" runs core's `convert` in the worker and makes
// its chat rows the dataset (planned and inspected again). `window.anytuneStatus.convert` holds
// the last report.

import { el } from "./dom.js";
import { csvRecords } from "./preview.js";

const $ = (id) => document.getElementById(id);
const ROLES = ["", "prompt", "completion", "text", "label"];
/// Header names core picks by itself, and the role each takes.
const BY_NAME = { prompt: "prompt", instruction: "prompt", completion: "completion", output: "completion", text: "text", label: "label" };

export class CsvColumns {
  /** `app`: { post(msg), useDataset(name, bytes, how), status }. */
  constructor(app) {
    this.app = app;
    $("csv-use").onclick = () => this.convert();
  }

  datasetChanged(dataset, how) {
    this.dataset = dataset;
    const box = $("csv-columns");
    if (how === "converted" || !dataset.name.toLowerCase().endsWith(".csv")) return box.classList.add("hidden");
    const [head] = csvRecords(new TextDecoder().decode(dataset.bytes.subarray(0, 64 * 1024)), 1);
    this.head = head || [];
    $("csv-map").replaceChildren(...this.head.map((name, i) => el("label", {},
      `${name} `,
      el("select", { "data-column": name, id: `csv-role-${i}` }, ...ROLES.map((r) => {
        const o = el("option", { value: r, text: r || "(not used)" });
        if ((BY_NAME[name.trim().toLowerCase()] || "") === r) o.selected = true;
        return o;
      })))));
    $("csv-status").textContent = "";
    box.classList.remove("hidden");
  }

  /** The chosen columns as core's ConvertOptions, or a reason they cannot be used. */
  options() {
    const chosen = {};
    for (const s of $("csv-map").querySelectorAll("select")) {
      if (!s.value) continue;
      if (chosen[s.value]) return { error: `two columns are the ${s.value}: ${chosen[s.value]} and ${s.dataset.column}` };
      chosen[s.value] = s.dataset.column;
    }
    if (!chosen.text && !(chosen.prompt && chosen.completion)) return { error: "choose a prompt and a completion column, or a text column" };
    if (chosen.text && (chosen.prompt || chosen.completion)) return { error: "a text column trains on all of it: use it without prompt and completion columns" };
    const system = $("csv-system").value.trim();
    return { options: { prompt_column: chosen.prompt, completion_column: chosen.completion, text_column: chosen.text, label_column: chosen.label, system: system || undefined } };
  }

  convert() {
    const { options, error } = this.options();
    $("csv-status").className = error ? "bad" : "";
    if (error) return ($("csv-status").textContent = error);
    $("csv-status").textContent = `Converting ${this.dataset.name}…`;
    this.app.post({ type: "convert", name: this.dataset.name, bytes: this.dataset.bytes, options });
  }

  onMessage(msg) {
    if (msg.type === "convert") {
      this.app.status.convert = msg.report;
      const bad = msg.report.bad_rows.map((b) => `line ${b.line}: ${b.reason}`);
      $("csv-status").textContent = msg.text + (bad.length ? `:\n${bad.join("\n")}` : ".");
      const name = this.dataset.name.replace(/\.csv$/i, "") + ".jsonl";
      this.app.useDataset(name, new TextEncoder().encode(msg.jsonl), "converted");
      return true;
    }
    if (msg.type === "error" && msg.context === "convert") {
      $("csv-status").className = "bad";
      $("csv-status").textContent = `convert failed: ${msg.message}`;
      return true;
    }
    return false;
  }
}
