// The dataset step's report: core's `inspect` of the picked dataset (what `anytune data inspect`
// prints: format, rows, trained and masked tokens, a token-length histogram, duplicates, near
// duplicates, empty fields, control characters, label balance), a row picker showing a row
// token by token (trained tokens highlighted, masked ones dim), every bad row with "Drop these
// rows", and "Clean": core's `clean` on the bytes, its report (every dropped or changed row with
// its line and reason), the cleaned rows as the dataset (re-planned) and a download of them. The worker runs both
// (pipeline_worker.js); `window.anytuneStatus.inspect` / `.clean` hold the last reports.

import { el, offerDownload, table } from "./dom.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
/// core's `clean` with every rule off but the one always on: bad rows are dropped ("Drop these rows").
const ONLY_BAD_ROWS = { nfc: false, strip_control: false, whitespace: false, drop_empty: false, drop_duplicates: false, drop_near_duplicates: false };

export class DataStep {
  /** `app`: { post(msg), options(), useDataset(name, bytes, how), status }. */
  constructor(app) {
    this.app = app;
    this.dataset = null;
    this.cleaned = null;
    $("inspect-row").onchange = () => this.showRow();
    $("clean").onclick = () => this.clean();
    $("clean-download").onclick = () => this.cleaned && offerDownload(this.cleaned.name, this.cleaned.jsonl, "application/jsonl");
  }

  /** A new dataset (`how`: "picked", or "cleaned" when it is Clean's output): inspect it. */
  datasetChanged(dataset, how) {
    this.dataset = dataset;
    if (how !== "cleaned") {
      this.cleaned = null;
      $("clean-report").replaceChildren();
      $("clean-download").disabled = true;
    }
    $("inspect-status").textContent = `Inspecting ${dataset.name}…`;
    $("clean").disabled = true;
    this.app.post({ type: "inspect", name: dataset.name, bytes: dataset.bytes, options: this.app.options() });
  }

  onMessage(msg) {
    if (msg.type === "inspect") this.showReport(msg.report);
    else if (msg.type === "clean") this.showClean(msg);
    else if (msg.type === "error" && (msg.context === "inspect" || msg.context === "clean")) {
      $("inspect-status").textContent = `${msg.context} failed: ${msg.message}`;
      $("inspect-status").className = "bad";
      $("clean").disabled = !this.dataset;
    } else return false;
    return true;
  }

  showReport(r) {
    this.report = r;
    this.app.status.inspect = r;
    $("inspect-status").className = "";
    $("inspect-status").textContent = `${r.file}: ${r.format}`;
    $("inspect").classList.remove("hidden");
    $("clean").disabled = false;
    $("inspect-figures").replaceChildren(table("What the rows hold", ["", ""], [
      ["Rows", `${r.rows} good, ${r.bad_rows.length} bad`],
      ["Tokens", `${r.tokens} (${r.trained_tokens} trained, ${r.masked_tokens} masked)`],
      ["Longest row", `${r.longest} tokens`],
      [`Over max_seq_len ${r.max_seq_len}`, `${r.over_max_seq_len.length} rows`],
      ...(Object.keys(r.roles).length ? [["Messages by role", Object.entries(r.roles).map(([k, n]) => `${k} ${n}`).join(", ")]] : []),
      ...(Object.keys(r.labels).length ? [["Labels", Object.entries(r.labels).map(([k, n]) => `${k} ${n}`).join(", ")]] : []),
    ], "inspect-counts"));
    $("inspect-histogram").replaceChildren(histogram(r));
    $("inspect-issues").replaceChildren(...issues(r));
    if (r.bad_rows.length) {
      const drop = el("button", { id: "drop-bad-rows", text: `Drop these ${r.bad_rows.length} bad rows` });
      drop.onclick = () => this.clean(ONLY_BAD_ROWS);
      $("inspect-issues").append(drop);
    }
    const select = $("inspect-row");
    select.replaceChildren(...r.shown_rows.map((v) => el("option", { value: v.line, text: `line ${v.line} (${v.tokens} tokens)` })));
    this.showRow();
  }

  /** The chosen row token by token: trained runs in <mark>, masked runs dim. */
  showRow() {
    const line = Number($("inspect-row").value);
    const v = this.report?.shown_rows.find((s) => s.line === line);
    const box = $("inspect-row-view");
    if (!v) return box.replaceChildren();
    box.replaceChildren(
      el("p", { class: "note", text: `line ${v.line}: ${v.tokens} tokens, ${v.trained} trained (highlighted), ${v.tokens - v.trained} masked (dim)` }),
      el("pre", { class: "tokens" }, ...v.runs.map((run) => el(run.trained ? "mark" : "span", { class: run.trained ? "trained" : "masked", text: run.text }))),
    );
  }

  /** core's `clean` with `options` (default: every rule on). */
  clean(options = {}) {
    $("clean").disabled = true;
    $("inspect-status").textContent = `Cleaning ${this.dataset.name}…`;
    this.app.post({ type: "clean", name: this.dataset.name, bytes: this.dataset.bytes, options });
  }

  /** Clean's report, then the cleaned rows become the dataset (inspected and planned again). */
  showClean({ report, jsonl }) {
    this.app.status.clean = report;
    const name = report.file.replace(/\.[^.]*$/, "") + ".clean.jsonl";
    this.cleaned = { name, jsonl };
    $("clean-download").disabled = false;
    $("clean-report").replaceChildren(
      el("p", { id: "clean-counts", text: `${report.file}: ${report.read} rows read: ${report.kept} kept unchanged, ` +
        `${report.changed} kept with normalised text, ${report.dropped} dropped. The dataset is now ${name}.` }),
      table("Every dropped or changed row", ["Line", "Action", "Rule", "Reason"],
        report.rows.map((a) => [a.line, a.action, a.rule, a.reason]), "clean-rows"),
    );
    this.app.useDataset(name, new TextEncoder().encode(jsonl), "cleaned");
  }
}

/** The token-length histogram as an SVG bar chart (one bar per bin, rows over max_seq_len red). */
function histogram(r) {
  const w = 560, h = 160, pad = 24, n = r.histogram.length;
  const most = Math.max(1, ...r.histogram.map((b) => b.rows));
  const svg = document.createElementNS(SVG, "svg");
  const attrs = (e, a) => { for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); return e; };
  attrs(svg, { viewBox: `0 0 ${w} ${h + pad}`, role: "img", id: "inspect-histogram-svg",
    "aria-label": "Rows by token length: " + r.histogram.map((b) => `${b.from}–${b.to}: ${b.rows}`).join(", ") });
  const bw = (w - pad) / Math.max(n, 1);
  r.histogram.forEach((b, i) => {
    const bh = (b.rows / most) * (h - pad);
    const over = b.from > r.max_seq_len;
    svg.append(attrs(document.createElementNS(SVG, "rect"),
      { x: pad + i * bw + 2, y: h - bh, width: bw - 4, height: bh, fill: over ? "#b42318" : "#2563eb", "data-rows": b.rows }));
    const label = attrs(document.createElementNS(SVG, "text"), { x: pad + i * bw + bw / 2, y: h + 14, "text-anchor": "middle", "font-size": 10 });
    label.textContent = `${b.from}-${b.to}`;
    const count = attrs(document.createElementNS(SVG, "text"), { x: pad + i * bw + bw / 2, y: h - bh - 3, "text-anchor": "middle", "font-size": 10 });
    count.textContent = b.rows;
    svg.append(label, count);
  });
  return svg;
}

/** The report's findings, each with its lines; "No problems found." when there are none. */
function issues(r) {
  const fields = (v) => v.map((i) => `${i.line}:${i.field}`).join(", ");
  const items = [
    ...r.bad_rows.map((b) => `bad row, line ${b.line}: ${b.reason}`),
    ...r.exact_duplicates.map((g) => `exact duplicates on lines ${g.join(", ")}`),
    ...r.near_duplicates.map((d) => `near duplicate: line ${d.line} of line ${d.of} (similarity ${d.similarity.toFixed(2)})`),
    r.over_max_seq_len.length && `rows over max_seq_len ${r.max_seq_len}: lines ${r.over_max_seq_len.join(", ")}`,
    r.empty_fields.length && `empty or blank fields: ${fields(r.empty_fields)}`,
    r.invalid_utf8_lines.length && `invalid UTF-8 on lines ${r.invalid_utf8_lines.join(", ")}`,
    r.control_characters.length && `control characters in: ${fields(r.control_characters)}`,
    !r.system_prompts_consistent && `inconsistent system prompts: ${Object.keys(r.system_prompts).length} distinct, ${r.rows_without_system} chat rows without one`,
    r.training_error && `training refuses this file: ${r.training_error}`,
  ].filter(Boolean);
  if (!items.length) return [el("p", { text: "No problems found." })];
  return [el("ul", { id: "inspect-issue-list" }, ...items.map((t) => el("li", { text: t })))];
}
