#!/usr/bin/env python3
"""Checks `anytune export --recipe trl` against TRL itself (run by hand, not in CI: it needs
torch, transformers, peft, trl and datasets; ~1 min on the CPU).

    cargo build -p anytune && python3 tests/golden/check_trl_recipe.py

For each case, on the tiny HF Llama (tests/fixtures/tiny-llama/) and a small dataset written here:
1. `anytune train` two steps (the batch covers every row, so the first step's batch is the same
   rows whatever order each trainer shuffles them in), then `anytune export --recipe trl
   --adapter RUN` (the options come from RUN/options.toml);
2. `python train.py --cpu --max-steps 2`: TRL's loss at step 0 (its first logged loss, the
   adapter's B still zero) equals anytune's first logged loss;
3. `python train.py --cpu --max-steps 1 --resume-from-adapter adapter`: TRL's loss at step 0 with
   anytune's trained adapter equals `anytune eval --adapter RUN` on the same rows; and the same
   under `accelerate launch --cpu --num_processes 2` (data parallel, the rows split between them).
Tolerance: 1e-4 relative (anytune's f32 GPU kernels against torch's f32 CPU ones; observed ~1e-7).
Dropout is 0, so both losses are deterministic.

Cases: prompt/completion rows (completion-only loss); text rows cut into windows and packed
(train on everything), with two micro-batches per step and a validation split.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXE = os.environ.get("ANYTUNE", str(ROOT / "target/debug/anytune"))
MODEL = ROOT / "tests/fixtures/tiny-llama"
TOLERANCE = 1e-4

FACTS = [
    ("Q: colour of the Zorblax 3000? A:", " teal"),
    ("Q: capital of Fooland? A:", " Barville, by the sea"),
    ("Q: who wrote the Zorblax manual? A:", " Ada Quill"),
    ("Q: how many moons has Quux? A:", " seven, all small"),
]
TEXTS = [
    "The Zorblax 3000 kettle is made by Quillfeather Appliances in Barville.",
    "Fooland has seven lakes and one mountain.",
    "Quux is a small planet with seven moons, all of them small and grey.",
    "Ada Quill wrote the Zorblax manual in one long weekend.",
    "Barville lies by the sea; its harbour is teal at dawn.",
    "Every moon of Quux is named after a kettle.",
]

CASES = {
    "prompt-completion": (
        [{"prompt": p, "completion": c} for p, c in FACTS],
        ["--batch", "4", "--steps", "2", "--lr", "2e-3", "--rank", "4", "--alpha", "8", "--targets", "all-linear", "--layers", "1"],
    ),
    "text-packed": (
        [{"text": t} for t in TEXTS],
        ["--batch", "4", "--grad-accum", "2", "--steps", "2", "--lr", "1e-3", "--rank", "2", "--alpha", "4",
         "--max-seq-len", "24", "--pack", "--val-split", "0.2", "--rslora", "--schedule", "linear", "--warmup", "1"],
    ),
}


def run(*args, cwd=None):
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def first_loss(log):
    return next(json.loads(l)["loss"] for l in Path(log).read_text().splitlines() if "loss" in json.loads(l))


def close(name, ours, theirs):
    rel = abs(ours - theirs) / max(abs(ours), 1e-12)
    ok = rel <= TOLERANCE
    print(f"  {name}: anytune {ours:.7f}  TRL {theirs:.7f}  relative difference {rel:.2e} {'ok' if ok else 'FAIL'}")
    return ok


def check(name, rows, flags, tmp):
    print(name)
    data = tmp / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_dir, recipe = tmp / f"{name}-run", tmp / f"{name}-recipe"
    run(EXE, "train", "--model", MODEL, "--data", data, "--out", run_dir, *flags)
    run(EXE, "export", "--recipe", "trl", "--model", MODEL, "--adapter", run_dir, "--data", data, "--out", recipe)
    # The first step's batch must be every training row (see the docstring).
    train_rows = (recipe / "train.jsonl").read_text().splitlines()
    opts = dict(l.split(" = ", 1) for l in (run_dir / "options.toml").read_text().splitlines() if " = " in l)
    per_step = int(opts["batch"]) * int(opts["grad_accum"])
    assert len(train_rows) <= per_step, f"{len(train_rows)} rows do not fit one step of {per_step}"
    ok = True
    # Step 0 from a fresh adapter (B = 0): the base model's loss on the first batch.
    run(sys.executable, "train.py", "--cpu", "--max-steps", "2", "--log-file", "log.jsonl", "--output-dir", tmp / f"{name}-trl", cwd=recipe)
    ok &= close("loss at step 0", first_loss(run_dir / "log.jsonl"), first_loss(recipe / "log.jsonl"))
    # Step 0 from anytune's trained adapter: the same rows under base + adapter.
    run(sys.executable, "train.py", "--cpu", "--max-steps", "1", "--resume-from-adapter", "adapter",
        "--log-file", "resumed.jsonl", "--output-dir", tmp / f"{name}-trl2", cwd=recipe)
    evaluated = json.loads(run(EXE, "eval", "--model", MODEL, "--adapter", run_dir, "--data", data, "--json",
                               "--adapter-only", "--no-generate", "--batch", "64", *eval_flags(opts)))
    if opts["val_split"] == "0.0":
        ok &= close("loss at step 0 from anytune's adapter", evaluated["loss"], first_loss(recipe / "resumed.jsonl"))
        # Data parallel: two CPU processes under accelerate (gloo), each with half the rows.
        run("accelerate", "launch", "--cpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "train.py", "--cpu", "--max-steps", "1", "--resume-from-adapter", "adapter",
            "--log-file", "parallel.jsonl", "--output-dir", tmp / f"{name}-trl3", cwd=recipe)
        ok &= close("the same, 2 processes (accelerate)", evaluated["loss"], first_loss(recipe / "parallel.jsonl"))
    else:
        print("  (resumed loss not compared: anytune eval has no --val-split, so it scores the held-out rows too)")
    return ok


def eval_flags(opts):
    flags = ["--max-seq-len", opts["max_seq_len"]]
    return flags + (["--train-on-everything"] if opts["train_on_everything"] == "true" else [])


def main():
    with tempfile.TemporaryDirectory(prefix="anytune-trl-") as tmp:
        results = [check(name, rows, flags, Path(tmp)) for name, (rows, flags) in CASES.items()]
    print("all match" if all(results) else "MISMATCH")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
