#!/usr/bin/env python3
"""Compare `anytune tokenize` and `anytune score` with Hugging Face transformers on texts of your
choice (texts that are not in the repository), for the default model.

    cargo build --release -p anytune
    python3 tests/golden/check_cli.py "Any text you like" "Another one, with digits 2024 and émojis 🎉"

Needs torch, transformers and gguf (as make_golden.py). Prints, per text, whether the ids are
identical and the largest log-prob difference; exits 1 if ids differ or a log-prob differs by
more than 1e-3 (the tolerance the tests use, see tests/golden/README.md).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from make_golden import load_smollm2, logprob_entry  # noqa: E402

ANYTUNE = Path(__file__).resolve().parents[2] / "target" / "release" / "anytune"


def anytune(*args: str) -> dict:
    out = subprocess.run([str(ANYTUNE), *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main(texts: list[str]) -> int:
    torch.set_num_threads(1)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        tok, model, _ = load_smollm2(Path(tmp), with_model=True)
        for text in texts:
            want = logprob_entry(tok, model, text)
            ids = anytune("tokenize", "--text", text)["ids"]
            same_ids = ids == want["ids"]
            got = anytune("score", "--text", text)
            diff = max((abs(a - b) for a, b in zip(got["logprobs"], want["logprobs"])), default=0.0)
            ok = same_ids and diff <= 1e-3
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} ids {'equal' if same_ids else 'DIFFER'} ({len(ids)} tokens), "
                  f"max |logprob diff| {diff:.2e}  {text[:50]!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["The quick brown fox jumps over 13 lazy dogs."]))
