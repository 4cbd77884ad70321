#!/usr/bin/env python3
"""Check a `anytune train --head` run against transformers + PEFT (not CI).

    anytune train --model tests/fixtures/tiny-llama --task classify --head \\
        --data tests/data/sentiment_train.jsonl --steps 30 --batch 8 --lr 5e-3 --out run/
    anytune eval --model tests/fixtures/tiny-llama --adapter run/ --adapter-only --json \\
        --data tests/data/sentiment_test.jsonl > anytune.json
    python3 tests/golden/check_seqcls.py tests/fixtures/tiny-llama run/ tests/data/sentiment_test.jsonl anytune.json

Loads AutoModelForSequenceClassification(num_labels, id2label, label2id, pad_token_id = EOS,
as anytune pads) + PeftModel.from_pretrained(run/), feeds each row's label-as-text prompt
("{text}\\nLabel:", the model has no chat template) alone, and takes the argmax of the head's
logits. Prints the accuracy and the confusion matrix of both and fails unless they match;
with `--rows`, also prints each row's prediction. Needs torch, transformers, peft.
"""

import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main(base: str, run: str, data: str, anytune_json: str) -> None:
    torch.set_num_threads(1)
    labels = json.load(open(f"{run}/labels.json"))["labels"]
    tok = AutoTokenizer.from_pretrained(base)
    if tok.chat_template:
        sys.exit("this check builds the plain prompt; the base has a chat template (anytune uses it)")
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={l: i for i, l in enumerate(labels)},
        pad_token_id=tok.eos_token_id,
        dtype=torch.float32,
    )
    model = PeftModel.from_pretrained(model, run).eval()
    index = {l: i for i, l in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for line in open(data, encoding="utf-8"):
        if not line.strip():
            continue
        row = json.loads(line)
        ids = tok(row["text"] + "\nLabel:")["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0]
        pred = int(torch.argmax(logits))
        confusion[index[str(row["label"])]][pred] += 1
        if "--rows" in sys.argv:
            print(labels[pred], row["label"])
    got = json.load(open(anytune_json))["classification"]
    total = sum(map(sum, confusion))
    acc = sum(confusion[i][i] for i in range(len(labels))) / total
    print(f"PEFT accuracy {acc:.4f} confusion {confusion}")
    print(f"anytune accuracy {got['accuracy']:.4f} confusion {got['confusion']}")
    assert got["confusion"] == confusion, "the predictions differ"
    print("OK: the same confusion matrix")


if __name__ == "__main__":
    main(*[a for a in sys.argv[1:] if a != "--rows"])
