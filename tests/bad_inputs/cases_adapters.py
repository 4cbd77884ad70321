"""Bad LoRA adapters for the tiny Llama model, applied with `score --adapter`: a PEFT folder
(adapter_config.json + adapter_model.safetensors) or a GGUF LoRA, each a mutation of a valid
r = 4 adapter on q_proj and v_proj of both layers, built here from the model's dimensions."""

import json
import math
import os
import struct

import safetensors as st
from corpus import TINY_GGUF, TINY_HF, read
from gguf import F32, STRING, Gguf, Tensor

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
R = 4
PEFT = ["score", "--model", TINY_GGUF, "--adapter", "{dir}/adapter", "--text", "hi there"]
GGUF = ["score", "--model", TINY_GGUF, "--adapter", "{dir}/adapter.gguf", "--text", "hi there"]
Q_B = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"


def _dims():
    c = json.loads(read(os.path.join(TINY_HF, "config.json")))
    d, hd = c["hidden_size"], c["head_dim"]
    return c["num_hidden_layers"], d, {"q_proj": c["num_attention_heads"] * hd, "v_proj": c["num_key_value_heads"] * hd}


def _values(n, seed):
    return [0.01 * math.sin(seed + 0.37 * i) for i in range(n)]


def modules():
    """`[(layer, module, A values (r, in), B values (out, r), in, out)]` of the valid adapter."""
    layers, d, outs = _dims()
    return [(i, m, _values(R * d, i), _values(out * R, i + 7), d, out) for i in range(layers) for m, out in outs.items()]


def peft_config(**changes):
    c = {
        "base_model_name_or_path": "tiny-llama", "bias": "none", "fan_in_fan_out": False,
        "inference_mode": True, "layers_to_transform": None, "lora_alpha": 8, "lora_dropout": 0.0,
        "peft_type": "LORA", "r": R, "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM",
        "use_dora": False, "use_rslora": False,
    }
    c.update(changes)
    return json.dumps(c, indent=2)


def peft_tensors():
    out = []
    for layer, m, a, b, n_in, n_out in modules():
        stem = f"base_model.model.model.layers.{layer}.self_attn.{m}"
        out.append([f"{stem}.lora_A.weight", "F32", [R, n_in], st.f32(a)])
        out.append([f"{stem}.lora_B.weight", "F32", [n_out, R], st.f32(b)])
    return out


def peft(config=None, tensors=None):
    return {
        f"adapter/{CONFIG}": config if config is not None else peft_config(),
        f"adapter/{WEIGHTS}": st.write(tensors if tensors is not None else peft_tensors(), {"format": "pt"}),
    }


def gguf_lora(arch="llama", alpha=8.0):
    kv = [("general.architecture", STRING, arch), ("general.type", STRING, "adapter"),
          ("adapter.type", STRING, "lora"), ("adapter.lora.alpha", F32, alpha)]
    tensors = []
    short = {"q_proj": "attn_q", "v_proj": "attn_v"}
    for layer, m, a, b, n_in, n_out in modules():
        base = f"blk.{layer}.{short[m]}.weight"
        tensors.append(Tensor(f"{base}.lora_a", [n_in, R], 0, st.f32(a)))
        tensors.append(Tensor(f"{base}.lora_b", [R, n_out], 0, st.f32(b)))
    return Gguf(3, kv, tensors)


def add_peft(c):
    info = ["info", "--model", TINY_GGUF, "--adapter", "{dir}/adapter"]
    c.add("adapter_peft_control", info, ok=True, files=peft())
    for name, changes, field in [
        ("lora_alpha_1e38", {"lora_alpha": 1e38}, "lora_alpha"),
        ("lora_alpha_negative", {"lora_alpha": -8}, "lora_alpha"),
        ("r_0", {"r": 0}, "r = 0|r 0|\"r\"|r is 0|r: 0"),
        ("r_negative", {"r": -4}, "r = -4|r -4|\"r\"|r is -4|r: -4"),
        ("r_mismatch", {"r": 8}, "lora_A|lora_B|r = 8|r is 8"),
        ("lora_dropout_5", {"lora_dropout": 5}, "lora_dropout"),
        ("target_unknown", {"target_modules": ["q_proj", "v_proj", "foo_proj"]}, "foo_proj"),
        ("peft_type_ia3", {"peft_type": "IA3"}, "peft_type"),
        ("use_dora", {"use_dora": True}, "use_dora|DoRA"),
    ]:
        where = f"{CONFIG}|{WEIGHTS}" if name == "r_mismatch" else CONFIG
        c.add(f"adapter_peft_{name}", PEFT, [where, field], peft(config=peft_config(**changes)))
    c.add("adapter_peft_config_not_json", PEFT, [CONFIG], peft(config="{\"r\": 4,"))
    files = peft()
    del files[f"adapter/{CONFIG}"]
    c.add("adapter_peft_config_missing", PEFT, [CONFIG], files)

    def tensors_with(fn):
        t = peft_tensors()
        fn(t)
        return peft(tensors=t)

    def nan_b(t):
        t[1][3] = struct.pack("<f", math.nan) + t[1][3][4:]

    def wrong_in(t):
        t[0][2], t[0][3] = [R, 32], t[0][3][:R * 32 * 4]

    def unknown_module(t):
        t[0][0] = t[0][0].replace("q_proj", "foo_proj")
        t[1][0] = t[1][0].replace("q_proj", "foo_proj")

    def layer_99(t):
        t[0][0] = t[0][0].replace("layers.0.", "layers.99.")
        t[1][0] = t[1][0].replace("layers.0.", "layers.99.")

    c.add("adapter_peft_nan", PEFT, [WEIGHTS, Q_B], tensors_with(nan_b))
    # Checked against the model, the adapter as a whole (its folder) may be what is named.
    whole = f"{WEIGHTS}|{{dir}}/adapter"
    c.add("adapter_peft_shape_mismatch", PEFT, [whole, "q_proj"], tensors_with(wrong_in))
    c.add("adapter_peft_unknown_module", PEFT, [WEIGHTS, "foo_proj"], tensors_with(unknown_module))
    c.add("adapter_peft_layer_99", PEFT, [whole, "99"], tensors_with(layer_99))
    c.add("adapter_peft_missing_tensor", PEFT, [WEIGHTS, Q_B], tensors_with(lambda t: t.pop(1)))
    c.add("adapter_peft_no_tensors", PEFT, [WEIGHTS], tensors_with(lambda t: t.clear()))


def add_gguf(c):
    info = ["info", "--model", TINY_GGUF, "--adapter", "{dir}/adapter.gguf"]
    c.add("adapter_gguf_control", info, ok=True, files={"adapter.gguf": gguf_lora().to_bytes()})
    g = gguf_lora()
    t = g.tensors[1]
    t.data = struct.pack("<f", math.nan) + t.data[4:]
    c.add("adapter_gguf_nan", GGUF, ["adapter.gguf", "blk.0.attn_q.weight.lora_b"], {"adapter.gguf": g.to_bytes()})
    g = gguf_lora()
    t = g.tensors[0]
    t.shape, t.data = [32, R], t.data[:32 * R * 4]
    c.add("adapter_gguf_wrong_shape", GGUF, ["adapter.gguf", "blk.0.attn_q.weight|layer 0 q_proj"], {"adapter.gguf": g.to_bytes()})
    c.add("adapter_gguf_wrong_architecture", GGUF, ["adapter.gguf", "qwen2"], {"adapter.gguf": gguf_lora(arch="qwen2").to_bytes()})
    c.add("adapter_gguf_alpha_nan", GGUF, ["adapter.gguf", "alpha"], {"adapter.gguf": gguf_lora(alpha=math.nan).to_bytes()})
    g = gguf_lora()
    g.remove("general.type")
    c.add("adapter_gguf_missing_type", GGUF, ["adapter.gguf", "general.type"], {"adapter.gguf": g.to_bytes()})
    c.add("adapter_gguf_is_a_model", GGUF, ["adapter.gguf", "adapter"], {"adapter.gguf": read(TINY_GGUF)})
    g = gguf_lora()
    t = g.tensors[3]  # blk.0.attn_v.weight.lora_b with rank 2
    t.shape, t.data = [2, t.shape[1]], t.data[:2 * t.shape[1] * 4]
    c.add("adapter_gguf_ranks_differ", GGUF, ["adapter.gguf", "blk.0.attn_v.weight"], {"adapter.gguf": g.to_bytes()})
