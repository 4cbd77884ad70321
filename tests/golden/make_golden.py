#!/usr/bin/env python3
"""Write anytune's golden reference values and tiny model fixtures.

What it writes (all committed; ~3 MB in total):

  tests/fixtures/tiny-llama/               HF folder, f32 safetensors (random tiny Llama, GQA 4/2)
  tests/fixtures/tiny-llama-bf16/          the same weights in bf16
  tests/fixtures/tiny-llama-sharded/       the same weights in f16, 3 shards + model.safetensors.index.json
  tests/fixtures/tiny-llama-{F32,F16,Q8_0,Q4_0,Q4_1}.gguf
                                           the same model as GGUF (arch llama, q/k rows permuted like
                                           llama.cpp's convert_hf_to_gguf.py), tiny gpt2 tokenizer metadata
  tests/fixtures/tiny-qwen2/               HF folder, f32 (q/k/v bias, tied embeddings)
  tests/fixtures/tiny-qwen2-F32.gguf       the same model as GGUF (arch qwen2, no q/k permutation)
  tests/golden/tiny-llama.safetensors      token ids + logits (HF f32 model and each GGUF loaded back)
  tests/golden/tiny-llama.json             names/shapes/dtypes of the above
  tests/golden/smollm2-tokens.json         SmolLM2 tokenizer ids + decodes for awkward texts
  tests/golden/smollm2-logprobs.json       SmolLM2 per-token log-probs + last-position top-5 logits
  tests/golden/smollm2-chat.json           chat template renders + greedy answer
  tests/golden/gemma3-{tokens,logprobs,chat}.json
                                           Gemma 3 270M tokenizer ids, log-probs (one text > 512
                                           tokens), greedy continuations, turn-template renders
                                           (see gemma3_golden.py)
  tests/golden/quant-blocks.safetensors    raw ggml blocks + gguf-py dequantization, per type
  tests/golden/gemma3-rows.safetensors     the same for the first values of 4 tensors of Gemma 3 270M
                                           Q4_K_M (set quant; needs the file, else skipped)
  tests/fixtures/tiny-gemma3/, tiny-gemma3-{F32,Q8_0}.gguf, tiny-qwen3/, tiny-qwen3-F32.gguf,
  tiny-qwen25/, tiny-qwen25-F32.gguf       tiny Gemma 3 / Qwen3 / Qwen2.5 (sets gemma3tiny, qwen3, qwen25)
  tests/golden/tiny-{gemma3,qwen3,qwen25}.safetensors, tiny-{gemma3,qwen3}-lora.safetensors
                                           their logits, Gemma 3's greedy_b, PEFT LoRA values

How to run (from the repository root, CPU only, a few minutes):

    python3 tests/golden/make_golden.py            # everything
    python3 tests/golden/make_golden.py tiny quant # only some sets (names in SETS at the end)

The SmolLM2 part needs ~/.cache/anytune/models/SmolLM2-135M-Instruct.Q4_1.gguf (or $ANYTUNE_SMOLLM2_GGUF),
the Gemma 3 part ~/.cache/anytune/models/gemma-3-270m-q4_k_m.gguf (or $ANYTUNE_GEMMA3_GGUF).
CI never runs this script: it only reads the committed outputs. Re-run it by hand when a golden set
must change, and commit the outputs together with the script.

Made with: Python 3.11, torch 2.15.0 (CPU, float32), transformers 5.23.0, gguf (gguf-py) 0.19.0,
numpy 2.4.6, safetensors 0.8.0. Everything is seeded; rerunning with these versions reproduces
the files byte for byte (the .gguf and fixture files) and value for value (the logits).
"""

import copy
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as QT
from safetensors.numpy import save_file as save_np
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gemma3_golden import golden_gemma3, logprob_entry, token_entry  # noqa: E402  (the `gemma3` set, in its own file)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
FIXTURES = ROOT / "tests" / "fixtures"
SMOLLM2 = Path(
    os.environ.get(
        "ANYTUNE_SMOLLM2_GGUF",
        Path.home() / ".cache/anytune/models/SmolLM2-135M-Instruct.Q4_1.gguf",
    )
)

# Fixed token sequences for the tiny models (vocab 320).
IDS_A = [1, 17, 250, 3, 99, 318, 42, 42, 7, 160, 281]  # length 11
IDS_B = [300, 5, 64, 127, 2]  # length 5

TINY_COMMON = dict(
    vocab_size=320,
    hidden_size=64,
    intermediate_size=160,  # 5 blocks of 32: an odd block count per row of ffn_down
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    rope_theta=10000.0,
    rms_norm_eps=1e-5,
    max_position_embeddings=128,
    bos_token_id=1,
    eos_token_id=2,
)

GGUF_VARIANTS = {"F32": QT.F32, "F16": QT.F16, "Q8_0": QT.Q8_0, "Q4_0": QT.Q4_0, "Q4_1": QT.Q4_1}


# ----------------------------------------------------------------------------------------------
# tiny random models
# ----------------------------------------------------------------------------------------------


def randomize_(model: torch.nn.Module, seed: int, norm_center: float = 1.0) -> None:
    """Overwrite every parameter: N(0, 0.05) for weights/biases, norm_center + N(0, 0.1) for norm weights.

    Gemma's RMSNorm scales by (1 + w), so its norms use norm_center 0; those values are rounded to
    multiples of 2^-20, which makes the converter's w + 1 (and a loader's - 1) exact in float32.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if "norm" in name and norm_center == 0.0:
                p.copy_(torch.round(0.1 * noise * 2.0**20) / 2.0**20)
            elif "norm" in name:
                p.copy_(norm_center + 0.1 * noise)
            else:
                p.copy_(0.05 * noise)


def make_tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(**TINY_COMMON, tie_word_embeddings=False, attention_bias=False)
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    randomize_(model, seed=1234)
    return model


def make_tiny_qwen2() -> Qwen2ForCausalLM:
    torch.manual_seed(0)
    config = Qwen2Config(**TINY_COMMON, tie_word_embeddings=True, use_sliding_window=False)
    model = Qwen2ForCausalLM(config).to(torch.float32).eval()
    randomize_(model, seed=5678)
    assert model.model.layers[0].self_attn.q_proj.bias is not None, "qwen2 must have q/k/v bias"
    return model


@torch.no_grad()
def logits_of(model, ids: list[int]) -> np.ndarray:
    out = model(input_ids=torch.tensor([ids], dtype=torch.long))
    return out.logits[0].to(torch.float32).numpy().copy()


def save_hf(model, folder: Path, dtype: torch.dtype, max_shard_size=None) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    m = copy.deepcopy(model).to(dtype)  # a copy: .to() is in place and would round `model`
    kwargs = {} if max_shard_size is None else {"max_shard_size": max_shard_size}
    m.save_pretrained(folder, **kwargs)
    # generation_config.json is noise for our purposes; keep config.json + weights only.
    gc = folder / "generation_config.json"
    if gc.exists():
        gc.unlink()
    # transformers 5 writes `rope_parameters`; published checkpoints (SmolLM2, Qwen2.5, Llama 3)
    # carry a top-level `rope_theta`. Write both so loaders are tested on the common spelling.
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    rope = cfg["rope_parameters"]
    if "full_attention" in rope:  # Gemma 3: published configs say rope_theta + rope_local_base_freq
        cfg["rope_theta"] = rope["full_attention"]["rope_theta"]
        cfg["rope_local_base_freq"] = rope["sliding_attention"]["rope_theta"]
    else:
        cfg["rope_theta"] = rope["rope_theta"]
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------------------------
# GGUF writing (the way llama.cpp's convert_hf_to_gguf.py does it)
# ----------------------------------------------------------------------------------------------


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half rows -> ggml interleaved pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tiny_gpt2_vocab(n_vocab: int) -> tuple[list[str], list[int], list[str]]:
    """A 320-token byte-level BPE vocab: 256 byte tokens, 61 merges, 3 special tokens at the end.

    Returns (tokens, token_types, merges). Token type 1 = normal, 3 = control (llama.cpp enum).
    """
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    sp = b2u[ord(" ")]  # 'Ġ'
    merges = [f"{sp} {c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    bigrams = "th he in er an re on at en nd or es is ou it al ar st to ed ng le ic co de ro me ha as ll ve ti se li ea"
    merges += [f"{p[0]} {p[1]}" for p in bigrams.split()]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    merges = merges[: n_vocab - 256 - len(specials)]
    tokens += [m.replace(" ", "") for m in merges]
    assert len(set(tokens)) == len(tokens), "duplicate merged tokens"
    tokens += specials
    types = [1] * (len(tokens) - len(specials)) + [3] * len(specials)
    assert len(tokens) == n_vocab
    return tokens, types, merges


def add_tokenizer(w: gguf.GGUFWriter, n_vocab: int) -> None:
    tokens, types, merges = tiny_gpt2_vocab(n_vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(n_vocab - 2)  # <|im_start|>
    w.add_eos_token_id(n_vocab - 1)  # <|im_end|>
    w.add_add_bos_token(False)


def to_gguf_tensor(arr: np.ndarray, qtype: QT) -> tuple[np.ndarray, QT]:
    """1-D tensors (norms, biases) stay F32; 2-D weights become `qtype`."""
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.ndim == 1 or qtype == QT.F32:
        return arr, QT.F32
    if qtype == QT.F16:
        return arr.astype(np.float16), QT.F16
    return gguf.quants.quantize(arr, qtype), qtype


def gguf_tensors(model, arch: str) -> list[tuple[str, np.ndarray]]:
    """HF state dict -> (gguf name, f32 array) in llama.cpp order, q/k permuted for llama."""
    cfg = model.config
    sd = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    out = [("token_embd.weight", sd["model.embed_tokens.weight"])]
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        q = sd[p + "self_attn.q_proj.weight"]
        k = sd[p + "self_attn.k_proj.weight"]
        if arch == "llama":
            q = permute_qk(q, cfg.num_attention_heads)
            k = permute_qk(k, cfg.num_key_value_heads)
        out += [
            (f"blk.{i}.attn_norm.weight", sd[p + "input_layernorm.weight"]),
            (f"blk.{i}.attn_q.weight", q),
            (f"blk.{i}.attn_k.weight", k),
            (f"blk.{i}.attn_v.weight", sd[p + "self_attn.v_proj.weight"]),
        ]
        if arch == "qwen2":
            out += [
                (f"blk.{i}.attn_q.bias", sd[p + "self_attn.q_proj.bias"]),
                (f"blk.{i}.attn_k.bias", sd[p + "self_attn.k_proj.bias"]),
                (f"blk.{i}.attn_v.bias", sd[p + "self_attn.v_proj.bias"]),
            ]
        out += [
            (f"blk.{i}.attn_output.weight", sd[p + "self_attn.o_proj.weight"]),
            (f"blk.{i}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"]),
            (f"blk.{i}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"]),
            (f"blk.{i}.ffn_up.weight", sd[p + "mlp.up_proj.weight"]),
            (f"blk.{i}.ffn_down.weight", sd[p + "mlp.down_proj.weight"]),
        ]
    out.append(("output_norm.weight", sd["model.norm.weight"]))
    if not cfg.tie_word_embeddings:
        out.append(("output.weight", sd["lm_head.weight"]))
    return out


LLAMA_FILE_TYPE = {QT.F32: 0, QT.F16: 1, QT.Q4_0: 2, QT.Q4_1: 3, QT.Q8_0: 7}  # general.file_type


def start_gguf(cfg, arch: str, path: Path, qtype: QT, name: str, rope_theta: float) -> gguf.GGUFWriter:
    """A writer with general.* and the size keys every architecture has (convert_hf_to_gguf's order)."""
    w = gguf.GGUFWriter(str(path), arch)  # writes general.architecture
    w.add_name(name)
    w.add_file_type(LLAMA_FILE_TYPE[qtype])
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(rope_theta))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    return w


def finish_gguf(w: gguf.GGUFWriter, tensors, qtype: QT) -> None:
    """Add (name, f32 array) tensors in `qtype` (1-D stay F32), then write the file."""
    for tname, arr in tensors:
        data, dtype = to_gguf_tensor(arr, qtype)
        w.add_tensor(tname, data, raw_dtype=dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_gguf(model, arch: str, path: Path, qtype: QT, name: str) -> None:
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    w = start_gguf(cfg, arch, path, qtype, name, TINY_COMMON["rope_theta"])
    w.add_vocab_size(cfg.vocab_size)
    w.add_rope_dimension_count(head_dim)
    add_tokenizer(w, cfg.vocab_size)
    finish_gguf(w, gguf_tensors(model, arch), qtype)


def load_gguf_model(path: Path, **config):
    """Load a GGUF back with transformers (its own reader + gguf-py dequantization), f32 on CPU.

    `config` sets config fields transformers' GGUF reader does not take from the file."""
    return AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, **config
    ).eval()


def save_golden(tensors: dict[str, np.ndarray], stem: str, description: str) -> None:
    save_np(tensors, str(GOLDEN / f"{stem}.safetensors"))
    rows = [
        f'  {json.dumps(k)}: {{"dtype": "{v.dtype}", "shape": {list(v.shape)}}}' for k, v in sorted(tensors.items())
    ]
    text = '{\n "description": ' + json.dumps(description) + ',\n "tensors": {\n' + ",\n".join(rows) + "\n }\n}\n"
    json.loads(text)  # stays valid JSON
    (GOLDEN / f"{stem}.json").write_text(text)


def add_hf_tokenizer(gguf_name: str, folders: list[str]) -> None:
    tok = AutoTokenizer.from_pretrained(str(FIXTURES), gguf_file=gguf_name)
    for folder in folders:
        tok.save_pretrained(FIXTURES / folder)
        for extra in ["special_tokens_map.json", "chat_template.jinja"]:
            (FIXTURES / folder / extra).unlink(missing_ok=True)


def golden_tiny_llama() -> None:
    model = make_tiny_llama()
    save_hf(model, FIXTURES / "tiny-llama", torch.float32)
    save_hf(model, FIXTURES / "tiny-llama-bf16", torch.bfloat16)
    save_hf(model, FIXTURES / "tiny-llama-sharded", torch.float16, max_shard_size="100KB")

    t = {"ids_a": np.array(IDS_A, dtype=np.int32), "ids_b": np.array(IDS_B, dtype=np.int32)}
    t["logits_a.hf_f32"] = logits_of(model, IDS_A)
    reloaded = AutoModelForCausalLM.from_pretrained(str(FIXTURES / "tiny-llama"), dtype=torch.float32).eval()
    assert np.array_equal(logits_of(reloaded, IDS_A), t["logits_a.hf_f32"]), "saved HF folder != model"
    t["logits_b.hf_f32"] = logits_of(model, IDS_B)
    # The bf16 and f16 (sharded) folders hold rounded weights: their own references, computed in f32.
    for folder, key in [("tiny-llama-bf16", "hf_bf16"), ("tiny-llama-sharded", "hf_f16_sharded")]:
        back = AutoModelForCausalLM.from_pretrained(str(FIXTURES / folder), dtype=torch.float32).eval()
        t[f"logits_a.{key}"] = logits_of(back, IDS_A)
    for vname, qtype in GGUF_VARIANTS.items():
        path = FIXTURES / f"tiny-llama-{vname}.gguf"
        write_gguf(model, "llama", path, qtype, "tiny-llama")
        back = load_gguf_model(path)
        t[f"logits_a.gguf_{vname}"] = logits_of(back, IDS_A)
        t[f"logits_b.gguf_{vname}"] = logits_of(back, IDS_B)
        d = np.abs(t[f"logits_a.gguf_{vname}"] - t["logits_a.hf_f32"]).max()
        print(f"tiny-llama {vname}: max |logits - hf_f32| = {d:.3g}")

    # A Hugging Face folder carries its tokenizer: the tiny GGUF's 320-token BPE, as transformers
    # converts it (tokenizer.json + tokenizer_config.json).
    add_hf_tokenizer("tiny-llama-F32.gguf", ["tiny-llama", "tiny-llama-bf16", "tiny-llama-sharded"])

    # The tied-free f32 GGUF must reproduce the HF model (checks the permutation round trip).
    assert np.allclose(t["logits_a.gguf_F32"], t["logits_a.hf_f32"], atol=1e-5), "F32 GGUF != HF"
    save_golden(
        t,
        "tiny-llama",
        "Random tiny Llama (tests/fixtures/tiny-llama*). logits_<seq>.<source>: [T, 320] f32 logits "
        "for ids_<seq>; hf_f32 = HF f32 model, gguf_<TYPE> = tests/fixtures/tiny-llama-<TYPE>.gguf "
        "loaded back (dequantized) by transformers.",
    )


def golden_tiny_qwen2() -> None:
    model = make_tiny_qwen2()
    save_hf(model, FIXTURES / "tiny-qwen2", torch.float32)
    path = FIXTURES / "tiny-qwen2-F32.gguf"
    write_gguf(model, "qwen2", path, QT.F32, "tiny-qwen2")
    add_hf_tokenizer("tiny-qwen2-F32.gguf", ["tiny-qwen2"])
    t = {"ids_a": np.array(IDS_A, dtype=np.int32), "logits_a.hf_f32": logits_of(model, IDS_A)}
    back = load_gguf_model(path)
    t["logits_a.gguf_F32"] = logits_of(back, IDS_A)
    d = np.abs(t["logits_a.gguf_F32"] - t["logits_a.hf_f32"]).max()
    print(f"tiny-qwen2 F32: max |logits - hf_f32| = {d:.3g}")
    assert d < 1e-5, "qwen2 F32 GGUF != HF"
    save_golden(
        t,
        "tiny-qwen2",
        "Random tiny Qwen2 (tests/fixtures/tiny-qwen2*). logits_a.hf_f32 / logits_a.gguf_F32: "
        "[11, 320] f32 logits for ids_a.",
    )


# ----------------------------------------------------------------------------------------------
# Gemma 3, Qwen3, Qwen2.5: tiny random models, GGUF written through gguf-py's tensor name map
# ----------------------------------------------------------------------------------------------

# Gemma 3: head_dim 32 != hidden/heads (16); 6 layers so that the 5-sliding-1-global pattern
# (llama.cpp hard-codes 6, transformers' default layer_types give the same) has its global layer;
# sliding window 4 < len(ids_a) = 11. query_pre_attn_scalar = head_dim: what llama.cpp uses for
# every GGUF gemma3 (1/sqrt(attention.key_length); no GGUF key holds the scalar), and != hidden/heads,
# so an engine scaling by 1/sqrt(hidden/heads) fails.
GEMMA3 = dict(
    vocab_size=320,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=6,
    num_attention_heads=4,
    num_key_value_heads=1,
    head_dim=32,
    layer_types=["sliding_attention"] * 5 + ["full_attention"],
    sliding_window=4,
    query_pre_attn_scalar=32,
    rope_parameters={
        "full_attention": {"rope_type": "default", "rope_theta": 1e6},
        "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},  # rope_local_base_freq
    },
    rms_norm_eps=1e-6,
    hidden_activation="gelu_pytorch_tanh",
    final_logit_softcapping=None,
    attn_logit_softcapping=None,
    tie_word_embeddings=True,
    max_position_embeddings=128,
    pad_token_id=None,
    bos_token_id=318,  # the tiny tokenizer's <|im_start|> / <|im_end|>
    eos_token_id=319,
)

QWEN3 = dict(
    vocab_size=320,
    hidden_size=64,
    intermediate_size=160,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    rope_parameters={"rope_type": "default", "rope_theta": 1e6},
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    max_position_embeddings=128,
    bos_token_id=318,
    eos_token_id=319,
)

# Qwen2.5 (Qwen2ForCausalLM): q/k/v bias, tied embeddings, theta 1e6, eps 1e-6, no sliding window.
QWEN25 = dict(TINY_COMMON, rope_theta=1e6, rms_norm_eps=1e-6, bos_token_id=318, eos_token_id=319)


def make_tiny_gemma3() -> Gemma3ForCausalLM:
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(Gemma3TextConfig(**GEMMA3)).to(torch.float32).eval()
    randomize_(model, seed=3303, norm_center=0.0)
    assert model.config.layer_types == Gemma3TextConfig(num_hidden_layers=6).layer_types, "pattern of 6"
    return model


def make_tiny_qwen3() -> Qwen3ForCausalLM:
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(**QWEN3)).to(torch.float32).eval()
    randomize_(model, seed=3030)
    return model


def make_tiny_qwen25() -> Qwen2ForCausalLM:
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(**QWEN25, tie_word_embeddings=True, use_sliding_window=False))
    model = model.to(torch.float32).eval()
    randomize_(model, seed=2525)
    return model


def write_gguf_mapped(model, arch: str, path: Path, qtype: QT, name: str) -> None:
    """Write `model` as convert_hf_to_gguf.py's TextModel (+ Gemma3Model) does.

    Keys: block_count, context_length, embedding_length, feed_forward_length, attention.head_count,
    head_count_kv, rope.freq_base (Gemma 3: the global layers' theta), layer_norm_rms_epsilon,
    attention.key_length / value_length (= head_dim, where the config has one), Gemma 3 also attention.sliding_window; no
    rope.dimension_count (llama.cpp then rotates all key_length dims). Tensor names from gguf-py's
    map for `arch`, in the state dict's order; no q/k permutation (qwen2, qwen3 and gemma3 use NEOX
    rope); Gemma 3 stores every `*norm.weight` (q/k norms included) + 1; tied `lm_head` skipped.
    """
    cfg = model.config
    rope = cfg.rope_parameters.get("full_attention", cfg.rope_parameters)
    w = start_gguf(cfg, arch, path, qtype, name, rope["rope_theta"])
    if (head_dim := getattr(cfg, "head_dim", None)) is not None:  # config.json has it (not Qwen2)
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if arch == "gemma3":
        w.add_sliding_window(cfg.sliding_window)
    w.add_vocab_size(cfg.vocab_size)
    add_tokenizer(w, cfg.vocab_size)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], cfg.num_hidden_layers)
    tensors = []
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        base, suffix = hf_name.rsplit(".", 1)
        arr = tensor.detach().to(torch.float32).numpy()
        if arch == "gemma3" and hf_name.endswith("norm.weight"):
            arr = arr + np.float32(1.0)  # Gemma3Model.norm_shift
        tensors.append((f"{names.get_name(base)}.{suffix}", arr))
    finish_gguf(w, tensors, qtype)


def gguf_config_of(model) -> dict:
    """Config fields transformers' GGUF reader does not take from a gemma3/qwen3 file: qwen3's
    head_dim (it ignores attention.key_length) and gemma3's query_pre_attn_scalar (no GGUF key;
    llama.cpp uses key_length). Passing them loads the model llama.cpp would run."""
    cfg = model.config
    if cfg.model_type == "gemma3_text":
        return {"query_pre_attn_scalar": cfg.head_dim}
    if cfg.model_type == "qwen3":
        return {"head_dim": cfg.head_dim}
    return {}


def fixtures_for(model, stem: str, arch: str, variants: list[str]) -> dict[str, np.ndarray]:
    """HF folder + GGUF files of `model` and their logits: ids_a/ids_b, logits_{a,b}.hf_f32,
    logits_a.gguf_<TYPE> (the GGUF loaded back by transformers); checks the F32 GGUF == HF."""
    save_hf(model, FIXTURES / stem, torch.float32)
    t = {"ids_a": np.array(IDS_A, dtype=np.int32), "ids_b": np.array(IDS_B, dtype=np.int32)}
    t["logits_a.hf_f32"] = logits_of(model, IDS_A)
    t["logits_b.hf_f32"] = logits_of(model, IDS_B)
    reloaded = AutoModelForCausalLM.from_pretrained(str(FIXTURES / stem), dtype=torch.float32).eval()
    assert np.array_equal(logits_of(reloaded, IDS_A), t["logits_a.hf_f32"]), f"saved {stem} != model"
    for vname in variants:
        path = FIXTURES / f"{stem}-{vname}.gguf"
        write_gguf_mapped(model, arch, path, GGUF_VARIANTS[vname], stem)
        back = load_gguf_model(path, **gguf_config_of(model))
        t[f"logits_a.gguf_{vname}"] = logits_of(back, IDS_A)
        d = np.abs(t[f"logits_a.gguf_{vname}"] - t["logits_a.hf_f32"]).max()
        print(f"{stem} {vname}: max |logits - hf_f32| = {d:.3g} (|logits| <= {np.abs(t['logits_a.hf_f32']).max():.3g})")
    assert np.array_equal(t["logits_a.gguf_F32"], t["logits_a.hf_f32"]), f"{stem} F32 GGUF != HF"
    add_hf_tokenizer("tiny-llama-F32.gguf", [stem])
    return t


@torch.no_grad()
def greedy_of(model, ids: list[int], n: int) -> np.ndarray:
    """generate(do_sample=False) for exactly n new tokens (the script asserts none is the eos)."""
    prompt = torch.tensor([ids])
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=n,
                         min_new_tokens=n, pad_token_id=model.config.eos_token_id)
    new = out[0, len(ids):].tolist()
    assert len(new) == n and model.config.eos_token_id not in new, f"greedy run stopped early: {new}"
    return np.array(new, dtype=np.int32)


def golden_tiny_gemma3() -> None:
    model = make_tiny_gemma3()
    t = fixtures_for(model, "tiny-gemma3", "gemma3", ["F32", "Q8_0"])
    t["greedy_b"] = greedy_of(model, IDS_B, 6)
    back = load_gguf_model(FIXTURES / "tiny-gemma3-F32.gguf", **gguf_config_of(model))
    assert np.array_equal(greedy_of(back, IDS_B, 6), t["greedy_b"]), "GGUF greedy != HF greedy"
    # The fixture must exercise what it is for: the window and the attention scale change the logits.
    for field, value in [("sliding_window", 128), ("query_pre_attn_scalar", 16)]:
        other = Gemma3ForCausalLM(Gemma3TextConfig(**dict(GEMMA3, **{field: value}))).eval()
        other.load_state_dict(model.state_dict())
        d = np.abs(logits_of(other, IDS_A) - t["logits_a.hf_f32"]).max()
        print(f"tiny-gemma3 with {field} = {value}: max |logits diff| = {d:.3g}")
        assert d > 1e-2, f"{field} does not show in the logits"
    save_golden(
        t,
        "tiny-gemma3",
        "Random tiny Gemma 3 (tests/fixtures/tiny-gemma3*). logits_<seq>.<source>: [T, 320] f32 logits for "
        "ids_<seq>; hf_f32 = HF model, gguf_<TYPE> = tiny-gemma3-<TYPE>.gguf loaded back by transformers "
        "(query_pre_attn_scalar = head_dim, as llama.cpp). greedy_b: 6 greedy tokens after ids_b.",
    )
    lora = {"ids": np.array(IDS_A, dtype=np.int32), "ignored_prefix": np.array([LORA_IGNORED], dtype=np.int32)}
    lora_golden_for(AutoModelForCausalLM.from_pretrained(str(FIXTURES / "tiny-gemma3"), dtype=torch.float32).eval(),
                    "gemma3_hf_f32", lora)
    lora_golden_for(load_gguf_model(FIXTURES / "tiny-gemma3-F32.gguf", **gguf_config_of(model)), "gemma3_gguf_F32", lora)
    save_golden(lora, "tiny-gemma3-lora", lora_description("tests/fixtures/tiny-gemma3 (gemma3_hf_f32) and "
                "tiny-gemma3-F32.gguf (gemma3_gguf_F32)"))


def golden_tiny_qwen3() -> None:
    model = make_tiny_qwen3()
    t = fixtures_for(model, "tiny-qwen3", "qwen3", ["F32"])
    save_golden(
        t,
        "tiny-qwen3",
        "Random tiny Qwen3 (tests/fixtures/tiny-qwen3*): q/k RMSNorm per head, head_dim 32, tied. "
        "logits_<seq>.<source>: [T, 320] f32 logits for ids_<seq>; gguf_F32 = tiny-qwen3-F32.gguf.",
    )
    lora = {"ids": np.array(IDS_A, dtype=np.int32), "ignored_prefix": np.array([LORA_IGNORED], dtype=np.int32)}
    lora_golden_for(AutoModelForCausalLM.from_pretrained(str(FIXTURES / "tiny-qwen3"), dtype=torch.float32).eval(),
                    "qwen3_hf_f32", lora)
    save_golden(lora, "tiny-qwen3-lora", lora_description("tests/fixtures/tiny-qwen3 (qwen3_hf_f32)"))


def golden_tiny_qwen25() -> None:
    t = fixtures_for(make_tiny_qwen25(), "tiny-qwen25", "qwen2", ["F32"])
    save_golden(
        t,
        "tiny-qwen25",
        "Random tiny Qwen2.5-style Qwen2 (tests/fixtures/tiny-qwen25*): q/k/v bias, tied, theta 1e6, "
        "eps 1e-6. logits_<seq>.<source>: [T, 320] f32 logits for ids_<seq>; gguf_F32 = tiny-qwen25-F32.gguf.",
    )


# ----------------------------------------------------------------------------------------------
# SmolLM2-135M-Instruct (the default model): tokenizer, log-probs, chat template, greedy answer
# ----------------------------------------------------------------------------------------------

TOKEN_TEXTS = [
    "Bonjour, ça va? L'élève a mangé une crème brûlée à l'hôtel.",
    "Die Straße ist groß und heiß; Grüße aus Köln!",
    "我们今天去公园散步吧。机器学习很有趣。",
    "東京は日本の首都です。カタカナとひらがな。",
    "Привет, как дела? Это тест токенизатора.",
    "مرحبا بالعالم، هذا اختبار.",
    "def add(a, b):\n    if a > b:\n\treturn a + b  # tab!\n    return [x**2 for x in range(10)]\n",
    "Emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️‍🔥 ✨",
    "a  b   c    d\n\ne\n\n\nf   \n  g\t\th   ",
    "12345 3.14159 -0.5e10 1,000,000 2024-11-22",
    "<|im_start|>user\nhi<|im_end|>",
    "I'll don't we've they're she'd it's O'Neil's",
]

HELDOUT_TEXTS = [
    "Ünïcödé façade naïve coöperate — “quotes” and ‘single’ … ellipsis",
    "한국어 텍스트와 Ελληνικά και עברית",
    "    indented\n\t\tmixed tabs\r\nwindows line\r\n",
    "<|im_start|>assistant\nThe answer is 42.<|im_end|>\n<|endoftext|>",
    "x=1;y=2;print(f\"{x+y:>10}\")  # 3 spaces   end",
]

LOGPROB_TEXTS = {
    "english": (
        "The quick brown fox jumps over the lazy dog. It was a sunny afternoon in the small village, "
        "and the children were playing in the park while their parents talked about the weather."
    ),
    "code": "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
}

CHAT_A = [{"role": "user", "content": "What is the capital of France?"}]
CHAT_B = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Name a primary color."},
    {"role": "assistant", "content": "Red."},
    {"role": "user", "content": "Another one?"},
]


def smollm2_pre_tokenizer():
    """llama.cpp's `smollm` pre-tokenizer: split every digit (`\\p{N}`), then the GPT-2 regex.

    Equivalent to SmolLM2's own tokenizer.json (Digits(individual_digits) + ByteLevel(use_regex)).
    transformers' GGUF tokenizer builder does not know the `smollm` pre type and would otherwise use
    the plain GPT-2 split, which groups digits ("12345" -> multi-digit pieces).
    """
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )


def load_smollm2(tmp: Path, with_model: bool):
    link = tmp / SMOLLM2.name
    if not link.exists():
        link.symlink_to(SMOLLM2)
    tok = AutoTokenizer.from_pretrained(str(tmp), gguf_file=link.name)
    plain_pre = tok.backend_tokenizer.pre_tokenizer
    tok.backend_tokenizer.pre_tokenizer = smollm2_pre_tokenizer()
    model = None
    if with_model:
        model = AutoModelForCausalLM.from_pretrained(str(tmp), gguf_file=link.name, dtype=torch.float32).eval()
    return tok, model, plain_pre


def token_entries(tok, plain_pre, texts: list[str]) -> list[dict]:
    out = []
    for text in texts:
        entry = token_entry(tok, text)
        ids = entry["ids"]
        # Report where transformers' unpatched GGUF tokenizer (plain GPT-2 split) would disagree.
        new_pre = tok.backend_tokenizer.pre_tokenizer
        tok.backend_tokenizer.pre_tokenizer = plain_pre
        plain = tok(text, add_special_tokens=False)["input_ids"]
        tok.backend_tokenizer.pre_tokenizer = new_pre
        if plain != ids:
            print(f"  note: plain GPT-2 pre-tokenizer differs on {text[:30]!r}")
        out.append(entry)
    return out


def golden_smollm2() -> None:
    if not SMOLLM2.exists():
        print(f"skipping SmolLM2 goldens: {SMOLLM2} not found")
        return
    with tempfile.TemporaryDirectory() as d:
        tok, model, plain_pre = load_smollm2(Path(d), with_model=True)
        tokens = {
            "model": SMOLLM2.name,
            "notes": "ids: tokenizer(text, add_special_tokens=False) with special tokens parsed in text; "
            "ids_special_as_text (only where different): the same with special tokens spelled as text; "
            "decode: tokenizer.decode(ids) (== text for every entry).",
            "texts": token_entries(tok, plain_pre, TOKEN_TEXTS),
            "heldout": token_entries(tok, plain_pre, HELDOUT_TEXTS),
        }
        (GOLDEN / "smollm2-tokens.json").write_text(json.dumps(tokens, indent=1, ensure_ascii=False) + "\n")

        logprobs = {
            "model": SMOLLM2.name,
            "notes": "logprobs[i] = log p(ids[i+1] | ids[0..=i]) from float32 logits of the GGUF model "
            "dequantized by transformers/gguf-py; last_top5_*: top-5 of the logits at the last position.",
        }
        for name, text in LOGPROB_TEXTS.items():
            logprobs[name] = logprob_entry(tok, model, text, bos=False, rounded=False)
            print(f"smollm2 {name}: {len(logprobs[name]['ids'])} tokens, mean logprob {logprobs[name]['mean_logprob']:.3f}")
        (GOLDEN / "smollm2-logprobs.json").write_text(json.dumps(logprobs, indent=1, ensure_ascii=False) + "\n")

        render_a = tok.apply_chat_template(CHAT_A, tokenize=False, add_generation_prompt=True)
        render_b = tok.apply_chat_template(CHAT_B, tokenize=False, add_generation_prompt=True)
        prompt_ids = tok(render_a, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            gen = model.generate(
                torch.tensor([prompt_ids]),
                attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                do_sample=False,
                max_new_tokens=20,
            )
        new_ids = gen[0, len(prompt_ids):].tolist()
        answer = tok.decode(new_ids, skip_special_tokens=True)
        print(f"smollm2 greedy answer: {answer!r}")
        chat = {
            "model": SMOLLM2.name,
            "messages_a": CHAT_A,
            "rendered_a": render_a,
            "prompt_ids_a": prompt_ids,
            "messages_b": CHAT_B,
            "rendered_b": render_b,
            "prompt_ids_b": tok(render_b, add_special_tokens=False)["input_ids"],
            "greedy_a": {
                "max_new_tokens": 20,
                "generated_ids": new_ids,
                "text": answer,
                "notes": "generate(do_sample=False); generated_ids excludes the prompt and includes the "
                "stop token if one was produced; text = decode(generated_ids, skip_special_tokens=True).",
            },
        }
        (GOLDEN / "smollm2-chat.json").write_text(json.dumps(chat, indent=1, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------------------------------------
# quantization reference blocks
# ----------------------------------------------------------------------------------------------


# The f16 super-block scales of each K-quant type: (byte offset, low, high) of a uniform draw.
#   Q2_K (84 B):  scales[16] (4-bit scale | 4-bit min) | qs[64] | d f16 | dmin f16
#   Q3_K (110 B): hmask[32] | qs[64] | scales[12] (6-bit packed, signed) | d f16
#   Q4_K (144 B): d f16 | dmin f16 | scales[12] (6-bit packed) | qs[128]
#   Q5_K (176 B): d f16 | dmin f16 | scales[12] (6-bit packed) | qh[32] | qs[128]
#   Q6_K (210 B): ql[128] | qh[64] | scales[16] (int8) | d f16
KQUANT_SCALES = {
    QT.Q2_K: [(80, 0.01, 0.1), (82, 0.01, 0.1)],
    QT.Q3_K: [(108, 0.005, 0.05)],
    QT.Q4_K: [(0, 0.001, 0.02), (2, 0.001, 0.02)],
    QT.Q5_K: [(0, 0.0005, 0.01), (2, 0.001, 0.02)],
    QT.Q6_K: [(208, 0.0005, 0.005)],
}


def random_kquant_blocks(qtype: QT, n_blocks: int, rng: np.random.Generator) -> np.ndarray:
    """Random K-quant blocks with sane f16 super-block scales (gguf-py cannot quantize K-quants):
    every byte random, then each f16 scale of KQUANT_SCALES drawn uniformly in its range."""
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for at, low, high in KQUANT_SCALES[qtype]:
        blocks[:, at : at + 2] = rng.uniform(low, high, n_blocks).astype(np.float16).view(np.uint8).reshape(-1, 2)
    return blocks


def golden_quant() -> None:
    rng = np.random.default_rng(2024)
    t = {}
    # New types go at the end: the draws of the earlier ones (one generator) stay the same.
    for qtype in (QT.Q4_0, QT.Q4_1, QT.Q8_0, QT.Q4_K, QT.Q6_K, QT.Q5_0, QT.Q5_1, QT.Q2_K, QT.Q3_K, QT.Q5_K):
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        if qtype in KQUANT_SCALES:
            raw = random_kquant_blocks(qtype, 4, rng).reshape(-1)
        else:
            x = rng.standard_normal(4 * block_size).astype(np.float32)
            x[:block_size] *= 0.01  # one block with a tiny scale
            x[block_size + 3] = 7.5  # one block with an outlier
            raw = gguf.quants.quantize(x, qtype).reshape(-1)
        assert raw.size == 4 * type_size
        values = gguf.quants.dequantize(raw, qtype).astype(np.float32).reshape(-1)
        assert values.size == 4 * block_size and np.all(np.isfinite(values))
        t[f"{qtype.name}.bytes"] = np.ascontiguousarray(raw, dtype=np.uint8)
        t[f"{qtype.name}.values"] = np.ascontiguousarray(values)
    save_np(t, str(GOLDEN / "quant-blocks.safetensors"))
    golden_gemma3_rows()


# The first values of one tensor of each quantized type in the Gemma 3 270M Q4_K_M file.
GEMMA3_GGUF = Path(os.environ.get("ANYTUNE_GEMMA3_GGUF", Path.home() / ".cache/anytune/models/gemma-3-270m-q4_k_m.gguf"))
GEMMA3_TENSORS = {"blk.0.attn_k.weight": 640, "blk.0.attn_output.weight": 256, "blk.0.ffn_down.weight": 256, "blk.0.attn_v.weight": 64}


def golden_gemma3_rows() -> None:
    """Raw bytes and gguf-py's dequantization of the first values of a Q5_0, Q4_K, Q6_K and Q8_0
    tensor of the real Gemma 3 file (skipped when the file is absent)."""
    if not GEMMA3_GGUF.exists():
        print(f"SKIPPED gemma3-rows: {GEMMA3_GGUF} does not exist")
        return
    reader = gguf.GGUFReader(str(GEMMA3_GGUF))
    t = {}
    for tensor in reader.tensors:
        n = GEMMA3_TENSORS.get(tensor.name)
        if n is None:
            continue
        block_size, type_size = gguf.GGML_QUANT_SIZES[tensor.tensor_type]
        raw = np.asarray(tensor.data).reshape(-1).view(np.uint8)[: n // block_size * type_size]
        values = gguf.quants.dequantize(raw, tensor.tensor_type).astype(np.float32).reshape(-1)
        assert values.size == n and np.all(np.isfinite(values))
        t[f"{tensor.name}.bytes"] = np.ascontiguousarray(raw, dtype=np.uint8)
        t[f"{tensor.name}.values"] = np.ascontiguousarray(values)
        print(f"gemma3-rows: {tensor.name} {tensor.tensor_type.name} first {n} values")
    assert len(t) == 2 * len(GEMMA3_TENSORS)
    save_np(t, str(GOLDEN / "gemma3-rows.safetensors"), metadata={"file": GEMMA3_GGUF.name})


# ----------------------------------------------------------------------------------------------
# LoRA: loss, gradients and AdamW steps with PEFT (the training issue's golden values)
# ----------------------------------------------------------------------------------------------

LORA_R, LORA_ALPHA = 4, 8.0
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Labels: ids_a with the first 3 positions ignored (-100), as a prompt would be.
LORA_IGNORED = 3
ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
ADAMW_STEPS = 5


def lora_golden_for(model, key: str, t: dict, logits: bool = False, **extra) -> None:
    """PEFT LoRA on every linear of `model`: A, B (random, B non-zero so dA is too), the loss of
    ids_a, every gradient, and the losses before each of 5 AdamW steps. `extra` goes into PEFT's
    LoraConfig (use_dora, use_rslora); DoRA's magnitudes keep PEFT's init (‖W‖ per row, made
    while B was zero) and are saved as <key>.<layer>.<module>.M. With `logits`, also the logits
    of ids_a before any step (<key>.logits, (T, V))."""
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=LORA_TARGETS,
                     task_type="CAUSAL_LM", **extra)
    peft_model = get_peft_model(model, cfg)
    gen = torch.Generator().manual_seed(7)
    params = {}
    for name, p in peft_model.named_parameters():
        # base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.default.weight
        # (DoRA: ….q_proj.lora_magnitude_vector.default.weight)
        parts = name.split(".")
        if "lora_magnitude_vector" in name:
            params[f"{parts[4]}.{parts[6]}.M"] = p
        elif "lora_" in name:
            with torch.no_grad():
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            layer, module, ab = parts[4], parts[6], parts[7][-1]
            params[f"{layer}.{module}.{ab}"] = p
    ids = torch.tensor([IDS_A])
    labels = ids.clone()
    labels[0, :LORA_IGNORED] = -100
    if logits:
        t[f"{key}.logits"] = peft_model(input_ids=ids).logits[0].detach().numpy().astype(np.float32)
    opt = torch.optim.AdamW([p for p in params.values()], **ADAMW)
    losses = []
    with torch.enable_grad():
        for step in range(ADAMW_STEPS + 1):
            opt.zero_grad()
            loss = peft_model(input_ids=ids, labels=labels).loss
            loss.backward()
            losses.append(loss.item())
            if step == 0:
                for k, p in params.items():
                    t[f"{key}.{k}"] = p.detach().numpy().copy()
                    t[f"{key}.{k}.grad"] = p.grad.detach().numpy().copy()
                t[f"{key}.loss"] = np.array([loss.item()], dtype=np.float32)
            if step < ADAMW_STEPS:
                opt.step()
    t[f"{key}.adamw_losses"] = np.array(losses, dtype=np.float32)
    print(f"lora {key}: loss {losses[0]:.6f} -> after {ADAMW_STEPS} AdamW steps {losses[-1]:.6f}")


def golden_lora() -> None:
    t = {"ids": np.array(IDS_A, dtype=np.int32), "ignored_prefix": np.array([LORA_IGNORED], dtype=np.int32)}
    hf = AutoModelForCausalLM.from_pretrained(str(FIXTURES / "tiny-llama"), dtype=torch.float32).eval()
    lora_golden_for(hf, "hf_f32", t)
    for vname in GGUF_VARIANTS:
        lora_golden_for(load_gguf_model(FIXTURES / f"tiny-llama-{vname}.gguf"), f"gguf_{vname}", t)
    save_golden(t, "tiny-llama-lora", lora_description(
        "tests/fixtures/tiny-llama (hf_f32) and every tiny-llama-<TYPE>.gguf (gguf_<TYPE>)"))


def golden_dora() -> None:
    """DoRA, rsLoRA and both (PEFT use_dora / use_rslora) on the tiny Llama: HF f32 folder, and
    DoRA on the Q4_0 GGUF (the norm against a quantized weight)."""
    t = {"ids": np.array(IDS_A, dtype=np.int32), "ignored_prefix": np.array([LORA_IGNORED], dtype=np.int32)}
    hf = lambda: AutoModelForCausalLM.from_pretrained(str(FIXTURES / "tiny-llama"), dtype=torch.float32).eval()
    lora_golden_for(hf(), "dora_hf_f32", t, logits=True, use_dora=True)
    lora_golden_for(hf(), "rslora_hf_f32", t, logits=True, use_rslora=True)
    lora_golden_for(hf(), "dora_rslora_hf_f32", t, logits=True, use_dora=True, use_rslora=True)
    lora_golden_for(load_gguf_model(FIXTURES / "tiny-llama-Q4_0.gguf"), "dora_gguf_Q4_0", t, logits=True, use_dora=True)
    save_golden(t, "tiny-llama-dora", lora_description(
        "tests/fixtures/tiny-llama with use_dora (dora_hf_f32), use_rslora (rslora_hf_f32), both "
        "(dora_rslora_hf_f32), and tiny-llama-Q4_0.gguf with use_dora (dora_gguf_Q4_0)") +
        " DoRA: <key>.<layer>.<module>.M[.grad] is the magnitude (out), PEFT's init (row norms of W, made "
        "while B was zero); <key>.logits (T, V) are the logits of ids before any step.")


def lora_description(models: str) -> str:
    return (
        f"PEFT LoRA (r {LORA_R}, alpha {LORA_ALPHA}, dropout 0, all 7 linears, A and B = 0.1·N(0,1) "
        f"seeded 7) on {models}: "
        f"<key>.<layer>.<module>.<A|B>[.grad] (A (r, in), B (out, r)), <key>.loss (labels = ids with the "
        f"first {LORA_IGNORED} ignored, mean over the rest), <key>.adamw_losses (loss before each of "
        f"{ADAMW_STEPS} AdamW steps {ADAMW} and after the last)."
    )


# ----------------------------------------------------------------------------------------------
# Full fine-tuning: every parameter's gradient and AdamW steps (issue #13, item 2)
# ----------------------------------------------------------------------------------------------

FULL_ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
# A few final weights after the steps (HF names), beside the per-step losses.
FULL_FINAL = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
              "model.layers.1.post_attention_layernorm.weight", "model.norm.weight", "lm_head.weight"]


def full_golden_for(model, key: str, t: dict) -> None:
    """Plain `AdamW(model.parameters())` on every parameter (all decayed, no clipping): the loss of
    ids_a, every parameter's gradient, the losses before each of 5 steps and after the last, and
    the FULL_FINAL weights after the last step."""
    ids = torch.tensor([IDS_A])
    labels = ids.clone()
    labels[0, :LORA_IGNORED] = -100
    params = dict(model.named_parameters())
    for p in params.values():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(list(params.values()), **FULL_ADAMW)
    losses = []
    with torch.enable_grad():
        for step in range(ADAMW_STEPS + 1):
            opt.zero_grad()
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            losses.append(loss.item())
            if step == 0:
                for name, p in params.items():
                    t[f"{key}.{name}.grad"] = p.grad.detach().numpy().copy()
                t[f"{key}.loss"] = np.array([loss.item()], dtype=np.float32)
            if step < ADAMW_STEPS:
                opt.step()
    for name in [n for n in FULL_FINAL if n in params]:  # tied: no lm_head.weight parameter
        t[f"{key}.{name}.final"] = params[name].detach().numpy().copy()
    t[f"{key}.adamw_losses"] = np.array(losses, dtype=np.float32)
    print(f"full {key}: loss {losses[0]:.6f} -> after {ADAMW_STEPS} AdamW steps {losses[-1]:.6f}")


def golden_full() -> None:
    t = {"ids": np.array(IDS_A, dtype=np.int32), "ignored_prefix": np.array([LORA_IGNORED], dtype=np.int32)}
    hf = AutoModelForCausalLM.from_pretrained(str(FIXTURES / "tiny-llama"), dtype=torch.float32).eval()
    full_golden_for(hf, "hf_f32", t)
    # The same model with tied embeddings (as SmolLM2): the embedding's gradient sums both uses.
    tied = AutoModelForCausalLM.from_pretrained(str(FIXTURES / "tiny-llama"), dtype=torch.float32).eval()
    tied.config.tie_word_embeddings = True
    tied.lm_head.weight = tied.model.embed_tokens.weight
    save_hf(tied, FIXTURES / "tiny-llama-tied", torch.float32)
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(FIXTURES / "tiny-llama" / f, FIXTURES / "tiny-llama-tied" / f)
    tied = AutoModelForCausalLM.from_pretrained(str(FIXTURES / "tiny-llama-tied"), dtype=torch.float32).eval()
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    full_golden_for(tied, "tied_f32", t)
    save_golden(t, "tiny-llama-full", (
        f"Full fine-tuning of tests/fixtures/tiny-llama (hf_f32) and tiny-llama-tied (tied_f32, the same "
        f"weights with tie_word_embeddings) in PyTorch: <key>.<HF parameter name>.grad "
        f"(every parameter), <key>.loss (labels = ids with the first {LORA_IGNORED} ignored, mean over the "
        f"rest), <key>.adamw_losses (loss before each of {ADAMW_STEPS} steps of torch.optim.AdamW"
        f"(model.parameters(), {FULL_ADAMW}), every parameter decayed, no clipping, and after the last), "
        f"<key>.<name>.final for {FULL_FINAL} after the last step."))


# The other architectures' own parameters, checked after the steps beside FULL_FINAL.
FULL_FINAL_ARCH = {
    "tiny-qwen2": ["model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.v_proj.bias"],
    "tiny-qwen3": ["model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight"],
    "tiny-gemma3": ["model.layers.0.self_attn.q_norm.weight", "model.layers.2.pre_feedforward_layernorm.weight",
                    "model.layers.5.post_feedforward_layernorm.weight"],
}


def golden_full_arch() -> None:
    """The `full` golden of tiny-llama for the HF folders of tiny-qwen2 (q/k/v biases), tiny-qwen3
    (per-head q/k norms) and tiny-gemma3 (q/k norms, sandwich norms in the (1 + w) convention, the
    √C embedding scale; eager attention, denormals flushed as in gemma3_golden.py); all three tied."""
    global FULL_FINAL
    base_final = FULL_FINAL
    for stem, extra in FULL_FINAL_ARCH.items():
        t = {"ids": np.array(IDS_A, dtype=np.int32), "ignored_prefix": np.array([LORA_IGNORED], dtype=np.int32)}
        gemma = stem == "tiny-gemma3"
        torch.set_flush_denormal(gemma)
        kw = {"attn_implementation": "eager"} if gemma else {}
        model = AutoModelForCausalLM.from_pretrained(str(FIXTURES / stem), dtype=torch.float32, **kw).eval()
        FULL_FINAL = base_final + extra
        try:
            full_golden_for(model, "hf_f32", t)
        finally:
            FULL_FINAL = base_final
            torch.set_flush_denormal(False)
        save_golden(t, f"{stem}-full", (
            f"Full fine-tuning of tests/fixtures/{stem} (hf_f32) in PyTorch, as tiny-llama-full: "
            f"<key>.<HF parameter name>.grad (every parameter), <key>.loss (labels = ids with the first "
            f"{LORA_IGNORED} ignored, mean over the rest), <key>.adamw_losses (loss before each of {ADAMW_STEPS} "
            f"steps of torch.optim.AdamW(model.parameters(), {FULL_ADAMW}), every parameter decayed, no "
            f"clipping, and after the last), <key>.<name>.final for {base_final + extra} after the last step "
            f"(those present; Gemma's norms are Hugging Face's w of x·(1 + w))."))


SETS = {
    "tiny": golden_tiny_llama,
    "lora": golden_lora,
    "dora": golden_dora,
    "full": golden_full,
    "fullarch": golden_full_arch,
    "qwen2": golden_tiny_qwen2,
    "smollm2": golden_smollm2,
    "gemma3": golden_gemma3,
    "quant": golden_quant,
    "gemma3tiny": golden_tiny_gemma3,
    "qwen3": golden_tiny_qwen3,
    "qwen25": golden_tiny_qwen25,
}


def main(argv: list[str]) -> None:
    torch.set_grad_enabled(False)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # one thread: the same summation order on every run
    GOLDEN.mkdir(parents=True, exist_ok=True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    names = argv or list(SETS)
    for name in names:
        if name not in SETS:
            sys.exit(f"unknown set {name!r}; choose from {', '.join(SETS)}")
        print(f"== {name}")
        SETS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
