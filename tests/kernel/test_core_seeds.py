"""Seed verdicts of the core paths come from exploration, and depend on the
lock acquisition that closes each cycle: removing it removes the deadlock."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcilock._engine_imports import read
from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.kernel._model import K
from pcilock.patches import PATCHES, parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

CAT = Path(__file__).resolve().parents[2] / "scenarios"


def verdict(name, regime, overrides=None, **kw):
    load_all()
    sc = load_scenario(CAT / f"{name}.toml")
    res = explore(make_program(sc, parse_regime(regime), overrides), "dpor", budget=Budget(seconds=120), **kw)
    assert res.error is None, res.error
    return res


def test_numvfs_vs_remove_deadlock_needs_rrl_in_numvfs_store():
    assert verdict("seed-000-sriov-numvfs-vs-remove", "v7.2").verdict == "deadlock"
    # sriov_numvfs_store without a5338e365c45's pci_lock_rescan_remove(): the cycle cannot close
    without = PATCHES["a5338e365c45"].functions("before", "v7.2")["sriov_numvfs_store"]
    res = verdict("seed-000-sriov-numvfs-vs-remove", "v7.2", {"sriov_numvfs_store": without},
                  stop_on_first=False)
    # no cycle any more; what remains is the VF removal without the lock (7.2's assertion)
    assert {f.kind for f in res.found} == {"warn"}
    res = verdict("seed-000-sriov-numvfs-vs-remove", "v6.12", {"sriov_numvfs_store": without})
    assert res.verdict == "ok" and res.exhaustive


def test_recursive_lock_needs_rrl_in_sriov_del_vfs():
    assert verdict("seed-000-recursive-rrl-2025", "v7.2-a5338e365c45-2fa119c0e5e5").verdict == "deadlock"
    load_all()
    from pcilock.kernel._model import base_table

    res = verdict("seed-000-recursive-rrl-2025", "v7.2-a5338e365c45-2fa119c0e5e5",
                  {"sriov_del_vfs": base_table("v7.2")["sriov_del_vfs"]})
    assert res.verdict == "ok"


def _dev_rescan_store_unlocked(dev, buf):
    yield from K.pci_rescan_bus(dev.bus)
    return len(buf)


def test_remove_parent_vs_rescan_child_needs_rrl_in_rescan_store():
    res = verdict("seed-001-remove-parent-vs-rescan-child", "v6.1")
    assert res.verdict == "deadlock"
    assert set(res.found[0].detail.get("cycle", [])) or res.found[0].tids
    res = verdict("seed-001-remove-parent-vs-rescan-child", "v6.1",
                  {"dev_rescan_store": _dev_rescan_store_unlocked}, stop_on_first=False)
    assert "deadlock" not in {f.kind for f in res.found}


def _kernfs_drain_nowait(kn):
    yield read(kn, "linked")


def test_remove_parent_vs_rescan_child_needs_the_kernfs_drain():
    res = verdict("seed-001-remove-parent-vs-rescan-child", "v7.2", {"kernfs_drain": _kernfs_drain_nowait},
                  stop_on_first=False)
    assert "deadlock" not in {f.kind for f in res.found}


@pytest.mark.parametrize("regime,expected", [("v6.1", "race"), ("v7.2", "warn")])
def test_unbind_teardown_without_rrl(regime, expected):
    assert verdict("seed-002-vf-teardown-unbind", regime).verdict == expected


def test_numvfs_teardown_with_rrl_is_exhaustively_ok():
    res = verdict("seed-002-vf-teardown-numvfs", "v6.12")
    assert res.verdict == "ok" and res.exhaustive


def test_regime_is_applied():
    # nechita-v14 removes the cycle; each of its patches alone does not
    assert verdict("seed-000-sriov-numvfs-vs-remove", "v7.2+nechita-v14").verdict == "ok"
    assert verdict("seed-000-sriov-numvfs-vs-remove", "v7.2+nechita-v14.2").verdict == "warn"
