//! `anytune serve`: serves the web page on 127.0.0.1 — a small HTTP/1.1 static server (std::net,
//! one thread per connection, `Connection: close`). What it serves, from the repository folder:
//!
//! | URL | file |
//! |---|---|
//! | `/`, `/index.html` | `index.html` |
//! | `/web/…` | `web/…` (page scripts, styles, `web/pkg/` from `web/build.sh`) |
//! | `/tests/data/…` | the sample datasets |
//! | `/model/default.gguf` | `--model`, else the default model (fetched on first use) |
//!
//! Only files with a known type (see [`mime_type`]) are served; anything else, `..` and paths
//! leaving those folders get 404. GET and HEAD; a single `Range: bytes=…` gets 206; an ETag
//! (size and mtime) lets reloads revalidate with 304 (`Cache-Control: no-cache`). Before
//! serving, `web/build.sh` runs when `web/pkg` is missing or older than the Rust/WGSL sources.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1; 0 picks a free one. The URL is printed.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The .gguf file served at /model/default.gguf. Default: SmolLM2-135M-Instruct (Q4_1),
    /// fetched into the cache on first use.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The repository folder to serve (index.html, web/, tests/data/). Default: the current
    /// folder if it holds index.html and web/, else the folder this binary was built from.
    #[arg(long)]
    repo: Option<PathBuf>,
    /// Serve web/pkg as it is, without running web/build.sh when it is missing or stale.
    #[arg(long)]
    no_build: bool,
}

/// What the server needs per request: the allowed folders and the model file.
struct Site {
    repo: PathBuf,
    model: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let repo = match &args.repo {
        Some(r) => r.clone(),
        None => find_repo()?,
    };
    let repo = repo.canonicalize().with_context(|| format!("--repo {}: no such folder", repo.display()))?;
    if !repo.join("index.html").is_file() {
        bail!("--repo {}: has no index.html; pass the anytune repository folder", repo.display());
    }
    if !args.no_build {
        build_if_stale(&repo)?;
    }
    let model = match &args.model {
        Some(m) if m.is_file() => Some(m.canonicalize()?),
        Some(m) => bail!("--model {}: not a file; serve takes a .gguf file", m.display()),
        None => match anytune::default_model::default_model_path() {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("anytune serve: no default model ({e:#}); /model/default.gguf answers 404");
                None
            }
        },
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port)).with_context(|| {
        format!("listening on 127.0.0.1:{}: is the port in use? --port 0 picks a free one", args.port)
    })?;
    let port = listener.local_addr()?.port();
    let model_note = model.as_ref().map_or("none".to_string(), |m| m.display().to_string());
    println!("anytune serve: http://127.0.0.1:{port}/ (repo {}, model {model_note})", repo.display());
    std::io::stdout().flush()?;
    let site = Arc::new(Site { repo, model });
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let site = Arc::clone(&site);
        std::thread::spawn(move || {
            // A client that goes away mid-response (reloads, aborted fetches) is not an error.
            if let Err(e) = handle(stream, &site)
                && !e.downcast_ref::<std::io::Error>().is_some_and(|e| {
                    matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
                })
            {
                eprintln!("anytune serve: {e:#}");
            }
        });
    }
    Ok(())
}

/// The current folder if it looks like the repository, else the one this binary was built from.
fn find_repo() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    if cwd.join("index.html").is_file() && cwd.join("web").is_dir() {
        return Ok(cwd);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if built.join("index.html").is_file() {
        return Ok(built);
    }
    bail!("cannot find the anytune repository (index.html, web/); run from it or pass --repo DIR")
}

/// Runs `web/build.sh` when `web/pkg` is missing or older than a source it is built from.
fn build_if_stale(repo: &Path) -> Result<()> {
    let wasm = repo.join("web/pkg/anytune_web_bg.wasm");
    let built = std::fs::metadata(&wasm).and_then(|m| m.modified()).ok();
    let mut newest = SystemTime::UNIX_EPOCH;
    for dir in ["web/src", "core/src", "shaders"] {
        newest = newest.max(newest_mtime(&repo.join(dir)));
    }
    for file in ["Cargo.lock", "web/Cargo.toml", "core/Cargo.toml"] {
        newest = newest.max(newest_mtime(&repo.join(file)));
    }
    let why = match built {
        None => "web/pkg is missing",
        Some(t) if t < newest => "web/pkg is older than the sources",
        Some(_) => return Ok(()),
    };
    eprintln!("anytune serve: {why}; running web/build.sh");
    let status = std::process::Command::new("bash")
        .arg(repo.join("web/build.sh"))
        .current_dir(repo)
        .status()
        .context("running bash web/build.sh")?;
    if !status.success() {
        bail!("web/build.sh failed ({status}); fix the build or pass --no-build to serve web/pkg as it is");
    }
    Ok(())
}

/// Newest modification time of a file, or of any file under a folder.
fn newest_mtime(path: &Path) -> SystemTime {
    let Ok(meta) = std::fs::metadata(path) else { return SystemTime::UNIX_EPOCH };
    if !meta.is_dir() {
        return meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    }
    let Ok(entries) = std::fs::read_dir(path) else { return SystemTime::UNIX_EPOCH };
    entries.filter_map(|e| e.ok()).map(|e| newest_mtime(&e.path())).max().unwrap_or(SystemTime::UNIX_EPOCH)
}

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
fn resolve(site: &Site, path: &str) -> Option<PathBuf> {
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
fn percent_decode(s: &str) -> Option<String> {
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

fn handle(mut stream: TcpStream, site: &Site) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(()); // a speculative connection closed without a request
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (mut range_header, mut if_none_match) = (None, None);
    let mut header_bytes = line.len();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        header_bytes += h.len();
        if header_bytes > 64 * 1024 {
            return respond_text(&mut stream, false, 431, "Request Header Fields Too Large", "headers too large");
        }
        if let Some((name, value)) = h.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "range" {
                range_header = Some(value.trim().to_string());
            } else if name == "if-none-match" {
                if_none_match = Some(value.trim().to_string());
            }
        }
    }
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond_text(&mut stream, false, 405, "Method Not Allowed", "only GET and HEAD");
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    let Some(path) = percent_decode(path).filter(|p| p.starts_with('/')) else {
        return respond_text(&mut stream, head_only, 400, "Bad Request", "bad request target");
    };
    let Some(file) = resolve(site, &path) else {
        eprintln!("anytune serve: {method} {path} 404");
        return respond_text(&mut stream, head_only, 404, "Not Found", &format!("not found: {path}"));
    };
    let name = if path == "/" { "index.html" } else { path.as_str() };
    let mime = mime_type(name).unwrap_or("application/octet-stream");
    let mut f = File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let meta = f.metadata()?;
    let len = meta.len();
    // A validator, so that reloads revalidate (304) instead of fetching the model again.
    let mtime = meta.modified()?.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let etag = format!("\"{len:x}-{:x}\"", mtime.as_nanos());
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        let head = format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n");
        return Ok(stream.write_all(head.as_bytes())?);
    }
    let (status, reason, start, count, content_range) = match range_header.and_then(|r| parse_range(&r, len)) {
        None => (200, "OK", 0, len, None),
        Some(Ok((a, b))) => (206, "Partial Content", a, b - a + 1, Some(format!("bytes {a}-{b}/{len}"))),
        Some(Err(())) => {
            let head = format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return Ok(stream.write_all(head.as_bytes())?);
        }
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {mime}\r\nContent-Length: {count}\r\nAccept-Ranges: bytes\r\n\
         ETag: {etag}\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n\
         Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\nConnection: close\r\n"
    );
    if let Some(cr) = content_range {
        head += &format!("Content-Range: {cr}\r\n");
    }
    if path == "/web/sw.js" {
        // The service worker lives in web/ but controls the whole page.
        head += "Service-Worker-Allowed: /\r\n";
    }
    if path == "/model/default.gguf" {
        // The page names the base model in adapter_config.json after the served file.
        let file_name = file.file_name().map(|n| n.to_string_lossy().replace(['"', '\\', '\r', '\n'], "_")).unwrap_or_default();
        head += &format!("Content-Disposition: inline; filename=\"{file_name}\"\r\n");
    }
    head += "\r\n";
    stream.write_all(head.as_bytes())?;
    eprintln!("anytune serve: {method} {path} {status} {count} bytes");
    if !head_only {
        f.seek(SeekFrom::Start(start))?;
        // std::io::copy from a File to a TcpStream uses sendfile on Linux: no copy through here.
        std::io::copy(&mut f.take(count), &mut stream)?;
    }
    Ok(())
}

/// A short text response; `head_only` (HEAD) sends the headers alone.
fn respond_text(stream: &mut TcpStream, head_only: bool, status: u16, reason: &str, body: &str) -> Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len() + 1
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(format!("{body}\n").as_bytes())?;
    }
    Ok(())
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
