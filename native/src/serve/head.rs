//! Reading a request's head (the request line and the headers) within fixed size limits and one
//! deadline for the whole head, so that neither a huge nor a slow request holds memory or a
//! thread for long. Requests are body-less (GET, HEAD): nothing after the blank line is read.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::Instant;

/// The longest request line accepted, in bytes without its line end; a longer one gets 414.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// The most bytes of header lines after the request line (line ends and the blank line
/// included); more get 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// The most header lines after the request line; more get 431.
pub const MAX_HEADER_LINES: usize = 100;

/// The parts of a request head the server uses.
#[derive(Debug, PartialEq)]
pub struct Head {
    pub method: String,
    pub target: String,
    pub range: Option<String>,
    pub if_none_match: Option<String>,
}

/// Why no head was read.
#[derive(Debug)]
pub enum Refusal {
    /// The client closed, or sent nothing before the deadline: close without an answer.
    Silent,
    /// The connection failed while reading.
    Io(std::io::Error),
    /// Answer with this status and reason, `why` as the body, then close.
    Answer { status: u16, reason: &'static str, why: String },
}

impl Refusal {
    fn answer(status: u16, reason: &'static str, why: String) -> Self {
        Refusal::Answer { status, reason, why }
    }
}

/// Reads the head from `stream`; it must be complete by `deadline` (else 408).
pub fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Head, Refusal> {
    let mut buf = Vec::new();
    let mut scan = Scan::default();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(&buf));
        }
        stream.set_read_timeout(Some(left)).map_err(Refusal::Io)?;
        match stream.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Err(Refusal::Silent), // a speculative connection
            Ok(0) => return Err(Refusal::answer(400, "Bad Request", "the request ended inside its head".into())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(timed_out(&buf)),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Refusal::Io(e)),
        }
        if let Some(end) = scan.feed(&buf)? {
            return Ok(parse(&buf[..end]));
        }
    }
}

fn timed_out(buf: &[u8]) -> Refusal {
    if buf.is_empty() {
        return Refusal::Silent;
    }
    Refusal::answer(408, "Request Timeout", "the request head did not arrive in time".into())
}

/// How far the received bytes have been checked: the head grows line by line, and each line is
/// looked at once (a client sending a byte at a time costs no rescans).
#[derive(Default)]
struct Scan {
    /// Bytes searched for a line end so far.
    searched: usize,
    /// Where the current (incomplete) line starts.
    line_start: usize,
    /// The end of the request line (after its `\n`), once it is complete.
    request_end: Option<usize>,
    header_lines: usize,
}

impl Scan {
    /// Checks the bytes after the last call: `Ok(Some(end))` when the head is complete (it is
    /// `buf[..end]`), `Ok(None)` when more is needed, `Err` when a limit is passed.
    fn feed(&mut self, buf: &[u8]) -> Result<Option<usize>, Refusal> {
        while let Some(at) = buf[self.searched..].iter().position(|&b| b == b'\n') {
            let end = self.searched + at + 1;
            self.searched = end;
            let line = &buf[self.line_start..end];
            self.line_start = end;
            self.check_sizes(end, bare_len(line))?;
            if self.request_end.is_none() {
                self.request_end = Some(end);
            } else if line.trim_ascii().is_empty() {
                return Ok(Some(end));
            } else {
                self.header_lines += 1;
                if self.header_lines > MAX_HEADER_LINES {
                    return Err(too_large(format!("more than {MAX_HEADER_LINES} header lines")));
                }
            }
        }
        self.searched = buf.len();
        self.check_sizes(buf.len(), bare_len(&buf[self.line_start..])).map(|()| None)
    }

    /// With the head received up to `upto` and the current line `line` bytes long (without its
    /// line end): the request line, or else the header block, against its limit.
    fn check_sizes(&self, upto: usize, line: usize) -> Result<(), Refusal> {
        match self.request_end {
            None if line > MAX_REQUEST_LINE => Err(Refusal::answer(
                414,
                "URI Too Long",
                format!("the request line is over {MAX_REQUEST_LINE} bytes"),
            )),
            Some(start) if upto - start > MAX_HEADER_BYTES => {
                Err(too_large(format!("the headers are over {MAX_HEADER_BYTES} bytes")))
            }
            _ => Ok(()),
        }
    }
}

/// A line's length without its line end (`\n`, `\r\n`, or a `\r` still waiting for its `\n`).
fn bare_len(line: &[u8]) -> usize {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line).len()
}

fn too_large(why: String) -> Refusal {
    Refusal::answer(431, "Request Header Fields Too Large", why)
}

/// The method, target and the headers the server reads, from a complete head.
fn parse(head: &[u8]) -> Head {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let mut parts = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut head = Head { method: method.into(), target: target.into(), range: None, if_none_match: None };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim().to_ascii_lowercase();
        if name == "range" {
            head.range = Some(value.trim().to_string());
        } else if name == "if-none-match" {
            head.if_none_match = Some(value.trim().to_string());
        }
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `step` bytes, as a slow client would send them.
    fn feed_by(bytes: &[u8], step: usize) -> Result<Option<usize>, Refusal> {
        let mut scan = Scan::default();
        let mut got = None;
        for n in (step..bytes.len() + step).step_by(step) {
            got = scan.feed(&bytes[..n.min(bytes.len())])?;
            if got.is_some() {
                break;
            }
        }
        Ok(got)
    }

    fn status(r: Result<Option<usize>, Refusal>) -> u16 {
        match r {
            Err(Refusal::Answer { status, .. }) => status,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn complete_heads_in_any_pieces() {
        let req = b"GET /web/a.js HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\nIf-None-Match: \"e\"\r\n\r\nignored";
        let end = req.len() - "ignored".len();
        for step in [1, 2, 7, req.len()] {
            assert_eq!(feed_by(req, step).unwrap(), Some(end), "step {step}");
        }
        let head = parse(&req[..end]);
        assert_eq!((head.method.as_str(), head.target.as_str()), ("GET", "/web/a.js"));
        assert_eq!((head.range.as_deref(), head.if_none_match.as_deref()), (Some("bytes=0-3"), Some("\"e\"")));
        assert_eq!(feed_by(b"GET / HTTP/1.1\nHost: x\n\n", 3).unwrap(), Some(24));
        assert_eq!(feed_by(b"GET / HTTP/1.1\r\nHost: x\r\n", 5).unwrap(), None);
    }

    #[test]
    fn limits_at_their_edges() {
        let line = |n: usize| format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(n - "GET / HTTP/1.1".len()));
        assert!(feed_by(line(MAX_REQUEST_LINE).as_bytes(), 1000).unwrap().is_some());
        assert_eq!(status(feed_by(line(MAX_REQUEST_LINE + 1).as_bytes(), 1000)), 414);
        // Without a line end, refused as soon as the limit is passed.
        assert_eq!(status(feed_by(&[b'a'; MAX_REQUEST_LINE + 1], 4096)), 414);

        let headers = |lines: usize, each: usize| {
            let h = format!("X: {}\r\n", "b".repeat(each - 5));
            format!("GET / HTTP/1.1\r\n{}\r\n", h.repeat(lines))
        };
        assert!(feed_by(headers(MAX_HEADER_LINES, 10).as_bytes(), 100).unwrap().is_some());
        assert_eq!(status(feed_by(headers(MAX_HEADER_LINES + 1, 10).as_bytes(), 100)), 431);
        // 64 header lines of 1 KiB fill the block but for the blank line.
        assert!(feed_by(headers(63, 1024).as_bytes(), 4096).unwrap().is_some());
        assert_eq!(status(feed_by(headers(64, 1024).as_bytes(), 4096)), 431);
        // One endless header line is refused once it passes the block limit.
        let endless = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'c'; MAX_HEADER_BYTES]].concat();
        assert_eq!(status(feed_by(&endless, 4096)), 431);
    }
}
