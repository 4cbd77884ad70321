// Small DOM helpers of the page's steps (data_step.js, compare_step.js, metrics_step.js).
// Everything is built with textContent: no dataset text is ever parsed as HTML.

/** An element with attributes (`text` sets its textContent; null values are left out) and children. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  Object.entries(attrs).filter(([, v]) => v != null).forEach(([k, v]) => (k === "text" ? (e.textContent = v) : e.setAttribute(k, v)));
  e.append(...children);
  return e;
}

/** A table with a header row and one row per entry of `rows` (arrays of cell texts). */
export function table(caption, head, rows, id) {
  return el("table", { id },
    el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { text: String(c) }))))));
}

/** Offers `bytes` (a string or bytes) as a download named `name`. */
export function offerDownload(name, bytes, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
