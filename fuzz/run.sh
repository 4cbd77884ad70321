#!/usr/bin/env bash
# Fuzzes anytune-core's parsers: builds the cargo-fuzz targets, writes the seed corpora from the
# test fixtures, then runs each target in turn on one core and prints, per target, the seconds
# it ran, the inputs executed, the corpus size and the findings (crash, timeout, OOM).
#
#   fuzz/run.sh [seconds-per-target]      (default 60)
#
# Env: TARGETS="gguf peft ..." to run some; BUILD=0 to run the targets as built; SANITIZER=none if address sanitizer fails to link.
# Each input is bounded: -timeout=30 (s; INPUT_TIMEOUT; address sanitizer and coverage slow
# minijinja and the tokenizers about 30×, so a rendering bounded natively at about a second by
# its fuel can take 15 s here), -rss_limit_mb=2048 and -malloc_limit_mb=2048; a hang
# or an oversized allocation is a finding like a panic. libFuzzer stops a target at its first
# finding and saves the input under fuzz/artifacts/<target>/ (reproduce:
# fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>). The corpora grow in
# fuzz/corpus/<target>/ across runs; logs are in fuzz/logs/. Needs `cargo fuzz` and nightly.
set -euo pipefail
secs=${1:-60}
targets=${TARGETS:-gguf gguf_lora safetensors peft dataset chat_template}
cd "$(dirname "$0")"

[ "${BUILD:-1}" = 0 ] || cargo +nightly fuzz build -s "${SANITIZER:-address}"
bin=target/x86_64-unknown-linux-gnu/release
"$bin/seeds" corpus
mkdir -p logs

printf '%-14s %8s %12s %8s  %s\n' target seconds executions corpus findings
for t in $targets; do
    mkdir -p "artifacts/$t"
    case $t in
        chat_template) dict=(-dict=dicts/chat_template.dict) ;;
        peft | safetensors | dataset) dict=(-dict=dicts/json.dict) ;;
        *) dict=() ;;
    esac
    start=$(date +%s)
    "$bin/$t" "corpus/$t" "${dict[@]}" -max_total_time="$secs" -timeout="${INPUT_TIMEOUT:-30}" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"logs/$t.log" 2>&1 || true
    ran=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
    if [ -z "$execs" ]; then  # stopped at a finding: the last progress line's count
        execs=$(grep -o '^#[0-9]*' "logs/$t.log" | tail -1 | tr -d '#')
    fi
    corpus=$(find "corpus/$t" -type f | wc -l)
    found=$(grep -o 'ERROR: libFuzzer: [a-z-]*\|panicked at [^:]*:[0-9]*' "logs/$t.log" | sort -u | paste -sd ';' - || true)
    printf '%-14s %8s %12s %8s  %s\n' "$t" "$ran" "${execs:-?}" "$corpus" "${found:-none}"
done
