//! `anytune serve`: serves the web page on 127.0.0.1 — a small HTTP/1.1 static server (std::net,
//! a thread per connection, `Connection: close`). What it serves, from the repository folder:
//!
//! | URL | file |
//! |---|---|
//! | `/`, `/index.html` | `index.html` |
//! | `/web/…` | `web/…` (page scripts, styles, `web/pkg/` from `web/build.sh`) |
//! | `/tests/data/…` | the sample datasets |
//! | `/model/default.gguf` | `--model`, else the default model (fetched on first use) |
//!
//! Only files with a known type (see [`files::mime_type`]) are served; anything else, `..` and
//! paths leaving those folders get 404. GET and HEAD; a single `Range: bytes=…` gets 206; an
//! ETag (size and mtime) lets reloads revalidate with 304 (`Cache-Control: no-cache`). Before
//! serving, `web/build.sh` runs when `web/pkg` is missing or older than the Rust/WGSL sources.
//!
//! # Limits
//!
//! What a client can make the server hold is bounded; each refusal is answered, logged, and
//! the connection closed:
//!
//! | what | limit | beyond it |
//! |---|---|---|
//! | request line | 8 KiB ([`head::MAX_REQUEST_LINE`]) | 414 |
//! | headers after it | 64 KiB in all ([`head::MAX_HEADER_BYTES`]), 100 lines ([`head::MAX_HEADER_LINES`]) | 431 |
//! | time to send the whole head | `--header-timeout`, default 10 s, from the accept | 408 (nothing sent yet: closed) |
//! | connections served at once | `--max-connections`, default 64 (a thread each) | 503 with `Retry-After: 1`, at once |
//! | a stalled response write | 30 s per write | connection dropped |
//!
//! After a refusal, what the client still sends is read and dropped for up to 1 s (256 KiB), so
//! that closing does not reset the connection before the answer is read. Request bodies are
//! never read (GET and HEAD only). In the log, a request's method and
//! decoded path show control characters, spaces, non-ASCII and `%` as `%XX` ([`shown::shown`]),
//! so a `%0a` in a path cannot start a log line of its own.

mod conn;
mod files;
mod head;
mod respond;
mod shown;

use anyhow::{Context, Result, bail};
use clap::Args;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1; 0 picks a free one. The URL is printed.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The .gguf file (or model name, see `anytune models`) served at /model/default.gguf.
    /// Default: SmolLM2-135M-Instruct (Q4_1), fetched into the cache on first use.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The repository folder to serve (index.html, web/, tests/data/). Default: the current
    /// folder if it holds index.html and web/, else the folder this binary was built from.
    #[arg(long)]
    repo: Option<PathBuf>,
    /// Serve web/pkg as it is, without running web/build.sh when it is missing or stale.
    #[arg(long)]
    no_build: bool,
    /// Most connections served at once, 1 to 1024 (a thread each); more are answered 503 at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
    max_connections: u16,
    /// Seconds, 1 to 600, a connection has from when it is accepted to send its whole request
    /// head (request line and headers); a later one gets 408 and is closed, so slow clients do
    /// not hold threads.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    header_timeout: u64,
}

/// What the server needs per request: the allowed folders, the model file, and the time a
/// client has to send its request head.
struct Site {
    repo: PathBuf,
    model: Option<PathBuf>,
    header_timeout: Duration,
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
        Some(m) => match anytune::load::model_path(Some(m))? {
            p if p.is_file() => Some(p.canonicalize()?),
            _ => bail!("--model {}: not a file; serve takes a .gguf file or a model name", m.display()),
        },
        None => match anytune::named_models::default_model_path() {
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
    let site = Arc::new(Site { repo, model, header_timeout: Duration::from_secs(args.header_timeout) });
    conn::serve(listener, site, usize::from(args.max_connections));
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
