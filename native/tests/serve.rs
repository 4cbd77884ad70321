//! `anytune serve` end to end: a server on a free port over a throwaway repository folder (so
//! the test neither builds the wasm nor needs the default model), spoken to over raw TCP so
//! that traversal attempts reach the server un-normalised, and oversized, slow or idle
//! requests can be made.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tiny() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny-llama-Q4_0.gguf")
}

/// The server process over its own repository folder; when dropped, the process is killed and
/// the folder removed, so a failing assertion leaves nothing behind.
struct Server {
    child: Child,
    port: u16,
    repo: PathBuf,
}

impl Server {
    /// What the server logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.repo.with_extension("log")).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.repo);
        let _ = std::fs::remove_file(self.repo.with_extension("log"));
    }
}

/// A repository folder with one file of each kind, plus files that must not be served.
fn make_repo(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    for d in ["web/pkg", "web/src", "tests/data"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let files: &[(&str, &[u8])] = &[
        ("index.html", b"<!doctype html><title>t</title>"),
        ("secret.txt", b"outside the allowed folders"),
        ("web/app.js", b"export const x = 1;"),
        ("web/style.css", b"body{}"),
        ("web/build.sh", b"echo no"),
        ("web/src/lib.rs", b"// no"),
        ("web/pkg/anytune_web.js", b"export default 1;"),
        ("web/pkg/anytune_web_bg.wasm", b"\0asm\x01\0\0\0"),
        ("tests/data/sample.jsonl", b"{\"text\": \"hi\"}\n"),
        ("tests/data/sample.csv", b"prompt,completion\n"),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("web/leak.txt")).unwrap();
}

/// The server, with more arguments, over a fresh repository folder named after the test (tests
/// run in parallel); its log goes to the folder's name + `.log`.
fn start(test: &str, args: &[&str]) -> Server {
    let repo = std::env::temp_dir().join(format!("anytune-serve-{}-{test}", std::process::id()));
    make_repo(&repo);
    let log = std::fs::File::create(repo.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_anytune"))
        .args(["serve", "--port", "0", "--no-build", "--model"])
        .arg(tiny())
        .arg("--repo")
        .arg(&repo)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("run anytune serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("no URL printed: {line:?}; stderr: {}", std::fs::read_to_string(repo.with_extension("log")).unwrap())
        });
    Server { child, port, repo }
}

/// One raw request; returns (status, headers lower-cased, body).
fn request(port: u16, method: &str, target: &str, extra: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

#[test]
fn serves_the_page_the_wasm_the_data_and_the_model() {
    let server = start("page", &[]);
    let want = [
        ("/", "text/html; charset=utf-8"),
        ("/index.html?x=1", "text/html; charset=utf-8"),
        ("/web/app.js", "text/javascript; charset=utf-8"),
        ("/web/style.css", "text/css; charset=utf-8"),
        ("/web/pkg/anytune_web.js", "text/javascript; charset=utf-8"),
        ("/web/pkg/anytune_web_bg.wasm", "application/wasm"),
        ("/tests/data/sample.jsonl", "text/plain; charset=utf-8"),
        ("/tests/data/sample.csv", "text/csv; charset=utf-8"),
        ("/model/default.gguf", "application/octet-stream"),
    ];
    for (path, mime) in want {
        let (status, headers, body) = request(server.port, "GET", path, "");
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&headers, "content-type"), mime, "{path}");
        assert_eq!(header(&headers, "content-length"), body.len().to_string(), "{path}");
    }
    let gguf = std::fs::read(tiny()).unwrap();
    let (_, _, body) = request(server.port, "GET", "/model/default.gguf", "");
    assert!(body == gguf, "the model is served byte for byte ({} of {} bytes)", body.len(), gguf.len());
    let (_, _, body) = request(server.port, "GET", "/web/pkg/anytune_web_bg.wasm", "");
    assert_eq!(body, b"\0asm\x01\0\0\0");

    // HEAD: the headers of GET, no body.
    let (status, headers, body) = request(server.port, "HEAD", "/model/default.gguf", "");
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(header(&headers, "content-length"), gguf.len().to_string());

    // Revalidation: the ETag of a GET gives 304 and no body.
    let etag = header(&headers, "etag").to_string();
    assert!(etag.starts_with('"'), "an ETag: {etag:?}");
    let (status, _, body) = request(server.port, "GET", "/model/default.gguf", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((status, body.len()), (304, 0));
    let (status, _, _) = request(server.port, "GET", "/model/default.gguf", "If-None-Match: \"other\"\r\n");
    assert_eq!(status, 200);

    // Ranges.
    let (status, headers, body) = request(server.port, "GET", "/model/default.gguf", "Range: bytes=4-11\r\n");
    assert_eq!(status, 206);
    assert_eq!(body, &gguf[4..12]);
    assert_eq!(header(&headers, "content-range"), format!("bytes 4-11/{}", gguf.len()));
    let (status, _, body) = request(server.port, "GET", "/model/default.gguf", "Range: bytes=-4\r\n");
    assert_eq!((status, body.as_slice()), (206, &gguf[gguf.len() - 4..]));
    let (status, _, _) = request(server.port, "GET", "/model/default.gguf", &format!("Range: bytes={}-\r\n", gguf.len()));
    assert_eq!(status, 416);

    // Missing files, other folders, unknown types, traversal, symlinks out: all 404.
    for path in [
        "/nope.html",
        "/secret.txt",
        "/web/build.sh",
        "/web/src/lib.rs",
        "/web/pkg/",
        "/web/../secret.txt",
        "/web/%2e%2e/secret.txt",
        "/tests/data/../../secret.txt",
        "/tests/data/..%2f..%2fsecret.txt",
        "/web//app.js",
        "/web/leak.txt",
        "/model/other.gguf",
    ] {
        let (status, _, body) = request(server.port, "GET", path, "");
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("outside the allowed"), "{path} leaked secret.txt");
    }
    assert_eq!(request(server.port, "POST", "/", "Content-Length: 0\r\n").0, 405);
    assert_eq!(request(server.port, "GET", "/web/%zz.js", "").0, 400);
}

/// Sends `bytes` as they are and returns all that comes back until the server closes. A write
/// the server cut short, or a reset after its answer, ends the exchange instead of failing it.
fn exchange(port: u16, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(bytes);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}

/// The status code of a raw response, 0 when there is none.
fn status_of(response: &str) -> u16 {
    response.strip_prefix("HTTP/1.1 ").and_then(|r| r.get(..3)).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn an_oversized_request_line_gets_414() {
    let server = start("line", &[]);
    let long = format!("GET /web/{}.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "a".repeat(9000));
    let answer = exchange(server.port, long.as_bytes());
    assert_eq!(status_of(&answer), 414, "{answer:.300}");
    assert!(answer.contains("over 8192 bytes"), "{answer:.300}");
    // A request line that never ends is refused as soon as it passes the limit.
    let answer = exchange(server.port, &[b'G'; 100_000]);
    assert_eq!(status_of(&answer), 414, "{answer:.300}");
    assert_eq!(request(server.port, "GET", "/", "").0, 200, "still serving");
}

#[test]
fn an_oversized_header_block_gets_431() {
    let server = start("headers", &[]);
    let get = |headers: String| exchange(server.port, format!("GET / HTTP/1.1\r\n{headers}\r\n").as_bytes());
    // 70 header lines of 1 KiB: past the 64 KiB block.
    let answer = get(format!("X-Big: {}\r\n", "b".repeat(1015)).repeat(70));
    assert_eq!(status_of(&answer), 431, "{answer:.300}");
    assert!(answer.contains("over 65536 bytes"), "{answer:.300}");
    // One header line without end, 1 MiB long.
    let answer = get(format!("X-Endless: {}", "c".repeat(1 << 20)));
    assert_eq!(status_of(&answer), 431, "{answer:.300}");
    // 100 header lines pass, 101 do not.
    let many = |n: usize| (0..n).map(|i| format!("X-{i}: v\r\n")).collect::<String>();
    assert_eq!(status_of(&get(many(100))), 200);
    let answer = get(many(101));
    assert_eq!(status_of(&answer), 431, "{answer:.300}");
    assert!(answer.contains("more than 100 header lines"), "{answer:.300}");
}

/// The number of threads of process `pid` (Linux), `None` where /proc does not tell.
fn threads(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|n| n.trim().parse().ok())
}

#[test]
fn idle_connections_beyond_the_cap_get_503_and_no_threads() {
    const CAP: usize = 4;
    let server = start("idle", &["--max-connections", "4", "--header-timeout", "60"]);
    let before = threads(server.child.id());
    let idle: Vec<TcpStream> = (0..CAP + 10).map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap()).collect();
    for s in &idle {
        s.set_nonblocking(true).unwrap();
    }
    // The 10 over the cap are answered 503 at once; the first CAP wait for their request.
    let answered = |idle: &[TcpStream]| idle.iter().filter(|s| matches!(s.peek(&mut [0u8; 16]), Ok(n) if n > 0)).count();
    let waited = Instant::now();
    while answered(&idle) < 10 && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(answered(&idle), 10, "the connections over the cap are answered, the others wait");
    for s in &idle[CAP..] {
        let mut got = [0u8; 12];
        s.peek(&mut got).unwrap();
        assert_eq!(&got, b"HTTP/1.1 503");
    }
    if let (Some(before), Some(now)) = (before, threads(server.child.id())) {
        assert!(now <= before + CAP, "{now} threads with {} connections (were {before})", idle.len());
    }
    // A real request while full: a fast 503.
    let asked = Instant::now();
    let (status, headers, _) = request(server.port, "GET", "/", "");
    assert_eq!((status, header(&headers, "retry-after")), (503, "1"));
    assert!(asked.elapsed() < Duration::from_secs(2), "503 took {:?}", asked.elapsed());
    // Once the idle ones close, requests are served again.
    drop(idle);
    let mut status = 0;
    for _ in 0..100 {
        status = request(server.port, "GET", "/", "").0;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status, 200, "served again after the idle connections closed");
}

#[test]
fn a_slow_client_is_cut_off_by_the_header_deadline() {
    let server = start("slow", &["--header-timeout", "2"]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(250))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").unwrap();
    // One byte every 250 ms: each read is quick, the head never completes. At most 10 s.
    let mut answer = Vec::new();
    for _ in 0..40 {
        if s.write_all(b"x").is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => break,
        }
        if !answer.is_empty() {
            break;
        }
    }
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), 408, "{answer:.300} after {took:?}");
    assert!(took >= Duration::from_millis(1800) && took < Duration::from_secs(5), "cut off after {took:?}");
}

#[test]
fn a_newline_in_a_path_stays_inside_its_log_line() {
    let server = start("log", &[]);
    let forged = "/web/a%0aanytune%20serve:%20GET%20/forged%20200%0d%1b[2J%c3%a9";
    assert_eq!(request(server.port, "GET", forged, "").0, 404);
    assert_eq!(request(server.port, "GET", "/web/app.js", "").0, 200);
    let log = server.log();
    let shown = "anytune serve: GET /web/a%0Aanytune%20serve:%20GET%20/forged%20200%0D%1B[2J%C3%A9 404";
    assert!(log.lines().any(|l| l == shown), "{log:?}");
    assert!(!log.lines().any(|l| l.contains("GET /forged")), "a forged line: {log:?}");
    assert!(!log.contains(['\r', '\x1b']), "control characters in the log: {log:?}");
    assert!(log.lines().all(|l| l.starts_with("anytune serve: ")), "{log:?}");
}
