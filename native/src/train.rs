//! `anytune train`: LoRA fine-tuning of a model on a dataset, writing a PEFT adapter
//! (`adapter_config.json` + `adapter_model.safetensors`) and a GGUF LoRA (`adapter.gguf`).
//! The run itself is core's [`TrainRun`] (the web worker drives the same one); this file adds
//! the files: options, checkpoints, the log, the loss curve and the progress bar.

use crate::progress::Progress;
use crate::train_options::{TrainArgs, resolve_options};
use anyhow::{Context, Result};
use anytune::load::{load_model, open_gpu};
use anytune_core::generate::chat_answer;
use anytune_core::lora::LoraWeights;
use anytune_core::model::Model;
use anytune_core::train::{AdapterFiles, RunPlan, TrainRun};
use std::io::Write;
use std::path::Path;

/// The checkpoint file inside --out.
const CHECKPOINT: &str = "checkpoint.safetensors";

pub fn run(args: TrainArgs) -> Result<()> {
    let job = resolve_options(&args)?;
    let gpu = open_gpu()?;
    let mut model = load_model(&gpu, &job.model)?;
    let full = job.options.full;
    let head = job.options.head;
    if head && job.question.is_some() {
        anyhow::bail!("--question with --head: a classification head predicts labels, not text; evaluate the run with `anytune eval --adapter OUT --data ROWS`");
    }
    if full {
        let bytes = anytune_core::full::to_f32(&gpu, &mut model)?;
        if bytes > 0 {
            eprintln!("anytune: --full: the base was dequantized to f32 on the GPU ({:.1} MiB)", bytes as f64 / (1 << 20) as f64);
        }
    }
    let data = job.read_data()?;
    let (train, val) = data.files();
    let base_name = job.base_name(&model);
    let plan = RunPlan::new(&gpu, &model, train, val, &job.options, &base_name)?;
    eprintln!("{}", plan.summary());
    let o = &plan.options;
    let o_dora = o.dora;
    // The head's score weight (labels × hidden) trains beside the LoRA.
    let trainable = plan.lora.parameter_count() + if o.head { plan.summary().labels.len() * model.config.dim } else { 0 };
    if full {
        eprintln!("full fine-tuning: every parameter ({:.1} M) in f32, AdamW", model.config.parameter_count() as f64 / 1e6);
    } else {
    eprintln!(
        "{}: r {}, alpha {}{}, {} on layers {}: {} trainable parameters ({:.2}% of {:.1} M)",
        if o.dora { "DoRA" } else if o.head { "LoRA + classification head" } else { "LoRA" },
        o.rank,
        o.alpha,
        if o.rslora { " (rsLoRA: scale alpha/√r)" } else { "" },
        o.targets,
        o.layers,
        trainable,
        100.0 * trainable as f64 / model.config.parameter_count() as f64,
        model.config.parameter_count() as f64 / 1e6
    );
    }
    for note in &plan.notes {
        eprintln!("anytune: {note}");
    }
    let memory = if full { anytune_core::train::memory::full_memory(&plan.memory, &model) } else { plan.memory.clone() };
    eprintln!("{memory}{}; {} steps of {} × {} tokens", if full { " (full: 16 bytes/parameter)" } else { "" }, plan.total_steps, o.batch, plan.t);
    anytune_core::train::check_fits(&gpu, &memory)?;
    if args.dry_run {
        return Ok(());
    }
    if let Some(q) = &job.question {
        println!("before: {}", pollster::block_on(chat_answer(&gpu, &model, None, q, 48))?);
    }
    let out = job.out.as_path();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let options_path = out.join("options.toml");
    std::fs::write(&options_path, toml::to_string(&plan.options)?).with_context(|| format!("writing {}", options_path.display()))?;
    let labels = plan.summary().labels.clone();
    let mut run = TrainRun::start(&gpu, &model, plan)?;
    let checkpoint_path = out.join(CHECKPOINT);
    if args.resume {
        let bytes = std::fs::read(&checkpoint_path)
            .with_context(|| format!("--resume: reading the checkpoint {}", checkpoint_path.display()))?;
        run.resume(&gpu, &bytes, &checkpoint_path.display().to_string())?;
        eprintln!("anytune: resuming from step {} of {}", run.step_count(), run.total_steps);
    }
    let log_path = out.join("log.jsonl");
    let mut log = open_log(&log_path, args.resume.then_some(run.step_count()))?;
    let mut progress = Progress::new(run.step_count(), run.total_steps);
    while run.step_count() < run.total_steps {
        let s = pollster::block_on(run.step(&gpu, &model))?;
        let r = &s.report;
        progress.step(r);
        let secs = progress.elapsed();
        let at_step = || format!("step {}: writing {}", r.step, log_path.display());
        writeln!(log, "{}", serde_json::json!({ "kind": "train", "step": r.step, "loss": r.loss, "lr": r.lr, "grad_norm": r.grad_norm, "seconds": secs }))
            .with_context(at_step)?;
        if let Some(e) = &s.val {
            progress.message(&format!(
                "step {:>4}  validation loss {:.4}  perplexity {:.2}  accuracy {:.4}",
                r.step, e.loss, e.perplexity, e.accuracy
            ));
            let record = serde_json::json!({ "kind": "val", "step": r.step, "loss": e.loss, "perplexity": e.perplexity, "accuracy": e.accuracy });
            writeln!(log, "{record}").with_context(at_step)?;
        }
        if s.new_best && !full {
            write_run_adapter(&gpu, &run, &out.join("best"), &base_name, &model, &labels)
                .with_context(|| format!("step {}: saving the best adapter", r.step))?;
        }
        if s.checkpoint_due {
            write_atomically(&checkpoint_path, &pollster::block_on(run.checkpoint(&gpu))?)
                .with_context(|| format!("step {}: saving the checkpoint", r.step))?;
        }
        if s.early_stop {
            progress.message(&format!("anytune: early stop: no validation improvement in {} evaluations", job.options.patience));
        }
        if s.done {
            break;
        }
    }
    progress.finish();
    drop(log);
    let log_text = std::fs::read_to_string(&log_path).with_context(|| format!("reading {}", log_path.display()))?;
    let (train_points, val_points) = crate::plot::read_log(&log_text);
    let svg_path = out.join("loss.svg");
    std::fs::write(&svg_path, crate::plot::loss_svg(&train_points, &val_points)).with_context(|| format!("writing {}", svg_path.display()))?;
    if full {
        crate::train_full::write_model(&gpu, out, &job.model, &run)?;
        if let Some(q) = &job.question {
            println!("after:  {}", pollster::block_on(chat_answer(&gpu, &model, None, q, 48))?);
        }
        return Ok(());
    }
    write_run_adapter(&gpu, &run, out, &base_name, &model, &labels)?;
    if head {
        eprintln!("anytune: --head: a PEFT SEQ_CLS adapter (LoRA + score.weight, {} labels); no adapter.gguf: llama.cpp has no sequence-classification head", labels.len());
    }
    eprintln!(
        "anytune: wrote {} (adapter_config.json, adapter_model.safetensors, {}{}options.toml, log.jsonl, loss.svg, {CHECKPOINT}{})",
        out.display(),
        if o_dora || head { "" } else { "adapter.gguf, " },
        if labels.is_empty() { "" } else { "labels.json, " },
        if run.info.best_val_loss.is_some() { ", best/" } else { "" }
    );
    if let Some(q) = &job.question {
        model.adapter = Some(Box::new(run.into_adapter()));
        println!("after:  {}", pollster::block_on(chat_answer(&gpu, &model, model.adapter.as_deref(), q, 48))?);
    }
    Ok(())
}

/// Writes the run's current adapter into `dir`: [`write_adapter`], or with a classification
/// head its SEQ_CLS files ([`crate::train_head::write_head_adapter`]).
fn write_run_adapter(gpu: &anytune_core::gpu::Gpu, run: &TrainRun, dir: &Path, base_name: &str, model: &Model, labels: &[String]) -> Result<()> {
    match pollster::block_on(run.head_adapter(gpu))? {
        Some((weights, score)) => crate::train_head::write_head_adapter(dir, &weights, &score, base_name, model, labels),
        None => write_adapter(dir, &pollster::block_on(run.adapter_weights(gpu))?, base_name, model, labels),
    }
}

/// Writes the PEFT files and the GGUF LoRA of `weights` into `dir`, and the run's label set
/// (`labels.json`, for `anytune eval`) when it trained on classification rows.
pub(crate) fn write_adapter(dir: &Path, weights: &LoraWeights, base_name: &str, model: &Model, labels: &[String]) -> Result<()> {
    let files = AdapterFiles::new(weights, model, base_name)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomically(&dir.join("adapter_config.json"), files.config_json.as_bytes())?;
    write_atomically(&dir.join("adapter_model.safetensors"), &files.safetensors)?;
    if !labels.is_empty() {
        write_atomically(&dir.join(crate::eval::LABELS_FILE), crate::eval::labels_json(labels).as_bytes())?;
    }
    match &files.gguf {
        Some(gguf) => write_atomically(&dir.join("adapter.gguf"), gguf),
        // DoRA: llama.cpp has no DoRA, so no GGUF LoRA (a stale one from an earlier run would mislead).
        None => match std::fs::remove_file(dir.join("adapter.gguf")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("removing {}", dir.join("adapter.gguf").display())),
            _ => Ok(()),
        },
    }
}

/// Writes `bytes` to a temporary file next to `path`, flushes it to disk and renames it over
/// `path`: a reader (or a killed run) sees the old file or the new one, never a partial one.
/// A failure (a full disk) names the file and removes the partial temporary file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {} ({} bytes)", tmp.display(), bytes.len()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// Opens `log.jsonl` for the run: anew, or on a resume from step `resumed_at` with the records
/// of later steps removed (those steps were cut short and run again, so they are not logged
/// twice).
fn open_log(path: &Path, resumed_at: Option<usize>) -> Result<std::fs::File> {
    let context = || format!("opening {}", path.display());
    let Some(step) = resumed_at else { return std::fs::File::create(path).with_context(context) };
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(context),
    };
    let step_of = |line: &str| serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["step"].as_u64());
    let kept: String = old.lines().filter(|l| step_of(l).is_some_and(|s| s as usize <= step)).map(|l| format!("{l}\n")).collect();
    write_atomically(path, kept.as_bytes())?;
    std::fs::OpenOptions::new().append(true).open(path).with_context(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_names_the_file_and_leaves_no_partial_file() {
        let dir = std::env::temp_dir().join(format!("anytune-write-{}", std::process::id()));
        let missing = dir.join("no-such-folder").join("adapter_model.safetensors");
        let err = format!("{:#}", write_atomically(&missing, b"bytes").unwrap_err());
        assert!(err.contains("adapter_model.tmp") && err.contains("5 bytes"), "{err}");
        // A full disk: /dev/full takes the open and refuses the write.
        if Path::new("/dev/full").exists() {
            let mut f = open_log(Path::new("/dev/full"), None).unwrap();
            assert!(writeln!(f, "x").and_then(|_| f.flush()).is_err());
        }
    }

    #[test]
    fn a_resumed_log_keeps_only_the_steps_up_to_the_checkpoint() {
        let path = std::env::temp_dir().join(format!("anytune-log-{}.jsonl", std::process::id()));
        let lines = ["{\"kind\":\"train\",\"step\":1}", "{\"kind\":\"val\",\"step\":2}", "{\"kind\":\"train\",\"step\":3}"];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let mut log = open_log(&path, Some(2)).unwrap();
        writeln!(log, "{{\"kind\":\"train\",\"step\":3,\"again\":true}}").unwrap();
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n{}\n{{\"kind\":\"train\",\"step\":3,\"again\":true}}\n", lines[0], lines[1]));
        let _ = std::fs::remove_file(&path);
    }
}
