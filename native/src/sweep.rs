//! `anytune sweep`: hyperparameter search. The trials (a `--grid`, or `--random N` draws from
//! a `--space`) share the loaded model and one prepared dataset; synchronous successive halving
//! stops the worst at each rung (core's [`anytune_core::sweep`]). Every change is written to
//! `sweep.json` (atomically), so a rerun in the same `--out` continues a killed sweep. At the
//! end: the table (printed and `trials.csv`), `sweep.svg`, and `best/` with the best trial's
//! adapter files and a `run.toml` for `anytune train --config`.

use crate::train::{write_adapter, write_atomically};
use crate::train_options::{Job, TrainArgs, resolve_options};
use anyhow::{Context, Result, bail};
use anytune::load::{load_model, open_gpu};
use anytune_core::data::{DataFile, Dataset};
use anytune_core::gpu::Gpu;
use anytune_core::model::Model;
use anytune_core::sweep::{Assignment, Halving, PlannedTrial, Segment, Space, Status, SweepSetup, SweepState, report, space, train_segment, trial_options};
use anytune_core::train::checkpoint::RunIdentity;
use anytune_core::train::run::{planned_options, prepare_data};
use anytune_core::train::{RunOptions, RunPlan, check_fits};
use clap::Args;
use std::path::{Path, PathBuf};

/// The state file inside --out.
const STATE: &str = "sweep.json";
/// The adapter files a trial (and `best/`) holds, as `anytune train` writes them.
const ADAPTER_FILES: &[&str] = &["adapter_config.json", "adapter_model.safetensors", "adapter.gguf"];

#[derive(Args)]
pub struct SweepArgs {
    /// The fixed options: every `anytune train` flag (and --config) except --question.
    #[command(flatten)]
    pub train: TrainArgs,
    /// Grid search: space-separated `option=v1,v2` items; every combination is a trial, e.g.
    /// 'lr=1e-4,3e-4,1e-3 rank=8,16' (`|` separates values of targets and layers:
    /// 'targets=q_proj,v_proj|all-linear').
    #[arg(long, conflicts_with_all = ["random", "space"], required_unless_present = "random")]
    pub grid: Option<String>,
    /// Random search: this many trials (1 to 1000) drawn from --space, seeded by --seed.
    #[arg(long, requires = "space")]
    pub random: Option<usize>,
    /// The space of --random: `option=lo..hi` (uniform), `option=log:lo..hi` (log-uniform) or
    /// `option=a,b,c` (a choice), e.g. 'lr=log:1e-4..1e-2 rank=4,8,16 dropout=0..0.1'.
    #[arg(long, requires = "random")]
    pub space: Option<String>,
    /// Successive halving: at each rung the best 1/ETA of the trials go on (2 to 10).
    #[arg(long, default_value_t = 3)]
    pub eta: usize,
    /// Rungs at 1/ETA^(RUNGS-1), …, 1/ETA, 1 of each trial's steps (1 to 10; 1 = no early stop).
    #[arg(long, default_value_t = 3)]
    pub rungs: usize,
}

/// The trials of the search and its description (kept in `sweep.json`).
fn search(args: &SweepArgs, seed: u64) -> Result<(Space, Vec<Assignment>, String)> {
    match (&args.grid, args.random, &args.space) {
        (Some(grid), None, None) => {
            let space = Space::parse(grid, "--grid")?;
            let trials = space.grid("--grid")?;
            let text = format!("grid: {}", space.describe());
            Ok((space, trials, text))
        }
        (None, Some(n), Some(text)) => {
            let n = space::check_trial_count(n)?;
            let space = Space::parse(text, "--space")?;
            let text = format!("random {n} (seed {seed}): {}", space.describe());
            Ok((space.clone(), space.sample(n, seed), text))
        }
        _ => bail!("give --grid 'option=v1,v2 …', or --random N with --space 'option=lo..hi …'"),
    }
}

/// Refuses fixed options the sweep cannot honour, and searched options also given as flags.
fn check_fixed(args: &SweepArgs, job: &Job, space: &Space) -> Result<()> {
    if args.train.question.is_some() {
        bail!("anytune sweep does not take --question (ask it with `anytune generate --adapter OUT/best`)");
    }
    let o = &job.options;
    if o.eval_every != 0 || o.patience != 0 {
        bail!("invalid --eval-every / --patience: the sweep validates at its rungs (--eta, --rungs); leave them at 0");
    }
    if o.val_split == 0.0 && job.val_file.is_none() {
        bail!("anytune sweep compares trials on validation data: give --val-split F (e.g. 0.2) or --val-file FILE");
    }
    let searched = if args.grid.is_some() { "--grid" } else { "--space" };
    for p in &space.params {
        if args.train.flags.given.iter().any(|(name, _)| name == &p.name) {
            let flag = RunOptions::spec(p.name).map_or(p.name.to_string(), |s| s.flag());
            bail!("{flag} is given as a flag and searched in {searched}: leave out one of them");
        }
    }
    Ok(())
}

/// What every trial shares: the GPU, the model, the data and the fixed options.
struct Shared<'a> {
    gpu: &'a Gpu,
    model: &'a Model,
    dataset: &'a Dataset,
    files: (DataFile<'a>, Option<DataFile<'a>>),
    base_name: String,
}

impl Shared<'_> {
    /// A trial's plan on the shared dataset, from its options as they are (already planned).
    fn plan(&self, options: &RunOptions) -> anytune_core::Result<RunPlan> {
        RunPlan::from_planned(self.gpu, self.model, self.dataset.clone(), self.files, options, vec![], &self.base_name)
    }
}

pub fn run(args: SweepArgs) -> Result<()> {
    let halving = Halving::new(args.eta, args.rungs)?;
    let job = resolve_options(&args.train)?;
    if job.options.head {
        anyhow::bail!("--head in a sweep: a sweep keeps LoRA adapters only; train a classification head with `anytune train --head`");
    }
    let (space, assignments, search_text) = search(&args, job.options.seed)?;
    check_fixed(&args, &job, &space)?;
    let out = job.out.clone();
    let state_path = out.join(STATE);
    if args.train.resume && !state_path.exists() {
        bail!("--resume: no sweep to continue in {} (no {STATE})", out.display());
    }
    let gpu = open_gpu()?;
    let model = load_model(&gpu, &job.model)?;
    let data = job.read_data()?;
    let files = data.files();
    let dataset = prepare_data(&model, files.0, files.1, &job.options.data_config())?;
    eprintln!("{}", dataset.summary);
    if dataset.val.is_empty() {
        bail!("no validation rows to compare trials on: raise --val-split (now {}) or give --val-file", job.options.val_split);
    }
    let shared = Shared { gpu: &gpu, model: &model, dataset: &dataset, files, base_name: job.base_name(&model) };

    // Plan every trial before training any: a value this model refuses (a rank wider than a
    // module) or memory it lacks is refused at once, naming the trial.
    let mut planned = Vec::new();
    for (i, values) in assignments.into_iter().enumerate() {
        let label = || format!("trial {} ({})", i + 1, describe(&values));
        let (options, notes) = trial_options(&job.options, &values, |o| planned_options(&gpu, &model, &dataset, o)).with_context(label)?;
        let plan = shared.plan(&options).with_context(label)?;
        check_fits(&gpu, &plan.memory).with_context(label)?;
        if i == 0 {
            notes.iter().for_each(|note| eprintln!("anytune: {note}"));
        }
        planned.push(PlannedTrial { values, options: plan.identity.options.clone(), total_steps: plan.total_steps });
    }
    let setup = SweepSetup {
        search: search_text,
        halving,
        model: job.model.display().to_string(),
        run: RunIdentity::new(&job.options, &data.train.0, data.val.as_ref().map(|v| v.0.as_slice())),
    };
    let mut state = open_state(&state_path, setup, planned)?;
    let n = state.trials.len();
    eprintln!("anytune: {n} trials, rungs at {:?} of trial 1's steps, the best 1/{} going on at each", state.trials[0].rung_steps, halving.eta);
    if args.train.dry_run {
        print!("{}", report::table(&state).aligned());
        return Ok(());
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    save_state(&state_path, &state)?;
    while let Some(i) = state.next_trial() {
        train_to_next_rung(&shared, &out, &state_path, &mut state, i)?;
    }
    finish(&job, &out, &state)
}

/// `lr=1e-4 rank=8`.
fn describe(values: &[(impl AsRef<str>, String)]) -> String {
    values.iter().map(|(k, v)| format!("{}={v}", k.as_ref())).collect::<Vec<_>>().join(" ")
}

/// The state in `path` when it belongs to this sweep (refused by name when it does not),
/// else a new one.
fn open_state(path: &Path, setup: SweepSetup, planned: Vec<PlannedTrial>) -> Result<SweepState> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SweepState::new(setup, planned)),
        Err(e) => return Err(e).with_context(|| format!("reading {file}")),
    };
    let state = SweepState::from_json(&text, &file)?;
    if let Some(why) = setup.mismatch(&state.setup) {
        bail!("{file} belongs to another sweep: {why}. Rerun with that sweep's settings, or use another --out folder");
    }
    let fresh = SweepState::new(setup, planned);
    let differs = |(a, b): (&anytune_core::sweep::Trial, &anytune_core::sweep::Trial)| (a.values != b.values || a.options != b.options || a.rung_steps != b.rung_steps).then_some(a.id);
    if let Some(id) = fresh.trials.iter().zip(&state.trials).find_map(differs).or((fresh.trials.len() != state.trials.len()).then_some(0)) {
        bail!("{file}: trial {id} was planned differently (another GPU adapter, or another anytune?); use another --out folder");
    }
    let done = state.trials.iter().filter(|t| !t.status.active()).count();
    eprintln!("anytune: continuing the sweep in {file}: {done} of {} trials finished", state.trials.len());
    Ok(state)
}

fn save_state(path: &Path, state: &SweepState) -> Result<()> {
    write_atomically(path, state.to_json().as_bytes())
}

/// Trains trial `i` from its last checkpoint to its next rung and records the loss there (its
/// adapter files too at the last rung), saving the state after each checkpoint and at the end.
fn train_to_next_rung(shared: &Shared, out: &Path, state_path: &Path, state: &mut SweepState, i: usize) -> Result<()> {
    let trial = state.trials[i].clone();
    let (rung, rungs) = (trial.losses.len(), trial.rung_steps.len());
    let until = trial.rung_steps[rung];
    let label = format!("trial {} ({})", trial.id, describe(&trial.values));
    let options = RunOptions::from_value(&trial.options).with_context(|| format!("{}: {label}", state_path.display()))?;
    let plan = shared.plan(&options).with_context(|| label.clone())?;
    let dir = out.join(format!("trials/{:03}", trial.id));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let resume = match &trial.checkpoint {
        Some(c) => Some((std::fs::read(out.join(&c.file)).with_context(|| format!("{label}: reading its checkpoint {}", c.file))?, c.file.clone())),
        None => None,
    };
    let from = trial.checkpoint.as_ref().map_or(0, |c| c.step);
    eprintln!("anytune: {label}: steps {from} → {until} (rung {} of {rungs})", rung + 1);
    state.trials[i].status = Status::Running;
    let save = |step: usize, bytes: Vec<u8>| -> anytune_core::Result<()> {
        let file = format!("trials/{:03}/step-{step}.safetensors", trial.id);
        let saved = (|| {
            write_atomically(&out.join(&file), &bytes)?;
            let old = state.trials[i].checkpoint.replace(anytune_core::sweep::state::SavedCheckpoint { step, file: file.clone() });
            save_state(state_path, state)?;
            if let Some(old) = old.filter(|o| o.file != file) {
                let _ = std::fs::remove_file(out.join(old.file));
            }
            anyhow::Ok(())
        })();
        saved.map_err(|e| anytune_core::Error::invalid("sweep", format!("{e:#}")))
    };
    let resume_ref = resume.as_ref().map(|(bytes, file)| (bytes.as_slice(), file.as_str()));
    let segment = pollster::block_on(train_segment(shared.gpu, shared.model, plan, resume_ref, until, save)).with_context(|| label.clone())?;
    let stopped_before = stopped(state);
    match segment {
        Segment::Measured { loss, run } => {
            eprintln!("anytune: {label}: validation loss {loss:.4} at step {until}");
            if rung + 1 == rungs {
                let weights = pollster::block_on(run.adapter_weights(shared.gpu))?;
                write_adapter(&dir, &weights, &shared.base_name, shared.model, &shared.dataset.summary.labels).with_context(|| format!("{label}: writing its adapter"))?;
            }
            state.record(i, loss);
        }
        Segment::Diverged(why) => {
            eprintln!("anytune: {label} failed: {why}");
            state.fail(i, why);
        }
    }
    for id in stopped(state).into_iter().filter(|id| !stopped_before.contains(id)) {
        eprintln!("anytune: trial {id} stopped at rung {} (among the worst there)", rung + 1);
    }
    save_state(state_path, state)
}

/// The trials stopped by the halving.
fn stopped(state: &SweepState) -> Vec<usize> {
    state.trials.iter().filter(|t| matches!(t.status, Status::Stopped { .. })).map(|t| t.id).collect()
}

/// The table (printed, `trials.csv`), `sweep.svg` and `best/` (adapter files and `run.toml`).
fn finish(job: &Job, out: &Path, state: &SweepState) -> Result<()> {
    let table = report::table(state);
    print!("{}", table.aligned());
    write_atomically(&out.join("trials.csv"), table.csv().as_bytes())?;
    let curves: Vec<(String, crate::plot::Curve)> = state
        .trials
        .iter()
        .map(|t| {
            let points = t.rung_steps.iter().zip(&t.losses).filter_map(|(&s, l)| Some((s as f64, f64::from((*l)?)))).collect();
            (format!("{} {}", t.id, describe(&t.values)), points)
        })
        .collect();
    let svg = crate::plot::curves_svg(&curves, "optimizer step", "validation loss");
    write_atomically(&out.join("sweep.svg"), svg.as_bytes())?;
    let Some(best) = state.best() else {
        bail!("no trial trained its whole schedule (see the table above and {})", out.join("trials.csv").display());
    };
    let trial = &state.trials[best];
    let (from, to) = (out.join(format!("trials/{:03}", trial.id)), out.join("best"));
    std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
    for name in ADAPTER_FILES {
        if *name == "adapter.gguf" && !from.join(name).exists() {
            continue; // a DoRA adapter has no GGUF LoRA
        }
        let bytes = std::fs::read(from.join(name)).with_context(|| format!("reading {}", from.join(name).display()))?;
        write_atomically(&to.join(name), &bytes)?;
    }
    let options = RunOptions::from_value(&trial.options)?;
    write_atomically(&to.join("run.toml"), run_toml(job, &options)?.as_bytes())?;
    eprintln!(
        "anytune: best: trial {} ({}), validation loss {:.4}; wrote {} (adapter files, run.toml), trials.csv, sweep.svg",
        trial.id,
        describe(&trial.values),
        trial.final_loss().unwrap_or(f32::NAN),
        to.display()
    );
    Ok(())
}

/// The best trial's options as a config file for `anytune train --config` (with the model and
/// data as absolute paths; give `--out`).
fn run_toml(job: &Job, options: &RunOptions) -> Result<String> {
    let mut table = toml::Table::try_from(options).context("the best trial's options as TOML")?;
    let absolute = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string();
    table.insert("model".into(), absolute(&job.model).into());
    table.insert("data".into(), absolute(&job.data).into());
    if let Some(val) = &job.val_file {
        table.insert("val_file".into(), absolute(val).into());
    }
    Ok(format!("# The best trial of `anytune sweep`: anytune train --config run.toml --out DIR\n{}", toml::to_string(&table)?))
}
