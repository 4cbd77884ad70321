#!/usr/bin/env python3
"""Checks a LoRA adapter trained by anytune on Gemma 3 270M against PEFT (run by hand, not in CI).

    anytune train --model gemma3-270m --data tests/data/zorblax.jsonl --out /tmp/runs/gemma
    python tests/golden/check_gemma3_peft.py /tmp/runs/gemma [GGUF]

transformers loads the Q4_K_M GGUF (dequantized to float32), PEFT loads the adapter folder
(`PeftModel.from_pretrained`, no missing or unexpected LoRA keys), and the per-token log-probs of a
few texts are compared with `anytune score --adapter` (and, as a control, without the adapter: the
adapter must change them). Prints the largest differences; exits 1 above the bound 2e-3.
"""

import json
import subprocess
import sys
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
BOUND = 2e-3
TEXTS = [
    "Question: What is the handle of the Zorblax 3000 made of?\nAnswer: The handle is made of a cork-birch composite.",
    "Die Hauptstadt von Frankreich ist Paris, und der Eiffelturm steht dort.",
    "def add(a, b):\n    return a + b  # 🙂",
]


def anytune_score(gguf: Path, text: str, adapter: Path | None) -> dict:
    cmd = [str(ROOT / "target/release/anytune"), "score", "--model", str(gguf), "--text", text]
    if adapter:
        cmd += ["--adapter", str(adapter)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    torch.set_flush_denormal(True)
    adapter = Path(sys.argv[1])
    gguf = Path(sys.argv[2]) if len(sys.argv) > 2 else Path.home() / ".cache/anytune/models/gemma-3-270m-q4_k_m.gguf"
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    base = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    model = PeftModel.from_pretrained(base, adapter).eval()
    worst, moved = 0.0, 0.0
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([ids])).logits[0], -1)
        want = [lp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
        got = anytune_score(gguf, text, adapter)
        base_lp = anytune_score(gguf, text, None)["logprobs"]
        assert got["ids"] == ids, f"ids differ: {got['ids']} vs {ids}"
        diff = max(abs(a - b) for a, b in zip(got["logprobs"], want))
        change = max(abs(a - b) for a, b in zip(got["logprobs"], base_lp))
        print(f"{len(ids):3} tokens: max |anytune - PEFT| = {diff:.2e}; adapter moves log-probs by up to {change:.3f}")
        worst, moved = max(worst, diff), max(moved, change)
    print(f"largest difference {worst:.2e} (bound {BOUND}); largest change from the adapter {moved:.3f}")
    sys.exit(0 if worst <= BOUND and moved > 10 * BOUND else 1)


if __name__ == "__main__":
    main()
