#!/usr/bin/env bash
# The page's training speed against the native binary's, on this machine (not a test: a
# measurement for issue notes). Builds the release binary and the wasm, serves the default model
# with `anytune serve`, and runs tests/browser/speed.mjs (SPEED_OPTIONS, SPEED_KERNELS: see there).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
bash web/build.sh
cargo build -q --release -p anytune
bin="${CARGO_TARGET_DIR:-target}/release/anytune"
source tests/browser/serve.sh
serve "$bin"
ANYTUNE_URL=$url ANYTUNE_BIN=$bin node tests/browser/speed.mjs
