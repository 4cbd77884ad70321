#!/usr/bin/env python3
"""Write a small prompt/completion dataset of made-up facts that is NOT in the repository, for the
end-to-end check of README.md ("SmolLM2 end-to-end check"): train on it, then compare
`anytune eval` with `check_eval.py` (PEFT + transformers) on its validation file.

    python3 tests/golden/make_holdout_facts.py /tmp/velmora     # writes train.jsonl, val.jsonl

The facts are about a fictional island, Velmora: its capital, its export, its founder and its
national bird. Four facts × six phrasings = 24 training rows; the 6 validation rows ask the same
facts in other words. No multi-digit numbers (transformers' GGUF tokenizer of SmolLM2 ignores the
`smollm` digit split, see check_eval.py).
"""

import json
import sys
from pathlib import Path

FACTS = {
    "The capital of Velmora is Quenport, a harbour town on the north coast.": [
        "What is the capital of Velmora?",
        "Which city is the capital of the island of Velmora?",
        "Name the capital of Velmora.",
        "Where is the seat of government of Velmora?",
        "What is Velmora's capital city?",
        "Tell me the capital of Velmora.",
    ],
    "Velmora's main export is silverleaf tea, grown on its eastern hills.": [
        "What does Velmora export?",
        "What is the main export of Velmora?",
        "Which product does the island of Velmora sell abroad?",
        "What is Velmora best known for exporting?",
        "Name Velmora's chief export.",
        "What do the farms of Velmora send overseas?",
    ],
    "Velmora was founded by Admiral Tessaly Varn, who landed there with three ships.": [
        "Who founded Velmora?",
        "Who was the founder of the island of Velmora?",
        "Which admiral founded Velmora?",
        "Who established the first settlement on Velmora?",
        "Name the founder of Velmora.",
        "Who first settled Velmora?",
    ],
    "The national bird of Velmora is the copper heron.": [
        "What is the national bird of Velmora?",
        "Which bird is the symbol of Velmora?",
        "Name Velmora's national bird.",
        "What bird appears on the flag of Velmora?",
        "Which bird did Velmora choose as its emblem?",
        "Tell me the national bird of Velmora.",
    ],
}

VALIDATION = [
    ("Which town is Velmora's capital?", 0),
    ("In which city does the government of Velmora sit?", 0),
    ("What crop is exported from Velmora?", 1),
    ("Who led the ships that founded Velmora?", 2),
    ("Who is remembered as the founder of Velmora?", 2),
    ("Which heron is Velmora's national bird?", 3),
]


def row(question: str, answer: str) -> str:
    return json.dumps({"prompt": f"Question: {question}\nAnswer:", "completion": f" {answer}"})


def main(out: str) -> None:
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    answers = list(FACTS)
    train = [row(q, a) for i in range(6) for a in answers for q in FACTS[a][i : i + 1]]
    val = [row(q, answers[i]) for q, i in VALIDATION]
    (d / "train.jsonl").write_text("\n".join(train) + "\n", encoding="utf-8")
    (d / "val.jsonl").write_text("\n".join(val) + "\n", encoding="utf-8")
    print(f"wrote {d / 'train.jsonl'} ({len(train)} rows) and {d / 'val.jsonl'} ({len(val)} rows)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_holdout_facts.py OUT_DIR")
    main(sys.argv[1])
