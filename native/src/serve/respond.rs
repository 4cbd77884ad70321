//! Answering a request whose head has been read: the file it names (whole, a range, or 304),
//! or a short text error.

use super::Site;
use super::files::{mime_type, parse_range, percent_decode, resolve};
use super::head::Head;
use super::shown::shown;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::time::SystemTime;

/// Answers `head` with the file it names; every answer ends the connection.
pub fn respond(stream: &mut TcpStream, site: &Site, head: Head) -> Result<()> {
    let Head { method, target, range, if_none_match } = head;
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond_text(stream, false, 405, "Method Not Allowed", "", "only GET and HEAD");
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    let Some(path) = percent_decode(path).filter(|p| p.starts_with('/')) else {
        return respond_text(stream, head_only, 400, "Bad Request", "", "bad request target");
    };
    let Some(file) = resolve(site, &path) else {
        let path = shown(&path);
        eprintln!("anytune serve: {} {path} 404", shown(&method));
        return respond_text(stream, head_only, 404, "Not Found", "", &format!("not found: {path}"));
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
    let (status, reason, start, count, content_range) = match range.and_then(|r| parse_range(&r, len)) {
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
    eprintln!("anytune serve: {} {} {status} {count} bytes", shown(&method), shown(&path));
    if !head_only {
        f.seek(SeekFrom::Start(start))?;
        // std::io::copy from a File to a TcpStream uses sendfile on Linux: no copy through here.
        std::io::copy(&mut f.take(count), stream)?;
    }
    Ok(())
}

/// A short text response; `head_only` (HEAD) sends the headers alone. `extra` is more header
/// lines, each ending in `\r\n`.
pub fn respond_text(
    stream: &mut TcpStream,
    head_only: bool,
    status: u16,
    reason: &str,
    extra: &str,
    body: &str,
) -> Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len() + 1
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(format!("{body}\n").as_bytes())?;
    }
    Ok(())
}
