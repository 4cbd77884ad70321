//! `anytune compare`: the base model's and each adapter's answers to a prompts file, written as
//! a blinded rating page (core's `compare`), and `--summarise`: win rates from the marks the
//! page downloads.

use anyhow::{Context, Result};
use anytune::load::{load_model, model_path, open_gpu, read_adapter};
use anytune_core::compare::marks::parse_marks;
use anytune_core::compare::prompts::read_prompts;
use anytune_core::compare::report::check_names;
use anytune_core::compare::summary::summarise;
use anytune_core::compare::{Report, answer, html};
use clap::Args;
use std::path::{Path, PathBuf};

/// Bytes of a prompts or marks file read at most.
const MAX_FILE_BYTES: u64 = 64 << 20;

#[derive(Args)]
pub struct CompareArgs {
    /// The model, as for the other commands (a path or a name; default smollm2-135m).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Prompts: one per line (.txt: user messages for the chat template; with --raw continued
    /// as they are), or JSONL rows with `prompt` (raw) or `messages` (chat: the last user turn
    /// is answered) and an optional `expected` answer, shown after rating.
    #[arg(long, required_unless_present = "summarise", conflicts_with = "summarise")]
    prompts: Option<PathBuf>,
    /// An adapter to compare with the base model: a PEFT folder or GGUF LoRA file, named after
    /// its folder (or file), or NAME=PATH. Repeat for more (1 to 16).
    #[arg(long = "adapter", value_name = "[NAME=]PATH")]
    adapters: Vec<String>,
    /// The rating page to write (one self-contained HTML file).
    #[arg(long, required_unless_present = "summarise", conflicts_with = "summarise")]
    out: Option<PathBuf>,
    /// Continue .txt prompts as they are instead of wrapping them in the chat template.
    #[arg(long)]
    raw: bool,
    /// Sampling, the same for every system; --seed also seeds the pairs' blinded order.
    #[command(flatten)]
    sampling: crate::sampling_flags::SamplingFlags,
    /// Print win rates from marks files downloaded from the page (several raters' files of one
    /// report add up); needs no model.
    #[arg(long, num_args = 1.., value_name = "MARKS")]
    summarise: Vec<PathBuf>,
    /// With --summarise: print the summary as JSON.
    #[arg(long, requires = "summarise")]
    json: bool,
}

pub fn run(args: CompareArgs) -> Result<()> {
    if !args.summarise.is_empty() {
        return print_summary(&args.summarise, args.json);
    }
    let (Some(prompts_path), Some(out)) = (&args.prompts, &args.out) else { anyhow::bail!("give --prompts and --out") };
    let (names, paths) = adapter_specs(&args.adapters)?;
    let options = args.sampling.options()?; // before loading anything
    let file = prompts_path.display().to_string();
    let prompts = read_prompts(&read_capped(prompts_path)?, &file, args.raw)?;

    let path = model_path(args.model.as_deref())?;
    let gpu = open_gpu()?;
    let model = load_model(&gpu, &path)?;
    let adapters = paths.iter().map(|p| read_adapter(&gpu, &model, p)).collect::<Result<Vec<_>>>()?;
    let systems: Vec<_> = std::iter::once(None).chain(adapters.iter().map(|a| Some(a.as_ref()))).collect();
    let label = |s: usize| if s == 0 { "base" } else { names[s - 1].as_str() };
    let answers = pollster::block_on(answer::answer_all(&gpu, &model, &systems, &prompts, &file, &options, |s, p| {
        eprint!("\ranytune compare: {} answering prompt {} of {}   ", label(s), p + 1, prompts.len());
    }))?;
    eprintln!();

    let shown = prompts_path.file_name().map_or(file.clone(), |n| n.to_string_lossy().into_owned());
    let (count, pairs) = (prompts.len(), prompts.len() * names.len());
    let report = Report::new(&shown, prompts, &names, answers, &answer::describe(&options), args.sampling.seed)?;
    std::fs::write(out, html::page(&report)).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {}: {count} prompts, base vs {} adapter{} = {pairs} pairs to rate (report {})",
        out.display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        report.id
    );
    println!("open it in a browser, rate every pair, download marks.json, then: anytune compare --summarise marks.json");
    Ok(())
}

/// Names and paths of `--adapter [NAME=]PATH`s: an existing path is taken whole; otherwise
/// NAME=PATH; unnamed adapters are named after their folder or file (without .gguf).
fn adapter_specs(specs: &[String]) -> Result<(Vec<String>, Vec<PathBuf>)> {
    let mut names = Vec::new();
    let mut paths = Vec::new();
    for spec in specs {
        let (name, path) = match spec.split_once('=') {
            Some((name, path)) if !Path::new(spec).exists() => (name.to_string(), PathBuf::from(path)),
            _ => {
                let path = PathBuf::from(spec);
                let stem = if path.is_dir() { path.file_name() } else { path.file_stem() };
                (stem.map_or(spec.clone(), |s| s.to_string_lossy().into_owned()), path)
            }
        };
        names.push(name);
        paths.push(path);
    }
    check_names(&names)?;
    Ok((names, paths))
}

/// A file's bytes, refusing one over [`MAX_FILE_BYTES`].
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > MAX_FILE_BYTES {
        anyhow::bail!("{}: {size} bytes; at most {} MiB", path.display(), MAX_FILE_BYTES >> 20);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn print_summary(files: &[PathBuf], json: bool) -> Result<()> {
    let mut marks = Vec::new();
    for path in files {
        let name = path.display().to_string();
        marks.push((name.clone(), parse_marks(&read_capped(path)?, &name)?));
    }
    let summary = summarise(&marks)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.table());
    }
    Ok(())
}
