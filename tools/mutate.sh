#!/usr/bin/env bash
# Mutation campaign: plants each mutant of tests/mutants/ in a scratch copy of the tree, one at
# a time, rebuilds incrementally, runs the tests the mutant names and reports it killed (a test
# failed) or survived (every test passed). Prints a score per folder and overall.
#
#   tools/mutate.sh                      every mutant (about 1 min each on 2 cores)
#   tools/mutate.sh contracts/ 03-       only mutants whose path contains one of these strings
#   tools/mutate.sh --list               list the mutants with their descriptions, run nothing
#   tools/mutate.sh --no-baseline ...    skip the check that the unmutated tree passes
#
# The working tree is never touched: the current tree (tracked and untracked files, as git sees
# them) is copied to .mutate/src and built in .mutate/src/build (with ccache, the first build
# mostly hits the cache of ./build). Results go to .mutate/report.md and standard output.
# KONTOR_MUTATE_DIR=DIR uses another scratch directory (under the repo, e.g. .mutate-tools), so
# two folders can run at once: functional tests wait on blocks, and two runs share 2 cores well.
# A mutant file is a unified diff preceded by "# " header lines (tests/mutants/README.md):
#   # mutant: what the bug is          # tests: ctest -R regex       # equivalent: why (optional)
# Needs: the packages of tools/setup.sh, and GNU patch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

list_only=0
baseline=1
filters=()
while (($#)); do
  case "$1" in
    --list) list_only=1 ;;
    --no-baseline) baseline=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "mutate: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) filters+=("$1") ;;
  esac
  shift
done

header() {  # header FILE KEY -> the value of "# KEY: value", empty if absent
  sed -n "s/^# $2: //p" "$1" | head -1
}

mapfile -t all_mutants < <(find tests/mutants -name '*.patch' | sort)
mutants=()
for m in "${all_mutants[@]}"; do
  if ((${#filters[@]} == 0)); then mutants+=("$m"); continue; fi
  for f in "${filters[@]}"; do [[ "$m" == *"$f"* ]] && { mutants+=("$m"); break; }; done
done
if ((${#mutants[@]} == 0)); then
  echo "mutate: no mutant matches ${filters[*]:-} (tests/mutants/*/*.patch)" >&2
  exit 2
fi
if ((list_only)); then
  for m in "${mutants[@]}"; do
    eq=$(header "$m" equivalent)
    printf '%-58s %s%s\n' "${m#tests/mutants/}" "$(header "$m" mutant)" "${eq:+  [equivalent: $eq]}"
  done
  exit 0
fi
command -v patch >/dev/null || { echo "mutate: GNU patch is needed (apt-get install patch)" >&2; exit 2; }

scratch="${KONTOR_MUTATE_DIR:-$root/.mutate}"
src="$scratch/src"
build="$src/build"   # inside src, so ccache sees the same relative paths as ./build
jobs=$(nproc)
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
mkdir -p "$src"

# Copy the tree as git sees it; unchanged files keep their times so the build stays incremental.
echo "mutate: copying the tree to $src"
mapfile -t files < <(git ls-files -co --exclude-standard)
declare -A wanted=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  wanted["$f"]=1
  if ! cmp -s "$f" "$src/$f" 2>/dev/null; then
    mkdir -p "$src/$(dirname "$f")"
    cp -p "$f" "$src/$f"
  fi
done
while IFS= read -r -d '' f; do
  rel=${f#"$src"/}
  [ -n "${wanted[$rel]:-}" ] || rm -f "$f"
done < <(find "$src" -path "$build" -prune -o -type f -print0)

build_all() { cmake --build "$build" -j "$jobs" >"$scratch/build.log" 2>&1; }
# Only the programs the selected tests run (a mutant's link time is most of its build).
build_for() {
  local targets=()
  [[ "$1" == *unit* ]] && targets+=(kontor-unit-tests)
  [[ "$1" == *property* ]] && targets+=(kontor-property-tests)
  [[ "$1" == *functional* ]] && targets+=(kontord kontor)
  ((${#targets[@]})) || { build_all; return; }
  cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$scratch/build.log" 2>&1
}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$scratch/configure.log" 2>&1
fi
echo "mutate: building the unmutated tree"
build_all || { echo "mutate: the unmutated tree does not build; see $scratch/build.log" >&2; exit 1; }

run_tests() {  # run_tests REGEX LOG -> exit status of ctest
  # Twice the cores: many tests wait on a node's blocks rather than compute.
  (cd "$build" && ctest -R "$1" -E '^bench:' --stop-on-failure -j "$((jobs * 2))" --timeout 300 >"$2" 2>&1)
}

if ((baseline)); then
  regexes=()
  for m in "${mutants[@]}"; do regexes+=("$(header "$m" tests)"); done
  union=$(printf '%s\n' "${regexes[@]}" | sort -u | paste -sd'|')
  echo "mutate: baseline: the unmutated tree must pass ($union)"
  if ! run_tests "$union" "$scratch/baseline.log"; then
    echo "mutate: the unmutated tree fails its tests; see $scratch/baseline.log" >&2
    exit 1
  fi
fi

declare -A killed=() survived=() equivalent=() stillborn=()
folders=()
results=()
start_all=$(date +%s)
i=0
for m in "${mutants[@]}"; do
  i=$((i + 1))
  rel=${m#tests/mutants/}
  folder=${rel%%/*}
  [[ " ${folders[*]} " == *" $folder "* ]] || folders+=("$folder")
  desc=$(header "$m" mutant)
  regex=$(header "$m" tests)
  eq=$(header "$m" equivalent)
  if [ -n "$eq" ]; then
    equivalent[$folder]=$((${equivalent[$folder]:-0} + 1))
    results+=("equivalent|$rel|$desc|$eq")
    printf '[%d/%d] %-52s equivalent\n' "$i" "${#mutants[@]}" "$rel"
    continue
  fi
  t0=$(date +%s)
  if ! patch -p1 -s -d "$src" --dry-run <"$m" >/dev/null 2>&1; then
    stillborn[$folder]=$((${stillborn[$folder]:-0} + 1))
    results+=("stillborn|$rel|$desc|does not apply")
    printf '[%d/%d] %-52s STILLBORN (does not apply)\n' "$i" "${#mutants[@]}" "$rel"
    continue
  fi
  patch -p1 -s -d "$src" <"$m"
  log="$scratch/$(echo "$rel" | tr '/' '_').log"
  if ! build_for "$regex"; then
    outcome=stillborn
    cp "$scratch/build.log" "$log"
  elif run_tests "$regex" "$log"; then
    outcome=survived
  else
    outcome=killed
  fi
  patch -p1 -R -s -d "$src" <"$m"
  seconds=$(($(date +%s) - t0))
  case $outcome in
    killed)
      killed[$folder]=$((${killed[$folder]:-0} + 1))
      by=$(grep -m1 -E '^\s*[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*Failed|\*\*\*Timeout|Exception|Failed)' "$log" | sed -E 's/.*Test +#[0-9]+: //; s/ \.\.\.+.*//' || true)
      results+=("killed|$rel|$desc|$by") ;;
    survived)
      survived[$folder]=$((${survived[$folder]:-0} + 1))
      results+=("survived|$rel|$desc|") ;;
    stillborn)
      stillborn[$folder]=$((${stillborn[$folder]:-0} + 1))
      results+=("stillborn|$rel|$desc|does not build") ;;
  esac
  printf '[%d/%d] %-52s %-9s %4ds\n' "$i" "${#mutants[@]}" "$rel" "$outcome" "$seconds"
done
# Leave the scratch build matching the unmutated tree (ccache makes this quick).
build_all || true

report="$scratch/report.md"
{
  echo "# Mutation campaign, $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted changes')"
  echo
  echo "Command: \`tools/mutate.sh${filters[*]:+ ${filters[*]}}\` ($(( ($(date +%s) - start_all) / 60 )) min on $(nproc) cores)"
  echo
  echo "| folder | mutants | equivalent | killed | survived | did not build | score (killed / non-equivalent) |"
  echo "|---|---|---|---|---|---|---|"
  tk=0; ts=0; te=0; tb=0
  for f in "${folders[@]}"; do
    k=${killed[$f]:-0}; s=${survived[$f]:-0}; e=${equivalent[$f]:-0}; b=${stillborn[$f]:-0}
    tk=$((tk + k)); ts=$((ts + s)); te=$((te + e)); tb=$((tb + b))
    score="n/a"; ((k + s)) && score="$((100 * k / (k + s))) %"
    echo "| $f | $((k + s + e + b)) | $e | $k | $s | $b | $score |"
  done
  score="n/a"; ((tk + ts)) && score="$((100 * tk / (tk + ts))) %"
  echo "| **all** | $((tk + ts + te + tb)) | $te | $tk | $ts | $tb | **$score** |"
  echo
  echo "| mutant | outcome | what it plants | killed by / why equivalent |"
  echo "|---|---|---|---|"
  for r in "${results[@]}"; do
    IFS='|' read -r outcome rel desc note <<<"$r"
    echo "| \`$rel\` | $outcome | $desc | $note |"
  done
} >"$report"
echo
sed -n '1,/^| \*\*all/p' "$report"
echo
echo "mutate: full report in $report"
grep -q '^| `.*| survived |' "$report" && { echo "mutate: survivors:"; grep '^| `.*| survived |' "$report" | cut -d'|' -f2,4; }
exit 0
