// The loss chart: training loss per step (line) and validation loss (dots) on one canvas,
// axes scaled to the data, redrawn on each new point. `canvas.dataset.points` counts the
// points drawn (the browser test watches it); its aria-label says the same in words.

export class LossChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.train = [];
    this.val = [];
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

  draw() {
    const c = this.canvas;
    const g = c.getContext("2d");
    const w = c.width, h = c.height, pad = 40;
    g.clearRect(0, 0, w, h);
    c.dataset.points = String(this.train.length + this.val.length);
    c.setAttribute("aria-label", this.describe());
    const all = this.train.concat(this.val);
    g.strokeStyle = "#999";
    g.strokeRect(pad, 8, w - pad - 8, h - pad - 8);
    if (!all.length) return;
    const maxStep = Math.max(...all.map((p) => p[0]), 1);
    let lo = Math.min(...all.map((p) => p[1])), hi = Math.max(...all.map((p) => p[1]));
    if (hi - lo < 1e-6) { hi += 0.5; lo -= 0.5; }
    const x = (s) => pad + (w - pad - 8) * (s / maxStep);
    const y = (l) => 8 + (h - pad - 8) * (1 - (l - lo) / (hi - lo));
    g.fillStyle = "#555";
    g.font = "11px system-ui, sans-serif";
    g.fillText(hi.toFixed(2), 2, 14);
    g.fillText(lo.toFixed(2), 2, h - pad);
    g.fillText("step " + maxStep, w - 60, h - pad + 16);
    g.strokeStyle = "#2563eb";
    g.lineWidth = 2;
    g.beginPath();
    this.train.forEach(([s, l], i) => (i ? g.lineTo(x(s), y(l)) : g.moveTo(x(s), y(l))));
    g.stroke();
    g.fillStyle = "#dc2626";
    for (const [s, l] of this.val) {
      g.beginPath();
      g.arc(x(s), y(l), 4, 0, 2 * Math.PI);
      g.fill();
    }
    g.fillStyle = "#2563eb";
    g.fillText("train", pad + 8, h - pad + 16);
    g.fillStyle = "#dc2626";
    g.fillText("validation", pad + 48, h - pad + 16);
  }
}
