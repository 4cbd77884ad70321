#!/usr/bin/env bash
# Runs every test: the workspace's unit and integration tests (GPU tests on whatever adapter
# wgpu finds — lavapipe on machines without a GPU) and the wasm32 build of the core.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== wasm32 build of core and web"
cargo build -q -p anytune-core -p anytune-web --target wasm32-unknown-unknown

echo "== cargo test --workspace"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
# One closing line over every test binary (cargo prints one per binary, the last often a
# doc-test run with nothing in it).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;/) p += $(i-1); if ($(i) ~ /^failed;/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
