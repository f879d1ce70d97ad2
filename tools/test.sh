#!/usr/bin/env bash
# Sets everything up (packages, build) and runs every test: unit, property, functional, then
# the sanitizer and fuzzing short forms (tools/sanitize.sh: ASan+UBSan build, fuzz targets).
# KONTOR_SKIP_SANITIZERS=1 skips the second part (e.g. while iterating on one test).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
build_dir=${KONTOR_BUILD_DIR:-build}
# Guard: every Catch2 ctest entry must run exactly one test case (a split or stale name would
# otherwise pass having run nothing).
python3 tools/check-test-entries.py "$build_dir"
(cd "$build_dir" && ctest --output-on-failure -j "$(nproc)" --timeout 900)
if [ "${KONTOR_SKIP_SANITIZERS:-0}" != 1 ]; then
  ./tools/sanitize.sh
fi
