//! `anytune bench`: speed on the current adapter, measured (never asserted in tests).
//! `--op matmul` prints GFLOP/s of the default model's GEMM shapes for f32 and each weight
//! type; `--forward` prints prefill tokens/s of the model at `--tokens` tokens; `--train` a
//! LoRA step's tokens/s, GFLOP/s, dispatches and memory. `--synthetic NAME` runs a model of a
//! real model's shapes and tensor types with random weights, built in memory (no model file).
//! GFLOP/s figures come with the percentage of the adapter's f32 peak (measured by an FMA
//! kernel, and the published figure where the adapter is in core's `peak` table).

use anyhow::{Context, Result, bail};
use anytune::load::{load_model, model_path, open_gpu};
use anytune_core::bench::bench_matmul;
use anytune_core::gpu::Gpu;
use anytune_core::model::Model;
use anytune_core::model::synthetic::find_synthetic;
use anytune_core::peak::{measure_peak_gflops, published_peak_gflops};
use anytune_core::ops::matmul::{MatmulShape, kernel_name};
use anytune_core::gpu::Recorder;
use anytune_core::train::bench_step::KernelProfile;
use anytune_core::model::KvCache;
use anytune_core::quant::GgmlType;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    /// Benchmark one op: `matmul`.
    #[arg(long)]
    op: Option<String>,
    /// Benchmark the model's forward pass (prefill).
    #[arg(long)]
    forward: bool,
    /// Benchmark LoRA training steps (tokens/s, GFLOP/s, dispatches, memory).
    #[arg(long)]
    train: bool,
    /// Sequences per step for --train.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// LoRA rank for --train.
    #[arg(long, default_value_t = 8)]
    rank: usize,
    /// Activation recomputation for --train (gradient checkpointing).
    #[arg(long)]
    recompute: bool,
    /// How --train keeps every layer's activations without --recompute: auto (16bit with the
    /// GPU kernel family, f32 on CPU adapters), f32 or 16bit.
    #[arg(long, default_value = "auto")]
    saved_activations: String,
    /// Adapted modules for --train.
    #[arg(long, default_value = "q_proj,v_proj")]
    targets: String,
    /// Adapted layers for --train: all, or indices and ranges like 22-29 (the short
    /// schedule's top 8 layers of SmolLM2).
    #[arg(long, default_value = "all")]
    layers: String,
    /// Model for --forward and --train: a path or a name from `anytune models` (default: smollm2-135m).
    #[arg(long, conflicts_with = "synthetic")]
    model: Option<PathBuf>,
    /// For --forward and --train: a model of a real one's shapes and tensor types with random
    /// weights, built in memory (smollm2-135m, smollm2-135m-q8_0, gemma3-270m).
    #[arg(long)]
    synthetic: Option<String>,
    /// Prompt length for --forward and --train, and M (rows) for the model-shape GEMMs of --op matmul.
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// With --forward or --train: GPU time per kernel of one more pass or step (timestamp
    /// queries), most time first.
    #[arg(long)]
    profile: bool,
    /// Timed repetitions (after one warm-up).
    #[arg(long, default_value_t = 3)]
    iters: usize,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.tokens == 0 || args.iters == 0 {
        bail!("--tokens and --iters must be at least 1 (got --tokens {}, --iters {})", args.tokens, args.iters);
    }
    match (args.op.as_deref(), args.forward, args.train) {
        (Some("matmul"), false, false) => matmul(&args),
        (None, true, false) => forward(&args),
        (None, false, true) => train(&args),
        (Some(other), false, false) => bail!("unknown op {other:?} (known: matmul)"),
        _ => bail!("give exactly one of --op matmul, --forward or --train"),
    }
}

/// The model `--synthetic` or `--model` names (the default model when neither does).
fn bench_model(gpu: &Gpu, args: &BenchArgs) -> Result<Model> {
    match &args.synthetic {
        Some(name) => {
            let synthetic = find_synthetic(name)?;
            Ok(Model::load(gpu, &synthetic.files(0)?).with_context(|| format!("building the synthetic model {name}"))?)
        }
        None => load_model(gpu, &model_path(args.model.as_deref())?),
    }
}

/// The adapter's f32 peak in GFLOP/s: the FMA kernel's measurement, printed with the
/// published figure where the table knows the adapter.
fn peak(gpu: &Gpu) -> Result<f64> {
    let measured = measure_peak_gflops(gpu)?;
    let published = published_peak_gflops(&gpu.report.name)
        .map_or(String::new(), |p| format!("; published {p:.0} GFLOP/s (measured is {:.0}% of it)", 100.0 * measured / p));
    println!(
        "adapter: {} ({}), kernels: {}; f32 FMA peak measured {measured:.1} GFLOP/s{published}",
        gpu.report.name,
        gpu.report.backend,
        gpu.report.kernels_label()
    );
    Ok(measured)
}

fn matmul(args: &BenchArgs) -> Result<()> {
    let gpu = open_gpu()?;
    let peak = peak(&gpu)?;
    let m = args.tokens;
    // Default model (SmolLM2-135M): q/o, k/v, gate/up, down projections, plus two square-ish peers.
    let model_shapes = [(m, 576, 576), (m, 192, 576), (m, 1536, 576), (m, 576, 1536)];
    println!("{:<8} {:>6} {:>6} {:>6} {:>10} {:>6} {:>9}  kernel", "type", "M", "N", "K", "GFLOP/s", "peak", "ms");
    let row = |ty: Option<GgmlType>, (m, n, k): (usize, usize, usize)| -> Result<()> {
        let r = bench_matmul(&gpu, m, n, k, ty, args.iters)?;
        let name = ty.map_or("f32", |t| t.name());
        let kernel = if ty.is_none() { kernel_name(&gpu, &MatmulShape::new(m, n, k)) } else { String::new() };
        println!("{name:<8} {m:>6} {n:>6} {k:>6} {:>10.2} {:>5.1}% {:>9.2}  {kernel}", r.gflops, 100.0 * r.gflops / peak, r.ms_per_iter);
        Ok(())
    };
    for shape in [(512, 1536, 576), (512, 512, 512)] {
        row(None, shape)?;
    }
    for ty in [None].into_iter().chain(GgmlType::ALL.into_iter().map(Some)) {
        for shape in model_shapes {
            let k_ok = ty.is_none_or(|t| shape.2 % t.block_size() == 0);
            if k_ok {
                row(ty, shape)?;
            }
        }
    }
    Ok(())
}

fn forward(args: &BenchArgs) -> Result<()> {
    let gpu = open_gpu()?;
    let model = bench_model(&gpu, args)?;
    let t = args.tokens;
    let ids: Vec<u32> = (0..t).map(|i| (i * 7919 % model.config.vocab_size) as u32).collect();
    let run_once = || -> Result<f64> {
        let mut cache = KvCache::new(&gpu, &model.config, t)?;
        let start = Instant::now();
        let mut rec = Recorder::new(&gpu);
        let hidden = model.forward(&mut rec, &ids, &mut cache)?;
        let logits = model.logits(&mut rec, &hidden, t - 1, 1)?;
        pollster::block_on(logits.read(rec))?;
        Ok(start.elapsed().as_secs_f64())
    };
    run_once().with_context(|| format!("a forward pass of {t} tokens"))?; // warm-up: compiles pipelines
    let mut best = f64::MAX;
    for _ in 0..args.iters {
        best = best.min(run_once()?);
    }
    println!("adapter: {} ({}), kernels: {}", gpu.report.name, gpu.report.backend, gpu.report.kernels_label());
    println!("model: {} ({} layers, dim {})", model.name, model.config.n_layers, model.config.dim);
    println!("prefill {t} tokens: {:.3} s best of {} → {:.1} tokens/s", best, args.iters, t as f64 / best);
    if args.profile {
        gpu.start_profile()?;
        run_once()?;
        let times = pollster::block_on(gpu.take_profile())?;
        print_profile(&times.iter().map(KernelProfile::from).collect::<Vec<_>>(), "pass");
    }
    Ok(())
}

/// The kernels of one profiled pass or step, most GPU time first.
fn print_profile(times: &[KernelProfile], what: &str) {
    let total: f64 = times.iter().map(|t| t.seconds).sum();
    println!("GPU time per kernel, one {what}: {:.3} s in {} dispatches", total, times.iter().map(|t| t.dispatches).sum::<usize>());
    println!("{:<28} {:>10} {:>10} {:>7}", "kernel", "dispatches", "ms", "share");
    for t in times {
        println!("{:<28} {:>10} {:>10.1} {:>6.1}%", t.kernel, t.dispatches, t.seconds * 1e3, 100.0 * t.seconds / total.max(1e-12));
    }
}

fn train(args: &BenchArgs) -> Result<()> {
    use anytune_core::train::ActivationStore;
    use anytune_core::train::bench_step::{StepBench, bench_step};
    let gpu = open_gpu()?;
    let model = bench_model(&gpu, args)?;
    let setup = StepBench {
        batch: args.batch,
        tokens: args.tokens,
        rank: args.rank,
        targets: args.targets.clone(),
        layers: args.layers.clone(),
        recompute: args.recompute,
        saved_activations: ActivationStore::parse(&args.saved_activations).context("--saved-activations")?,
        iters: args.iters,
        profile: args.profile,
    };
    let clock = Instant::now();
    let r = pollster::block_on(bench_step(&gpu, &model, &setup, &|| clock.elapsed().as_secs_f64()))?;
    let peak = peak(&gpu)?;
    println!(
        "model: {} ({} layers), LoRA r {} on {} of layers {}, batch {} × {} tokens",
        model.name, model.config.n_layers, args.rank, args.targets, args.layers, args.batch, args.tokens
    );
    println!(
        "step: {:.3} s best of {} → {:.1} tokens/s, {:.2} GFLOP/s ({:.1}% of the measured peak)",
        r.best, args.iters, r.tokens_per_s, r.gflops, 100.0 * r.gflops / peak
    );
    println!("FLOPs per token: {:.1} MFLOP; {} dispatches and 1 submit per step", r.flops_per_token / 1e6, r.dispatches);
    println!("{}; saved: {}", r.memory, r.saved);
    // Measured: what the device's allocator holds now (weights, trainer buffers), where it reports.
    match gpu.device.generate_allocator_report() {
        Some(a) => println!(
            "measured GPU memory: {:.0} MiB allocated, {:.0} MiB reserved",
            a.total_allocated_bytes as f64 / 1048576.0,
            a.total_reserved_bytes as f64 / 1048576.0
        ),
        None => println!("measured GPU memory: not reported by this backend"),
    }
    if args.profile {
        print_profile(&r.profile, "step");
        println!("profiled step: {:.3} s wall, {:.3} s of it on the GPU", r.profiled_wall_seconds, r.profiled_gpu_seconds);
    }
    Ok(())
}
