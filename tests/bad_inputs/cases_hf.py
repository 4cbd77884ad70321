"""Bad Hugging Face folders, each a copy of the tiny Llama folder with one file mutated:
model.safetensors (header, offsets, dtypes, values), config.json (hyperparameters, types,
structure) and tokenizer.json / tokenizer_config.json."""

import json
import os
import struct

import safetensors as st
from corpus import TINY_HF, read

ST = "model.safetensors"
DUPLICATE = "duplicate|twice|more than once"
INFO = ["info", "--model", "{dir}"]
SCORE = ["score", "--model", "{dir}", "--text", "hi there"]
TOKENIZE = ["tokenize", "--model", "{dir}", "--text", "hi there"]
Q = "model.layers.0.self_attn.q_proj.weight"


def folder(**replace):
    """The tiny folder's files, with `replace` ({file name with . as _: bytes or str}) applied."""
    files = {n: read(os.path.join(TINY_HF, n)) for n in os.listdir(TINY_HF)}
    for k, v in replace.items():
        files[k.replace("_json", ".json").replace("_safetensors", ".safetensors")] = v
    return files


def config(**changes):
    """config.json text with `changes` applied; a value None removes the key, a `Raw` string is
    written verbatim (for numbers JSON cannot hold, like 1e999)."""
    c = json.loads(read(os.path.join(TINY_HF, "config.json")))
    raw = {}
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        elif isinstance(v, Raw):
            c[k] = f"@{k}@"
            raw[f'"@{k}@"'] = str(v)
        else:
            c[k] = v
    text = json.dumps(c, indent=2)
    for placeholder, literal in raw.items():
        text = text.replace(placeholder, literal)
    return text


class Raw(str):
    """A JSON value written verbatim."""


def header_of(edit):
    """model.safetensors with its header dict passed through `edit` (data unchanged)."""
    header, data = st.read(os.path.join(TINY_HF, ST))
    edit(header)
    return st.header_bytes(json.dumps(header)) + data


def add_safetensors(c):
    path = os.path.join(TINY_HF, ST)
    base = read(path)
    header, data = st.read(path)
    n = struct.unpack("<Q", base[:8])[0]
    tensors = st.tensors(path)
    last = tensors[-1][0]
    c.add("safetensors_control_rewritten", INFO, ok=True, files=folder(model_safetensors=st.write(tensors, {"format": "pt"})))
    c.add("safetensors_header_length_2p62", INFO, [ST, "header"], folder(model_safetensors=struct.pack("<Q", 1 << 62) + base[8:]))
    c.add("safetensors_header_past_end", INFO, [ST, "header"], folder(model_safetensors=struct.pack("<Q", len(base)) + base[8:]))
    c.add("safetensors_header_length_0", INFO, [ST, "header"], folder(model_safetensors=struct.pack("<Q", 0) + base[8:]))
    c.add("safetensors_truncated_in_header", INFO, [ST, "header|truncated"], folder(model_safetensors=base[:100]))
    c.add("safetensors_truncated_data", INFO, [ST, last], folder(model_safetensors=base[:-1]))
    c.add("safetensors_shorter_than_length", INFO, [ST, "header|truncated|beyond the end"], folder(model_safetensors=base[:5]))
    junk = b"{this is not json" + b" " * (n - 17)
    c.add("safetensors_header_not_json", INFO, [ST, "JSON|json"], folder(model_safetensors=base[:8] + junk + base[8 + n:]))
    c.add("safetensors_header_an_array", INFO, [ST, "header|object"], folder(model_safetensors=st.header_bytes("[1, 2]") + data))

    def edit(name, fn, expect):
        c.add(f"safetensors_{name}", INFO, [ST, *expect], folder(model_safetensors=header_of(fn)))

    def set_field(tensor, field, value):
        return lambda h: h[tensor].__setitem__(field, value)

    edit("offsets_past_end", set_field(last, "data_offsets", [len(data) - 4, len(data) + 4092]), [last])
    begin = header[Q]["data_offsets"]
    edit("offsets_huge", set_field(Q, "data_offsets", [begin[0], 1 << 62]), [Q])
    edit("offsets_reversed", set_field(Q, "data_offsets", [begin[1], begin[0]]), [Q])
    k = "model.layers.0.self_attn.k_proj.weight"
    v = "model.layers.0.self_attn.v_proj.weight"
    edit("offsets_overlap", set_field(v, "data_offsets", header[k]["data_offsets"]), [f"{k}|{v}"])
    edit("dtype_unknown", set_field(Q, "dtype", "F33"), [Q])
    edit("dtype_bool", set_field(Q, "dtype", "BOOL"), [Q])
    edit("shape_bytes_mismatch", set_field(Q, "shape", [64, 32]), [Q])
    edit("shape_overflows", set_field(Q, "shape", [1 << 40, 1 << 40]), [Q])
    edit("shape_negative", set_field(Q, "shape", [-64, -64]), [Q])
    edit("metadata_not_strings", lambda h: h.__setitem__("__metadata__", {"format": 5}), ["__metadata__"])
    missing = "model.layers.1.mlp.down_proj.weight"
    c.add("safetensors_missing_tensor", INFO, [missing], folder(model_safetensors=st.write([t for t in tensors if t[0] != missing], {"format": "pt"})))
    # A duplicate JSON key: a second model.norm.weight, valid on its own, over 256 more bytes.
    dup = "model.norm.weight"
    text = json.dumps(header)
    extra = json.dumps({dup: {"dtype": "F32", "shape": [64], "data_offsets": [len(data), len(data) + 256]}})[1:-1]
    dup_file = st.header_bytes(text[:-1] + ", " + extra + "}") + data + st.f32([1.0] * 64)
    c.add("safetensors_duplicate_name", INFO, [ST, dup, DUPLICATE], folder(model_safetensors=dup_file))
    nan_tensors = [(name, dt, shape, struct.pack("<f", float("nan")) + raw[4:] if name == Q else raw) for name, dt, shape, raw in tensors]
    c.add("safetensors_nan_in_tensor", SCORE, [ST, Q], folder(model_safetensors=st.write(nan_tensors, {"format": "pt"})))


def add_config(c):
    c.add("config_control", INFO, ok=True, files=folder(config_json=config()))
    for name, changes, field in [
        ("num_hidden_layers_2p60", {"num_hidden_layers": 1 << 60}, "num_hidden_layers"),
        ("num_hidden_layers_1e8", {"num_hidden_layers": 10**8}, "num_hidden_layers"),
        ("num_hidden_layers_0", {"num_hidden_layers": 0}, "num_hidden_layers"),
        ("num_hidden_layers_float", {"num_hidden_layers": 2.5}, "num_hidden_layers"),
        ("hidden_size_string", {"hidden_size": "64"}, "hidden_size"),
        ("hidden_size_negative", {"hidden_size": -64}, "hidden_size"),
        ("num_attention_heads_negative", {"num_attention_heads": -4}, "num_attention_heads"),
        ("num_key_value_heads_3", {"num_key_value_heads": 3}, "num_key_value_heads"),
        ("intermediate_size_negative", {"intermediate_size": -1}, "intermediate_size"),
        ("head_dim_odd", {"head_dim": 15}, "head_dim"),
        ("head_dim_0", {"head_dim": 0}, "head_dim"),
        ("rope_theta_inf", {"rope_theta": Raw("1e999"), "rope_parameters": {"rope_theta": 1e300, "rope_type": "default"}}, "rope_theta|line"),
        ("rope_theta_negative", {"rope_theta": -1.0, "rope_parameters": {"rope_theta": -1.0, "rope_type": "default"}}, "rope_theta"),
        ("rms_norm_eps_negative", {"rms_norm_eps": -1e-5}, "rms_norm_eps"),
        ("rms_norm_eps_inf", {"rms_norm_eps": Raw("1e999")}, "rms_norm_eps|line"),
        ("max_position_embeddings_2p63", {"max_position_embeddings": 1 << 63}, "max_position_embeddings"),
        ("vocab_size_5000", {"vocab_size": 5000}, "vocab_size|lm_head|embed_tokens"),
        ("missing_hidden_size", {"hidden_size": None}, "hidden_size"),
        ("missing_num_attention_heads", {"num_attention_heads": None}, "num_attention_heads"),
        ("model_type_mamba", {"model_type": "mamba", "architectures": ["MambaForCausalLM"]}, "mamba|Mamba"),
        ("tie_word_embeddings_string", {"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
    ]:
        where = "config.json|model.safetensors" if name == "vocab_size_5000" else "config.json"
        c.add(f"config_{name}", INFO, [where, field], folder(config_json=config(**changes)))
    c.add("config_not_an_object", INFO, ["config.json", "object"], folder(config_json="[1, 2, 3]"))
    c.add("config_not_json", INFO, ["config.json"], folder(config_json=config()[:40]))


def add_tokenizer(c):
    tok = json.loads(read(os.path.join(TINY_HF, "tokenizer.json")))
    c.add("tokenizer_json_truncated", TOKENIZE, ["tokenizer.json"], folder(tokenizer_json=json.dumps(tok)[:500]))
    no_vocab = json.loads(json.dumps(tok))
    del no_vocab["model"]["vocab"]
    c.add("tokenizer_json_no_vocab", TOKENIZE, ["tokenizer.json", "vocab"], folder(tokenizer_json=json.dumps(no_vocab)))
    bad_added = json.loads(json.dumps(tok))
    bad_added["added_tokens"][0]["id"] = 99999
    c.add("tokenizer_json_added_token_out_of_vocab", TOKENIZE, ["tokenizer.json|tokenizer", "99999"], folder(tokenizer_json=json.dumps(bad_added)))
    c.add("tokenizer_config_not_json", TOKENIZE, ["tokenizer_config.json"], folder(tokenizer_config_json="{\"bos_token\": "))
    tc = json.loads(read(os.path.join(TINY_HF, "tokenizer_config.json")))
    tc["bos_token"] = "<|not-a-token|>"
    c.add("tokenizer_config_bos_not_in_vocab", TOKENIZE, ["tokenizer_config.json", "bos_token"], folder(tokenizer_config_json=json.dumps(tc)))
