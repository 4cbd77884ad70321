#!/usr/bin/env bash
# Checks `anytune export --format gguf` against llama.cpp itself: for each quantized type,
# llama-quantize of anytune's own f32 export must give the same bytes as anytune's export of
# that type, tensor for tensor (types and blocks), and llama-cli must load anytune's file and
# answer the demo question greedily. By hand, from the repository root (CI never runs it):
#
#     LLAMA_CPP_BIN=~/llama.cpp/build/bin bash tests/golden/check_export_llama_cpp.sh runs/zorblax
#
# LLAMA_CPP_BIN holds llama-quantize and llama-cli (a CPU build: cmake -B build -DLLAMA_CURL=OFF;
# cmake --build build --target llama-quantize llama-cli; the llama-cpp-python sdist's
# vendor/llama.cpp builds in ~8 minutes here). ADAPTER is a run folder of the README demo
# (`anytune train --data tests/data/zorblax.jsonl --out runs/zorblax`). Needs python3 with gguf.
set -euo pipefail
adapter="${1:?usage: check_export_llama_cpp.sh ADAPTER_DIR}"
bin="${LLAMA_CPP_BIN:?set LLAMA_CPP_BIN to the folder of llama-quantize and llama-cli}"
types="${TYPES:-q8_0 q4_0 q4_k_m q5_k_m}"
anytune="${ANYTUNE:-target/release/anytune}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$anytune" export --adapter "$adapter" --out "$work/f32" --type f32 >/dev/null
for t in $types; do
    "$anytune" export --adapter "$adapter" --out "$work/$t" --type "$t" >/dev/null
    "$bin/llama-quantize" "$work/f32/model.gguf" "$work/llama-$t.gguf" "${t^^}" >"$work/quantize-$t.log" 2>&1
    python3 - "$work/$t/model.gguf" "$work/llama-$t.gguf" "$t" <<'PY'
import sys
import numpy as np
from gguf import GGUFReader

ours, theirs, ty = GGUFReader(sys.argv[1]), GGUFReader(sys.argv[2]), sys.argv[3]
by_name = {t.name: t for t in theirs.tensors}
bad = []
for t in ours.tensors:
    u = by_name.pop(t.name, None)
    if u is None:
        bad.append(f"{t.name}: not in llama-quantize's file")
    elif t.tensor_type != u.tensor_type:
        bad.append(f"{t.name}: {t.tensor_type.name} vs llama.cpp's {u.tensor_type.name}")
    elif not np.array_equal(np.asarray(t.data).view(np.uint8), np.asarray(u.data).view(np.uint8)):
        bad.append(f"{t.name}: {t.tensor_type.name} blocks differ")
bad += [f"{n}: only in llama-quantize's file" for n in by_name]
if bad:
    sys.exit(f"{ty}: {len(bad)} tensors differ from llama-quantize:\n  " + "\n  ".join(bad[:20]))
print(f"{ty}: {len(ours.tensors)} tensors byte-equal to llama-quantize's")
PY
done

prompt=$'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the handle of the Zorblax 3000 made of?<|im_end|>\n<|im_start|>assistant\n'
for t in $types; do
    answer="$("$bin/llama-cli" -m "$work/$t/model.gguf" -no-cnv -p "$prompt" -n 24 --temp 0 -t 2 2>/dev/null | sed -n '/^assistant$/,$p' | tail -n +2)"
    echo "llama-cli, $t: $answer"
done
