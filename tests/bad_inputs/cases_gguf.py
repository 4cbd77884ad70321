"""Bad GGUF models, each a mutation of the tiny Llama fixture, loaded by `anytune info` (or
`score`, where the damage only shows in the numbers): truncations, bad header counts, absurd
hyperparameters, broken tensor tables, bad tensor values, bad tokenizer metadata."""

import math
import struct

from corpus import TINY_GGUF, TINY_Q4_1, read
from gguf import ARRAY, F32, I32, STRING, U32, U64, Gguf, Raw

F = "m.gguf"
DUPLICATE = "duplicate|twice|more than once"
INFO = ["info", "--model", "{dir}/m.gguf"]
SCORE = ["score", "--model", "{dir}/m.gguf", "--text", "hi there"]


def _tiny(base=TINY_GGUF):
    return Gguf.read(base)


def _meta(c, name, key, ty, value, expect=None, args=INFO):
    g = _tiny()
    g.set(key, ty, value)
    c.add(name, args, [F, expect or key.split(".")[-1]], {F: g.to_bytes()})


def _put(b, at, fmt, v):
    b = bytearray(b)
    struct.pack_into(fmt, b, at, v)
    return bytes(b)


def _f32_at(g, tensor, index, value):
    t = g.tensor(tensor)
    t.data = _put(t.data, 4 * index, "<f", value)


def add(c):
    base = read(TINY_GGUF)
    c.add("gguf_control_roundtrip", INFO, ok=True, files={F: _tiny().to_bytes()})

    # Truncated in each section: header counts, a key, the token array, the tensor table, the
    # data's padding, the first tensor's data, the last byte.
    head_len = len(_tiny().parts()[0])
    table = base.find(b"token_embd.weight") - 8
    for cut_name, cut in [
        ("counts", 12),
        ("first_key", 40),
        ("token_array", base.find(b"tokenizer.ggml.tokens") + 200),
        ("tensor_table", table + 30),
        ("padding", head_len - 1),
        ("first_tensor", head_len + 100),
        ("last_byte", len(base) - 1),
    ]:
        c.add(f"gguf_truncated_{cut_name}", INFO, [F, "truncated|beyond the end|end of the file|longer than the file"], {F: base[:cut]})

    c.add("gguf_bad_magic", INFO, [F, "GGUF"], {F: b"GGUX" + base[4:]})
    for v in [1, 4, 0xFFFFFFFF]:
        c.add(f"gguf_version_{v}", INFO, [F, "version"], {F: _put(base, 4, "<I", v)})
    # The counts themselves must be refused (more entries than the file has bytes), not the
    # garbage read after the real entries.
    c.add("gguf_n_tensors_2p62", INFO, [F, f"{1 << 62}|tensor count|n_tensors"], {F: _put(base, 8, "<Q", 1 << 62)})
    c.add("gguf_n_kv_2p62", INFO, [F, f"{1 << 62}|metadata count|key count|n_kv"], {F: _put(base, 16, "<Q", 1 << 62)})

    # Hyperparameters.
    _meta(c, "gguf_block_count_2p60", "llama.block_count", U64, 1 << 60)
    _meta(c, "gguf_block_count_1e8", "llama.block_count", U32, 10**8)
    _meta(c, "gguf_block_count_0", "llama.block_count", U32, 0)
    _meta(c, "gguf_block_count_string", "llama.block_count", STRING, "2")
    g = _tiny()
    g.set("llama.attention.head_count", U64, (1 << 62) + 4)
    g.set("llama.attention.key_length", U32, 16)
    g.set("llama.attention.value_length", U32, 16)
    c.add("gguf_head_count_wraps", INFO, [F, "head_count"], {F: g.to_bytes()})
    _meta(c, "gguf_head_count_0", "llama.attention.head_count", U32, 0)
    _meta(c, "gguf_head_count_5", "llama.attention.head_count", U32, 5)
    _meta(c, "gguf_head_count_kv_3", "llama.attention.head_count_kv", U32, 3)
    _meta(c, "gguf_embedding_length_0", "llama.embedding_length", U32, 0)
    _meta(c, "gguf_embedding_length_2p40", "llama.embedding_length", U64, 1 << 40)
    _meta(c, "gguf_feed_forward_length_0", "llama.feed_forward_length", U32, 0)
    _meta(c, "gguf_context_length_2p63", "llama.context_length", U64, 1 << 63, args=SCORE)
    _meta(c, "gguf_rope_freq_base_nan", "llama.rope.freq_base", F32, math.nan)
    _meta(c, "gguf_rope_freq_base_negative", "llama.rope.freq_base", F32, -10000.0)
    _meta(c, "gguf_rms_epsilon_negative", "llama.attention.layer_norm_rms_epsilon", F32, -1e-5)
    _meta(c, "gguf_rms_epsilon_nan", "llama.attention.layer_norm_rms_epsilon", F32, math.nan)
    _meta(c, "gguf_vocab_size_1000", "llama.vocab_size", U32, 1000, expect="vocab|output.weight|token_embd.weight")
    _meta(c, "gguf_alignment_3", "general.alignment", U32, 3)
    _meta(c, "gguf_alignment_0", "general.alignment", U32, 0)

    # The tensor table.
    g = _tiny()
    g.tensor("blk.0.attn_k.weight").offset = 81920 + 256  # where blk.0.attn_q.weight starts
    c.add("gguf_overlapping_tensors", INFO, [F, "overlap|share", "blk.0.attn_k.weight|blk.0.attn_q.weight"], {F: g.to_bytes()})
    g = _tiny()
    for t in g.tensors:
        t.offset = 0
    c.add("gguf_all_offsets_zero", INFO, [F, "overlap|share"], {F: g.to_bytes()})
    g = _tiny()
    g.tensor("blk.0.attn_norm.weight").offset = 81920 + 4
    c.add("gguf_misaligned_offset", INFO, [F, "blk.0.attn_norm.weight", "align"], {F: g.to_bytes()})
    g = _tiny()
    g.tensor("output.weight").offset = 1 << 62
    c.add("gguf_offset_beyond_end", INFO, [F, "output.weight"], {F: g.to_bytes()})
    g = _tiny(TINY_Q4_1)
    g.tensor("blk.0.attn_q.weight").ty = 0  # F32 label on Q4_1 bytes: 16384 bytes, 2560 stored
    c.add("gguf_type_label_overlaps_next", INFO, [F, "blk.0.attn_q.weight"], {F: g.to_bytes()})
    g = _tiny(TINY_Q4_1)
    g.tensor("output.weight").ty = 0
    c.add("gguf_type_label_past_end", INFO, [F, "output.weight"], {F: g.to_bytes()})
    g = _tiny()
    g.tensor("blk.0.attn_q.weight").ty = 99
    c.add("gguf_type_unknown", INFO, [F, "blk.0.attn_q.weight"], {F: g.to_bytes()})
    g = _tiny()
    g.tensor("blk.0.attn_k.weight").name = "blk.0.attn_q.weight"
    c.add("gguf_duplicate_tensor_name", INFO, [F, "blk.0.attn_q.weight", DUPLICATE], {F: g.to_bytes()})
    g = _tiny()
    g.tensors.append(g.tensors[0].__class__("token_embd.weight", [64, 320], 0, g.tensors[0].data))
    c.add("gguf_duplicate_tensor_copy", INFO, [F, "token_embd.weight", DUPLICATE], {F: g.to_bytes()})
    g = _tiny()
    g.kv.append(("general.architecture", STRING, "qwen2"))
    c.add("gguf_duplicate_architecture_key", INFO, [F, "general.architecture", DUPLICATE], {F: g.to_bytes()})
    g = _tiny()
    g.kv = [(k.replace("llama.", "mamba.", 1), t, "mamba" if k == "general.architecture" else v) for k, t, v in g.kv]
    c.add("gguf_unknown_architecture", INFO, [F, "mamba"], {F: g.to_bytes()})
    for missing in ["blk.1.ffn_down.weight", "output_norm.weight", "token_embd.weight"]:
        g = _tiny()
        g.tensors = [t for t in g.tensors if t.name != missing]
        c.add(f"gguf_missing_{missing.replace('.', '_')}", INFO, [F, missing], {F: g.to_bytes()})
    g = _tiny()
    t = g.tensor("blk.0.ffn_up.weight")
    t.shape, t.data = [64, 128], t.data[:64 * 128 * 4]
    c.add("gguf_wrong_shape_ffn_up", INFO, [F, "blk.0.ffn_up.weight"], {F: g.to_bytes()})
    g = _tiny()
    t = g.tensor("blk.1.attn_norm.weight")
    t.shape, t.data = [32], t.data[:128]
    c.add("gguf_wrong_shape_norm", INFO, [F, "blk.1.attn_norm.weight"], {F: g.to_bytes()})
    g = _tiny()
    g.tensor("blk.0.attn_v.weight").shape = [64, 32, 1, 1, 1]
    c.add("gguf_five_dims", INFO, [F, "blk.0.attn_v.weight"], {F: g.to_bytes()})
    g = _tiny()
    t = g.tensor("blk.0.attn_q.weight")
    t.shape = [1 << 32, 1 << 32]
    c.add("gguf_shape_overflows", INFO, [F, "blk.0.attn_q.weight"], {F: g.to_bytes()})

    # Values inside tensors.
    g = _tiny()
    _f32_at(g, "blk.0.attn_q.weight", 100, math.nan)
    c.add("gguf_nan_in_f32_tensor", SCORE, [F, "blk.0.attn_q.weight"], {F: g.to_bytes()})
    g = _tiny()
    _f32_at(g, "token_embd.weight", 5, math.inf)
    c.add("gguf_inf_in_embedding", SCORE, [F, "token_embd.weight"], {F: g.to_bytes()})
    g = _tiny(TINY_Q4_1)
    t = g.tensor("blk.0.ffn_down.weight")
    t.data = _put(t.data, 0, "<H", 0x7E00)  # the first block's f16 scale d = NaN
    c.add("gguf_nan_q4_1_scale", SCORE, [F, "blk.0.ffn_down.weight"], {F: g.to_bytes()})

    # Tokenizer metadata and raw encodings.
    _meta(c, "gguf_token_type_10_entries", "tokenizer.ggml.token_type", ARRAY, (I32, [1] * 10), expect="token_type")
    _meta(c, "gguf_tokens_10_entries", "tokenizer.ggml.tokens", ARRAY, (STRING, [chr(65 + i) for i in range(10)]), expect="tokens")
    _meta(c, "gguf_bos_token_id_5000", "tokenizer.ggml.bos_token_id", U32, 5000, args=["tokenize", "--model", "{dir}/m.gguf", "--text", "hi"])
    _meta(c, "gguf_tokenizer_model_unknown", "tokenizer.ggml.model", STRING, "sentencepiece-9", expect="tokenizer.ggml.model")
    _meta(c, "gguf_merges_count_2p62", "tokenizer.ggml.merges", ARRAY, Raw(struct.pack("<IQ", STRING, 1 << 62)), expect="merges|truncated|beyond the end")
    _meta(c, "gguf_string_length_2p62", "general.name", STRING, Raw(struct.pack("<Q", 1 << 62) + b"x"), expect="general.name|truncated|beyond the end")
    g = _tiny()
    g.kv.append((b"general.\xff\xfe", STRING, "x"))
    c.add("gguf_bad_utf8_key", INFO, [F, "UTF-8|utf-8|utf8"], {F: g.to_bytes()})
    _meta(c, "gguf_bad_utf8_value", "general.name", STRING, b"tiny-\xff\xfe", expect="general.name")
    _meta(c, "gguf_metadata_type_99", "general.name", 99, Raw(b""), expect="general.name")
    for depth in [9, 100000]:
        deep = Raw(struct.pack("<IQ", ARRAY, 1) * (depth - 1) + struct.pack("<IQI", U32, 1, 7))
        _meta(c, f"gguf_nested_arrays_{depth}", "x.deep", ARRAY, deep, expect="x.deep")
