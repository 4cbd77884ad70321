#!/usr/bin/env python3
"""Cross-checks anytune's LoRA adapter files against PEFT and gguf-py (run by hand, not in CI).

    ANYTUNE_WRITE_ADAPTERS=/tmp/adapt cargo test -p anytune-core lora::tests::peft::write_tiny_llama
    python tests/golden/check_adapters.py /tmp/adapt

For each adapter directory written by that test (`all/`, `rs/`), for tests/fixtures/tiny-llama:
1. PEFT: `PeftModel.from_pretrained` loads it with no missing/unexpected LoRA keys, every loaded
   lora_A/lora_B equals the file, and its logits equal those of the base model with the weights
   merged by hand in numpy (W + s·B·A, s = alpha/r or alpha/sqrt(r) with rsLoRA), and differ
   from the base model's.
2. GGUF (`adapter.gguf`, gguf-py): the four llama.cpp metadata keys and their types, F32
   tensors `blk.{i}.<base>.weight.lora_a` (r, in) / `.lora_b` (out, r), A equal to PEFT's A,
   B equal to PEFT's B with llama.cpp's q/k row permutation (convert_hf_to_gguf's
   `LlamaModel.permute`), and alpha/r equal to PEFT's scale.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType
from peft import PeftModel
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "tests/fixtures/tiny-llama"
GGUF_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def llama_permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute (q/k rows interleaved per head)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def base_model():
    return AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32).eval()


def check_peft(d, cfg, tensors, ids):
    s = cfg["lora_alpha"] / (math.sqrt(cfg["r"]) if cfg["use_rslora"] else cfg["r"])
    model = PeftModel.from_pretrained(base_model(), d).eval()
    loaded = {k: v.detach().numpy() for k, v in model.state_dict().items() if "lora_" in k}
    # PEFT's in-memory keys carry the adapter name: ...q_proj.lora_A.default.weight
    file_keys = {k.replace(".lora_A.default.", ".lora_A.").replace(".lora_B.default.", ".lora_B."): v
                 for k, v in loaded.items()}
    assert set(file_keys) == set(tensors), f"keys differ: {set(file_keys) ^ set(tensors)}"
    for k, v in tensors.items():
        assert np.array_equal(file_keys[k], v), k
    with torch.no_grad():
        peft_logits = model(ids).logits.numpy()
    base = base_model()
    base_sd = {k: v.numpy().copy() for k, v in base.state_dict().items()}
    with torch.no_grad():
        base_logits = base(ids).logits.numpy()
    merged = dict(base_sd)
    for k, a in tensors.items():
        if ".lora_A." not in k:
            continue
        b = tensors[k.replace(".lora_A.", ".lora_B.")]
        w = k.replace("base_model.model.", "").replace(".lora_A.weight", ".weight")
        merged[w] = base_sd[w] + s * (b.astype(np.float64) @ a.astype(np.float64)).astype(np.float32)
    base.load_state_dict({k: torch.from_numpy(v) for k, v in merged.items()})
    with torch.no_grad():
        merged_logits = base(ids).logits.numpy()
    diff = np.abs(peft_logits - merged_logits).max()
    effect = np.abs(peft_logits - base_logits).max()
    print(f"  PEFT: {len(tensors)} tensors loaded and equal; scale {s:.4f}; "
          f"max |PEFT - numpy merge| = {diff:.2e}; max |PEFT - base| = {effect:.3f}")
    assert diff < 1e-4 and effect > 1e-2
    return s


def check_gguf(path, cfg, tensors, s, hf):
    r = GGUFReader(path)
    f = {k: r.fields[k] for k in ("general.architecture", "general.type", "adapter.type", "adapter.lora.alpha")}
    text = {k: f[k].contents() for k in f}
    types = {k: f[k].types for k in f}
    assert text["general.architecture"] == "llama" and text["general.type"] == "adapter" and text["adapter.type"] == "lora", text
    assert types["adapter.lora.alpha"] == [GGUFValueType.FLOAT32], types
    alpha = float(text["adapter.lora.alpha"])
    got = {t.name: t for t in r.tensors}
    want = set()
    for k, v in tensors.items():
        layer = k.split(".")[4]
        mod = ".".join(k.split(".")[5:7])
        ab = "a" if ".lora_A." in k else "b"
        name = f"blk.{layer}.{GGUF_NAMES[mod]}.weight.lora_{ab}"
        want.add(name)
        t = got[name]
        assert t.tensor_type == GGMLQuantizationType.F32, (name, t.tensor_type)
        data = np.asarray(t.data).reshape(tuple(int(x) for x in reversed(t.shape)))
        assert data.shape == v.shape, (name, data.shape, v.shape)
        if ab == "b" and mod == "self_attn.q_proj":
            v = llama_permute(v, hf["num_attention_heads"])
        elif ab == "b" and mod == "self_attn.k_proj":
            v = llama_permute(v, hf["num_key_value_heads"])
        assert np.array_equal(data, v), name
    assert set(got) == want, set(got) ^ want
    r_file = int(next(t for n, t in got.items() if n.endswith(".lora_a")).shape[1])  # ne = [in, r]
    assert abs(alpha / r_file - s) < 1e-5, (alpha, r_file, s)
    # The base GGUF fixture holds q/k in the same permuted order, so W_gguf + s*B_gguf*A is the
    # permuted W_hf + s*B_hf*A: llama.cpp applies the same update PEFT does.
    base_gguf = {t.name: t for t in GGUFReader(ROOT / "tests/fixtures/tiny-llama-F32.gguf").tensors}
    base_hf = load_file(BASE / "model.safetensors")
    for k, a in tensors.items():
        if ".lora_A." not in k or not any(m in k for m in ("q_proj", "k_proj")):
            continue
        heads = hf["num_attention_heads"] if "q_proj" in k else hf["num_key_value_heads"]
        layer, mod = k.split(".")[4], ".".join(k.split(".")[5:7])
        w_hf = base_hf[k.replace("base_model.model.", "").replace(".lora_A.weight", ".weight")]
        name = f"blk.{layer}.{GGUF_NAMES[mod]}.weight"
        w_gguf = np.asarray(base_gguf[name].data).reshape(w_hf.shape)
        assert np.array_equal(w_gguf, llama_permute(w_hf, heads)), f"{name}: fixture not permuted as expected"
        b_hf = tensors[k.replace(".lora_A.", ".lora_B.")]
        b_gguf = np.asarray(got[name + ".lora_b"].data).reshape(b_hf.shape)
        merged_gguf = w_gguf + (alpha / r_file) * (b_gguf @ a)
        merged_hf = w_hf + s * (b_hf @ a)
        assert np.abs(merged_gguf - llama_permute(merged_hf, heads)).max() < 1e-5, name
    print(f"  GGUF: {text}, alpha type {types['adapter.lora.alpha'][0].name}; "
          f"{len(got)} F32 tensors, names/shapes/values (q/k B permuted) as convert_lora_to_gguf; alpha/r = {alpha / r_file:.4f}")


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/adapt")
    hf = json.loads((BASE / "config.json").read_text())
    ids = torch.tensor([[1, 5, 17, 42, 99, 200, 7, 311, 64, 3]])
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        cfg = json.loads((d / "adapter_config.json").read_text())
        tensors = load_file(d / "adapter_model.safetensors")
        print(f"{d.name}: r {cfg['r']} alpha {cfg['lora_alpha']} rslora {cfg['use_rslora']} "
              f"targets {cfg['target_modules']} layers {cfg['layers_to_transform']}")
        s = check_peft(d, cfg, tensors, ids)
        check_gguf(d / "adapter.gguf", cfg, tensors, s, hf)
    print("OK")


if __name__ == "__main__":
    main()
