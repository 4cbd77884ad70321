// The loss chart: training loss per step, raw (faint) and smoothed (an exponential moving
// average, bias-corrected as TensorBoard's), validation loss as dots, axis titles ("step",
// "loss"), and the values under the pointer. Fonts are large enough for a projector.
// `canvas.dataset.points` counts the points drawn and `canvas.dataset.hover` holds the values
// shown on hover (the browser tests read both); the aria-label says the chart in words.

/// Weight of the past in the moving average of the training loss.
export const SMOOTHING = 0.6;

/// The bias-corrected exponential moving average of `values`.
export function smooth(values, weight = SMOOTHING) {
  let avg = 0;
  return values.map((v, i) => {
    avg = weight * avg + (1 - weight) * v;
    return avg / (1 - weight ** (i + 1));
  });
}

const PAD = { left: 64, right: 16, top: 14, bottom: 52 };
const FONT = "15px system-ui, sans-serif";
const TRAIN = "#2563eb", VAL = "#dc2626";

export class LossChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.train = [];
    this.val = [];
    this.hoverStep = null;
    canvas.addEventListener("mousemove", (e) => this.hover(e));
    canvas.addEventListener("mouseleave", () => { this.hoverStep = null; this.draw(); });
  }

  clear() {
    this.train = [];
    this.val = [];
    this.draw();
  }

  add(kind, step, loss) {
    (kind === "val" ? this.val : this.train).push([step, loss]);
    this.draw();
  }

  /// The chart in words (its text alternative): first and last loss of each series.
  describe() {
    const span = (name, pts) => {
      if (!pts.length) return "";
      const [[s0, l0], [s1, l1]] = [pts[0], pts[pts.length - 1]];
      return pts.length === 1 ? `${name} loss ${l0.toFixed(3)} at step ${s0}`
        : `${name} loss from ${l0.toFixed(3)} at step ${s0} to ${l1.toFixed(3)} at step ${s1}`;
    };
    const parts = [span("training", this.train), span("validation", this.val)].filter(Boolean);
    return parts.length ? `Loss chart: ${parts.join("; ")}.` : "Loss chart: no steps yet.";
  }

  /// The step nearest the pointer, its values drawn and kept in `dataset.hover`.
  hover(e) {
    if (!this.train.length && !this.val.length) return;
    const r = this.canvas.getBoundingClientRect();
    const px = ((e.clientX - r.left) / r.width) * this.canvas.width;
    const { x } = this.scales();
    const all = this.train.concat(this.val);
    let best = all[0][0];
    for (const [s] of all) if (Math.abs(x(s) - px) < Math.abs(x(best) - px)) best = s;
    this.hoverStep = best;
    this.draw();
  }

  scales() {
    const w = this.canvas.width, h = this.canvas.height;
    const all = this.train.concat(this.val);
    const steps = all.map((p) => p[0]);
    const minStep = Math.min(...steps, 1), maxStep = Math.max(...steps, minStep + 1);
    let lo = Math.min(...all.map((p) => p[1])), hi = Math.max(...all.map((p) => p[1]));
    if (!(hi - lo > 1e-6)) { hi += 0.5; lo -= 0.5; }
    const x = (s) => PAD.left + (w - PAD.left - PAD.right) * ((s - minStep) / (maxStep - minStep));
    const y = (l) => PAD.top + (h - PAD.top - PAD.bottom) * (1 - (l - lo) / (hi - lo));
    return { x, y, lo, hi, minStep, maxStep };
  }

  draw() {
    const c = this.canvas;
    const g = c.getContext("2d");
    const w = c.width, h = c.height;
    g.clearRect(0, 0, w, h);
    c.dataset.points = String(this.train.length + this.val.length);
    c.setAttribute("aria-label", this.describe());
    g.strokeStyle = "#999";
    g.lineWidth = 1;
    g.strokeRect(PAD.left, PAD.top, w - PAD.left - PAD.right, h - PAD.top - PAD.bottom);
    g.font = FONT;
    g.fillStyle = "#333";
    g.textAlign = "center";
    g.fillText("step", PAD.left + (w - PAD.left - PAD.right) / 2, h - 8);
    g.save();
    g.translate(16, PAD.top + (h - PAD.top - PAD.bottom) / 2);
    g.rotate(-Math.PI / 2);
    g.fillText("loss", 0, 0);
    g.restore();
    if (!this.train.length && !this.val.length) { delete c.dataset.hover; return; }
    const { x, y, lo, hi, minStep, maxStep } = this.scales();
    // Axis values.
    g.textAlign = "right";
    g.fillText(hi.toFixed(2), PAD.left - 6, PAD.top + 12);
    g.fillText(lo.toFixed(2), PAD.left - 6, h - PAD.bottom);
    g.textAlign = "center";
    g.fillText(String(minStep), PAD.left, h - PAD.bottom + 18);
    g.fillText(String(maxStep), w - PAD.right, h - PAD.bottom + 18);
    // Raw training loss, faint; then its moving average, bold.
    const line = (pts, style, width) => {
      g.strokeStyle = style;
      g.lineWidth = width;
      g.beginPath();
      pts.forEach(([s, l], i) => (i ? g.lineTo(x(s), y(l)) : g.moveTo(x(s), y(l))));
      g.stroke();
    };
    const smoothed = smooth(this.train.map((p) => p[1])).map((l, i) => [this.train[i][0], l]);
    line(this.train, "rgba(37, 99, 235, 0.3)", 1.5);
    line(smoothed, TRAIN, 3);
    g.fillStyle = VAL;
    for (const [s, l] of this.val) {
      g.beginPath();
      g.arc(x(s), y(l), 5, 0, 2 * Math.PI);
      g.fill();
    }
    // Legend.
    g.textAlign = "left";
    g.fillStyle = TRAIN;
    g.fillText("training (smoothed; raw faint)", PAD.left + 8, h - PAD.bottom + 36);
    g.fillStyle = VAL;
    g.fillText("● validation", PAD.left + 250, h - PAD.bottom + 36);
    this.drawHover(g, smoothed, x, y);
  }

  /// The values at the hovered step, in a box beside a vertical line.
  drawHover(g, smoothed, x, y) {
    const s = this.hoverStep;
    const i = this.train.findIndex((p) => p[0] === s);
    const v = this.val.find((p) => p[0] === s);
    if (s === null || (i < 0 && !v)) { delete this.canvas.dataset.hover; return; }
    const parts = [`step ${s}`];
    if (i >= 0) parts.push(`loss ${this.train[i][1].toFixed(3)}`, `smoothed ${smoothed[i][1].toFixed(3)}`);
    if (v) parts.push(`validation ${v[1].toFixed(3)}`);
    const text = parts.join("  ");
    this.canvas.dataset.hover = text;
    g.strokeStyle = "#555";
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(x(s), PAD.top);
    g.lineTo(x(s), this.canvas.height - PAD.bottom);
    g.stroke();
    const tw = g.measureText(text).width + 12;
    const bx = Math.min(Math.max(x(s) + 8, PAD.left), this.canvas.width - PAD.right - tw);
    g.fillStyle = "rgba(255, 255, 255, 0.92)";
    g.fillRect(bx, PAD.top + 4, tw, 24);
    g.fillStyle = "#111";
    g.textAlign = "left";
    g.fillText(text, bx + 6, PAD.top + 21);
    if (i >= 0) {
      g.fillStyle = TRAIN;
      g.beginPath();
      g.arc(x(s), y(smoothed[i][1]), 5, 0, 2 * Math.PI);
      g.fill();
    }
  }
}
