//! `anytune export`: merges an adapter into its base and writes a Hugging Face folder or a
//! quantized GGUF with an Ollama Modelfile (core's `export`), then reports the files' sizes and,
//! with `--data`, the quality cost: loss and perplexity of base + adapter and of the exported
//! model loaded back from the written files, printed and written as `export.json`. With
//! `--recipe trl`, a folder to continue the fine-tune with TRL instead (`export_trl`).

use crate::option_flags::{EvalOptions, FlagSet};
use crate::train_options::RunFlags;
use anyhow::{Context, Result, bail};
use anytune::load::{load_adapter, load_model, model_path, open_gpu, read_lora_weights};
use anytune_core::data::{DataFile, read_dataset_path};
use anytune_core::export::{ExportFormat, ExportOptions, ExportType, export};
use anytune_core::formats::read_model_path;
use anytune_core::formats::source::ModelFormat;
use anytune_core::model::open_checkpoint;
use anytune_core::train::{FileEval, evaluate_file};
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ExportArgs {
    /// The base model (a path or a name, as for every command). Default: smollm2-135m.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The LoRA adapter to merge: a PEFT folder or a GGUF LoRA file, as `anytune train` writes them; none: the base as it is, converted to --format/--type.
    /// With --recipe trl: the run folder (its options.toml gives the options; its adapter is copied to resume from).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// trl: write a TRL SFTTrainer + PEFT recipe to continue the fine-tune on a cluster (train.jsonl,
    /// train.py, accelerate_config.yaml, requirements.txt, README.md) instead of a merged model; takes
    /// --data (and --val-file), and the run's options from --adapter's options.toml, --config or the train flags.
    #[arg(long)]
    recipe: Option<String>,
    /// With --recipe: validation data (or use --val-split).
    #[arg(long)]
    val_file: Option<PathBuf>,
    /// With --recipe: a TOML file of train options, as `anytune train --config` takes it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output folder (created; files in it with the same names are replaced).
    #[arg(long)]
    out: PathBuf,
    /// hf (config.json, model.safetensors, tokenizer files) or gguf (model.gguf + Modelfile; from an HF base the metadata and byte-level BPE vocabulary are rebuilt). Default: gguf.
    #[arg(long)]
    format: Option<String>,
    /// f32, f16, bf16, q8_0, q4_0, q4_k_m or q5_k_m (hf: the float types). Default: f32 for hf, q8_0 for gguf.
    #[arg(long = "type")]
    ty: Option<String>,
    /// A dataset to measure the quality cost on: perplexity of base + adapter vs the exported model.
    /// With --recipe trl: the training data, prepared into train.jsonl.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The train options. A merge takes --max-seq-len, --batch, --train-on-everything and
    /// --skip-bad-rows for --data, as `anytune eval` does; --recipe takes them all.
    #[command(flatten)]
    options: RunFlags,
}

/// Runs the export and writes `OUT/export.json` (or, with `--recipe`, the recipe folder).
pub fn run(args: ExportArgs) -> Result<()> {
    if let Some(recipe) = &args.recipe {
        if recipe != "trl" {
            bail!("--recipe {recipe:?}: the only recipe is trl");
        }
        if let Some(flag) = [("--format", args.format.is_some()), ("--type", args.ty.is_some())].iter().find(|f| f.1) {
            bail!("{} is for merged models; --recipe trl writes a training recipe (leave {} out)", flag.0, flag.0);
        }
        let ExportArgs { model, adapter, out, data, val_file, config, options: flags, .. } = args;
        return crate::export_trl::run(crate::export_trl::RecipeArgs { model, adapter, out, data, val_file, config, flags });
    }
    let eval_names = EvalOptions::NAMES.unwrap_or_default();
    if let Some((name, _)) = args.options.given.iter().find(|(name, _)| !eval_names.contains(name)) {
        bail!("--{} is a train option: it applies to --recipe trl, not to a merge", name.replace('_', "-"));
    }
    if let Some(flag) = [("--val-file", args.val_file.is_some()), ("--config", args.config.is_some())].iter().find(|f| f.1) {
        bail!("{} applies to --recipe trl, not to a merge", flag.0);
    }
    // No adapter: the base as it is, converted (an HF folder to a quantized GGUF, or back).
    let adapter_path = args.adapter.clone();
    let format_name = args.format.clone().unwrap_or_else(|| "gguf".to_string());
    let format = ExportFormat::parse(&format_name)?;
    let ty = match &args.ty {
        Some(t) => ExportType::parse(t)?,
        None => format.default_type(),
    };
    let eval_options = args.options.options()?;
    let path = model_path(args.model.as_deref())?;
    let exported_files = {
        let files = read_model_path(&path)?;
        let (_, config, _) = open_checkpoint(&files, &ModelFormat::detect(&files)?)?;
        let adapter = adapter_path.as_deref().map(|a| read_lora_weights(a, &config)).transpose()?;
        let name = adapter_path.as_ref().map_or("no adapter".to_string(), |a| a.display().to_string());
        let out = export(&files, adapter.as_ref(), &name, &ExportOptions { format, ty })
            .with_context(|| format!("exporting {} with {name}", path.display()))?;
        std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
        let mut sizes = Vec::new();
        for (name, bytes) in &out.files {
            let file = args.out.join(name);
            std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
            println!("wrote {} ({})", file.display(), human(bytes.len()));
            sizes.push(json!({ "name": name, "bytes": bytes.len() }));
        }
        let types: Vec<String> = out.tensor_types.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
        println!("tensor types: {}", types.join(", "));
        json!({ "files": sizes, "tensor_types": out.tensor_types.iter().map(|(t, n)| (t.clone(), json!(n))).collect::<serde_json::Map<_, _>>() })
    };
    let total: u64 = exported_files["files"].as_array().into_iter().flatten().filter_map(|f| f["bytes"].as_u64()).sum();
    let eval = match &args.data {
        None => Value::Null,
        Some(data) => {
            let exported = match format {
                ExportFormat::Hf => args.out.clone(),
                ExportFormat::Gguf => args.out.join("model.gguf"),
            };
            quality(&path, adapter_path.as_deref(), &exported, data, &eval_options)?
        }
    };
    let report = json!({
        "model": path.display().to_string(),
        "adapter": adapter_path.as_ref().map(|a| a.display().to_string()),
        "format": format_name,
        "type": ty.name(),
        "files": exported_files["files"],
        "total_bytes": total,
        "tensor_types": exported_files["tensor_types"],
        "eval": eval,
    });
    let file = args.out.join("export.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&report)?).with_context(|| format!("writing {}", file.display()))?;
    println!("total {}; report in {}", human(total as usize), file.display());
    Ok(())
}

/// Loss and perplexity of `data` under base + adapter and under the exported model (loaded from
/// the written files), each loaded in turn so only one is on the GPU.
fn quality(base: &Path, adapter: Option<&Path>, exported: &Path, data: &Path, options: &anytune_core::train::RunOptions) -> Result<Value> {
    let gpu = open_gpu()?;
    let (bytes, name) = read_dataset_path(data)?;
    let file = DataFile { bytes: &bytes, name: &name };
    let measure = |model: &anytune_core::model::Model| -> Result<FileEval> {
        Ok(pollster::block_on(evaluate_file(&gpu, model, model.adapter.as_deref(), file, options))?)
    };
    let before = {
        let mut model = load_model(&gpu, base)?;
        if let Some(adapter) = adapter {
            load_adapter(&gpu, &mut model, adapter)?;
        }
        measure(&model)?
    };
    let after = measure(&load_model(&gpu, exported)?)?;
    let (p0, p1) = (before.report.perplexity, after.report.perplexity);
    let change = (p1 - p0) / p0 * 100.0;
    println!(
        "perplexity on {name}: base + adapter {p0:.4}, exported {p1:.4} ({change:+.2}%); loss {:.5} → {:.5}",
        before.report.loss, after.report.loss
    );
    let summary = |e: &FileEval| json!({ "loss": e.report.loss, "perplexity": e.report.perplexity, "accuracy": e.report.accuracy, "targets": e.report.targets });
    Ok(json!({ "data": name, "base_adapter": summary(&before), "exported": summary(&after), "perplexity_change_percent": change }))
}

/// `1.2 MiB`.
fn human(bytes: usize) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 { format!("{:.1} MiB", b / (1024.0 * 1024.0)) } else { format!("{:.1} KiB", b / 1024.0) }
}
