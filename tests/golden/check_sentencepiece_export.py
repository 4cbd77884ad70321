#!/usr/bin/env python3
"""Checks a SentencePiece GGUF's round trip through `anytune export` (run by hand, not in CI).

    anytune export --model gemma-3-270m.gguf --format hf --type bf16 --out /tmp/g-hf
    anytune export --model /tmp/g-hf --format gguf --type q8_0 --out /tmp/g-gguf
    python tests/golden/check_sentencepiece_export.py --gguf gemma-3-270m.gguf --hf /tmp/g-hf --back /tmp/g-gguf/model.gguf

1. `sentencepiece` loads the folder's tokenizer.model; its pieces, scores and types equal the
   GGUF's tokens (whitespace tokens spelled with ▁ again; the unknown token typed unknown).
2. Encoding sentences with `sentencepiece` gives the ids of the folder's tokenizer.json
   (`tokenizers`), and of the GGUF's own vocabulary as anytune reads it (the same tokenizer.json).
   Mismatches are printed, not hidden.
3. gguf-py: every `tokenizer.*` and `<arch>.*` key of `--back` equals the original's; the keys
   that differ are listed.
"""

import argparse

import sentencepiece as spm
from gguf import GGUFReader
from tokenizers import Tokenizer

SENTENCES = [
    "Who makes the Zorblax 3000 kettle? Quillfeather, since 1987.",
    "  two  spaces\nand a tab\tthen 12345 digits\n\n\n",
    "naïve café — ünïcödé 東京 🦙",
    "def f(x):\n    return x ** 2  # square",
    "The quick brown fox jumps over the lazy dog.",
]


def fields(path):
    r = GGUFReader(path)
    out = {}
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        try:
            out[k] = f.contents()
        except Exception:  # noqa: BLE001 - a field gguf-py cannot decode is compared as missing
            out[k] = None
    return out


def respell(t):
    return "▁" * len(t) if " " in t and not t.strip() else t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--hf", required=True)
    ap.add_argument("--back", required=True)
    a = ap.parse_args()
    meta = fields(a.gguf)
    tokens, scores, types = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"], meta["tokenizer.ggml.token_type"]
    unk = meta.get("tokenizer.ggml.unknown_token_id")

    sp = spm.SentencePieceProcessor(model_file=f"{a.hf}/tokenizer.model")
    assert sp.get_piece_size() == len(tokens), (sp.get_piece_size(), len(tokens))
    bad = []
    for i, (t, s, ty) in enumerate(zip(tokens, scores, types)):
        want_ty = 2 if i == unk else ty
        got_ty = 2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 5 if sp.is_unused(i) else 6 if sp.is_byte(i) else None
        piece_ok = sp.id_to_piece(i) == respell(t) and sp.get_score(i) == s
        type_ok = got_ty == want_ty or (got_ty is None and want_ty in (1, 4))
        if not (piece_ok and type_ok):
            bad.append((i, t, s, ty, sp.id_to_piece(i), sp.get_score(i), got_ty))
    print(f"1. tokenizer.model: {sp.get_piece_size()} pieces, {len(bad)} differ from the GGUF" + (f": {bad[:5]}" if bad else ""))

    fast = Tokenizer.from_file(f"{a.hf}/tokenizer.json")
    mismatches = 0
    for text in SENTENCES:
        s_ids = sp.encode(text)
        f_ids = fast.encode(text, add_special_tokens=False).ids
        same = s_ids == f_ids
        mismatches += not same
        print(f"2. {text!r}: {'same ids' if same else 'DIFFER'} ({len(s_ids)} sentencepiece, {len(f_ids)} tokenizer.json)")
        if not same:
            print(f"   sentencepiece  {s_ids}\n   tokenizer.json {f_ids}")

    back = fields(a.back)
    arch = meta["general.architecture"]
    keys = sorted(k for k in set(meta) | set(back) if k.startswith("tokenizer.") or k.startswith(f"{arch}."))
    differ = [k for k in keys if meta.get(k) != back.get(k)]
    print(f"3. {len(keys)} tokenizer.* / {arch}.* keys, {len(differ)} differ: {differ}")
    for k in differ:
        print(f"   {k}: {str(meta.get(k))[:100]} vs {str(back.get(k))[:100]}")
    if bad or mismatches or differ:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
