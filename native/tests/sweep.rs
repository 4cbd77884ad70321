//! `anytune sweep` end to end on the tiny fixture model: a 2 × 2 grid with eta 2 stops trials
//! early and keeps a best adapter that `anytune eval` loads and `anytune train --config` retrains;
//! a sweep killed (SIGKILL) after its first rung continues to the same table; bad settings are
//! refused before any training.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn anytune(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anytune")).args(args).output().expect("run anytune")
}

/// The arguments of a sweep of 4 trials (lr × rank) of 8 steps into `out`, plus `extra`.
fn sweep_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let (model, data) = (repo("tests/fixtures/tiny-llama-Q8_0.gguf"), repo("tests/data/zorblax.jsonl"));
    let args = ["sweep", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let fixed = ["--grid", "lr=1e-3,1e-2 rank=2,8", "--eta", "2", "--steps", "8", "--val-split", "0.25", "--targets", "all-linear", "--max-seq-len", "48", "--seed", "3"];
    args.iter().chain(&fixed).chain(extra).map(|s| s.to_string()).collect()
}

/// Runs and returns (stdout, stderr); `None` (printed) without a GPU adapter.
fn ok(args: &[String]) -> Option<(String, String)> {
    let out = anytune(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() && stderr.contains("no GPU adapter") {
        eprintln!("SKIPPED: {stderr}");
        return None;
    }
    assert!(out.status.success(), "anytune {args:?} failed: {stderr}");
    Some((String::from_utf8(out.stdout).unwrap(), stderr))
}

fn refused(args: &[String]) -> String {
    let out = anytune(args);
    assert!(!out.status.success(), "{args:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `(trial, status)` of every row of `trials.csv`, and the best trial.
fn statuses(out: &Path) -> (Vec<(String, String)>, String) {
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    let rows: Vec<(String, String)> =
        csv.lines().skip(1).map(|l| (l.split(',').next().unwrap().to_string(), l.rsplit(',').next().unwrap().to_string())).collect();
    let best = rows.iter().find(|r| r.1 == "best").map(|r| r.0.clone()).unwrap_or_default();
    (rows, best)
}

#[test]
fn a_grid_sweep_stops_trials_early_and_keeps_the_best_adapter() {
    let out = std::env::temp_dir().join(format!("anytune-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let Some((table, _)) = ok(&sweep_args(&out, &[])) else { return };
    assert!(table.starts_with("trial  lr    rank  rung 1 (step 2)  rung 2 (step 4)  rung 3 (step 8)  val loss  steps  status"), "{table}");
    let (rows, best) = statuses(&out);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().filter(|r| r.1.starts_with("stopped at rung")).count() >= 1, "{rows:?}");
    assert!(!best.is_empty(), "{rows:?}");
    let svg = std::fs::read_to_string(out.join("sweep.svg")).unwrap();
    assert!(svg.contains("optimizer step") && svg.contains("validation loss") && svg.matches("<polyline").count() == 4, "{svg}");

    // best/ holds an adapter that `anytune eval` loads, and a run.toml that `train` takes.
    let best_dir = out.join("best");
    let model = repo("tests/fixtures/tiny-llama-Q8_0.gguf");
    let data = repo("tests/data/zorblax.jsonl");
    let eval = ["eval", "--model", model.to_str().unwrap(), "--adapter", best_dir.to_str().unwrap(), "--data", data.to_str().unwrap(), "--max-seq-len", "48", "--json", "--no-generate"];
    let (json, _) = ok(&eval.map(String::from)).unwrap();
    let loss = serde_json::from_str::<serde_json::Value>(&json).unwrap()["loss"].as_f64().unwrap();
    assert!(loss.is_finite(), "{json}");
    let retrain = out.join("retrain");
    let config = best_dir.join("run.toml");
    let train = ["train", "--config", config.to_str().unwrap(), "--out", retrain.to_str().unwrap(), "--dry-run"];
    ok(&train.map(String::from)).unwrap();

    // A rerun on the finished sweep prints the same table; other settings are refused by name.
    let (again, stderr) = ok(&sweep_args(&out, &[])).unwrap();
    assert_eq!(again, table);
    assert!(stderr.contains("continuing the sweep") && !stderr.contains("steps 0 →"), "{stderr}");
    let err = refused(&sweep_args(&out, &["--alpha", "4"]));
    assert!(err.contains("belongs to another sweep") && err.contains("option alpha: 16.0 → 4.0"), "{err}");
    let mut other_grid = sweep_args(&out, &[]);
    let g = other_grid.iter().position(|a| a == "--grid").unwrap() + 1;
    other_grid[g] = "lr=1e-3 rank=2,8".into();
    assert!(refused(&other_grid).contains("the search was"), "a changed grid must be refused");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_sweep_killed_after_its_first_rung_resumes_to_the_same_table() {
    let base = std::env::temp_dir().join(format!("anytune-sweep-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (straight, killed) = (base.join("straight"), base.join("killed"));
    if ok(&sweep_args(&straight, &[])).is_none() {
        return;
    }
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_anytune")).args(sweep_args(&killed, &[])).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let state = killed.join("sweep.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let measured = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .map_or(0, |v| v["trials"].as_array().map_or(0, |t| t.iter().filter(|t| t["losses"].as_array().is_some_and(|l| !l.is_empty())).count()))
    };
    while std::fs::read_to_string(&state).map_or(0, |t| measured(&t)) < 1 {
        assert!(std::time::Instant::now() < deadline, "the sweep did not reach its first rung");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(!killed.join("best").exists(), "the sweep was not killed before its end");
    ok(&sweep_args(&killed, &[])).unwrap();
    let (a, b) = (statuses(&straight), statuses(&killed));
    assert_eq!(a, b, "the resumed sweep ended differently");
    // Every loss agrees too.
    let csv = |dir: &Path| std::fs::read_to_string(dir.join("trials.csv")).unwrap();
    assert_eq!(csv(&straight), csv(&killed));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn bad_sweep_settings_are_refused_before_training() {
    let out = std::env::temp_dir().join(format!("anytune-sweep-bad-{}", std::process::id()));
    let cases: [(&[&str], &str); 6] = [
        (&["--val-split", "0"], "compares trials on validation data"),
        (&["--eta", "1"], "invalid --eta: 1"),
        (&["--lr", "1e-3"], "--lr is given as a flag and searched in --grid"),
        (&["--eval-every", "2"], "--eval-every"),
        (&["--question", "hi"], "does not take --question"),
        (&["--rank", "1"], "--rank is given as a flag"),
    ];
    for (extra, want) in cases {
        let mut args = sweep_args(&out, &[]);
        // A flag the sweep already has gets the new value (clap refuses one given twice).
        match args.iter().position(|a| a == extra[0]) {
            Some(i) => args[i + 1] = extra[1].into(),
            None => args.extend(extra.iter().map(|s| s.to_string())),
        }
        let err = refused(&args);
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    let mut bad_grid = sweep_args(&out, &[]);
    let g = bad_grid.iter().position(|a| a == "--grid").unwrap() + 1;
    bad_grid[g] = "lr=1e-3 seed=1,2".into();
    let err = refused(&bad_grid);
    assert!(err.contains("invalid --grid: seed cannot vary between trials"), "{err}");
    bad_grid[g] = "rank=2,4000".into();
    let err = refused(&bad_grid);
    assert!(err.contains("trial 2 (rank=4000)") && err.contains("4000 is larger than"), "{err}");
    assert!(!out.join("sweep.json").exists(), "nothing is written for a refused sweep");
}
