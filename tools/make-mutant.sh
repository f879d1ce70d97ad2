#!/usr/bin/env bash
# Writes one mutant for tools/mutate.sh: replaces the one occurrence of OLD in FILE by NEW (in
# a copy; the tree is not changed) and saves the diff with its header lines.
#   tools/make-mutant.sh node/18-mempool-funds-ignore-pending node/mempool.cpp \
#     'if (pending + s.amount > balance)' 'if (s.amount > balance)' \
#     "a payer's balance is checked against each tx alone" '^unit:'
# Regenerating a mutant whose lines moved: pass the same NAME; the header is rewritten.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# != 6)); then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
name=$1 file=$2 old=$3 new=$4 what=$5 tests=$6
out=tests/mutants/$name.patch
copy=$(mktemp)
trap 'rm -f "$copy"' EXIT
python3 - "$file" "$copy" "$old" "$new" <<'PY'
import sys
src, dst, old, new = sys.argv[1:]
text = open(src).read()
n = text.count(old)
if n != 1:
    sys.exit(f"make-mutant: {old!r} occurs {n} times in {src}; give a longer, unique piece")
open(dst, "w").write(text.replace(old, new))
PY
mkdir -p "$(dirname "$out")"
{
  echo "# mutant: $what"
  echo "# tests: $tests"
  diff -u --label "a/$file" --label "b/$file" "$file" "$copy" || true
} >"$out"
git apply --check "$out"
echo "make-mutant: wrote $out"
