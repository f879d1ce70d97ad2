#!/usr/bin/env bash
# Sanitizer and fuzzing runs (docs/reliability.md, "Sanitizers" and "Fuzzing"). Each mode has
# its own clang build directory next to ./build; ./build (gcc) is not touched.
#
#   tools/sanitize.sh              ASan+UBSan build (build-asan, clang, with libFuzzer coverage):
#                                  every unit and property test, every fuzz target for
#                                  $KONTOR_FUZZ_SECONDS (default 20) from its seed corpus and
#                                  regressions, and the functional tests that drive kontord over
#                                  gRPC/HTTP with the sanitized kontord. What CI runs.
#   tools/sanitize.sh --tsan       TSan build (build-tsan): the in-process node tests (admission
#                                  pool, mempool, producer, thread pool, pipelined blocks, store)
#                                  and the functional tests with a TSan kontord (gRPC threads).
#                                  Run by hand; third-party suppressions in tools/tsan.supp.
#   tools/sanitize.sh --fuzz T S   fuzz target T for S seconds into tests/fuzz/corpus/T (the long
#                                  form; new inputs are kept: minimise with -merge=1 before
#                                  committing them).
# Any sanitizer report fails the run (halt_on_error, -fno-sanitize-recover).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=asan
case "${1:-}" in
  --tsan) mode=tsan ;;
  --fuzz) mode=fuzz ;;
  -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "sanitize.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

missing=()
for p in clang llvm; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  [ "$(id -u)" -eq 0 ] || { echo "sanitize.sh: install ${missing[*]} (as root)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
./tools/setup.sh kontor  # the unsanitized CLI the functional tests drive next to the sanitized kontord

jobs=$(nproc)
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tools/tsan.supp}
# The functional tests that need only kontord (and the gcc-built CLI from ./build).
functional='functional: test_(api|rules_api|http|store_damage|hostile_grpc|hostile_http|crash_campaign)$'

configure() {  # dir, extra cmake args...
  local dir=$1; shift
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  fi
}

case $mode in
  asan|fuzz)
    configure build-asan -DKONTOR_FUZZ=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
    cmake --build build-asan -j "$jobs" --target kontor-fuzz-all kontor-unit-tests kontor-property-tests kontor-sim-tests kontord kontor-canonical-oracle
    if [ "$mode" = fuzz ]; then
      target=${2:?usage: tools/sanitize.sh --fuzz TARGET SECONDS}
      seconds=${3:-600}
      exec build-asan/tests/fuzz/"$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix=build-asan/fuzz-artifacts/"$target"- tests/fuzz/corpus/"$target" tests/fuzz/regressions/"$target"
    fi
    cd build-asan
    ctest --output-on-failure -j "$jobs" --timeout 900 -R '^(unit|property|fuzz|sim):'
    KONTORD=$PWD/node/kontord KONTOR=$(cd ../build && pwd)/tools/kontor \
      ctest --output-on-failure -j "$jobs" --timeout 900 -R "$functional"
    ;;
  tsan)
    configure build-tsan -DKONTOR_TSAN=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
    cmake --build build-tsan -j "$jobs" --target kontor-unit-tests kontord
    cd build-tsan
    # The in-process node (admission pool, mempool, producer), the thread pool, the pipelined
    # block verification and the store.
    ctest --output-on-failure -j "$jobs" --timeout 900 \
      -R '^unit:(admission|mempool|thread pool|node store|healthz|CommitBlocks|replay|a store)'
    KONTORD=$PWD/node/kontord KONTOR=$(cd ../build && pwd)/tools/kontor \
      ctest --output-on-failure -j "$jobs" --timeout 900 -R "$functional"
    ;;
esac
