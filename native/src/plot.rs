//! Small standalone SVG plots: the loss curve of a run (training loss per step in blue,
//! validation loss as orange dots, from the run's `log.jsonl`) and the validation loss of a
//! sweep's trials against steps (one line per trial).

use std::fmt::Write;

/// Points `(step, value)` of one curve.
pub type Curve = Vec<(f64, f64)>;

/// Colours of the curves (matplotlib's tab10), reused in turn.
const COLOURS: &[&str] = &["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/// Curves named in the legend (the rest are drawn unnamed).
const LEGEND_ROWS: usize = 20;

/// The plotting area of a 640 × 360 SVG scaled to `points`: steps from 0 on x, values on y.
struct Frame {
    w: f64,
    h: f64,
    pad: f64,
    max_step: f64,
    lo: f64,
    hi: f64,
}

impl Frame {
    fn new<'a>(points: impl Iterator<Item = &'a (f64, f64)> + Clone) -> Frame {
        let max_step = points.clone().map(|p| p.0).fold(1.0, f64::max);
        let (lo, hi) = points.map(|p| p.1).fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        let (lo, hi) = if lo < hi { (lo, hi) } else if lo <= hi { (lo - 1.0, lo + 1.0) } else { (0.0, 1.0) };
        Frame { w: 640.0, h: 360.0, pad: 48.0, max_step, lo, hi }
    }

    fn x(&self, s: f64) -> f64 {
        self.pad + (s / self.max_step) * (self.w - 2.0 * self.pad)
    }

    fn y(&self, l: f64) -> f64 {
        self.h - self.pad - (l - self.lo) / (self.hi - self.lo) * (self.h - 2.0 * self.pad)
    }

    /// The SVG's start: background, axes, their end labels and `titles` (x, y) when given.
    fn open(&self, y_label: &str, titles: Option<(&str, &str)>) -> String {
        let (w, h, pad, lo, hi, max_step) = (self.w, self.h, self.pad, self.lo, self.hi, self.max_step);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#444\"/>\n\
             <text x=\"{pad}\" y=\"{t}\">{y_label}{hi:.3}</text><text x=\"{pad}\" y=\"{bl}\">{lo:.3}</text><text x=\"{r}\" y=\"{bl}\" text-anchor=\"end\">step {max_step}</text>\n",
            b = h - pad,
            r = w - pad,
            t = pad - 8.0,
            bl = h - pad + 16.0,
        );
        if let Some((x_title, y_title)) = titles {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x_title}</text><text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">{y_title}</text>",
                w / 2.0,
                h - 12.0,
                h / 2.0
            );
        }
        svg
    }

    /// A line through `points`.
    fn polyline(&self, points: &[(f64, f64)], colour: &str) -> String {
        let points: Vec<String> = points.iter().map(|&(s, l)| format!("{:.1},{:.1}", self.x(s), self.y(l))).collect();
        format!("<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>\n", points.join(" "))
    }

    /// A dot at `(s, l)`.
    fn dot(&self, (s, l): (f64, f64), colour: &str) -> String {
        format!("<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"/>\n", self.x(s), self.y(l))
    }
}

/// SVG of `train` and `val` points `(step, loss)`.
pub fn loss_svg(train: &[(f64, f64)], val: &[(f64, f64)]) -> String {
    let frame = Frame::new(train.iter().chain(val));
    let mut svg = frame.open("loss ", None);
    svg.push_str(&frame.polyline(train, COLOURS[0]));
    for &p in val {
        svg.push_str(&frame.dot(p, COLOURS[1]));
    }
    let _ = writeln!(svg, "<text x=\"{}\" y=\"20\" fill=\"#1f77b4\">train</text><text x=\"{}\" y=\"20\" fill=\"#ff7f0e\">validation</text>", frame.w - 160.0, frame.w - 110.0);
    svg.push_str("</svg>\n");
    svg
}

/// SVG of labelled curves (a sweep's trials: validation loss at each rung against steps), a
/// line with dots per curve, a legend at the right (the first 20) and the axis titles `x_title`, `y_title`.
pub fn curves_svg(curves: &[(String, Curve)], x_title: &str, y_title: &str) -> String {
    let frame = Frame::new(curves.iter().flat_map(|(_, c)| c));
    let mut svg = frame.open("", Some((x_title, y_title)));
    for (i, (label, curve)) in curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        svg.push_str(&frame.polyline(curve, colour));
        for &p in curve {
            svg.push_str(&frame.dot(p, colour));
        }
        if i >= LEGEND_ROWS {
            continue;
        }
        let label = label.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let _ = writeln!(svg, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{colour}\">{label}</text>", frame.w - frame.pad, 16.0 + 14.0 * i as f64);
    }
    svg.push_str("</svg>\n");
    svg
}

/// Reads `(step, loss)` of each kind ("train", "val") from a `log.jsonl`.
pub fn read_log(text: &str) -> (Curve, Curve) {
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let (Some(step), Some(loss)) = (v["step"].as_f64(), v["loss"].as_f64()) else { continue };
        match v["kind"].as_str() {
            Some("train") => train.push((step, loss)),
            Some("val") => val.push((step, loss)),
            _ => {}
        }
    }
    (train, val)
}
