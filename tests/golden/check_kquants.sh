#!/usr/bin/env bash
# Writes tests/golden/kquant-blocks.safetensors: 12 super-blocks of test values (`x`, f32
# [3072]) and ggml's own reference quantization of them (`Q2_K`, `Q3_K`, `Q4_K`, `Q5_K`, `Q6_K`,
# u8: `quantize_row_q*_K_ref`, what llama-quantize writes without an importance matrix).
# tests/tests/kquantize.rs checks that anytune's quantizers write the same bytes.
#
# ggml's C comes from the llama-cpp-python sdist (its vendor/llama.cpp), or from a llama.cpp
# checkout given as LLAMA_CPP_DIR (the folder holding ggml/). Only ggml-quants.c is compiled,
# with a 30-line harness and stubs for the 4 ggml functions it references but the quantizers
# never call; nothing else of llama.cpp is built. Needs gcc, python3 with numpy and safetensors.
# By hand, from the repository root (CI never runs it):
#
#     bash tests/golden/check_kquants.sh                      # pip-downloads llama-cpp-python 0.3.16
#     LLAMA_CPP_DIR=~/llama.cpp bash tests/golden/check_kquants.sh
#
# Compiled with -O2 -ffp-contract=off (no fused multiply-add, as ggml-base is built for x86-64
# without -march) and -DNDEBUG (llama.cpp's release builds).
set -euo pipefail
out="$(pwd)/tests/golden/kquant-blocks.safetensors"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

src="${LLAMA_CPP_DIR:-}"
if [ -z "$src" ]; then
    version="${LLAMA_CPP_PYTHON_VERSION:-0.3.16}"
    pip download --quiet --no-deps --no-binary llama-cpp-python -d "$work" "llama-cpp-python==$version"
    tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work" --wildcards '*/vendor/llama.cpp/ggml/*'
    src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"
    echo "ggml from llama-cpp-python $version"
fi
ggml="$src/ggml"
[ -f "$ggml/src/ggml-quants.c" ] || { echo "no $ggml/src/ggml-quants.c" >&2; exit 1; }

cat > "$work/harness.c" <<'EOF'
// stdin: little-endian f32 values (whole 256-value blocks); argv[1]: q2_K..q6_K;
// stdout: ggml's reference quantization of them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml-quants.h"

static float x[1 << 16];
static unsigned char y[1 << 16];

int main(int argc, char **argv) {
    const int64_t n = (int64_t)fread(x, sizeof(float), 1 << 16, stdin);
    const char *t = argc > 1 ? argv[1] : "";
    size_t block;
    if (!strcmp(t, "q2_K")) { quantize_row_q2_K_ref(x, (block_q2_K *)y, n); block = sizeof(block_q2_K); }
    else if (!strcmp(t, "q3_K")) { quantize_row_q3_K_ref(x, (block_q3_K *)y, n); block = sizeof(block_q3_K); }
    else if (!strcmp(t, "q4_K")) { quantize_row_q4_K_ref(x, (block_q4_K *)y, n); block = sizeof(block_q4_K); }
    else if (!strcmp(t, "q5_K")) { quantize_row_q5_K_ref(x, (block_q5_K *)y, n); block = sizeof(block_q5_K); }
    else if (!strcmp(t, "q6_K")) { quantize_row_q6_K_ref(x, (block_q6_K *)y, n); block = sizeof(block_q6_K); }
    else { fprintf(stderr, "unknown type %s\n", t); return 2; }
    fwrite(y, 1, (size_t)(n / 256) * block, stdout);
    return 0;
}

// Referenced by ggml-quants.c outside the reference quantizers; never called here.
void ggml_abort(const char *file, int line, const char *fmt, ...) { (void)fmt; fprintf(stderr, "ggml_abort %s:%d\n", file, line); exit(3); }
size_t ggml_row_size(enum ggml_type type, int64_t ne) { (void)type; (void)ne; abort(); }
const char *ggml_type_name(enum ggml_type type) { (void)type; abort(); }
size_t ggml_type_size(enum ggml_type type) { (void)type; abort(); }
EOF
flags="-O2 -ffp-contract=off -DNDEBUG -I $ggml/include -I $ggml/src"
gcc $flags -c "$ggml/src/ggml-quants.c" -o "$work/ggml-quants.o"
gcc $flags "$work/harness.c" "$work/ggml-quants.o" -lm -o "$work/harness"

python3 - "$work" "$out" <<'EOF'
import subprocess, sys
import numpy as np
from safetensors.numpy import save_file

work, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(20251207)
n = 256
blocks = [
    rng.standard_normal(n),                                   # 0: N(0, 1)
    rng.normal(0, 0.02, n),                                   # 1: weight-like
    np.where(rng.random(n) < 0.02, rng.choice([-1.0, 1.0], n), rng.normal(0, 0.05, n)),  # 2: outliers
    np.zeros(n),                                              # 3: all zero
    np.full(n, 0.5),                                          # 4: constant
    rng.uniform(0.1, 1.0, n),                                 # 5: all positive
    rng.uniform(-1.0, -0.1, n),                               # 6: all negative
    rng.standard_normal(n) * np.repeat(10.0 ** np.linspace(-6, 1, 16), 16),  # 7: sub-block magnitudes 1e-6..10
    rng.standard_normal(n) * 1e-9,                            # 8: f16 scales underflow
    np.concatenate([np.zeros(128), rng.standard_normal(128)]),  # 9: half zero
    rng.normal(0, 300.0, n),                                  # 10: large
    (rng.integers(-16, 16, n) * 0.125),                       # 11: an exact grid (rounding ties)
]
x = np.concatenate(blocks).astype("<f4")
tensors = {"x": x}
for t in ["q2_K", "q3_K", "q4_K", "q5_K", "q6_K"]:
    y = subprocess.run([f"{work}/harness", t], input=x.tobytes(), capture_output=True, check=True).stdout
    tensors[t.upper()] = np.frombuffer(y, dtype=np.uint8).copy()
    print(f"{t}: {len(y)} bytes")
save_file(tensors, out)
print(f"wrote {out}")
EOF
