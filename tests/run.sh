#!/usr/bin/env bash
# Runs every test: the workspace's unit and integration tests (GPU tests on whatever adapter
# wgpu finds — lavapipe on machines without a GPU) and the wasm32 build of the core.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== wasm32 build of core and web"
cargo build -q -p anytune-core -p anytune-web --target wasm32-unknown-unknown

echo "== cargo test --workspace"
cargo test --workspace
