#!/usr/bin/env bash
# Builds the web page's wasm: the anytune-web crate for wasm32-unknown-unknown (release), then
# wasm-bindgen --target web into web/pkg/ (git-ignored): anytune_web.js + anytune_web_bg.wasm.
# Rerunning is quick: cargo rebuilds only what changed. `anytune serve` runs this when web/pkg is
# older than the Rust sources.
set -euo pipefail
cd "$(dirname "$0")/.."

# wasm-bindgen's CLI must match the wasm-bindgen crate in Cargo.lock exactly (the generated JS
# glue and the wasm's custom section are versioned together).
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "web/build.sh: wasm-bindgen ${have:-is missing}, need $want: cargo install wasm-bindgen-cli --version $want --locked" >&2
  # Without default features: no TLS stack (only the test runner downloads anything). If the
  # registry lacks a version the CLI's lock file pins, let cargo pick compatible ones.
  cargo install -q wasm-bindgen-cli --version "$want" --no-default-features --locked ||
    cargo install -q wasm-bindgen-cli --version "$want" --no-default-features
fi
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

cargo build -q --release -p anytune-web --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir web/pkg "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/anytune_web.wasm"
echo "web/build.sh: web/pkg/anytune_web_bg.wasm $(du -k web/pkg/anytune_web_bg.wasm | cut -f1) KiB"
