"""PCILOCK_CATALOGUE: a catalogue directory other than the installed one; its errors are one line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CAT = Path(__file__).resolve().parents[2] / "scenarios"


def pcilock(*args, env_dir):
    import os

    env = dict(os.environ, PCILOCK_CATALOGUE=str(env_dir))
    return subprocess.run([sys.executable, "-m", "pcilock.cli.main", *args], capture_output=True, text=True,
                          env=env, check=False)


def test_catalogue_from_the_environment(tmp_path):
    shutil.copy(CAT / "case-28-double-remove-self.toml", tmp_path / "mine.toml")
    res = pcilock("list", env_dir=tmp_path)
    assert res.returncode == 0 and res.stdout.splitlines()[0] == "case-28-double-remove-self", res.stdout
    assert "seed-000" not in res.stdout


def test_bad_catalogue_is_one_line_exit_2(tmp_path):
    res = pcilock("matrix", env_dir=tmp_path / "nope")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "PCILOCK_CATALOGUE" in res.stderr
    for name in ("a.toml", "b.toml"):
        shutil.copy(CAT / "case-28-double-remove-self.toml", tmp_path / name)
    res = pcilock("matrix", env_dir=tmp_path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "also the id of" in res.stderr, res.stderr
