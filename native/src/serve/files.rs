//! Which file a request path names, its Content-Type, and the byte range asked for.

use super::Site;
use std::path::PathBuf;

/// The Content-Type served for a file name, or `None`: such files are not served.
pub fn mime_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "gguf" | "safetensors" => "application/octet-stream",
        "jsonl" | "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        _ => return None,
    })
}

/// Maps a request path (percent-decoded, no query) to a file, or `None` (404).
pub fn resolve(site: &Site, path: &str) -> Option<PathBuf> {
    if path == "/" || path == "/index.html" {
        return Some(site.repo.join("index.html"));
    }
    if path == "/model/default.gguf" {
        return site.model.clone();
    }
    let rel = path.strip_prefix('/')?;
    let segments: Vec<&str> = rel.split('/').collect();
    if segments.iter().any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains(['\\', '\0'])) {
        return None;
    }
    let root = match segments.as_slice() {
        ["web", _, ..] => site.repo.join("web"),
        ["tests", "data", _, ..] => site.repo.join("tests/data"),
        _ => return None,
    };
    mime_type(segments.last()?)?;
    // Symlinks may not lead out of the allowed folder.
    let file = site.repo.join(rel).canonicalize().ok()?;
    (file.starts_with(root.canonicalize().ok()?) && file.is_file()).then_some(file)
}

/// `%XX` decoding; `None` for a bad escape or a result that is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A `Range: bytes=…` header against a file of `len` bytes: `Some(Ok((start, end_inclusive)))`,
/// `Some(Err(()))` when unsatisfiable (416), `None` to ignore it (multiple ranges, bad syntax).
pub fn parse_range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end: u64 = if b.is_empty() { u64::MAX } else { b.parse().ok()? };
        if end < start {
            return None;
        }
        if start >= len {
            return Some(Err(()));
        }
        (start, end.min(len - 1))
    };
    Some(Ok(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=95-200", 100), Some(Ok((95, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-500", 100), Some(Ok((0, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("bytes=9-3", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn mime_types() {
        assert_eq!(mime_type("a.wasm"), Some("application/wasm"));
        assert_eq!(mime_type("x/a.MJS"), Some("text/javascript; charset=utf-8"));
        assert_eq!(mime_type("build.sh"), None);
        assert_eq!(mime_type("Makefile"), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/%2e%2e/x").as_deref(), Some("/../x"));
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%4"), None);
    }
}
