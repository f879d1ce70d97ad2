#!/usr/bin/env bash
# End-to-end benchmark in one command: a fresh dev kontord (block interval $INTERVAL_MS, default
# 200) on loopback in a temp home, kontor-bench --e2e against it, then the node is stopped.
# PERF_OUT=file: also profile kontord with `perf record -g` into that file (perf report -i file).
set -euo pipefail
cd "$(dirname "$0")/.."
interval=${INTERVAL_MS:-200}
build=${KONTOR_BUILD_DIR:-./build}
home=$(mktemp -d /tmp/kontor-bench-e2e.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$home"' EXIT
"$build/node/kontord" --home "$home" init --dev --block-interval-ms "$interval" >/dev/null
"$build/node/kontord" --home "$home" start --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --log-level warn &
pid=$!
for _ in $(seq 100); do [ -f "$home/kontord.json" ] && break; sleep 0.1; done
if [ -n "${PERF_OUT:-}" ]; then
  perf record -F 499 -g -p "$pid" -o "$PERF_OUT" 2>/dev/null &
  perf_pid=$!
fi
"$build/tools/kontor-bench" --e2e --home "$home" "$@"
if [ -n "${PERF_OUT:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
