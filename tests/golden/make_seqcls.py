"""Write tests/golden/tiny-llama-seqcls.safetensors: transformers' sequence-classification
head on the tiny llama (tests/fixtures/tiny-llama/), for core/src/head/golden.rs.

LlamaForSequenceClassification pools the rightmost token that is not pad_token_id; the three
sequences are right-padded with an id none of them uses, so the pooled token is each one's
last real token, as anytune's unpadded rows have it. Tensors: `ids` (3, T) i32 padded, `lens`
(3) i32, `labels` (3) i32, `score` (2, C) the head's weight, `logits` (3, 2), `loss` (1) the mean
cross-entropy, `d_score` (2, C) its gradient. Run: python3 tests/golden/make_seqcls.py
"""
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForSequenceClassification

ROOT = Path(__file__).resolve().parents[2]
torch.manual_seed(0)
model = AutoModelForSequenceClassification.from_pretrained(
    str(ROOT / "tests/fixtures/tiny-llama"), num_labels=2, dtype=torch.float32
).eval()
vocab = model.config.vocab_size
pad = vocab - 1
model.config.pad_token_id = pad
seqs = [[1, 5, 9, 13, 2], [3, 7], [11, 4, 6, 8, 10, 12, 14]]
t = max(map(len, seqs))
ids = torch.tensor([s + [pad] * (t - len(s)) for s in seqs])
labels = torch.tensor([1, 0, 1])
with torch.no_grad():
    model.score.weight.copy_(torch.randn_like(model.score.weight) * 0.5)
for p in model.parameters():
    p.requires_grad_(False)
model.score.weight.requires_grad_(True)
out = model(input_ids=ids, labels=labels)
out.loss.backward()
save_file(
    {
        "ids": ids.to(torch.int32).contiguous(),
        "lens": torch.tensor([len(s) for s in seqs], dtype=torch.int32),
        "labels": labels.to(torch.int32),
        "score": model.score.weight.detach().clone().contiguous(),
        "logits": out.logits.detach().contiguous(),
        "loss": out.loss.detach().reshape(1),
        "d_score": model.score.weight.grad.clone().contiguous(),
    },
    str(ROOT / "tests/golden/tiny-llama-seqcls.safetensors"),
)
print("loss", out.loss.item(), "logits", out.logits.tolist())
