"""The README's first two lines are the commands a new user runs, and CI runs the second
one exactly (``.ci/run`` reads it from the README)."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"

MAIN_COMMAND = "pip install . && pcilock matrix"
TEST_COMMAND = "pip install '.[test]' && python -m pytest -q"


def _lines():
    return README.read_text(encoding="utf-8").splitlines()


def test_readme_starts_with_the_two_commands():
    lines = _lines()
    assert len(lines) >= 2
    # line 1 may end in two spaces: a Markdown line break, harmless in a shell
    assert lines[0].rstrip() == MAIN_COMMAND
    assert lines[1] == TEST_COMMAND


def test_readme_has_a_measured_section():
    assert "## Measured" in _lines()
    assert "benchmarks/run.py" in README.read_text(encoding="utf-8")


def test_ci_script_is_executable_bash_with_strict_mode():
    text = CI.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert CI.stat().st_mode & stat.S_IXUSR
    for needle in ("python3 -m venv", "ruff check src tests benchmarks", "apt-get install -y",
                   "chromium"):
        assert needle in text, needle


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ci_runs_exactly_the_readme_test_command():
    env = {k: v for k, v in os.environ.items() if k != "BASH_ENV"}
    out = subprocess.run(["bash", str(CI), "--print-test-command"], capture_output=True, text=True,
                         env=env, timeout=30, check=True).stdout
    assert out.rstrip("\n") == _lines()[1] == TEST_COMMAND
