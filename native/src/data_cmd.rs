//! `anytune data inspect|clean|split|convert`: dataset preparation, a thin shell over core's
//! `prep` (which the web page can call with the same bytes): read the file, call core, write
//! the outputs and print the report.

use anyhow::{Context, Result, bail};
use anytune::load::{load_tokenizer, model_path};
use anytune_core::data::{DataFile, read_dataset_path, template_renderer};
use anytune_core::prep::clean::{CleanOptions, clean};
use anytune_core::prep::convert::{ConvertOptions, convert};
use anytune_core::prep::inspect::{InspectOptions, RowView, inspect};
use anytune_core::prep::report_html::html;
use anytune_core::prep::split::{PARTS, split};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Format, rows, roles, token lengths, trained/masked tokens, duplicates and other problems
    /// of a dataset, with the model's tokenizer and chat template.
    Inspect(InspectArgs),
    /// Normalise text and drop bad, empty, too short/long and duplicate rows; writes the kept
    /// rows as JSONL and a report of every dropped or changed row.
    Clean(CleanArgs),
    /// Split into train/validation/test JSONL files (stratified by "label" when rows have one).
    Split(SplitArgs),
    /// Convert CSV, alpaca, ShareGPT, prompt/completion or text rows into chat "messages" JSONL.
    Convert(ConvertArgs),
}

#[derive(Args)]
struct InspectArgs {
    /// The dataset file (any format `anytune train` reads).
    file: PathBuf,
    /// The model whose tokenizer and chat template count the tokens (a path or a name; no GPU
    /// needed). Default: smollm2-135m.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Longest sequence in tokens, as for `anytune train`.
    #[arg(long, default_value_t = 512)]
    max_seq_len: usize,
    /// Count every token as trained (as `anytune train --train-on-everything`).
    #[arg(long)]
    train_on_everything: bool,
    /// Jaccard similarity (0 < t ≤ 1) at which rows are near duplicates.
    #[arg(long, default_value_t = 0.85)]
    near_dup_threshold: f64,
    /// Show the row that starts on line N token by token: trained tokens coloured, masked
    /// dimmed (in [[brackets]] for trained runs when stdout is not a terminal or NO_COLOR is set).
    #[arg(long, value_name = "N")]
    show_row: Option<usize>,
    /// Also write the report as a self-contained HTML page (with the shown row, or the first
    /// three rows).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CleanArgs {
    /// The dataset file (any format `anytune train` reads).
    file: PathBuf,
    /// Where to write the kept rows (JSONL).
    #[arg(long)]
    out: PathBuf,
    /// Where to write every dropped or changed row with its line and reason: JSON when the
    /// name ends in .json, else JSONL (one row action per line).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Do not apply Unicode NFC.
    #[arg(long)]
    no_nfc: bool,
    /// Do not normalise whitespace.
    #[arg(long)]
    no_whitespace: bool,
    /// Keep control characters.
    #[arg(long)]
    keep_control: bool,
    /// Keep rows whose fields are all empty or blank.
    #[arg(long)]
    keep_empty: bool,
    /// Drop rows with fewer characters (all fields together).
    #[arg(long, default_value_t = 0)]
    min_chars: usize,
    /// Drop rows with more characters (all fields together).
    #[arg(long)]
    max_chars: Option<usize>,
    /// Keep exact duplicates.
    #[arg(long)]
    keep_duplicates: bool,
    /// Keep near duplicates.
    #[arg(long)]
    keep_near_duplicates: bool,
    /// Jaccard similarity (0 < t ≤ 1) at which rows are near duplicates.
    #[arg(long, default_value_t = 0.85)]
    near_dup_threshold: f64,
}

#[derive(Args)]
struct SplitArgs {
    /// The dataset file (any format `anytune train` reads).
    file: PathBuf,
    /// Fractions of train, validation and test, adding up to 1.
    #[arg(long, default_value = "0.8,0.1,0.1")]
    fractions: String,
    /// Seed of the shuffle.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder for train.jsonl, validation.jsonl and test.jsonl (created if missing).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct ConvertArgs {
    /// The dataset file: CSV, alpaca, ShareGPT, prompt/completion or text rows.
    file: PathBuf,
    /// Where to write the chat rows (JSONL).
    #[arg(long)]
    out: PathBuf,
    /// CSV: the column holding the prompt (with --completion-column).
    #[arg(long)]
    prompt_column: Option<String>,
    /// CSV: the column holding the completion.
    #[arg(long)]
    completion_column: Option<String>,
    /// CSV: the column holding the text (with --label-column: the prompt, the label its answer).
    #[arg(long)]
    text_column: Option<String>,
    /// CSV: the column holding a label, kept as the row's "label".
    #[arg(long)]
    label_column: Option<String>,
    /// A system prompt put first in every conversation that has none.
    #[arg(long)]
    system: Option<String>,
}

pub fn run(args: DataArgs) -> Result<()> {
    match args.command {
        DataCommand::Inspect(a) => run_inspect(a),
        DataCommand::Clean(a) => run_clean(a),
        DataCommand::Split(a) => run_split(a),
        DataCommand::Convert(a) => run_convert(a),
    }
}

fn run_inspect(a: InspectArgs) -> Result<()> {
    let (bytes, name) = read_dataset_path(&a.file)?;
    let (tok, template) = load_tokenizer(&model_path(a.model.as_deref())?)?;
    let render = template.as_ref().map(|t| template_renderer(t, &tok));
    let render = render.as_ref().map(|r| r as &dyn Fn(&[_], bool) -> _);
    let opts = InspectOptions {
        max_seq_len: a.max_seq_len,
        train_on_everything: a.train_on_everything,
        near_dup_threshold: a.near_dup_threshold,
        show_rows: a.show_row.into_iter().collect(),
        show_first: if a.html.is_some() && a.show_row.is_none() { 3 } else { 0 },
    };
    let report = inspect(DataFile { bytes: &bytes, name: &name }, &tok, render, &opts)?;
    if let Some(path) = &a.html {
        write(path, html(&report).as_bytes())?;
        eprintln!("anytune: wrote {}", path.display());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print!("{report}");
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    for v in report.shown_rows.iter().filter(|v| a.show_row == Some(v.line)) {
        print!("{}", row_text(v, colour));
    }
    Ok(())
}

/// A row token by token: trained runs green and masked runs dim (ANSI), or trained runs in
/// `[[` `]]` without colour.
fn row_text(v: &RowView, colour: bool) -> String {
    let mut s = format!("line {}: {} tokens, {} trained ", v.line, v.tokens, v.trained);
    s += if colour { "(\x1b[32mtrained\x1b[0m, \x1b[2mmasked\x1b[0m)\n" } else { "([[trained]], masked)\n" };
    for run in &v.runs {
        s += &match (colour, run.trained) {
            (true, true) => format!("\x1b[32m{}\x1b[0m", run.text),
            (true, false) => format!("\x1b[2m{}\x1b[0m", run.text),
            (false, true) => format!("[[{}]]", run.text),
            (false, false) => run.text.clone(),
        };
    }
    s + "\n"
}

fn run_clean(a: CleanArgs) -> Result<()> {
    let (bytes, name) = read_dataset_path(&a.file)?;
    not_the_input(&a.file, &a.out)?;
    let opts = CleanOptions {
        nfc: !a.no_nfc,
        strip_control: !a.keep_control,
        whitespace: !a.no_whitespace,
        drop_empty: !a.keep_empty,
        min_chars: a.min_chars,
        max_chars: a.max_chars,
        drop_duplicates: !a.keep_duplicates,
        drop_near_duplicates: !a.keep_near_duplicates,
        near_dup_threshold: a.near_dup_threshold,
    };
    let out = clean(DataFile { bytes: &bytes, name: &name }, &opts)?;
    write(&a.out, &out.jsonl)?;
    if let Some(path) = &a.report {
        not_the_input(&a.file, path)?;
        let text = if path.extension().is_some_and(|e| e == "json") {
            serde_json::to_string_pretty(&out.report)? + "\n"
        } else {
            out.report.rows.iter().map(|r| serde_json::to_string(r).map(|l| l + "\n")).collect::<Result<String, _>>()?
        };
        write(path, text.as_bytes())?;
    }
    print!("{}", out.report);
    println!("wrote {} rows to {}", out.report.kept + out.report.changed, a.out.display());
    Ok(())
}

fn run_split(a: SplitArgs) -> Result<()> {
    let parts: Vec<&str> = a.fractions.split(',').map(str::trim).collect();
    let fractions: Vec<f64> = parts
        .iter()
        .map(|p| p.parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()
        .filter(|f: &Vec<f64>| f.len() == 3)
        .with_context(|| format!("--fractions {:?}: give three numbers, e.g. 0.8,0.1,0.1", a.fractions))?;
    let (bytes, name) = read_dataset_path(&a.file)?;
    let s = split(DataFile { bytes: &bytes, name: &name }, [fractions[0], fractions[1], fractions[2]], a.seed)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for (part, rows) in PARTS.iter().zip(&s.parts) {
        let path = a.out.join(format!("{part}.jsonl"));
        not_the_input(&a.file, &path)?;
        write(&path, rows)?;
    }
    print!("{}", s.report);
    println!("wrote {}", PARTS.map(|p| a.out.join(format!("{p}.jsonl")).display().to_string()).join(", "));
    Ok(())
}

fn run_convert(a: ConvertArgs) -> Result<()> {
    let (bytes, name) = read_dataset_path(&a.file)?;
    not_the_input(&a.file, &a.out)?;
    let opts = ConvertOptions {
        prompt_column: a.prompt_column,
        completion_column: a.completion_column,
        text_column: a.text_column,
        label_column: a.label_column,
        system: a.system,
    };
    let out = convert(DataFile { bytes: &bytes, name: &name }, &opts)?;
    write(&a.out, &out.jsonl)?;
    print!("{}", out.report);
    println!("wrote {}", a.out.display());
    Ok(())
}

/// Refuses to write over the input file.
fn not_the_input(input: &Path, out: &Path) -> Result<()> {
    if let (Ok(i), Ok(o)) = (input.canonicalize(), out.canonicalize())
        && i == o
    {
        bail!("{}: the output would overwrite the input; give another file", out.display());
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
