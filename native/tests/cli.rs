//! The `anytune` binary end to end on the tiny fixture model: each command runs, prints what
//! its help promises, and bad input exits non-zero with a message naming the file.

use std::path::PathBuf;
use std::process::Command;

mod support;
use support::{anytune, ok};

fn tiny() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny-llama-Q8_0.gguf")
}

#[test]
fn tokenize_prints_ids_as_json() {
    let model = tiny();
    let Some(out) = ok(&["tokenize", "--model", model.to_str().unwrap(), "--text", "the cat<|im_end|>"]) else { return };
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<u64> = json["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert!(!ids.is_empty() && ids.iter().all(|&i| i < 320), "{ids:?}");
    assert_eq!(*ids.last().unwrap(), 319, "<|im_end|> is recognised as the special token 319");
}

#[test]
fn score_prints_consistent_json() {
    let model = tiny();
    let Some(out) = ok(&["score", "--model", model.to_str().unwrap(), "--text", "hello there"]) else { return };
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let n = json["ids"].as_array().unwrap().len();
    let logprobs: Vec<f64> = json["logprobs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(logprobs.len(), n - 1);
    assert!(logprobs.iter().all(|&l| l < 0.0));
    let sum: f64 = logprobs.iter().sum();
    assert!((json["sum_logprob"].as_f64().unwrap() - sum).abs() < 1e-3);
    let ppl = (-sum / logprobs.len() as f64).exp();
    assert!((json["perplexity"].as_f64().unwrap() - ppl).abs() / ppl < 1e-3);
    assert_eq!(json["last_top5_ids"].as_array().unwrap().len(), 5);
    let top: Vec<f64> = json["last_top5_logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(top.windows(2).all(|w| w[0] >= w[1]), "top-5 sorted: {top:?}");
}

#[test]
fn generate_and_info_run() {
    let model = tiny();
    let m = model.to_str().unwrap();
    let Some(out) = ok(&["generate", "--model", m, "--prompt", "the", "--max-tokens", "5", "--temperature", "0.8", "--seed", "3"])
    else {
        return;
    };
    let again = ok(&["generate", "--model", m, "--prompt", "the", "--max-tokens", "5", "--temperature", "0.8", "--seed", "3"]).unwrap();
    assert_eq!(out, again, "the same seed gives the same text");
    let info = ok(&["info", "--model", m]).unwrap();
    assert!(info.contains("architecture: llama") && info.contains("2 layers") && info.contains("Q8_0"), "{info}");
    assert!(info.contains("adapter:") && info.contains("limits:"), "{info}");
}

#[test]
fn bad_model_path_is_a_clear_error() {
    let out = anytune(&["tokenize", "--model", "/nonexistent/model.gguf", "--text", "x"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/model.gguf"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_validation_split_over_half_is_refused_by_name() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/zorblax.jsonl");
    let model = tiny();
    let args = ["train", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", "/nonexistent/out", "--val-split", "0.95"];
    let out = anytune(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("invalid --val-split: 0.95 is out of range (allowed: a number in [0, 0.5])"), "{stderr}");
}

#[test]
fn train_writes_adapters_that_lower_the_loss_and_load_back() {
    let model = tiny();
    let m = model.to_str().unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/zorblax.jsonl");
    let out = std::env::temp_dir().join(format!("anytune-train-{}", std::process::id()));
    let args = ["train", "--model", m, "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "8", "--lr", "1e-2", "--targets", "all-linear", "--seed", "1"];
    let Some(_) = ok(&args) else { return };
    for f in ["adapter_config.json", "adapter_model.safetensors", "adapter.gguf", "log.jsonl"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    // PEFT's base_model_name_or_path names the model as its GGUF metadata does (general.name
    // "tiny-llama"), not by the file name (tiny-llama-Q4_0.gguf).
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["base_model_name_or_path"], "tiny-llama");
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let losses: Vec<f64> = log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), 8);
    let (first, last) = (losses[..2].iter().sum::<f64>(), losses[6..].iter().sum::<f64>());
    assert!(last < first - 0.2, "training loss did not fall: {losses:?}");
    // The PEFT folder and the GGUF file are the same adapter, and it changes the model.
    let text = "Question: Who makes the Zorblax 3000 kettle?\nAnswer: The Zorblax 3000 kettle is made by Quillfeather";
    let sum = |extra: &[&str]| -> f64 {
        let mut a = vec!["score", "--model", m, "--text", text];
        a.extend_from_slice(extra);
        let json: serde_json::Value = serde_json::from_str(&ok(&a).unwrap()).unwrap();
        json["sum_logprob"].as_f64().unwrap()
    };
    let (base, peft, gguf) = (sum(&[]), sum(&["--adapter", out.to_str().unwrap()]), sum(&["--adapter", out.join("adapter.gguf").to_str().unwrap()]));
    assert!((peft - gguf).abs() < 1e-3 * peft.abs(), "PEFT {peft} vs GGUF {gguf}");
    assert!(peft > base + 1.0, "the adapter should make the trained answer likelier: base {base}, adapted {peft}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Reads every tensor of a safetensors file as f32 values, by name.
fn tensors(path: &std::path::Path) -> std::collections::BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let file = anytune_core::formats::SafetensorsFile::parse(&bytes, "adapter").unwrap();
    file.tensors.iter().map(|t| (t.name.clone(), bytemuck_f32(t.bytes(&bytes)))).collect()
}

fn bytemuck_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn a_run_killed_mid_training_resumes_to_the_same_adapter() {
    let model = tiny();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/zorblax.jsonl");
    let base = std::env::temp_dir().join(format!("anytune-resume-{}", std::process::id()));
    let args_every = |out: &std::path::Path, every: &str| -> Vec<String> {
        ["train", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()]
            .into_iter()
            .chain(["--steps", "10", "--lr", "5e-3", "--targets", "all-linear", "--checkpoint-every", every, "--seed", "4", "--batch", "2"])
            .map(String::from)
            .collect()
    };
    let args = |out: &std::path::Path| args_every(out, "1");
    let (straight, killed) = (base.join("straight"), base.join("killed"));
    let straight_args = args(&straight);
    let Some(_) = ok(&straight_args.iter().map(String::as_str).collect::<Vec<_>>()) else { return };

    // SIGKILL the second run once it has logged a few steps, then resume it. It checkpoints
    // every 3 steps (an option a resume may change), so the steps logged after its last
    // checkpoint run again after the resume and must not be logged twice.
    let mut child = Command::new(env!("CARGO_BIN_EXE_anytune"))
        .args(args_every(&killed, "3"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = killed.join("log.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::fs::read_to_string(&log).map_or(0, |l| l.lines().count()) < 5 {
        assert!(std::time::Instant::now() < deadline, "the run did not reach step 5");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(killed.join("checkpoint.safetensors").exists(), "no checkpoint survived the kill");
    assert!(!killed.join("adapter_model.safetensors").exists(), "the run was not killed before its end");
    let mut resume = args(&killed);
    resume.push("--resume".into());
    ok(&resume.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();

    let (a, b) = (tensors(&straight.join("adapter_model.safetensors")), tensors(&killed.join("adapter_model.safetensors")));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, va) in &a {
        let vb = &b[name];
        let diff = va.iter().zip(vb).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-6, "{name}: resumed adapter differs by {diff}");
    }
    let steps: Vec<u64> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "train")
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=10).collect::<Vec<_>>(), "every step logged once, in order");

    // A resume with other options or other data is refused, naming what differs.
    let mut other_lr = args(&killed);
    let lr = other_lr.iter().position(|a| a == "--lr").unwrap() + 1;
    other_lr[lr] = "5e-2".into();
    other_lr.push("--resume".into());
    let out = anytune(&other_lr.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("another run") && stderr.contains("option lr: 0.005 → 0.05"), "{stderr}");
    let fewer = base.join("fewer.jsonl");
    let rows = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&fewer, rows.lines().skip(1).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let mut other_data = args(&killed);
    other_data[4] = fewer.to_str().unwrap().to_string();
    other_data.push("--resume".into());
    let out = anytune(&other_data.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("training data differs"), "{stderr}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn sgd_training_lowers_the_loss() {
    let model = tiny();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/zorblax.jsonl");
    let out = std::env::temp_dir().join(format!("anytune-sgd-{}", std::process::id()));
    let args = ["train", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "8", "--lr", "0.5", "--optimizer", "sgd", "--targets", "all-linear", "--schedule", "constant"];
    let Some(_) = ok(&args) else { return };
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let losses: Vec<f64> = log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap()).collect();
    assert!(losses[6..].iter().sum::<f64>() < losses[..2].iter().sum::<f64>() - 0.2, "SGD loss did not fall: {losses:?}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn train_reads_a_toml_config_and_flags_win() {
    let model = tiny();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/zorblax.jsonl");
    let dir = std::env::temp_dir().join(format!("anytune-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("run.toml");
    let text = format!("data = {:?}\nout = \"out\"\nsteps = 3\nlr = 2e-2\nrank = 4\ntargets = \"v_proj\"\n", data.to_str().unwrap());
    std::fs::write(&config, text).unwrap();
    let Some(_) = ok(&["train", "--model", model.to_str().unwrap(), "--config", config.to_str().unwrap(), "--rank", "2"]) else { return };
    let out = dir.join("out");
    let used: toml::Table = toml::from_str(&std::fs::read_to_string(out.join("options.toml")).unwrap()).unwrap();
    assert_eq!(used["rank"].as_integer(), Some(2), "the flag wins over the file");
    assert_eq!(used["steps"].as_integer(), Some(3));
    assert_eq!(used["lr"].as_float(), Some(2e-2));
    assert_eq!(used["targets"].as_str(), Some("v_proj"));
    assert_eq!(std::fs::read_to_string(out.join("log.jsonl")).unwrap().lines().count(), 3);
    let adapter: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(adapter["r"], 2);

    std::fs::write(&config, "lrr = 1e-3\n").unwrap();
    let bad = anytune(&["train", "--model", model.to_str().unwrap(), "--config", config.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && stderr.contains("run.toml") && stderr.contains("lrr"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--lora-dropout` reaches adapter_config.json, `--recompute` and `--saved-activations 16bit`
/// lower the dry-run estimate, and
/// validation (train's log, `anytune eval`) reports the token accuracy.
#[test]
fn dropout_recompute_and_accuracy_flags() {
    let model = tiny();
    let m = model.to_str().unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/zorblax.jsonl");
    let d = data.to_str().unwrap();
    let out = std::env::temp_dir().join(format!("anytune-dropout-{}", std::process::id()));
    let o = out.to_str().unwrap();
    let activations = |extra: &[&str]| -> f64 {
        let mut args = vec!["train", "--model", m, "--data", d, "--out", o, "--targets", "all-linear", "--dry-run"];
        args.extend_from_slice(extra);
        let run = anytune(&args);
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        let mib = stderr.split("activations ").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok());
        mib.unwrap_or_else(|| panic!("no activation estimate in {stderr}"))
    };
    if !anytune(&["train", "--model", m, "--data", d, "--out", o, "--dry-run"]).status.success() {
        return; // no GPU adapter (the other tests report it)
    }
    let (full, recomputed) = (activations(&["--saved-activations", "f32"]), activations(&["--recompute"]));
    assert!(recomputed < full, "--recompute estimate {recomputed} MiB vs {full} MiB");
    let sixteen = activations(&["--saved-activations", "16bit"]);
    assert!(sixteen < full, "--saved-activations 16bit estimate {sixteen} MiB vs {full} MiB");
    let args = ["train", "--model", m, "--data", d, "--out", o, "--steps", "4", "--eval-every", "2", "--val-split", "0.25", "--lora-dropout", "0.1", "--recompute", "--targets", "all-linear"];
    let Some(_) = ok(&args) else { return };
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap()).unwrap();
    assert!((config["lora_dropout"].as_f64().unwrap() - 0.1).abs() < 1e-6, "{config}");
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    let vals: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).filter(|v: &serde_json::Value| v["kind"] == "val").collect();
    assert_eq!(vals.len(), 2, "{log}");
    assert!(vals.iter().all(|v| (0.0..=1.0).contains(&v["accuracy"].as_f64().unwrap())), "{log}");
    let eval: serde_json::Value = serde_json::from_str(&ok(&["eval", "--model", m, "--adapter", o, "--data", d, "--json", "--no-generate"]).unwrap()).unwrap();
    let acc = eval["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc) && eval["loss"].as_f64().unwrap().is_finite(), "{eval}");
    // The base alone scores the same file worse than base + adapter trained on it.
    let base: serde_json::Value = serde_json::from_str(&ok(&["eval", "--model", m, "--data", d, "--json", "--no-generate"]).unwrap()).unwrap();
    assert!(base["loss"].as_f64().unwrap() > eval["loss"].as_f64().unwrap(), "{base} vs {eval}");
    assert_eq!(base["sequences"], eval["sequences"]);
    // eval's flags come from the option schema.
    let stderr = refused(&["eval", "--model", m, "--data", d, "--batch", "0"]).unwrap();
    assert!(stderr.contains("invalid --batch") && stderr.contains("from 1 to 4096"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Runs a command that must be refused cleanly: exit status 1 (a panic would be 101), one
/// `error: …` message, no panic. Returns stderr, or `None` (printed) without a GPU adapter.
fn refused(args: &[&str]) -> Option<String> {
    let out = anytune(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if stderr.contains("no GPU adapter") {
        eprintln!("SKIPPED: {stderr}");
        return None;
    }
    assert_eq!(out.status.code(), Some(1), "anytune {args:?}: {stderr}");
    assert!(stderr.starts_with("error: ") && !stderr.contains("panicked"), "{stderr}");
    Some(stderr)
}

#[test]
fn bench_forward_beyond_the_adapter_limits_is_an_error_not_a_panic() {
    let model = tiny();
    let m = model.to_str().unwrap();
    // The largest buffer of the pass, (T, ffn 160) f32, must exceed this adapter's binding limit.
    let Some(info) = ok(&["info", "--model", m]) else { return };
    let binding_mib: u64 = info.split("storage binding ").nth(1).and_then(|r| r.split(' ').next()?.parse().ok()).unwrap();
    if binding_mib * 1024 * 1024 >= 1_000_000 * 160 * 4 {
        eprintln!("SKIPPED: a 1M-token pass of the tiny model fits this adapter ({binding_mib} MiB per binding)");
        return;
    }
    let args = ["bench", "--forward", "--tokens", "1000000", "--iters", "1", "--model", m];
    let Some(stderr) = refused(&args) else { return };
    assert!(stderr.contains("a forward pass of 1000000 tokens") && stderr.contains("adapter limit: "), "{stderr}");
    assert!(stderr.contains("MiB per storage binding") || stderr.contains("MiB per buffer"), "{stderr}");
}

#[test]
fn generate_refuses_sampling_options_outside_their_range() {
    let model = tiny();
    let m = model.to_str().unwrap();
    for (option, name) in [("--temperature=NaN", "--temperature"), ("--temperature=-1", "--temperature"), ("--top-p=NaN", "--top-p")] {
        let Some(stderr) = refused(&["generate", "--model", m, "--prompt", "the", option]) else { return };
        assert!(stderr.contains(&format!("invalid {name}: ")), "{option}: {stderr}");
    }
    let Some(stderr) = refused(&["generate", "--model", m, "--prompt", "the", "--max-tokens", "0"]) else { return };
    assert!(stderr.contains("invalid --max-tokens: 0 is not from 1 to the model's context length 128"), "{stderr}");
}

#[test]
fn an_empty_prompt_or_text_is_refused() {
    let model = tiny();
    let m = model.to_str().unwrap();
    let Some(stderr) = refused(&["generate", "--model", m, "--prompt", ""]) else { return };
    assert!(stderr.contains("the prompt is empty (it has no tokens)"), "{stderr}");
    let stderr = refused(&["score", "--model", m, "--text", ""]).unwrap();
    assert!(stderr.contains("the text is empty (it has no tokens)"), "{stderr}");
}

/// `anytune eval --json`: the keys it has always printed at top level, then generation metrics
/// on prompt → answer rows; the table names each metric; bad --max-tokens is refused by name.
#[test]
fn eval_json_keys_and_generation_metrics() {
    let model = tiny();
    let m = model.to_str().unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/zorblax.jsonl");
    let d = data.to_str().unwrap();
    let Some(out) = ok(&["eval", "--model", m, "--data", d, "--json", "--max-tokens", "3"]) else { return };
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["loss", "perplexity", "accuracy", "targets", "sequences", "generation", "classification", "left_out_rows"] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert!(v["classification"].is_null() && v.get("base").is_none(), "{v}");
    let g = &v["generation"];
    assert_eq!(g["rows"], 40, "{g}");
    for key in ["exact_match", "contains", "starts_with"] {
        assert!((0.0..=1.0).contains(&g[key].as_f64().unwrap()), "{g}");
    }
    let answers = g["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 40);
    assert!(answers[0]["line"] == 1 && answers[0]["answer"].is_string() && answers[0]["exact"].is_boolean(), "{g}");
    let table = ok(&["eval", "--model", m, "--data", d, "--no-generate"]).unwrap();
    assert!(table.contains("loss") && table.contains("token accuracy") && !table.contains("exact match"), "{table}");
    let stderr = refused(&["eval", "--model", m, "--data", d, "--max-tokens", "0"]).unwrap();
    assert!(stderr.contains("invalid --max-tokens: 0 is not from 1 to the model's context length 128"), "{stderr}");
}

/// The script-made sentiment set on the tiny model: label-as-text training (`--task classify`)
/// raises the test accuracy above the base's; `labels.json` records the label set and `eval`
/// puts base and adapter side by side.
#[test]
fn classification_training_beats_the_base_on_the_sentiment_set() {
    let model = tiny();
    let m = model.to_str().unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let (train, test) = (data.join("sentiment_train.jsonl"), data.join("sentiment_test.jsonl"));
    let out = std::env::temp_dir().join(format!("anytune-classify-{}", std::process::id()));
    let o = out.to_str().unwrap();
    let args = ["train", "--model", m, "--data", train.to_str().unwrap(), "--out", o, "--task", "classify", "--steps", "60", "--lr", "2e-2", "--schedule", "constant", "--warmup", "10", "--rank", "16", "--batch", "8", "--targets", "all-linear", "--seed", "0"];
    let Some(_) = ok(&args) else { return };
    let labels: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("labels.json")).unwrap()).unwrap();
    assert_eq!(labels["labels"], serde_json::json!(["negative", "positive"]));
    let eval = ok(&["eval", "--model", m, "--adapter", o, "--data", test.to_str().unwrap(), "--json"]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&eval).unwrap();
    let (adapter, base) = (&v["classification"], &v["base"]["classification"]);
    let accuracy = |c: &serde_json::Value| c["accuracy"].as_f64().unwrap();
    eprintln!("sentiment test accuracy: base {:.3}, adapter {:.3}", accuracy(base), accuracy(adapter));
    assert_eq!(adapter["rows"], 60);
    assert!(accuracy(adapter) > accuracy(base) + 0.2, "adapter {adapter} vs base {base}");
    assert!(adapter["macro_f1"].as_f64().unwrap() > base["macro_f1"].as_f64().unwrap(), "{v}");
    assert_eq!(adapter["confusion"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).map(|n| n.as_u64().unwrap()).sum::<u64>(), 60);
    // --task classify refuses a file without label rows, naming the file and line.
    let zorblax = data.join("zorblax.jsonl");
    let stderr = refused(&["train", "--model", m, "--data", zorblax.to_str().unwrap(), "--out", o, "--task", "classify", "--dry-run"]).unwrap();
    assert!(stderr.contains("zorblax.jsonl:1: --task classify needs \"text\" and \"label\" rows"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}
