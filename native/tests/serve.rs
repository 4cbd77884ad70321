//! `anytune serve` end to end: a server on a free port over a throwaway repository folder (so
//! the test neither builds the wasm nor needs the default model), spoken to over raw TCP so
//! that traversal attempts reach the server un-normalised.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn tiny() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny-llama-Q4_0.gguf")
}

/// The server process; killed when dropped, so a failing assertion does not leave it running.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

fn start(repo: &Path) -> Server {
    let log = std::fs::File::create(repo.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_anytune"))
        .args(["serve", "--port", "0", "--no-build", "--model"])
        .arg(tiny())
        .arg("--repo")
        .arg(repo)
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
    Server { child, port }
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
    let repo = std::env::temp_dir().join(format!("anytune-serve-{}", std::process::id()));
    make_repo(&repo);
    let server = start(&repo);
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
    drop(server);
    let _ = std::fs::remove_dir_all(&repo);
    let _ = std::fs::remove_file(repo.with_extension("log"));
}
