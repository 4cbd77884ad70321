"""Write tests/golden/tiny-llama-seqcls.safetensors: transformers' sequence-classification
head on the tiny llama (tests/fixtures/tiny-llama/), for core/src/head/golden.rs.

LlamaForSequenceClassification pools the rightmost token that is not pad_token_id; the three
sequences are right-padded with an id none of them uses, so the pooled token is each one's
last real token, as anytune's unpadded rows have it. Tensors: `ids` (3, T) i32 padded, `lens`
(3) i32, `labels` (3) i32, `score` (2, C) the head's weight, `logits` (3, 2), `loss` (1) the mean
cross-entropy, `d_score` (2, C) its gradient; and the same with a PEFT SEQ_CLS LoRA (r 4, alpha
8, all seven targets, random nonzero A and B) under `lora.`: `lora.{layer}.{module}.A` / `.B`,
their gradients `.A.grad` / `.B.grad`, `lora.logits`, `lora.loss`, `lora.d_score`.
Run: python3 tests/golden/make_seqcls.py
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
out_score = model.score.weight.detach().clone()
d_score_base = model.score.weight.grad.clone()
tensors = {}
from peft import LoraConfig, get_peft_model

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
peft_model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=TARGETS))
torch.manual_seed(1)
for name, p in peft_model.named_parameters():
    if "lora_" in name:
        with torch.no_grad():
            p.copy_(torch.randn_like(p) * 0.1)
score_mod = peft_model.base_model.model.score.modules_to_save["default"]
assert torch.equal(score_mod.weight, out_score), "PEFT's copy of score differs"
peft_model.zero_grad()
lout = peft_model(input_ids=ids, labels=labels)
lout.loss.backward()
for layer, block in enumerate(peft_model.base_model.model.model.layers):
    for mod in TARGETS:
        lin = getattr(block.self_attn, mod, None) or getattr(block.mlp, mod)
        for ab in ("A", "B"):
            w = getattr(lin, f"lora_{ab}")["default"].weight
            tensors[f"lora.{layer}.{mod}.{ab}"] = w.detach().clone().contiguous()
            tensors[f"lora.{layer}.{mod}.{ab}.grad"] = w.grad.clone().contiguous()
tensors["lora.logits"] = lout.logits.detach().contiguous()
tensors["lora.loss"] = lout.loss.detach().reshape(1)
tensors["lora.d_score"] = score_mod.weight.grad.clone().contiguous()
save_file(
    tensors | {
        "ids": ids.to(torch.int32).contiguous(),
        "lens": torch.tensor([len(s) for s in seqs], dtype=torch.int32),
        "labels": labels.to(torch.int32),
        "score": out_score.contiguous(),
        "logits": out.logits.detach().contiguous(),
        "loss": out.loss.detach().reshape(1),
        "d_score": d_score_base.contiguous(),
    },
    str(ROOT / "tests/golden/tiny-llama-seqcls.safetensors"),
)
print("loss", out.loss.item(), "logits", out.logits.tolist(), "lora loss", lout.loss.item())
