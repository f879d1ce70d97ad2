#!/usr/bin/env python3
"""Checks that ctest's entries and the Catch2 test cases correspond one to one.

catch_discover_tests turns every TEST_CASE into a ctest entry that runs the test binary with
the case's name as its test spec. A name that ctest splits (it splits on ';'), or an entry left
over from a renamed case, would run no test case at all; Catch2 then prints "No tests ran" and,
without `--warn NoTests`, exits 0, so ctest counts a pass that tested nothing.

This guard, run by tools/test.sh before ctest, fails when:
  - a Catch2 entry's test spec names no test case of its binary, or names it twice;
  - a test case of a binary has no entry, or more than one;
  - a Catch2 entry runs without `--warn NoTests` (so an unmatched spec would pass);
  - a test case name holds a character that ctest or Catch2's spec parser would mangle.

Usage: tools/check-test-entries.py [BUILD_DIR]     (default: ./build)
Exit status 0 when every entry runs exactly one test case; 1 with a list of the problems.
"""
import json
import os
import subprocess
import sys

# Characters that break the name -> spec -> ctest round trip: ';' is ctest's list separator,
# '*' and a leading '~' are spec syntax, a backslash or a quote would be unescaped on the way.
UNSAFE = set(';*\\"')


def catch_spec_to_name(spec):
    """Undoes CatchAddTests.cmake's escaping of ',', '[' and ']'."""
    out, i = [], 0
    while i < len(spec):
        if spec[i] == "\\" and i + 1 < len(spec) and spec[i + 1] in ",[]":
            out.append(spec[i + 1])
            i += 2
        else:
            out.append(spec[i])
            i += 1
    return "".join(out)


def list_test_cases(binary):
    result = subprocess.run([binary, "--list-test-names-only"], capture_output=True, text=True)
    # Catch2 v2 exits with the number of test cases listed.
    if result.returncode < 0:
        raise SystemExit(f"check-test-entries: {binary} crashed while listing its test cases")
    return [line for line in result.stdout.split("\n") if line.strip()]


CATCH_BINARIES = ("kontor-unit-tests", "kontor-property-tests", "kontor-sim-tests")


def check(entries, list_cases):
    """Returns (problems, catch entry count, test case count) for ctest's json-v1 `entries`;
    `list_cases(binary)` gives a binary's test case names."""
    problems = []
    specs_by_binary = {}  # binary -> list of (entry name, spec)
    for entry in entries:
        command = entry.get("command") or []
        if len(command) < 2 or os.path.basename(command[0]) not in CATCH_BINARIES:
            continue
        warn_at = command.index("--warn") if "--warn" in command else -1
        if warn_at < 0 or command[warn_at + 1:warn_at + 2] != ["NoTests"]:
            problems.append(f"entry '{entry['name']}' runs without --warn NoTests")
        specs_by_binary.setdefault(command[0], []).append((entry["name"], command[1]))

    if not specs_by_binary:
        problems.append("no Catch2 entries found: is the build complete?")
    total_cases = 0
    for binary, specs in sorted(specs_by_binary.items()):
        cases = list_cases(binary)
        total_cases += len(cases)
        entries_per_case = {case: 0 for case in cases}
        for case in cases:
            bad = sorted(UNSAFE & set(case))
            if bad or case.startswith("~") or case != case.strip():
                problems.append(f"{os.path.basename(binary)}: test case name '{case}' holds {bad or 'leading/trailing space or ~'}")
        for entry_name, spec in specs:
            name = catch_spec_to_name(spec)
            if name not in entries_per_case:
                problems.append(f"entry '{entry_name}' names no test case of {os.path.basename(binary)} (spec '{spec}')")
            else:
                entries_per_case[name] += 1
        for case, count in entries_per_case.items():
            if count != 1:
                problems.append(f"{os.path.basename(binary)}: test case '{case}' has {count} ctest entries (needs exactly 1)")
    return problems, sum(len(s) for s in specs_by_binary.values()), total_cases


def main():
    build_dir = sys.argv[1] if len(sys.argv) > 1 else "build"
    if not os.path.isfile(os.path.join(build_dir, "CTestTestfile.cmake")):
        print(f"check-test-entries: {build_dir} is not a configured build directory", file=sys.stderr)
        return 1
    shown = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build_dir, capture_output=True, text=True, check=True)
    problems, catch_entries, total_cases = check(json.loads(shown.stdout)["tests"], list_test_cases)
    if problems:
        print("check-test-entries: FAILED", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print(f"check-test-entries: {catch_entries} Catch2 entries for {total_cases} test cases, one to one, all with --warn NoTests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
