"""The `gemma3` golden set of make_golden.py: Gemma 3 270M (base, Q4_K_M GGUF).

Writes, when the model file is present (else prints why and skips):

  tests/golden/gemma3-tokens.json    ids + decodes of awkward texts (transformers' GGUF tokenizer)
  tests/golden/gemma3-logprobs.json  per-token log-probs of 5 texts (one > 512 tokens) and 2 greedy
                                     continuations, float32 on CPU
  tests/golden/gemma3-chat.json      the Gemma turn template anytune falls back to
                                     (native/src/chat_templates/gemma3-it.jinja) rendered by
                                     transformers' apply_chat_template

It also prints the model config transformers builds, the GGUF metadata keys (token arrays as
counts), whether transformers un-offsets the norm weights, and where llama.cpp's SentencePiece
algorithm (score-ordered bigram merges) would tokenize differently.
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import gguf
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
TEMPLATE = ROOT / "native" / "src" / "chat_templates" / "gemma3-it.jinja"
GEMMA3 = Path(
    os.environ.get("ANYTUNE_GEMMA3_GGUF", Path.home() / ".cache/anytune/models/gemma-3-270m-q4_k_m.gguf")
)

LONG_TEXT = (
    "The lighthouse keeper's log, kept between the autumn storms and the first frost, tells a quieter "
    "story than the one the village remembers. Each morning he wrote the wind direction, the height of "
    "the swell, and the number of ships that passed the point before noon. On the ninth of October he "
    "noted a schooner with torn sails drifting north, and two days later a fishing boat that came in "
    "with its nets empty and its crew silent. He did not speculate about their troubles; he recorded "
    "the hour, the weather, and the colour of the sky, as if the facts themselves might one day explain "
    "what words could not.\n\n"
    "In the evenings he read by the lamp that also served the sea. His shelf held an almanac, a "
    "dictionary with a broken spine, three volumes of travel writing, and a manual on the maintenance "
    "of clockwork mechanisms. The manual was the most worn. Every six hours the weights that turned the "
    "lens had to be wound, and a keeper who slept through the winding let the beam stand still, which "
    "to a passing captain looked exactly like a different light on a different coast. Mistakes of that "
    "kind had sunk ships, and he knew the names of several.\n\n"
    "Supplies arrived every second Thursday when the weather allowed: flour, lamp oil, salted fish, "
    "coffee, candles, and letters. The letters were the part he waited for. His sister wrote about her "
    "garden, the price of wool, the new schoolteacher who had opinions about everything, and the "
    "children, who were growing faster than anyone had agreed to. He answered each one the same night, "
    "in small careful handwriting, describing the birds he had seen, the seals on the rocks below the "
    "tower, and once, memorably, a whale that surfaced so close to the landing that he could hear it "
    "breathe.\n\n"
    "Winter changed the rhythm of the work. Ice formed on the gallery rail and on the glass, and he "
    "climbed out twice a night with a cloth and a bucket of warm water to clear it. The oil thickened "
    "in the cold, so he kept a small stove burning in the service room beneath the lantern. Storms "
    "could last for days. During the worst of them the tower hummed, a low note that he felt in his "
    "teeth more than he heard, and the spray reached the windows of the watch room a hundred feet "
    "above the waterline.\n\n"
    "When the inspectors came in spring they found the log complete, the brass polished, the lens "
    "without a scratch, and the keeper thinner than they remembered. They asked whether he wished to be "
    "transferred to a station on the mainland, where a family could live and a doctor was an hour away. "
    "He thanked them and said he would think about it. Then he showed them the whale in the margin of "
    "the January pages, drawn in pencil with surprising care, and the list of ships he had counted: "
    "four hundred and twelve, every one of them safely past the point.\n\n"
    "Years later, when the light was automated and the tower locked, a historian found the logs in a "
    "box in the harbour office. She read them in a single weekend and wrote that they were the most "
    "complete record of the coast's weather for that decade, more precise than the official station's. "
    "What she did not write, because it did not belong in a scientific paper, was that she had cried "
    "at the entry for the ninth of October, where beneath the schooner's position he had added one "
    "line that was not a measurement: I hope they found a harbour."
)

TOKEN_TEXTS = [
    "Ça m'étonnerait qu'il pleuve à Zürich; la crème brûlée était exquise, señor Muñoz.",
    "机器翻译的质量越来越好了。日本語の文章も試してみましょう：東京タワーは高い。한국어도 조금.",
    "اللغة العربية جميلة، وهذا نص تجريبي قصير.",
    "हिन्दी में एक छोटा सा वाक्य: मौसम आज बहुत अच्छा है।",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n\t\tself.items.append(x)  # tabs\n",
    "Emoji 🙂🙃 👩🏾‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇧🇷 ❤️‍🔥 ✨",
    "  two leading spaces,   three,    four\n\n\nthree newlines\t\ttwo tabs \n \n trailing   ",
    "<start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\n",
    "<bos> <eos> <unused5> <table><tr><td>cell</td></tr></table> <|im_start|> <mask> [multimodal]",
    "Prices: $1,299.99 (−15%) on 2025-08-14T09:30Z; π≈3.14159, e^iπ+1=0",
]

HELDOUT_TEXTS = [
    "Ünïcödé façade naïve coöperate — “quotes” and ‘single’ … ellipsis",
    "    for (int i = 0; i < n; ++i) {\r\n        sum += a[i];\r\n    }\r\n",
    "Ελληνικά, עברית, русский, Tiếng Việt, ภาษาไทย",
    "\n\nleading newlines and a final space ",
    "<end_of_turn><start_of_turn>model\nSure!<end_of_turn>",
]

LOGPROB_TEXTS = {
    "english": "The capital of France is Paris. It is known for the Eiffel Tower, its museums and its cafés.",
    "code": "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "multilingual": "Bonjour le monde. 你好，世界。مرحبا بالعالم. नमस्ते दुनिया।",
    "whitespace": "Column A\tColumn B\n  indented  line\n\n\n    four spaces",
    "long": LONG_TEXT,
}

GREEDY_PROMPTS = {
    "story": "Once upon a time, in a small village by the sea,",
    "fact": "The three primary colors are",
}
GREEDY_TOKENS = 16

CHATS = {
    "user": [{"role": "user", "content": "What is the capital of France?"}],
    "system": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "  Name a primary color. "},
        {"role": "assistant", "content": "Red."},
        {"role": "user", "content": "Another one?"},
    ],
}


def print_metadata(path: Path) -> None:
    r = gguf.GGUFReader(str(path))
    print("gemma3 GGUF metadata:")
    for key, field in r.fields.items():
        if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"):
            print(f"  {key}: array of {len(field.data)}")
        else:
            print(f"  {key} = {field.contents()!r}")


def llama_cpp_spm(tok_texts: list[str], scores: list[float], text: str) -> list[int]:
    """llama.cpp's `llm_tokenizer_spm` on one piece of text without special or user-defined tokens:
    spaces → ▁, then repeatedly merge the adjacent pair whose joined text is the vocabulary token
    with the highest score (leftmost on ties), then bytes of unknown pieces as <0xXX> tokens."""
    vocab = {t: i for i, t in enumerate(tok_texts)}
    syms = list(text.replace(" ", "\u2581"))
    while True:
        best = None
        for i in range(len(syms) - 1):
            j = vocab.get(syms[i] + syms[i + 1])
            if j is not None and (best is None or scores[j] > best[0]):
                best = (scores[j], i)
        if best is None:
            break
        i = best[1]
        syms[i : i + 2] = [syms[i] + syms[i + 1]]
    ids = []
    for s in syms:
        if s in vocab:
            ids.append(vocab[s])
        else:
            ids.extend(vocab[f"<0x{b:02X}>"] for b in s.encode("utf-8"))
    return ids


def token_entry(tok, text: str) -> dict:
    """`{"text", "ids", "decode"[, "ids_special_as_text"]}` for one text (also used by the smollm2 set)."""
    ids = tok(text, add_special_tokens=False)["input_ids"]
    decoded = tok.decode(ids)
    assert decoded == text, f"decode does not round-trip: {text!r} -> {decoded!r}"
    entry = {"text": text, "ids": ids, "decode": decoded}
    # With special-token parsing off, "<|im_start|>" is spelled out as ordinary text.
    split = tok(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    if split != ids:
        assert tok.decode(split) == text, f"decode does not round-trip: {text!r}"
        entry["ids_special_as_text"] = split
    return entry


def token_entries(tok, texts: list[str], spm) -> list[dict]:
    out = []
    for text in texts:
        entry = token_entry(tok, text)
        if spm is not None and "<" not in text and "\n" not in text and "  " not in text:
            theirs = spm(text)
            if theirs != entry["ids"]:
                print(f"  note: llama.cpp's score-ordered SPM differs on {text[:30]!r}: {len(theirs)} vs {len(entry['ids'])} ids")
        out.append(entry)
    return out


@torch.no_grad()
def logprob_entry(tok, model, text: str, bos: bool = True, rounded: bool = True) -> dict:
    """Per-token log-probs of `text` (with BOS first unless `bos` is false; Gemma expects it) and
    the last position's top-5 logits; `rounded` keeps the file small (also used by the smollm2 set)."""
    ids = tok(text, add_special_tokens=bos)["input_ids"]
    logits = model(input_ids=torch.tensor([ids])).logits[0].to(torch.float32)
    lp = torch.log_softmax(logits, dim=-1)
    per_token = [lp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
    top = torch.topk(logits[-1], 5)
    return {
        "text": text,
        "ids": ids,
        "logprobs": [round(x, 6) for x in per_token] if rounded else per_token,
        "mean_logprob": float(np.mean(per_token)),
        "last_top5_ids": top.indices.tolist(),
        "last_top5_logits": [round(x, 5) for x in top.values.tolist()] if rounded else top.values.tolist(),
    }


def print_config(model) -> None:
    c = model.config
    keys = [
        "model_type", "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
        "num_key_value_heads", "head_dim", "sliding_window", "rope_theta", "rope_local_base_freq",
        "rope_scaling", "rope_parameters", "query_pre_attn_scalar", "layer_types", "rms_norm_eps",
        "final_logit_softcapping", "attn_logit_softcapping", "hidden_activation", "tie_word_embeddings",
        "max_position_embeddings", "vocab_size", "attention_bias", "use_bidirectional_attention",
    ]
    print("gemma3 config (transformers):")
    for k in keys:
        print(f"  {k} = {getattr(c, k, '<absent>')!r}")


def check_norm_offset(model, path: Path) -> None:
    r = gguf.GGUFReader(str(path))
    for gguf_name, hf in [("output_norm.weight", model.model.norm.weight), ("blk.0.attn_q_norm.weight", model.model.layers[0].self_attn.q_norm.weight)]:
        stored = np.asarray(next(t for t in r.tensors if t.name == gguf_name).data, dtype=np.float32)
        loaded = hf.detach().numpy()
        print(f"  {gguf_name}: file mean {stored.mean():.4f}, transformers weight mean {loaded.mean():.4f}, "
              f"max |file - 1 - loaded| = {np.abs(stored - 1 - loaded).max():.2e}")


def golden_gemma3() -> None:
    if not GEMMA3.exists():
        print(f"skipping Gemma 3 goldens: {GEMMA3} not found")
        return
    print_metadata(GEMMA3)
    r = gguf.GGUFReader(str(GEMMA3))
    spm_tokens = r.fields["tokenizer.ggml.tokens"].contents()
    spm_scores = r.fields["tokenizer.ggml.scores"].contents()
    with tempfile.TemporaryDirectory() as d:
        link = Path(d) / GEMMA3.name
        link.symlink_to(GEMMA3)
        tok = AutoTokenizer.from_pretrained(d, gguf_file=link.name)
        spm = lambda text: llama_cpp_spm(spm_tokens, spm_scores, text)  # noqa: E731
        long_ids = tok(LONG_TEXT, add_special_tokens=False)["input_ids"]
        assert len(long_ids) > 512, f"the long text has only {len(long_ids)} tokens"
        tokens = {
            "model": GEMMA3.name,
            "notes": "ids: tokenizer(text, add_special_tokens=False) with special and user-defined tokens "
            "matched in the text; ids_special_as_text (only where different): split_special_tokens=True; "
            "decode: tokenizer.decode(ids) (== text for every entry); add_special_tokens=True prepends "
            f"bos {tok.bos_token_id}. Tokenizer: AutoTokenizer.from_pretrained(dir, gguf_file=...).",
            "bos_id": tok.bos_token_id,
            "texts": token_entries(tok, TOKEN_TEXTS + [LONG_TEXT], spm),
            "heldout": token_entries(tok, HELDOUT_TEXTS, spm),
        }
        (GOLDEN / "gemma3-tokens.json").write_text(json.dumps(tokens, indent=1, ensure_ascii=False) + "\n")
        print(f"gemma3 tokens: {len(tokens['texts']) + len(tokens['heldout'])} texts, long text {len(long_ids)} ids")

        template = TEMPLATE.read_text()
        chat = {"model": GEMMA3.name, "template": str(TEMPLATE.relative_to(ROOT)), "renders": {}}
        for name, messages in CHATS.items():
            for gen in (False, True):
                text = tok.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=gen)
                chat["renders"][f"{name}{'+gen' if gen else ''}"] = {"messages": messages, "add_generation_prompt": gen, "text": text}
        (GOLDEN / "gemma3-chat.json").write_text(json.dumps(chat, indent=1, ensure_ascii=False) + "\n")

        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=link.name, dtype=torch.float32).eval()
        print_config(model)
        print("gemma3 norm weights (llama.cpp stores w + 1):")
        check_norm_offset(model, GEMMA3)
        logprobs = {
            "model": GEMMA3.name,
            "notes": "ids = tokenizer(text) (bos first); logprobs[i] = log p(ids[i+1] | ids[0..=i]) (rounded to "
            "1e-6) from float32 logits of the GGUF dequantized by transformers/gguf-py on CPU, one thread; "
            "last_top5_*: top-5 logits at the last position; greedy: generate(do_sample=False, "
            f"max_new_tokens={GREEDY_TOKENS}) from tokenizer(prompt), new ids only.",
            "texts": {},
            "greedy": {},
        }
        for name, text in LOGPROB_TEXTS.items():
            e = logprob_entry(tok, model, text)
            logprobs["texts"][name] = e
            print(f"gemma3 {name}: {len(e['ids'])} tokens, mean logprob {e['mean_logprob']:.3f}")
        for name, prompt in GREEDY_PROMPTS.items():
            ids = tok(prompt)["input_ids"]
            with torch.no_grad():
                out = model.generate(
                    torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                    do_sample=False, max_new_tokens=GREEDY_TOKENS,
                )
            new = out[0, len(ids):].tolist()
            text = tok.decode(new)
            logprobs["greedy"][name] = {"prompt": prompt, "prompt_ids": ids, "generated_ids": new, "text": text}
            print(f"gemma3 greedy {name}: {text!r}")
        (GOLDEN / "gemma3-logprobs.json").write_text(json.dumps(logprobs, indent=1, ensure_ascii=False) + "\n")
