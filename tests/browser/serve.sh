# Sourced by tests/browser/run.sh and speed.sh: `serve BIN [ARGS…]` starts `BIN serve --port 0
# --no-build ARGS…` in the background, waits for its URL (in $url; 60 s at most: the default model
# may first be read from the cache), and stops it when the calling script exits.
serve() {
  local bin=$1
  shift
  serve_log=$(mktemp)
  "$bin" serve --port 0 --no-build "$@" >"$serve_log" 2>"$serve_log.err" &
  server=$!
  # (The server dies of the kill: its status 143 must not become the script's under set -e.)
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$serve_log" "$serve_log.err"' EXIT
  url=
  for _ in $(seq 600); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$serve_log" || true)
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "$0: anytune serve did not start:" >&2
    cat "$serve_log.err" >&2
    exit 1
  fi
}
