//! Helpers of the CLI tests: run the `anytune` binary, skip where this machine has no GPU.

use std::process::{Command, Output};

pub fn anytune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anytune")).args(args).output().expect("run anytune")
}

/// Runs and returns stdout, or `None` (printed) when this machine has no GPU adapter.
pub fn ok(args: &[&str]) -> Option<String> {
    let out = anytune(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("no GPU adapter") {
        eprintln!("SKIPPED: {stderr}");
        return None;
    }
    assert!(out.status.success(), "anytune {args:?} failed: {stderr}");
    Some(String::from_utf8(out.stdout).unwrap())
}
