#!/usr/bin/env python3
"""PEFT loads the DoRA / rsLoRA adapters `anytune train` writes and scores text as `anytune score`
does (run by hand, not in CI; needs torch, transformers and peft as make_golden.py).

    cargo build -p anytune        # or --release; ANYTUNE=path/to/anytune picks the binary
    python3 tests/golden/check_dora.py

For each of --dora, --dora --rslora and --rslora on tests/fixtures/tiny-llama, --dora with
--lora-dropout 0.1 on tiny-qwen2 (q/k/v biases) and --dora --rslora on tiny-gemma3 it trains 5
steps (all seven linears, lr 0.01, so the magnitudes move away from their init), then checks:
1. `adapter_config.json` has use_dora / use_rslora as asked, `adapter_model.safetensors` holds
   `…lora_magnitude_vector` (out) exactly for DoRA, and `PeftModel.from_pretrained` loads every
   tensor of the file unchanged (lora_A, lora_B, lora_magnitude_vector) with none missing;
2. PEFT's log-probabilities of a text equal `anytune score --adapter`'s within 1e-4, and differ
   from the base model's;
3. `anytune export --format hf` merges it (DoRA: m ⊙ (W + s·B·A) / ‖W + s·B·A‖ per row) into a
   folder whose transformers log-probabilities equal PEFT's within 1e-4.
Exits 1 on the first failure.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from peft import PeftModel
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "tests/fixtures/tiny-llama"
DATA = ROOT / "tests/data/zorblax.jsonl"
TEXT = "Who makes the Zorblax 3000 kettle? Zorblax Industries, since 1987."


def anytune_binary() -> str:
    if "ANYTUNE" in os.environ:
        return os.environ["ANYTUNE"]
    for profile in ["release", "debug"]:
        path = ROOT / "target" / profile / "anytune"
        if path.exists():
            return str(path)
    sys.exit("no anytune binary: cargo build -p anytune (or set ANYTUNE)")


def run(*args: str) -> str:
    return subprocess.run([anytune_binary(), *args], check=True, capture_output=True, text=True).stdout


def peft_logprobs(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    return np.array([logp[t, ids[t + 1]].item() for t in range(len(ids) - 1)])


def check(name: str, base: Path, flags: list[str], out: Path) -> None:
    run("train", "--model", str(base), "--data", str(DATA), "--out", str(out), "--steps", "5", "--lr", "0.01",
        "--targets", "all-linear", *flags)
    cfg = json.loads((out / "adapter_config.json").read_text())
    dora, rslora = "--dora" in flags, "--rslora" in flags
    assert cfg["use_dora"] == dora and cfg["use_rslora"] == rslora, (cfg["use_dora"], cfg["use_rslora"])
    assert (out / "adapter.gguf").exists() != dora, "a GGUF LoRA exactly when not DoRA"
    tensors = load_file(str(out / "adapter_model.safetensors"))
    mags = [k for k in tensors if k.endswith(".lora_magnitude_vector")]
    n_layers = json.loads((base / "config.json").read_text())["num_hidden_layers"]
    assert len(mags) == (7 * n_layers if dora else 0), f"{len(mags)} magnitude tensors"
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), out).eval()
    # In memory: ….lora_A.default.weight, ….lora_magnitude_vector.default.weight; in the file
    # (as PEFT's save_pretrained writes it): ….lora_A.weight, ….lora_magnitude_vector.
    loaded = {k.replace(".default", "").replace("lora_magnitude_vector.weight", "lora_magnitude_vector"): v.detach().numpy()
              for k, v in model.state_dict().items() if "lora_" in k}
    assert set(loaded) == set(tensors), f"keys differ: {sorted(set(loaded) ^ set(tensors))[:4]}"
    for k, v in tensors.items():
        assert np.array_equal(loaded[k], v), k
    got = json.loads(run("score", "--model", str(base), "--adapter", str(out), "--text", TEXT))
    ids, ours = got["ids"], np.array(got["logprobs"])
    want = peft_logprobs(model, ids)
    plain = peft_logprobs(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval(), ids)
    diff, effect = np.abs(ours - want).max(), np.abs(want - plain).max()
    print(f"{name}: {len(tensors)} tensors loaded by PEFT unchanged; max |anytune - PEFT| logprob {diff:.2e}, "
          f"max |adapter - base| {effect:.3f} ({len(ids)} tokens)")
    assert diff <= 1e-4, f"{name}: logprobs differ by {diff}"
    assert effect > 1e-3, f"{name}: the adapter changes nothing"
    merged = out.parent / f"{out.name}-merged"
    run("export", "--model", str(base), "--adapter", str(out), "--out", str(merged), "--format", "hf")
    exported = peft_logprobs(AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval(), ids)
    merge_diff = np.abs(exported - want).max()
    print(f"{name}: merged export vs PEFT: max |logprob diff| {merge_diff:.2e}")
    assert merge_diff <= 1e-4, f"{name}: the merged export differs by {merge_diff}"


def main() -> int:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        fixtures = ROOT / "tests/fixtures"
        for name, base, flags in [
            ("dora", BASE, ["--dora"]),
            ("dora+rslora", BASE, ["--dora", "--rslora"]),
            ("rslora", BASE, ["--rslora"]),
            ("qwen2 dora+dropout", fixtures / "tiny-qwen2", ["--dora", "--lora-dropout", "0.1"]),
            ("gemma3 dora+rslora", fixtures / "tiny-gemma3", ["--dora", "--rslora"]),
        ]:
            check(name, base, flags, Path(tmp) / name.replace("+", "_").replace(" ", "_"))
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
