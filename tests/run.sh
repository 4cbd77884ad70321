#!/usr/bin/env bash
# Runs every test: the wasm32 build of the web crate (web/build.sh), the workspace's unit and
# integration tests (GPU tests on whatever adapter wgpu finds — lavapipe on machines without a
# GPU) and the web page in Chromium (tests/browser/run.sh). A failing stage stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== wasm32 build of core and web (web/build.sh: release, wasm-bindgen into web/pkg)"
bash web/build.sh

echo "== cargo test --workspace"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"

echo "== browser tests"
bash tests/browser/run.sh 2>&1 | tee -a "$log"
# One closing line over every test binary (cargo prints one per binary, the last often a
# doc-test run with nothing in it) and the browser tests.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;/) p += $(i-1); if ($(i) ~ /^failed;/) f += $(i-1) } }
     /^browser: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
