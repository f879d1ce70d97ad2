#!/usr/bin/env bash
# Sets everything up (packages, build) and runs every test: unit, property, functional.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
build_dir=${KONTOR_BUILD_DIR:-build}
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" --timeout 900
