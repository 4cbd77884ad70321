// The blinded rating component of `anytune compare`. The report page (core/src/compare/html.rs)
// inlines this file and calls `mountCompare`; the web page can import the same file.
//
// Each pair shows two answers as "left" and "right"; which system wrote which stays sealed
// (see `unseal`) until the pair is rated, then the names (and the expected answer, if any)
// are revealed. Marks live in localStorage under "anytune-compare:<report id>", so they
// survive a reload, and download as marks.json (schema: core/src/compare/marks.rs).
// Everything is built with textContent: no text of the report is ever parsed as HTML.
//
// Keys inside a pair (not while typing a comment): 1 left better, 2 right better, 3 tie,
// 4 both bad; j / k the next / previous pair. Tab and the arrow keys work the radio buttons.

/** The choices, in the order shown, with their keys. */
export const CHOICES = [
  { value: "left", label: "Left is better", key: "1" },
  { value: "right", label: "Right is better", key: "2" },
  { value: "tie", label: "Tie", key: "3" },
  { value: "both_bad", label: "Both bad", key: "4" },
];

/**
 * The sealed mapping `{ systems, sides: [[left, right] per pair], expected: [per prompt] }`:
 * base64 of its JSON XORed with a xorshift32 stream seeded by the report id's first 8 hex
 * digits (html.rs seals it). It keeps names out of sight, not from a determined reader.
 */
export function unseal(id, sealed) {
  const bytes = Uint8Array.from(atob(sealed), (c) => c.charCodeAt(0));
  let s = parseInt(id.slice(0, 8), 16) >>> 0 || 0x9e3779b9;
  for (let i = 0; i < bytes.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    bytes[i] ^= s & 255;
  }
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** The marks file (version 1) for `state.marks` ({ [pair]: { choice, comment } }): rated pairs only. */
export function marksFile(data, map, state) {
  const marks = [];
  data.pairs.forEach((pair, i) => {
    const mark = state.marks[i];
    if (!mark?.choice) return;
    const [left, right] = map.sides[i].map((s) => map.systems[s]);
    const adapter = map.systems[map.sides[i][0] === 0 ? map.sides[i][1] : map.sides[i][0]];
    const winner = mark.choice === "left" ? left : mark.choice === "right" ? right : null;
    marks.push({ pair: i, prompt: pair.prompt, base: map.systems[0], adapter, left, right, choice: mark.choice, winner, comment: mark.comment || "" });
  });
  return { version: data.version, report: data.id, prompts_file: data.prompts_file, systems: map.systems, pairs: data.pairs.length, marks };
}

/** localStorage when this page may use it (file:// pages in some browsers may not), else null. */
function localStore() {
  try {
    const probe = "anytune-compare:probe";
    localStorage.setItem(probe, probe);
    localStorage.removeItem(probe);
    return localStorage;
  } catch {
    return null;
  }
}

/** An element with attributes (`text` sets textContent) and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else if (v !== false && v != null) e.setAttribute(k, v === true ? "" : String(v));
  }
  e.append(...children);
  return e;
}

/**
 * Builds the rating page for `data` (what html.rs embeds) inside `root`. Returns
 * `{ marks() }`: the current marks file.
 */
export function mountCompare(root, data, { store = localStore() } = {}) {
  const key = `anytune-compare:${data.id}`;
  const map = unseal(data.id, data.seal);
  let state = { marks: {} };
  try {
    state = JSON.parse(store?.getItem(key) ?? "null") ?? state;
  } catch {
    // Unreadable saved marks: start afresh (the download is the record).
  }
  const save = () => store?.setItem(key, JSON.stringify(state));

  const progress = el("p", { id: "progress", role: "status" });
  const note = el("p", { id: "download-status", role: "status" });
  const download = el("button", { id: "download", type: "button", text: "Download marks.json" });
  root.append(
    el("header", {},
      el("h1", { text: "Which answer is better?" }),
      el("p", { text: `${data.pairs.length} pairs from ${data.prompts_file} (${data.settings}). Each pair shows two answers to the same prompt in a random order; who wrote which is shown once you rate the pair. Keys inside a pair: 1 left better, 2 right better, 3 tie, 4 both bad, j / k next / previous pair.` }),
      el("p", { class: "note", text: store ? "Your marks are kept in this browser for this report; download them when you are done." : "This browser does not keep marks for this page: download marks.json before closing it." }),
      progress, download, note),
  );

  const sections = data.pairs.map((pair, i) => pairSection(pair, i));
  root.append(...sections);

  function update() {
    const rated = Object.values(state.marks).filter((m) => m.choice).length;
    progress.textContent = `Rated ${rated} of ${data.pairs.length} pairs.` +
      (rated === data.pairs.length ? " All rated: download marks.json, then run anytune compare --summarise marks.json." : "");
  }

  function pairSection(pair, i) {
    const id = `pair-${i}`;
    const prompt = data.prompts[pair.prompt];
    const reveal = el("div", { class: "reveal", id: `${id}-reveal`, "aria-live": "polite" });
    const comment = el("textarea", { id: `${id}-comment`, rows: 2 });
    const radios = CHOICES.map((c) => el("input", { type: "radio", name: `${id}-choice`, value: c.value, id: `${id}-${c.value}` }));
    const section = el("section", { class: "pair", id, tabindex: -1, "aria-labelledby": `${id}-title` },
      el("h2", { id: `${id}-title`, text: `Pair ${i + 1} of ${data.pairs.length}` }),
      el("h3", { text: `Prompt (line ${prompt.line})` }),
      el("pre", { class: "prompt", text: prompt.text }),
      el("div", { class: "answers" },
        ...["Left", "Right"].map((side, s) => el("article", { "aria-label": `${side} answer` },
          el("h3", { text: `${side} answer` }),
          el("pre", { text: pair.answers[s] || "(empty answer)" })))),
      el("fieldset", {},
        el("legend", { text: `Your rating of pair ${i + 1}` }),
        ...CHOICES.map((c, k) => el("label", { for: radios[k].id }, radios[k], ` ${c.label} `, el("kbd", { text: c.key })))),
      el("label", { for: comment.id, class: "comment-label", text: "Comment (optional)" }),
      comment,
      reveal,
    );
    const choose = (value) => {
      state.marks[i] = { ...state.marks[i], choice: value };
      radios.forEach((r) => (r.checked = r.value === value));
      show();
      save();
      update();
    };
    const show = () => {
      const [left, right] = map.sides[i].map((s) => map.systems[s]);
      const expected = map.expected[pair.prompt];
      reveal.replaceChildren(
        el("p", {}, "Left: ", el("strong", { class: "system", text: left }), " · Right: ", el("strong", { class: "system", text: right })),
        ...(expected == null ? [] : [el("h3", { text: "Expected answer" }), el("pre", { text: expected })]),
      );
      section.classList.add("rated");
    };
    radios.forEach((r) => r.addEventListener("change", () => r.checked && choose(r.value)));
    comment.addEventListener("input", () => {
      state.marks[i] = { ...state.marks[i], comment: comment.value };
      save();
    });
    section.addEventListener("keydown", (e) => {
      if (e.target === comment || e.ctrlKey || e.metaKey || e.altKey) return;
      const c = CHOICES.find((c) => c.key === e.key);
      const step = { j: 1, k: -1 }[e.key];
      if (c) choose(c.value);
      else if (step) sections[i + step]?.focus();
      else return;
      e.preventDefault();
    });
    const saved = state.marks[i];
    if (saved?.comment) comment.value = saved.comment;
    if (saved?.choice) {
      radios.forEach((r) => (r.checked = r.value === saved.choice));
      show();
    }
    return section;
  }

  download.addEventListener("click", () => {
    const file = marksFile(data, map, state);
    const blob = new Blob([JSON.stringify(file, null, 1) + "\n"], { type: "application/json" });
    const a = el("a", { href: URL.createObjectURL(blob), download: "marks.json" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    note.textContent = `Downloaded marks.json: ${file.marks.length} rated pairs.`;
  });

  update();
  return { marks: () => marksFile(data, map, state) };
}
