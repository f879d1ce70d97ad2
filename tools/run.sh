#!/usr/bin/env bash
# Sets everything up and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
exec ./build/tools/kontor-bench "$@"
