//! `anytune export --recipe trl` through the binary on the tiny HF Llama: the folder has its
//! files; train.jsonl holds exactly the sequences and loss masks core's `prepare` makes (ids and
//! masks compared, readable fields decoded from them); train.py carries every option given; a
//! run folder's options.toml is the default; refusals name the flag. TRL itself runs the recipe
//! in tests/golden/check_trl_recipe.py (torch is not a CI dependency).

use anytune_core::data::{DataConfig, DataFile, Example, prepare};
use anytune_core::tokenizer::Tokenizer;
use anytune_tests::{anytune_binary, repo_path, tiny_chat_model};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anytune-trl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `anytune ARGS`; (success, stdout, stderr).
fn anytune(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(anytune_binary()).args(args).env("NO_COLOR", "1").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn facts(dir: &Path) -> PathBuf {
    let rows = [
        ("Q: colour of the Zorblax 3000? A:", " teal"),
        ("Q: capital of Fooland? A:", " Barville, by the sea"),
        ("Q: who wrote the Zorblax manual? A:", " Ada Quill"),
        ("Q: how many moons has Quux? A:", " seven, all small"),
        ("Q: what is Quux? A:", " a planet"),
        ("Q: where is Barville? A:", " by the sea, in Fooland"),
        ("Q: what colour is the sea at Barville? A:", " teal at dawn"),
        ("Q: who makes the Zorblax 3000? A:", " Quillfeather Appliances"),
    ];
    let text: String = rows.iter().map(|(p, c)| serde_json::json!({ "prompt": p, "completion": c }).to_string() + "\n").collect();
    let path = dir.join("facts.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

/// The lines are `examples`, token for token and mask for mask.
fn same_rows(lines: &[Value], examples: &[Example]) {
    assert_eq!(lines.len(), examples.len());
    for (line, ex) in lines.iter().zip(examples) {
        assert_eq!(ids(&line["input_ids"]), ex.ids.iter().map(|&i| i as u64).collect::<Vec<_>>());
        assert_eq!(ids(&line["completion_mask"]), ex.loss_mask.iter().map(|&m| m as u64).collect::<Vec<_>>());
    }
}

#[test]
fn the_recipe_holds_anytunes_rows_and_masks_and_every_option() {
    let dir = temp_dir("options");
    let data = facts(&dir);
    let out = dir.join("recipe");
    let flags = [
        "--lr", "3e-4", "--rank", "6", "--alpha", "12", "--lora-dropout", "0.05", "--targets", "q_proj,k_proj", "--layers", "1",
        "--rslora", "--schedule", "linear", "--warmup", "3", "--steps", "7", "--batch", "2", "--grad-accum", "3",
        "--max-seq-len", "40", "--seed", "9", "--weight-decay", "0.01", "--max-grad-norm", "0.5", "--val-split", "0.25",
        "--recompute", "--eval-every", "2", "--patience", "3", "--checkpoint-every", "5",
    ];
    let model = repo_path("fixtures/tiny-llama");
    let mut args = vec!["export", "--recipe", "trl", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap()];
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(flags);
    let (ok, stdout, stderr) = anytune(&args);
    assert!(ok, "{stdout}\n{stderr}");
    for f in ["train.jsonl", "validation.jsonl", "train.py", "accelerate_config.yaml", "requirements.txt", "README.md"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The rows: what core prepares with the same options (the seeded 0.25 split included).
    let tok = Tokenizer::from_json(
        &std::fs::read(model.join("tokenizer.json")).unwrap(),
        Some(&std::fs::read(model.join("tokenizer_config.json")).unwrap()),
    )
    .unwrap();
    let bytes = std::fs::read(&data).unwrap();
    let cfg = DataConfig { max_seq_len: 40, val_split: 0.25, seed: 9, ..DataConfig::default() };
    let prepared = prepare(DataFile { bytes: &bytes, name: "facts.jsonl" }, None, &tok, None, &cfg).unwrap();
    let (train, val) = (lines(&out.join("train.jsonl")), lines(&out.join("validation.jsonl")));
    assert_eq!((train.len(), val.len()), (6, 2));
    same_rows(&train, &prepared.train);
    same_rows(&val, &prepared.val);
    // Readable prompt/completion: the untrained start and the trained rest, decoded.
    for line in &train {
        let mask = ids(&line["completion_mask"]);
        let start = mask.iter().position(|&m| m == 1).unwrap();
        let prompt = tok.decode(&ids(&line["input_ids"])[..start].iter().map(|&i| i as u32).collect::<Vec<_>>(), false).unwrap();
        assert_eq!(line["prompt"].as_str().unwrap(), prompt);
        assert!(line["prompt"].as_str().unwrap().starts_with("Q: ") && line["completion"].as_str().unwrap().starts_with(' '));
    }
    // train.py: every option, as Python.
    let script = std::fs::read_to_string(out.join("train.py")).unwrap();
    let model_line = format!("\"model\": {},", Value::from(std::fs::canonicalize(&model).unwrap().display().to_string()));
    for want in [
        "\"learning_rate\": 0.0003,", "\"r\": 6,", "\"lora_alpha\": 12.0,", "\"lora_dropout\": 0.05,",
        "\"target_modules\": [\"q_proj\", \"k_proj\"],", "\"layers_to_transform\": [1],", "\"use_rslora\": True,",
        "\"lr_scheduler_type\": \"linear\",", "\"warmup_steps\": 3,", "\"max_steps\": 7,", "\"per_device_train_batch_size\": 2,",
        "\"gradient_accumulation_steps\": 3,", "\"max_length\": 40,", "\"seed\": 9,", "\"weight_decay\": 0.01,",
        "\"max_grad_norm\": 0.5,", "\"gradient_checkpointing\": True,", "\"eval_steps\": 2,", "\"early_stopping_patience\": 3,",
        "\"packing\": False,", "\"completion_only_loss\": True,", "\"validation\": True,", &model_line,
    ] {
        assert!(script.contains(want), "train.py lacks {want}");
    }
    // What TRL does not reproduce: printed by option and in the README.
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    for option in ["seed", "lora_dropout", "checkpoint_every"] {
        assert!(stdout.contains(&format!("not reproduced exactly by TRL: {option}: ")), "{option}: {stdout}");
        assert!(readme.contains(&format!("- **{option}**: ")), "{option}: {readme}");
    }
    assert!(readme.contains("accelerate launch --config_file accelerate_config.yaml train.py"), "{readme}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Multi-turn chat rows: two assistant turns trained, their prompts not; readable as `text`.
#[test]
fn chat_rows_keep_the_assistant_only_mask() {
    let dir = temp_dir("chat");
    let model = tiny_chat_model(&dir);
    let turn = |role: &str, content: &str| serde_json::json!({ "role": role, "content": content });
    let row = serde_json::json!({ "messages": [turn("user", "colour?"), turn("assistant", "teal"), turn("user", "size?"), turn("assistant", "small")] });
    let data = dir.join("chat.jsonl");
    std::fs::write(&data, format!("{row}\n{row}\n")).unwrap();
    let out = dir.join("recipe");
    let (ok, stdout, stderr) =
        anytune(&["export", "--recipe", "trl", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{stdout}\n{stderr}");
    let tok = Tokenizer::from_json(&std::fs::read(model.join("tokenizer.json")).unwrap(), None).unwrap();
    for line in lines(&out.join("train.jsonl")) {
        let (input, mask) = (ids(&line["input_ids"]), ids(&line["completion_mask"]));
        let mut spans: Vec<String> = Vec::new();
        for (i, &m) in mask.iter().enumerate() {
            if m == 1 && (i == 0 || mask[i - 1] == 0) {
                spans.push(String::new());
            }
            if m == 1 {
                spans.last_mut().unwrap().push_str(&tok.decode(&[input[i] as u32], false).unwrap());
            }
        }
        assert_eq!(spans.len(), 2, "{spans:?}");
        // anytune trains each assistant turn as rendered (header and end token included).
        assert!(spans[0].ends_with("teal<|im_end|>") && spans[1].ends_with("small<|im_end|>"), "{spans:?}");
        assert!(line["text"].as_str().unwrap().contains("<|im_start|>user\ncolour?"), "{line}");
        assert!(line.get("prompt").is_none());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run folder's options.toml gives the options (flags given win) and its adapter is copied
/// into adapter/ for --resume-from-adapter.
#[test]
fn a_run_folder_gives_its_options_and_adapter() {
    let dir = temp_dir("run");
    let data = facts(&dir);
    let model = repo_path("fixtures/tiny-llama");
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let run = dir.join("run");
    let (ok, stdout, stderr) = anytune(&["train", "--model", m, "--data", d, "--out", run.to_str().unwrap(), "--steps", "1", "--lr", "7e-4", "--rank", "3"]);
    assert!(ok, "{stdout}\n{stderr}");
    let out = dir.join("recipe");
    let (ok, stdout, stderr) =
        anytune(&["export", "--recipe", "trl", "--model", m, "--adapter", run.to_str().unwrap(), "--data", d, "--out", out.to_str().unwrap(), "--seed", "4"]);
    assert!(ok, "{stdout}\n{stderr}");
    let script = std::fs::read_to_string(out.join("train.py")).unwrap();
    for want in ["\"learning_rate\": 0.0007,", "\"r\": 3,", "\"max_steps\": 1,", "\"seed\": 4,"] {
        assert!(script.contains(want), "train.py lacks {want}");
    }
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        assert_eq!(std::fs::read(out.join("adapter").join(f)).unwrap(), std::fs::read(run.join(f)).unwrap());
    }
    assert!(std::fs::read_to_string(out.join("README.md")).unwrap().contains("--resume-from-adapter adapter"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Flags that belong to the other mode, an unknown recipe, a missing --data: refused by name.
#[test]
fn mixed_up_flags_are_refused_by_name() {
    let dir = temp_dir("refusals");
    let data = facts(&dir);
    let model = repo_path("fixtures/tiny-llama");
    let (m, d, o) = (model.to_str().unwrap(), data.to_str().unwrap(), dir.join("out"));
    let o = o.to_str().unwrap();
    for (args, want) in [
        (vec!["export", "--recipe", "axolotl", "--model", m, "--data", d, "--out", o], "--recipe \"axolotl\""),
        (vec!["export", "--recipe", "trl", "--model", m, "--data", d, "--out", o, "--type", "q8_0"], "--type is for merged models"),
        (vec!["export", "--recipe", "trl", "--model", m, "--out", o], "--data"),
        (vec!["export", "--recipe", "trl", "--model", m, "--data", d, "--out", o, "--adapter", d], "not a run folder"),
        (vec!["export", "--model", m, "--adapter", d, "--out", o, "--lr", "1e-3"], "--lr is a train option"),
        (vec!["export", "--model", m, "--adapter", d, "--out", o, "--val-file", d], "--val-file applies to --recipe trl"),
    ] {
        let (ok, stdout, stderr) = anytune(&args);
        assert!(!ok && stderr.contains(want), "{args:?}: wanted {want:?}\n{stdout}\n{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A quantized GGUF base: the recipe says TRL trains on the model's own weights instead.
#[test]
fn a_quantized_base_is_said_to_differ() {
    let dir = temp_dir("quantized");
    let data = facts(&dir);
    let model = repo_path("fixtures/tiny-llama-Q4_0.gguf");
    let out = dir.join("recipe");
    let (ok, stdout, stderr) =
        anytune(&["export", "--recipe", "trl", "--model", model.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("not reproduced exactly by TRL: model: anytune trained on a Q4_0"), "{stdout}");
    assert!(std::fs::read_to_string(out.join("README.md")).unwrap().contains("- **model**: anytune trained on a Q4_0"));
    let _ = std::fs::remove_dir_all(&dir);
}
