// The dataset's first rows as a person reads them: chat rows (`messages`, ShareGPT
// `conversations`) as speech bubbles by role, every other shape (prompt/completion, alpaca,
// text, label, CSV columns, plain text) as a table of its fields. A preview only: core parses
// the file for training, and bad rows (with their lines) come from there.

import { el } from "./dom.js";

/** Rows shown, and characters shown of one field. */
const ROWS = 5, CHARS = 400;

/** The preview of `text` (the file's first bytes) named `name`. */
export function preview(text, name) {
  const rows = firstRows(text, name);
  const chats = rows.filter((r) => chat(r));
  const body = chats.length === rows.length && rows.length ? rows.map(bubbles) : [fieldTable(rows)];
  return el("div", { id: "preview-rows" }, el("b", { text: `${name}: first rows` }), ...body);
}

/** Up to ROWS rows as objects: JSON array elements, JSONL lines, CSV records, text lines. */
function firstRows(text, name) {
  if (name.endsWith(".json")) {
    try {
      const json = JSON.parse(text);
      if (Array.isArray(json)) return json.slice(0, ROWS).map(asObject);
    } catch { /* cut off at the preview's length, or not JSON: shown line by line */ }
  }
  if (name.endsWith(".csv")) {
    const [head, ...records] = csvRecords(text, ROWS + 1);
    return records.map((r) => Object.fromEntries((head || []).map((h, i) => [h, r[i] ?? ""])));
  }
  const lines = text.split("\n").filter((l) => l.trim()).slice(0, ROWS);
  return lines.map((l) => {
    if (name.endsWith(".txt")) return { text: l };
    try { return asObject(JSON.parse(l)); } catch { return { "(not JSON)": l }; }
  });
}

const asObject = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : { value: JSON.stringify(v) });

/** The turns of a chat row as [role, text], or null. */
function chat(row) {
  if (Array.isArray(row.messages)) return row.messages.map((m) => [String(m?.role ?? "?"), String(m?.content ?? "")]);
  if (Array.isArray(row.conversations)) {
    const role = { human: "user", gpt: "assistant" };
    return row.conversations.map((m) => [role[m?.from] || String(m?.from ?? "?"), String(m?.value ?? "")]);
  }
  return null;
}

function cut(s) {
  const t = typeof s === "string" ? s : JSON.stringify(s);
  return t.length > CHARS ? t.slice(0, CHARS) + "…" : t;
}

function bubbles(row) {
  return el("div", { class: "chat-row" }, ...chat(row).map(([role, content]) =>
    el("div", { class: `bubble ${["user", "assistant", "system"].includes(role) ? role : "other"}` },
      el("span", { class: "role", text: role }), el("span", { text: cut(content) }))));
}

function fieldTable(rows) {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return el("table", { id: "preview-table" },
    el("thead", {}, el("tr", {}, ...keys.map((k) => el("th", { scope: "col", text: k })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...keys.map((k) => el("td", { text: k in r ? cut(r[k]) : "" }))))));
}

/** The first `n` records of CSV `text` (RFC 4180 quotes; a record may span lines). */
export function csvRecords(text, n) {
  const out = [];
  let field = "", record = [], quoted = false;
  for (let i = 0; i < text.length && out.length < n; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { record.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field); field = "";
      if (record.some((f) => f !== "")) out.push(record);
      record = [];
    } else field += c;
  }
  if (out.length < n && (field || record.length)) { record.push(field); out.push(record); }
  return out;
}
