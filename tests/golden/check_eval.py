#!/usr/bin/env python3
"""Compare `anytune eval` with PEFT + transformers on a prompt/completion JSONL of your choice.

    anytune train --model M.gguf --data train.jsonl --out run/
    anytune eval  --model M.gguf --adapter run/ --data val.jsonl --json --no-generate       # prints a table; --json: {"loss": …}
    python3 tests/golden/check_eval.py M.gguf run/ val.jsonl             # the same with PEFT

Pass `-` as the adapter for the base model alone. The loss is the mean negative log-likelihood
of the completion tokens plus the EOS appended after them (the prompt is not scored), exactly the
mask anytune's data pipeline builds for prompt/completion rows. Needs torch, transformers, peft,
gguf. (For SmolLM2, transformers' GGUF tokenizer ignores the `smollm` digit split — see
make_golden.py — so texts with multi-digit numbers may tokenize differently.)
"""

import json
import sys
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer


def main(gguf_path: str, adapter: str, data: str) -> None:
    torch.set_num_threads(1)
    gguf = Path(gguf_path).resolve()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32).eval()
    if adapter != "-":
        model = PeftModel.from_pretrained(model, adapter).eval()
    total, n = 0.0, 0
    for line in open(data, encoding="utf-8"):
        if not line.strip():
            continue
        row = json.loads(line)
        prompt = tok(row["prompt"], add_special_tokens=False)["input_ids"]
        ids = tok(row["prompt"] + row["completion"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        for t in range(len(prompt) - 1, len(ids) - 1):
            total -= logp[t, ids[t + 1]].item()
            n += 1
    print(json.dumps({"loss": total / n, "perplexity": float(torch.tensor(total / n).exp()), "targets": n}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
