//! The bad-input corpus: `tests/bad_inputs/make_cases.py` writes a few hundred broken inputs
//! (GGUF, safetensors, config.json, tokenizers and chat templates, adapters, datasets, options,
//! TOML), each a mutation of the tiny fixtures, with the `anytune` command that reads it. This
//! runs every case under a memory bound (`ulimit -v`) and a wall-time bound and checks that
//! anytune refuses it properly: a non-zero exit (not 101, Rust's panic status), no signal, no
//! panic message, and an error naming what the case expects (the file and the field or option).
//! Control cases (the unmutated bases) must succeed.
//!
//! Run alone: `cargo test -p anytune-tests --test bad_inputs_corpus -- --nocapture`.
//! Environment: `ANYTUNE_CORPUS_ONLY=a,b` runs the cases whose names contain `a` or `b`;
//! `ANYTUNE_CORPUS_TIMEOUT` (seconds per case, default 60), `ANYTUNE_CORPUS_MEMORY_KB`
//! (`ulimit -v`, default 4000000), `ANYTUNE_CORPUS_THREADS` (default 2),
//! `ANYTUNE_CORPUS_KEEP=1` keeps the generated folder, `ANYTUNE_BIN` uses that binary instead of
//! building `anytune` in this test's profile.
#![cfg(unix)]

use anytune_tests::{anytune_binary, repo_path};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One case of `cases.json`.
struct Case {
    name: String,
    args: Vec<String>,
    /// Substrings the error must contain; each is a `|`-separated list of alternatives.
    expect: Vec<String>,
    /// A control: must succeed.
    ok: bool,
}

/// What running a case gave, and why it failed (`None`: it passed).
struct Outcome {
    name: String,
    failure: Option<String>,
    stderr: String,
    secs: f64,
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs the generator into `out` and reads its case list.
fn generate(out: &Path) -> Vec<Case> {
    let script = repo_path("bad_inputs/make_cases.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("running python3 {}: {e} (the corpus needs Python 3)", script.display()));
    assert!(status.success(), "{} failed: {status}", script.display());
    let text = std::fs::read_to_string(out.join("cases.json")).unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
    };
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            args: strings(&c["args"]),
            expect: strings(&c["expect"]),
            ok: c["ok"].as_bool().unwrap_or(false),
        })
        .collect()
}

/// Runs `bin` with the case's arguments under `ulimit -v memory_kb`, killed after `timeout`.
fn run_case(bin: &Path, dir: &Path, case: &Case, memory_kb: u64, timeout: Duration) -> Outcome {
    let dir_text = dir.display().to_string();
    let args: Vec<String> = case.args.iter().map(|a| a.replace("{dir}", &dir_text)).collect();
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {memory_kb} && exec \"$0\" \"$@\""))
        .arg(bin)
        .args(&args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning sh");
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for anytune") {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("waiting for the killed anytune");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().unwrap_or_default();
    let secs = start.elapsed().as_secs_f64();
    // Paths are replaced before matching `expect`: a case's folder is named after what it
    // breaks, and a path must not stand in for naming the field.
    let scrubbed = stderr.replace(&dir_text, "{dir}").replace(&repo_path("").display().to_string(), "{tests}/");
    let failure = judge(case, status, timed_out, timeout, &stderr, &scrubbed);
    Outcome { name: case.name.clone(), failure, stderr, secs }
}

/// Why the case's result is wrong, in one line, or `None`. `scrubbed` is `stderr` with the
/// paths replaced.
fn judge(
    case: &Case,
    status: std::process::ExitStatus,
    timed_out: bool,
    timeout: Duration,
    stderr: &str,
    scrubbed: &str,
) -> Option<String> {
    if timed_out {
        return Some(format!("timed out: killed after {} s", timeout.as_secs()));
    }
    let panicked = stderr.contains("panicked at") || stderr.contains("RUST_BACKTRACE");
    if let Some(signal) = status.signal() {
        let why = if stderr.contains("memory allocation of") {
            " (out of memory under the ulimit)"
        } else if stderr.contains("overflowed its stack") {
            " (stack overflow)"
        } else if panicked {
            " (after a panic)"
        } else {
            ""
        };
        return Some(format!("killed by signal {signal}{why}"));
    }
    let code = status.code().unwrap_or(-1);
    if panicked || code == 101 {
        // The message is the line after "thread 'main' panicked at file:line:col:".
        let line = stderr.lines().skip_while(|l| !l.contains("panicked at")).nth(1).unwrap_or("");
        return Some(format!("exit {code}: panic {line}"));
    }
    if case.ok {
        return (code != 0).then(|| format!("control failed with exit {code}: {}", last_line(stderr)));
    }
    if code == 0 {
        return Some("exit 0: accepted".into());
    }
    let missing: Vec<&str> =
        case.expect.iter().filter(|e| !e.split('|').any(|alt| scrubbed.contains(alt))).map(String::as_str).collect();
    (!missing.is_empty()).then(|| format!("exit {code}, message lacks {missing:?}: {}", last_line(stderr)))
}

fn last_line(text: &str) -> String {
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.chars().take(200).collect()
}

#[test]
fn bad_inputs_corpus() {
    if anytune_core::testing::test_gpu().is_none() {
        return;
    }
    let out = std::env::temp_dir().join(format!("anytune-bad-inputs-{}", std::process::id()));
    let mut cases = generate(&out);
    let bad = cases.iter().filter(|c| !c.ok).count();
    assert!(bad >= 100, "the corpus has {bad} bad cases, fewer than 100");
    if let Ok(only) = std::env::var("ANYTUNE_CORPUS_ONLY") {
        let wanted: Vec<&str> = only.split(',').filter(|s| !s.is_empty()).collect();
        cases.retain(|c| wanted.iter().any(|w| c.name.contains(w)));
        assert!(!cases.is_empty(), "ANYTUNE_CORPUS_ONLY={only} matches no case");
    }
    let bin = anytune_binary();
    let timeout = Duration::from_secs(env_or("ANYTUNE_CORPUS_TIMEOUT", 60));
    let memory_kb: u64 = env_or("ANYTUNE_CORPUS_MEMORY_KB", 4_000_000);
    let threads: usize = env_or("ANYTUNE_CORPUS_THREADS", 2);
    eprintln!("{} cases with {}, {threads} at a time, each under ulimit -v {memory_kb} and {} s", cases.len(), bin.display(), timeout.as_secs());
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let o = run_case(&bin, &out.join(&case.name), case, memory_kb, timeout);
                    eprintln!("{:<4} {:>5.1} s  {}", if o.failure.is_none() { "ok" } else { "FAIL" }, o.secs, o.name);
                    outcomes.lock().unwrap().push(o);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    for o in &failed {
        let tail: String = o.stderr.chars().rev().take(1500).collect::<Vec<_>>().into_iter().rev().collect();
        eprintln!("\n--- {} ({:.1} s): {}\n{}", o.name, o.secs, o.failure.as_deref().unwrap_or(""), tail.trim_end());
    }
    if !failed.is_empty() {
        eprintln!("\n{:<48} why", "failing case");
        for o in &failed {
            eprintln!("{:<48} {}", o.name, o.failure.as_deref().unwrap_or(""));
        }
    }
    let total: f64 = outcomes.iter().map(|o| o.secs).sum();
    eprintln!("{} cases, {} failed, {total:.0} s of runs", outcomes.len(), failed.len());
    if std::env::var_os("ANYTUNE_CORPUS_KEEP").is_some() {
        eprintln!("kept {}", out.display());
    } else {
        let _ = std::fs::remove_dir_all(&out);
    }
    let names: Vec<&str> = failed.iter().map(|o| o.name.as_str()).collect();
    assert!(names.is_empty(), "{} of {} bad-input cases failed: {}", names.len(), outcomes.len(), names.join(", "));
}
