#!/usr/bin/env bash
# The web page in a real browser: builds the wasm (web/build.sh), serves the repository with
# `anytune serve` on a free port (the tiny fixture model at /model/default.gguf) and runs
# tests/browser/test.mjs in the system Chromium through playwright-core. Prints
# `browser: N passed, M failed` last; exits non-zero when a test fails.
# ANYTUNE_BROWSER_FILTER=text runs only the tests whose names contain it.
set -euo pipefail
cd "$(dirname "$0")/../.."

chromium=${ANYTUNE_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "tests/browser/run.sh: no Chromium at $chromium; apt-get install chromium (bash .ci/run does) or set ANYTUNE_CHROMIUM" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "tests/browser/run.sh: playwright-core needs node >= 20 (have ${node_major}); install a newer nodejs" >&2
  exit 1
fi
# playwright-core drives the system Chromium; it must never download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d tests/browser/node_modules/playwright-core ] ||
   [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

bash web/build.sh
cargo build -q -p anytune
source tests/browser/serve.sh
serve "${CARGO_TARGET_DIR:-target}/debug/anytune" --model tests/fixtures/tiny-llama-Q4_0.gguf
echo "== browser tests against $url"
ANYTUNE_URL=$url ANYTUNE_CHROMIUM=$chromium ANYTUNE_BIN="${CARGO_TARGET_DIR:-target}/debug/anytune" \
  node tests/browser/test.mjs
