//! The loss curve of a run as a small standalone SVG: training loss per step (blue) and
//! validation loss (orange dots), from the run's `log.jsonl`.

use std::fmt::Write;

/// SVG of `train` and `val` points `(step, loss)`.
pub fn loss_svg(train: &[(f64, f64)], val: &[(f64, f64)]) -> String {
    let (w, h, pad) = (640.0, 360.0, 48.0);
    let all = train.iter().chain(val);
    let max_step = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = all.map(|p| p.1).fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    let (lo, hi) = if lo < hi { (lo, hi) } else { (lo - 1.0, lo + 1.0) };
    let x = |s: f64| pad + (s / max_step) * (w - 2.0 * pad);
    let y = |l: f64| h - pad - (l - lo) / (hi - lo) * (h - 2.0 * pad);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#444\"/>\n\
         <text x=\"{pad}\" y=\"{t}\">loss {hi:.3}</text><text x=\"{pad}\" y=\"{bl}\">{lo:.3}</text><text x=\"{r}\" y=\"{bl}\" text-anchor=\"end\">step {max_step}</text>\n",
        b = h - pad,
        r = w - pad,
        t = pad - 8.0,
        bl = h - pad + 16.0,
    );
    let points: Vec<String> = train.iter().map(|&(s, l)| format!("{:.1},{:.1}", x(s), y(l))).collect();
    let _ = writeln!(svg, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"{}\"/>", points.join(" "));
    for &(s, l) in val {
        let _ = writeln!(svg, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#ff7f0e\"/>", x(s), y(l));
    }
    let _ = writeln!(svg, "<text x=\"{}\" y=\"20\" fill=\"#1f77b4\">train</text><text x=\"{}\" y=\"20\" fill=\"#ff7f0e\">validation</text>", w - 160.0, w - 110.0);
    svg.push_str("</svg>\n");
    svg
}

/// Reads `(step, loss)` of each kind ("train", "val") from a `log.jsonl`.
/// Points `(step, value)` of one curve.
pub type Curve = Vec<(f64, f64)>;

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
