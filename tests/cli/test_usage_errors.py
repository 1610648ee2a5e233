"""Usage errors (click's) are one line on stderr and exit 2, like every other input error."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args,words", [
    (["check", "seed-000-sriov-numvfs-vs-remove", "--budget", "0"], "--budget"),
    (["frob"], "frob"),
    (["check"], "SCENARIO"),
    (["--nope"], "--nope"),
])
def test_usage_error_is_one_line(args, words):
    r = subprocess.run([sys.executable, "-m", "pcilock.cli.main", *args], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 2, r
    assert r.stdout == "" and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
