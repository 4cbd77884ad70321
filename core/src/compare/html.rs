//! The rating page: one self-contained HTML file (inline CSS and JS, a Content-Security-Policy
//! that allows no request at all, so it works from file:// and contacts nobody). The report's
//! text travels as JSON in a `<script type="application/json">` element, escaped so that no
//! text can close it, and the page builds its DOM from it with `textContent` only
//! ([`RATE_JS`]). Which system wrote which answer is sealed ([`seal`]) until a pair is rated.

use super::marks::MARKS_VERSION;
use super::report::Report;
use serde::Serialize;

/// The rating component (the page inlines it; the web page can import the same file).
pub const RATE_JS: &str = include_str!("rate.js");

/// The page's style.
pub const RATE_CSS: &str = include_str!("rate.css");

/// What the page's script reads (`data` in rate.js).
#[derive(Serialize)]
struct PageData<'a> {
    version: u64,
    id: &'a str,
    prompts_file: &'a str,
    settings: &'a str,
    shuffle_seed: u64,
    prompts: Vec<PromptView>,
    /// In the order shown; answers left, right.
    pairs: Vec<PairView<'a>>,
    /// [`Sealed`], sealed.
    seal: String,
}

#[derive(Serialize)]
struct PromptView {
    line: usize,
    text: String,
}

#[derive(Serialize)]
struct PairView<'a> {
    prompt: usize,
    answers: [&'a str; 2],
}

/// What stays hidden until a pair is rated.
#[derive(Serialize)]
struct Sealed<'a> {
    systems: &'a [String],
    /// Per pair: the systems on the left and on the right.
    sides: Vec<[usize; 2]>,
    /// Per prompt: the expected answer, if any.
    expected: Vec<Option<&'a str>>,
}

/// What rate.js's `mountCompare` reads for `report`, as JSON safe inside a `<script>` element:
/// the prompts, the pairs' answers in the blinded order, and the sealed systems and sides. The
/// rating page embeds it; the web page's "Try it" step mounts rate.js on it directly.
pub fn page_data(report: &Report) -> String {
    let sealed = Sealed {
        systems: &report.systems,
        sides: report.pairs.iter().map(|p| p.sides()).collect(),
        expected: report.prompts.iter().map(|p| p.expected.as_deref()).collect(),
    };
    let data = PageData {
        version: MARKS_VERSION,
        id: &report.id,
        prompts_file: &report.prompts_file,
        settings: &report.settings,
        shuffle_seed: report.shuffle_seed,
        prompts: report.prompts.iter().map(|p| PromptView { line: p.line, text: p.display() }).collect(),
        pairs: report
            .pairs
            .iter()
            .map(|p| PairView { prompt: p.prompt, answers: p.sides().map(|s| report.answers[s][p.prompt].as_str()) })
            .collect(),
        seal: seal(&report.id, &json(&sealed)),
    };
    json(&data)
}

/// The rating page of `report`.
pub fn page(report: &Report) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>anytune compare: {title}</title>\n\
<style>\n{RATE_CSS}</style>\n</head>\n<body>\n<main id=\"compare\"></main>\n\
<noscript><p>This page needs JavaScript to show the answers and keep your marks.</p></noscript>\n\
<script type=\"application/json\" id=\"compare-data\">{data}</script>\n\
<script type=\"module\">\n{RATE_JS}\n\
mountCompare(document.getElementById(\"compare\"), JSON.parse(document.getElementById(\"compare-data\").textContent));\n\
</script>\n</body>\n</html>\n",
        title = escape_html(&report.prompts_file),
        data = page_data(report),
    )
}

/// JSON that is safe inside a `<script>` element: `<`, `>` and `&` written as `\u003c` …
/// (so no text can close the element or open a comment), U+2028/2029 escaped too.
fn json(value: &impl Serialize) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into()); // plain structs of strings and numbers
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Text for HTML element content or attribute values.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `text` XORed with a xorshift32 stream seeded by the first 8 hex digits of `id`, in base64:
/// what rate.js's `unseal` undoes. It keeps names out of sight, it is not encryption.
pub fn seal(id: &str, text: &str) -> String {
    base64(&xor_stream(id, text.as_bytes()))
}

fn xor_stream(id: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = id.get(..8).and_then(|h| u32::from_str_radix(h, 16).ok()).filter(|&s| s != 0).unwrap_or(0x9e3779b9);
    bytes
        .iter()
        .map(|b| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            b ^ s as u8
        })
        .collect()
}

/// Standard base64 with padding (what `atob` reads).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ABC[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::prompts::read_prompts;

    /// The page's data element, parsed back.
    fn data(html: &str) -> serde_json::Value {
        let start = html.find("id=\"compare-data\">").unwrap() + "id=\"compare-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end]).unwrap()
    }

    fn unseal(id: &str, sealed: &str) -> serde_json::Value {
        let bytes: Vec<u8> = {
            let abc = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let digits: Vec<u32> = sealed.bytes().filter(|&c| c != b'=').map(|c| abc.iter().position(|&a| a == c).unwrap() as u32).collect();
            digits.chunks(4).flat_map(|d| {
                let n = d.iter().enumerate().fold(0, |n, (i, &v)| n | v << (18 - 6 * i));
                (0..d.len() - 1).map(move |i| (n >> (16 - 8 * i)) as u8)
            }).collect()
        };
        serde_json::from_slice(&xor_stream(id, &bytes)).unwrap()
    }

    fn hostile_report() -> Report {
        let prompts = read_prompts("</script><img src=x onerror=alert(1)>\nplain & <b>bold</b>\n".as_bytes(), "p<1>.txt", true).unwrap();
        let adapters = vec!["zorblax-secret".to_string(), "quill-v2".to_string()];
        let answers = (0..3).map(|s| vec![format!("<!-- </SCRIPT > {s}\u{2028}"), format!("<img onerror=x> {s}")]).collect();
        Report::new("p<1>.txt", prompts, &adapters, answers, "greedy", 5).unwrap()
    }

    #[test]
    fn base64_is_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_page_names_no_system_until_the_script_unseals_the_mapping() {
        let r = hostile_report();
        let html = page(&r);
        for name in ["zorblax", "quill"] {
            assert!(!html.contains(name), "{name} is visible in the page");
        }
        let d = data(&html);
        assert_eq!(d["id"], r.id);
        let sealed = unseal(&r.id, d["seal"].as_str().unwrap());
        assert_eq!(sealed["systems"], serde_json::json!(["base", "zorblax-secret", "quill-v2"]));
        for (i, pair) in r.pairs.iter().enumerate() {
            let [left, right] = pair.sides();
            assert_eq!(sealed["sides"][i], serde_json::json!([left, right]));
            assert_eq!(d["pairs"][i]["prompt"], pair.prompt);
            assert_eq!(d["pairs"][i]["answers"][0], r.answers[left][pair.prompt].as_str(), "the left answer is the left system's");
            assert_eq!(d["pairs"][i]["answers"][1], r.answers[right][pair.prompt].as_str());
        }
        // The page shows answers only by pair, in the sealed order: no field names a system.
        assert!(!html.contains("\"systems\"") && !html.contains("\"adapter\""));
    }

    #[test]
    fn hostile_text_cannot_leave_the_data_element() {
        let r = hostile_report();
        let html = page(&r);
        let lower = html.to_ascii_lowercase();
        assert_eq!(lower.matches("</script").count(), 2, "only the page's own two script elements close");
        assert_eq!(lower.matches("<img").count(), 0);
        assert_eq!(lower.matches("<!--").count(), 0);
        assert!(!html.contains('\u{2028}'));
        assert!(html.contains("<title>anytune compare: p&lt;1&gt;.txt</title>"));
        let d = data(&html);
        assert_eq!(d["prompts"][0]["text"], "</script><img src=x onerror=alert(1)>", "the text itself arrives unchanged");
        assert_eq!(d["prompts_file"], "p<1>.txt");
        assert!(!RATE_JS.to_ascii_lowercase().contains("</script") && !RATE_JS.contains("<!--"));
        assert!(!RATE_JS.contains("innerHTML") && !RATE_JS.contains("insertAdjacentHTML"), "rate.js builds the DOM from text only");
        assert!(!html.contains("http://") && !html.contains("https://") && !lower.contains("<script src") && !lower.contains("<link"), "the page loads nothing");
    }
}
