"""The test harness's guard (tools/check-test-entries.py) and Catch2's --warn NoTests: an entry
that runs no test case must fail, never pass."""
import importlib.util
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("check_test_entries", os.path.join(ROOT, "tools", "check-test-entries.py"))
guard = importlib.util.module_from_spec(spec)
spec.loader.exec_module(guard)

UNIT = "/b/tests/kontor-unit-tests"
CASES = ["a tx that would break an invariant is dropped, the block is still built", "assets: a, b [x]"]


def entry(name, test_spec, warn=True):
    return {"name": name, "command": [UNIT, test_spec] + (["--warn", "NoTests"] if warn else [])}


def run(entries):
    return guard.check(entries, lambda binary: CASES)


def good_entries():
    return [entry("unit: " + CASES[0], CASES[0]), entry("unit: " + CASES[1], "assets: a\\, b \\[x\\]")]


def test_one_entry_per_case_passes():
    problems, entries, cases = run(good_entries())
    assert problems == []
    assert (entries, cases) == (2, 2)


def test_a_name_split_by_ctest_is_caught():
    # What catch_discover_tests made of "...dropped; the block is still built": two entries,
    # each half matching no test case.
    halves = [entry("unit: a tx that would break an invariant is dropped", "a tx that would break an invariant is dropped"),
              entry("unit:  the block is still built", " the block is still built")]
    problems, _, _ = run(halves + good_entries()[1:])
    assert any("names no test case" in p and "is dropped" in p for p in problems)
    assert any("names no test case" in p and "still built" in p for p in problems)
    assert any("has 0 ctest entries" in p for p in problems)


def test_an_entry_without_warn_notests_is_caught():
    entries = good_entries()
    entries[0] = entry("unit: " + CASES[0], CASES[0], warn=False)
    problems, _, _ = run(entries)
    assert problems == [f"entry 'unit: {CASES[0]}' runs without --warn NoTests"]


def test_a_case_with_two_entries_is_caught():
    problems, _, _ = run(good_entries() + [good_entries()[0]])
    assert any("has 2 ctest entries" in p for p in problems)


def test_a_name_ctest_would_split_is_caught():
    problems, _, _ = guard.check([entry("unit: x; y", "x; y")], lambda binary: ["x; y"])
    assert any("holds [';']" in p for p in problems)


def test_the_real_build_passes_the_guard():
    build = os.environ.get("KONTOR_BUILD_DIR")
    if not build:
        pytest.skip("KONTOR_BUILD_DIR is not set (ctest sets it)")
    result = subprocess.run(["python3", os.path.join(ROOT, "tools", "check-test-entries.py"), build],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "one to one" in result.stdout


def test_catch_fails_an_entry_whose_spec_matches_nothing():
    build = os.environ.get("KONTOR_BUILD_DIR")
    if not build:
        pytest.skip("KONTOR_BUILD_DIR is not set (ctest sets it)")
    binary = os.path.join(build, "tests", "kontor-unit-tests")
    half = subprocess.run([binary, "a tx that would break an invariant is dropped", "--warn", "NoTests"],
                          capture_output=True, text=True)
    assert half.returncode == 2
    assert "No test cases matched" in half.stdout + half.stderr
