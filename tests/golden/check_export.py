#!/usr/bin/env python3
"""Checks `anytune export` against the real tools (run by hand, not in CI).

    anytune export --model M --adapter A --out /tmp/x-hf --format hf
    anytune export --model M --adapter A --out /tmp/x-gguf --type q8_0
    python tests/golden/check_export.py --model M --adapter A --hf /tmp/x-hf --gguf /tmp/x-gguf/model.gguf

1. transformers: `AutoModelForCausalLM.from_pretrained(HF)` and `AutoTokenizer` load the folder;
   the tokenizer gives the ids `anytune score` gives for the text, and the log-probability of
   each next token under the folder's model matches `anytune score --model M --adapter A`
   (base + adapter, unmerged) within 1e-3.
2. gguf-py: `GGUFReader` reads the GGUF; its architecture, vocabulary size, chat template and
   tensor count agree with the folder; each tensor that gguf-py can dequantize is within the
   type's step of the folder's f32 tensor (q/k rows permuted back to llama.cpp's order for llama).
"""

import argparse
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Question: Who makes the Zorblax 3000 kettle?\nAnswer: The Zorblax 3000 kettle is made by Quillfeather Appliances."
HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}


def anytune_score(model, adapter, text):
    exe = os.environ.get("ANYTUNE", str(ROOT / "target/release/anytune"))
    out = subprocess.run([exe, "score", "--model", model, "--adapter", adapter, "--text", text],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def check_hf(hf, score):
    tok = AutoTokenizer.from_pretrained(hf)
    ids = tok(TEXT)["input_ids"]
    assert ids == score["ids"], f"tokenizer ids differ:\n{ids}\n{score['ids']}"
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    lp = torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()
    diff = np.abs(lp - np.array(score["logprobs"])).max()
    print(f"transformers vs anytune score --adapter: {len(ids)} tokens, max |Δ log p| = {diff:.2e}")
    assert diff < 1e-3, diff


def gguf_name(hf_name, n_layers):
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    parts = hf_name.split(".")
    layer, module = parts[2], ".".join(parts[3:-1])
    return f"blk.{layer}.{HF_TO_GGUF[module]}.{parts[-1]}"


def llama_permute(w, n_head):
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def check_gguf(gguf_path, hf):
    r = GGUFReader(gguf_path)
    field = lambda k: r.fields[k].contents()
    cfg = json.loads((Path(hf) / "config.json").read_text())
    arch = field("general.architecture")
    assert arch == cfg["model_type"].replace("_text", ""), arch
    assert len(field("tokenizer.ggml.tokens")) <= cfg["vocab_size"]
    has_template = "tokenizer.chat_template" in r.fields
    tensors = load_file(str(Path(hf) / "model.safetensors"))
    assert len(r.tensors) == len(tensors), (len(r.tensors), len(tensors))
    by_name = {t.name: t for t in r.tensors}
    worst = {}
    for name, w in tensors.items():
        t = by_name[gguf_name(name, cfg["num_hidden_layers"])]
        g = dequantize(t.data, t.tensor_type).reshape(w.shape).astype(np.float32)
        if arch == "llama" and ".q_proj." in name:
            w = llama_permute(w, cfg["num_attention_heads"])
        if arch == "llama" and ".k_proj." in name:
            w = llama_permute(w, cfg["num_key_value_heads"])
        rel = np.abs(g - w).max() / max(np.abs(w).max(), 1e-12)
        key = t.tensor_type.name
        worst[key] = max(worst.get(key, 0.0), rel)
    print(f"gguf-py reads {gguf_path}: {arch}, {len(r.tensors)} tensors, chat template {'yes' if has_template else 'no'}; "
          + ", ".join(f"{k}: max error / max |w| = {v:.2e}" for k, v in sorted(worst.items())))
    bound = {"F32": 1e-7, "F16": 1e-3, "BF16": 8e-3, "Q8_0": 1e-2, "Q4_0": 0.15}
    for k, v in worst.items():
        assert v <= bound.get(k, 0.2), (k, v)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--adapter", required=True)
    p.add_argument("--hf", required=True)
    p.add_argument("--gguf")
    a = p.parse_args()
    check_hf(a.hf, anytune_score(a.model, a.adapter, TEXT))
    if a.gguf:
        check_gguf(a.gguf, a.hf)
    print("ok")


if __name__ == "__main__":
    main()
