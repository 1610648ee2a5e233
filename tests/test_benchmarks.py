"""Smoke test of ``benchmarks/run.py``: the quick run prints one JSON object of the
documented shape.  Timings are never asserted (they depend on the machine)."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent

NUMBER = {"type": "number", "minimum": 0}
SCHEMA = {
    "type": "object",
    "required": ["events_per_second", "abba", "redundancy"],
    "properties": {
        "events_per_second": NUMBER,
        "abba": {
            "type": "array",
            "minItems": 9,
            "maxItems": 9,
            "items": {
                "type": "object",
                "required": ["workers", "first_deadlock_seconds", "exhaustive_seconds", "executions"],
                "properties": {
                    "workers": {"type": "integer", "minimum": 0},
                    "first_deadlock_seconds": NUMBER,
                    "exhaustive_seconds": {"anyOf": [NUMBER, {"type": "null"}]},
                    "executions": {"type": "integer", "minimum": 1},
                },
            },
        },
        "redundancy": {
            "type": "object",
            "minProperties": 4,
            "additionalProperties": {"type": "number", "minimum": 1},
        },
    },
}


@pytest.fixture(scope="module")
def quick_json():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_quick_run_prints_exactly_one_json_object(quick_json):
    data = json.loads(quick_json)  # raises on anything but one JSON document
    assert isinstance(data, dict)
    jsonschema.validate(data, SCHEMA)
    assert isinstance(data["events_per_second"], float)


def test_abba_covers_zero_to_eight_workers(quick_json):
    data = json.loads(quick_json)
    assert [r["workers"] for r in data["abba"]] == list(range(9))
    for r in data["abba"]:
        assert isinstance(r["first_deadlock_seconds"], float)
        assert r["exhaustive_verdict"] == "deadlock"  # a count-free, deterministic fact


def test_redundancy_names_the_classic_benchmarks(quick_json):
    names = json.loads(quick_json)["redundancy"]
    for family in ("lastzero", "indexer", "readers-writers", "philosophers"):
        assert any(k.startswith(family + "-") for k in names), family
    assert all(isinstance(v, float) for v in names.values())


def test_compare_against_a_revision_measures_both_sides_and_checks_the_answers():
    """``benchmarks/compare.py REV``: REV's code and this tree's, alternately, in one run.
    Against HEAD, with src/ and benchmarks/ as committed, both sides must agree."""
    clean = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "benchmarks"],
                           capture_output=True, text=True)
    if clean.returncode != 0:
        pytest.skip("not a git checkout")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare.py"), "HEAD", "--rounds", "1",
                        "--repeat", "1"], capture_output=True, text=True, timeout=300)
    lines = r.stdout.splitlines()
    assert [line.split()[2] for line in lines[:2]] == ["base", "this"], r.stdout + r.stderr
    assert "events/s" in lines[2] and ("(+" in lines[2] or "(-" in lines[2]), r.stdout
    if clean.stdout.strip():  # local changes to the engine may change the answers
        assert r.returncode in (0, 1), r.stdout + r.stderr
    else:
        assert r.returncode == 0, r.stdout + r.stderr
        assert lines[3].startswith("executions, events and findings identical"), r.stdout
    worktrees = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True)
    assert "pcilock-compare-" not in worktrees.stdout  # the temporary worktree is gone


def test_compare_with_an_unknown_revision_is_a_usage_error():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare.py"), "no-such-revision-here"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "no-such-revision-here" in r.stderr
