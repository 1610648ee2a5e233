"""igb model driver (F7): at most 7 VFs, SR-IOV disabled only when the driver allocated VFs,
and the place of igb_sriov_reinit (rtnl) relative to pci_enable_sriov per version."""

from __future__ import annotations

import pytest

from pcilock._engine_imports import check, read
from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.patches import build_table, parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

PF = "0000:01:00.0"


def scenario(tmp_path, num_vfs, ops):
    lines = ", ".join(f'"{o}"' for o in ops)
    text = f"""
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"

[[device]]
bdf = "{PF}"
parent = "0000:00:1c.0"
driver = "igb"
sriov = {{ total_vfs = 8, num_vfs = {num_vfs} }}

[[thread]]
name = "t"
run = [{lines}]
"""
    path = tmp_path / "t.toml"
    path.write_text(text)
    return load_scenario(path)


def run(sc, regime, overrides):
    load_all()
    res = explore(make_program(sc, parse_regime(regime), overrides), "dpor", budget=Budget(seconds=60))
    assert res.error is None, res.error
    return res


def numvfs(n):
    return f"echo {n} > /sys/bus/pci/devices/{PF}/sriov_numvfs"


def observe_configure(regime, seen):
    orig = build_table(parse_regime(regime))[0]["igb_pci_sriov_configure"]

    def wrapped(pdev, n):
        ret = yield from orig(pdev, n)
        seen.append((n, ret, (yield read(pdev.sriov, "num_VFs"))))
        return ret

    return {"igb_pci_sriov_configure": wrapped}


@pytest.mark.parametrize("regime", ["v6.1", "v6.12", "v7.2"])
def test_more_than_seven_vfs_are_refused(tmp_path, regime):
    seen = []
    res = run(scenario(tmp_path, 0, [numvfs(8), numvfs(7)]), regime, observe_configure(regime, seen))
    assert res.verdict == "ok" and res.exhaustive
    assert seen == [(8, -1, 0), (7, 7, 7)]  # igb_enable_sriov: num_vfs > 7 -> -EPERM


@pytest.mark.parametrize("regime,vfs_at_reinit", [("v6.1", 2), ("v6.12", 0), ("v7.2", 0)])
def test_reinit_runs_before_pci_enable_sriov_since_6_12(tmp_path, regime, vfs_at_reinit):
    def reinit(pdev):
        nv = yield read(pdev.sriov, "num_VFs")
        yield check(nv == vfs_at_reinit, f"igb_sriov_reinit saw {nv} VFs")
        return 0

    res = run(scenario(tmp_path, 0, [numvfs(2)]), regime, {"igb_sriov_reinit": reinit})
    assert res.verdict == "ok" and res.exhaustive


@pytest.mark.parametrize("regime", ["v6.1", "v6.12", "v7.2"])
def test_unbind_disables_sriov_only_when_the_driver_allocated_vfs(tmp_path, regime):
    calls = []

    def disable(dev):
        calls.append(dev.bdf)
        return
        yield

    unbind = f"echo {PF} > /sys/bus/pci/drivers/igb/unbind"
    run(scenario(tmp_path, 2, [unbind]), regime, {"pci_disable_sriov": disable})
    assert calls == [PF]
    calls.clear()
    run(scenario(tmp_path, 0, [unbind]), regime, {"pci_disable_sriov": disable})
    assert calls == []  # adapter->vf_data is NULL: igb_disable_sriov does nothing
