//! The pure parts of a sweep: parsing and sampling the space, the halving, the state's
//! decisions (and their survival of a restart at any point), the trial options and the table.

use super::halving::{Halving, survivors};
use super::report::table;
use super::space::{Domain, MAX_TRIALS, Space};
use super::state::{PlannedTrial, Status, SweepSetup, SweepState};
use super::trial_options;
use crate::train::RunOptions;
use crate::train::checkpoint::RunIdentity;

fn refused(text: &str, flag: &str) -> String {
    match Space::parse(text, flag).and_then(|s| s.grid(flag)) {
        Ok(g) => panic!("{text:?} was accepted: {g:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_grid_is_the_cartesian_product_in_the_order_given() {
    let g = Space::parse("lr=1e-4,3e-4,1e-3 rank=8,16", "--grid").unwrap().grid("--grid").unwrap();
    assert_eq!(g.len(), 6);
    let pairs: Vec<(String, String)> = g.iter().map(|t| (t[0].1.clone(), t[1].1.clone())).collect();
    let want = [("1e-4", "8"), ("1e-4", "16"), ("3e-4", "8"), ("3e-4", "16"), ("1e-3", "8"), ("1e-3", "16")];
    assert_eq!(pairs, want.map(|(a, b)| (a.to_string(), b.to_string())));
    // Flag spellings and aliases name the schema's options; targets and layers take `|`.
    let s = Space::parse("--weight-decay=0,0.01 dropout=0,0.1 targets=q_proj,v_proj|all-linear warmup=0 alpha=8,16 epochs=1,2 batch=2", "--grid").unwrap();
    let names: Vec<&str> = s.params.iter().map(|p| p.name).collect();
    assert_eq!(names, ["weight_decay", "lora_dropout", "targets", "warmup", "alpha", "epochs", "batch"]);
    assert_eq!(s.params[2].domain, Domain::Choice(vec!["q_proj,v_proj".into(), "all-linear".into()]));
    assert_eq!(s.grid("--grid").unwrap().len(), 2 * 2 * 2 * 2 * 2);
}

#[test]
fn bad_grids_are_refused_by_name() {
    let cases = [
        ("lrr=1e-4", "\"lrr\" is not an option"),
        ("seed=1,2", "seed cannot vary between trials"),
        ("max_seq_len=64,128", "max_seq_len cannot vary"),
        ("eval_every=2", "eval_every cannot vary"),
        ("lr=", "lr=: an empty value"),
        ("lr=1e-4,,1e-3", "an empty value"),
        ("lr=1e-4 lr=1e-3", "lr is given twice"),
        ("lr=NaN", "lr=NaN: NaN is not a finite number (allowed: a number in (0, 10])"),
        ("rank=0,8", "rank=0: 0 is out of range (allowed: a whole number from 1 to 4096)"),
        ("rank=8.5", "rank=8.5"),
        ("targets=q_proj|bogus", "targets=bogus"),
        ("optimizer=adamw,lion", "optimizer=lion"),
        ("dropout=0..0.1", "a grid takes lists"),
        ("lr", "\"lr\" is not key=values"),
        ("", "no options to search"),
        ("   ", "no options to search"),
    ];
    for (text, want) in cases {
        let err = refused(text, "--grid");
        assert!(err.contains("--grid") && err.contains(want), "{text:?}: {err}");
    }
    let big = "lr=1e-4,2e-4,3e-4,4e-4,5e-4,6e-4,7e-4,8e-4,9e-4,1e-3 rank=1,2,3,4,5,6,7,8,9,10 alpha=1,2,3,4,5,6,7,8,9,10,11";
    assert!(refused(big, "--grid").contains(&format!("more than {MAX_TRIALS}")));
}

#[test]
fn bad_ranges_are_refused_by_name() {
    let cases = [
        ("lr=log:1e-2..1e-4", "lr=log:1e-2..1e-4: the low end must be below the high end"),
        ("lr=1e-3..1e-3", "the low end must be below"),
        ("weight_decay=log:0..0.1", "a log range needs a low end above 0"),
        ("dropout=0..1", "lora_dropout=1: 1 is out of range (allowed: a number in [0, 1))"),
        ("rank=0..16", "rank=0: 0 is out of range"),
        ("targets=a..b", "targets: a range needs a numeric option"),
        ("lr=1e-4..", "lr=: \"\" is not a number"),
        ("lr=log:1e-4", "a range is lo..hi"),
    ];
    for (text, want) in cases {
        let err = Space::parse(text, "--space").unwrap_err().to_string();
        assert!(err.contains("--space") && err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn random_samples_are_deterministic_per_seed_and_within_range() {
    let s = Space::parse("lr=log:1e-4..1e-2 rank=4,8,16 dropout=0..0.1 warmup=0..10 alpha=log:4..64", "--space").unwrap();
    let a = s.sample(50, 3);
    assert_eq!(a, s.sample(50, 3));
    assert_ne!(a, s.sample(50, 4));
    for trial in &a {
        let v = |i: usize| trial[i].1.parse::<f64>().unwrap();
        assert!((1e-4..=1e-2).contains(&v(0)), "{trial:?}");
        assert!(["4", "8", "16"].contains(&trial[1].1.as_str()));
        assert!((0.0..=0.1).contains(&v(2)));
        assert!(trial[3].1.parse::<usize>().is_ok_and(|w| w <= 10), "warmup is a whole number: {trial:?}");
        assert!((4.0..=64.0).contains(&v(4)));
        // Every drawn trial is a valid set of options.
        trial_options(&RunOptions::default(), trial, |o| Ok((o.clone(), vec![]))).unwrap();
    }
    // Log-uniform: about half the draws below the geometric middle (1e-3).
    let below = s.sample(400, 9).iter().filter(|t| t[0].1.parse::<f64>().unwrap() < 1e-3).count();
    assert!((140..260).contains(&below), "{below} of 400 below 1e-3");
    // Every choice is drawn.
    for r in ["4", "8", "16"] {
        assert!(a.iter().any(|t| t[1].1 == r), "rank {r} never drawn");
    }
}

#[test]
fn rung_steps_are_fractions_of_the_schedule() {
    assert_eq!(Halving::new(2, 3).unwrap().rung_steps(16), [4, 8, 16]);
    assert_eq!(Halving::new(3, 3).unwrap().rung_steps(10), [2, 4, 10]);
    assert_eq!(Halving::new(3, 3).unwrap().rung_steps(2), [1, 1, 2]);
    assert_eq!(Halving::new(2, 1).unwrap().rung_steps(7), [7]);
    assert_eq!(Halving::new(10, 10).unwrap().rung_steps(5), [1, 1, 1, 1, 1, 1, 1, 1, 1, 5]);
    for (eta, rungs, want) in [(1, 3, "--eta: 1"), (11, 3, "--eta: 11"), (2, 0, "--rungs: 0"), (2, 11, "--rungs: 11")] {
        let err = Halving::new(eta, rungs).unwrap_err().to_string();
        assert!(err.contains(want) && err.contains("allowed"), "{err}");
    }
}

#[test]
fn halving_keeps_the_best_with_ties_to_the_lower_trial_and_never_a_non_finite_loss() {
    assert_eq!(survivors(&[(1, 0.5), (2, 0.4), (3, 0.9), (4, 0.3)], 2), [2, 4]);
    // ceil(n / eta): 3 of 5 with eta 2, 2 of 4 with eta 3, at least one.
    assert_eq!(survivors(&[(1, 5.0), (2, 4.0), (3, 3.0), (4, 2.0), (5, 1.0)], 2), [3, 4, 5]);
    assert_eq!(survivors(&[(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)], 3), [1, 2]);
    assert_eq!(survivors(&[(7, 1.0)], 3), [7]);
    // Ties at the cut: the lower trial number goes on.
    assert_eq!(survivors(&[(3, 0.5), (1, 0.5), (2, 0.5), (4, 0.5)], 2), [1, 2]);
    // Non-finite losses stop even when there is room.
    assert_eq!(survivors(&[(1, f32::NAN), (2, f32::INFINITY), (3, 0.7), (4, f32::NEG_INFINITY)], 2), [3]);
    assert_eq!(survivors(&[(1, f32::NAN), (2, f32::NAN)], 2), Vec::<usize>::new());
}

fn setup(search: &str) -> SweepSetup {
    SweepSetup {
        search: search.into(),
        halving: Halving::new(2, 3).unwrap(),
        model: "tiny.gguf".into(),
        run: RunIdentity::new(&RunOptions::default(), b"rows", None),
    }
}

fn four_trials() -> SweepState {
    let planned = (0..4)
        .map(|i| PlannedTrial { values: vec![("lr", format!("{i}e-3"))], options: serde_json::json!({}), total_steps: 8 })
        .collect();
    SweepState::new(setup("grid: lr=0e-3|1e-3|2e-3|3e-3"), planned)
}

/// The loss trial `id` measures at rung `k` in these tests (trial 2 diverges at rung 2).
fn fake_loss(id: usize, k: usize) -> f32 {
    [[3.0, 2.0, 1.5], [2.0, f32::NAN, 0.0], [2.5, 1.8, 1.2], [4.0, 3.0, 2.0]][id - 1][k]
}

/// Runs a sweep of fake losses to its end; `restart` serialises and reads back the state
/// before every step (a kill and a rerun at that point).
fn run_fake(mut state: SweepState, restart: bool) -> (SweepState, Vec<usize>) {
    let mut order = Vec::new();
    while let Some(i) = state.next_trial() {
        if restart {
            state = SweepState::from_json(&state.to_json(), "sweep.json").unwrap();
        }
        let t = &state.trials[i];
        order.push(t.id);
        let loss = fake_loss(t.id, t.losses.len());
        state.record(i, loss);
    }
    (state, order)
}

#[test]
fn a_sweep_is_synchronous_stops_the_worst_and_keeps_the_best() {
    let (state, order) = run_fake(four_trials(), false);
    // Rung 1: all four (trial 4 worst, 1 next); rung 2: trials 2 and 3 (2 non-finite); rung 3: 3.
    assert_eq!(order, [1, 2, 3, 4, 2, 3, 3]);
    let status: Vec<&Status> = state.trials.iter().map(|t| &t.status).collect();
    assert_eq!(status[0], &Status::Stopped { rung: 0 });
    assert!(matches!(status[1], Status::Failed { reason } if reason.contains("NaN")), "{status:?}");
    assert_eq!(status[2], &Status::Done);
    assert_eq!(status[3], &Status::Stopped { rung: 0 });
    assert_eq!(state.best(), Some(2));
    assert_eq!(state.trials[2].losses, [Some(2.5), Some(1.8), Some(1.2)]);
    assert_eq!(state.trials[1].losses, [Some(2.0), None]);
    // A restart before every step changes nothing.
    assert_eq!(run_fake(four_trials(), true), (state.clone(), order));

    let t = table(&state);
    assert_eq!(t.header, ["trial", "lr", "rung 1 (step 2)", "rung 2 (step 4)", "rung 3 (step 8)", "val loss", "steps", "status"]);
    assert_eq!(t.rows[0], ["1", "0e-3", "3.0000", "-", "-", "3.0000", "2", "stopped at rung 1"]);
    assert_eq!(t.rows[1][3], "non-finite");
    assert!(t.rows[1][7].starts_with("failed: validation loss NaN"), "{:?}", t.rows[1]);
    assert_eq!(t.rows[2][5..], ["1.2000", "8", "best"]);
    assert!(t.aligned().lines().nth(3).unwrap().starts_with("3      2e-3"), "{}", t.aligned());
}

#[test]
fn a_failed_trial_does_not_hold_up_its_rung() {
    let mut state = four_trials();
    for i in 0..4 {
        assert_eq!(state.next_trial(), Some(i));
        if i == 1 {
            state.fail(i, "diverged at step 2".into());
        } else {
            state.record(i, i as f32);
        }
    }
    // Rung 1 measured 3 trials (the diverged one has no loss there): the best 2 go on.
    let status: Vec<&Status> = state.trials.iter().map(|t| &t.status).collect();
    assert_eq!(status[0], &Status::Running);
    assert_eq!(status[2], &Status::Running);
    assert_eq!(status[3], &Status::Stopped { rung: 0 });
    assert_eq!(state.next_trial(), Some(0));
}

#[test]
fn a_rerun_with_other_settings_names_what_changed() {
    let a = setup("grid: lr=1e-3|2e-3");
    assert_eq!(a.mismatch(&a.clone()), None);
    let mut b = a.clone();
    b.search = "grid: lr=1e-3".into();
    b.halving = Halving::new(3, 3).unwrap();
    b.run = RunIdentity::new(&RunOptions { rank: 4, ..RunOptions::default() }, b"rows", None);
    let why = b.mismatch(&a).unwrap();
    assert!(why.contains("the search was \"grid: lr=1e-3|2e-3\", now \"grid: lr=1e-3\""), "{why}");
    assert!(why.contains("--eta 2 --rungs 3 then, --eta 3 --rungs 3 now"), "{why}");
    assert!(why.contains("option rank: 8 → 4"), "{why}");
    let mut c = a.clone();
    c.run = RunIdentity::new(&RunOptions::default(), b"other rows", None);
    assert!(c.mismatch(&a).unwrap().contains("training data differs"));
    // A damaged or foreign state file is refused by name.
    for text in ["", "{}", "[1, 2]"] {
        let err = SweepState::from_json(text, "out/sweep.json").unwrap_err().to_string();
        assert!(err.starts_with("out/sweep.json: not a sweep state"), "{err}");
    }
    let mut state = four_trials();
    state.trials[1].rung_steps.pop();
    let err = SweepState::from_json(&state.to_json(), "out/sweep.json").unwrap_err().to_string();
    assert!(err.contains("trial 2: 2 rung steps"), "{err}");
}

#[test]
fn a_searched_value_equal_to_a_default_survives_the_short_schedule() {
    // A schedule that, like the software one, replaces lr while it has its default.
    let schedule = |o: &RunOptions| {
        let lr = if o.lr == RunOptions::default().lr { 1e-2 } else { o.lr };
        Ok((RunOptions { lr, steps: Some(16), ..o.clone() }, vec!["short".to_string()]))
    };
    let fixed = RunOptions { rank: 4, ..RunOptions::default() };
    let (o, notes) = trial_options(&fixed, &vec![("lr", "1e-3".to_string()), ("alpha", "8".to_string())], schedule).unwrap();
    assert_eq!((o.lr, o.alpha, o.rank, o.steps, notes), (1e-3, 8.0, 4, Some(16), vec!["short".to_string()]));
    let (o, _) = trial_options(&fixed, &vec![("rank", "2".to_string())], schedule).unwrap();
    assert_eq!((o.lr, o.rank), (1e-2, 2));
}

#[test]
fn csv_quotes_cells_with_commas() {
    let t = super::report::Table { header: vec!["trial".into(), "targets".into()], rows: vec![vec!["1".into(), "q_proj,v_proj".into()], vec!["2".into(), "say \"hi\"".into()]] };
    assert_eq!(t.csv(), "trial,targets\n1,\"q_proj,v_proj\"\n2,\"say \"\"hi\"\"\"\n");
}
