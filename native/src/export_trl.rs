//! `anytune export --recipe trl`: the run's options (a run folder's `options.toml`, or
//! `--config` and the train flags, as `anytune train` resolves them) and its data prepared for
//! the base model, written by core's [`trl_recipe`] as a folder a cluster runs with TRL; the
//! adapter, when given, is copied into `adapter/` to resume from. Options TRL does not
//! reproduce exactly are printed by name (and listed in the folder's README).

use crate::eval::read_labels;
use crate::train_options::{RunFlags, TrainArgs, resolve_options};
use anyhow::{Context, Result};
use anytune::load::{load_model, open_gpu};
use anytune_core::export::trl::{TrlInput, trl_recipe};
use anytune_core::train::run::prepare_data;
use std::path::{Path, PathBuf};

/// The adapter files copied into `OUT/adapter/`.
const ADAPTER_FILES: [&str; 2] = ["adapter_config.json", "adapter_model.safetensors"];

/// What the recipe is made from (the export command's arguments).
pub struct RecipeArgs {
    pub model: Option<PathBuf>,
    pub adapter: Option<PathBuf>,
    pub out: PathBuf,
    pub data: Option<PathBuf>,
    pub val_file: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub flags: RunFlags,
}

/// Writes the recipe folder.
pub fn run(args: RecipeArgs) -> Result<()> {
    let run_options = args.adapter.as_ref().map(|a| a.join("options.toml")).filter(|p| p.is_file());
    if let Some(adapter) = &args.adapter {
        anyhow::ensure!(
            adapter.join(ADAPTER_FILES[0]).is_file(),
            "--adapter {}: not a run folder with {} (give the --out folder of `anytune train`)",
            adapter.display(),
            ADAPTER_FILES[0]
        );
    }
    let config = args.config.clone().or(run_options);
    if let Some(c) = &config {
        eprintln!("anytune: the run's options from {} (flags given here win)", c.display());
    }
    let train_args = TrainArgs {
        model: args.model,
        data: args.data,
        val_file: args.val_file,
        out: Some(args.out),
        config,
        flags: args.flags,
        resume: false,
        dry_run: false,
        question: None,
    };
    let job = resolve_options(&train_args)?;
    let gpu = open_gpu()?;
    let model = load_model(&gpu, &job.model)?;
    let data = job.read_data()?;
    let (train, val) = data.files();
    let mut data_config = job.options.data_config();
    data_config.labels = args.adapter.as_deref().map(read_labels).transpose()?.flatten();
    let dataset = prepare_data(&model, train, val, &data_config)?;
    let local = std::fs::canonicalize(&job.model).unwrap_or(job.model.clone());
    let base = model.known_as.clone().unwrap_or_else(|| local.display().to_string());
    let input = TrlInput {
        options: &job.options,
        base: &base,
        base_loads: model.known_as.is_some() || local.is_dir(),
        base_quantized: model.tensor_types.iter().map(|(t, _)| t.clone()).filter(|t| !["F32", "F16", "BF16"].contains(&t.as_str())).collect(),
        dataset: &dataset,
        tokenizer: &model.tokenizer,
        n_layers: model.config.n_layers,
        with_adapter: args.adapter.is_some(),
    };
    let recipe = trl_recipe(&input).with_context(|| format!("the TRL recipe of {}", job.data.display()))?;
    let out = job.out.as_path();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, bytes) in &recipe.files {
        write(&out.join(name), bytes)?;
    }
    if let Some(adapter) = &args.adapter {
        for name in ADAPTER_FILES {
            let from = adapter.join(name);
            let bytes = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
            write(&out.join("adapter").join(name), &bytes)?;
        }
    }
    let s = &dataset.summary;
    println!(
        "TRL recipe for {base}: {} training rows{} ({} trained tokens), {} options carried",
        s.train_sequences,
        if s.val_sequences > 0 { format!(", {} validation rows", s.val_sequences) } else { String::new() },
        s.trained_tokens,
        recipe.carried.len()
    );
    for note in &recipe.notes {
        println!("not reproduced exactly by TRL: {}: {}", note.option, note.what);
    }
    println!("run it: cd {} && accelerate launch --config_file accelerate_config.yaml train.py (see README.md)", out.display());
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
