"""igbvf model driver: v6.12/v7.2 reset_prepare/reset_done hold the __IGBVF_RESETTING bit across a
function reset of the VF, under the VF's device lock and config lock (F3); v6.1 has no such callbacks."""

from __future__ import annotations

import pytest

from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.patches import parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

SCENARIO = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"

[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
driver = "igb"
sriov = { total_vfs = 4, num_vfs = 1 }
vf_driver = "igbvf"

[[thread]]
name = "reset"
run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.1/reset"]
"""

EDGE = (("pci_cfg_access_lock", 0), ("__IGBVF_RESETTING", 0))


def _no_op(pdev):
    return
    yield


def run(tmp_path, regime, overrides=None):
    load_all()
    path = tmp_path / "t.toml"
    path.write_text(SCENARIO)
    res = explore(make_program(load_scenario(path), parse_regime(regime), overrides), "dpor",
                  budget=Budget(seconds=60))
    assert res.error is None, res.error
    assert res.verdict == "ok" and res.exhaustive
    return res


@pytest.mark.parametrize("regime,has", [("v6.1", False), ("v6.12", True), ("v7.2", True)])
def test_vf_reset_holds_the_resetting_bit_under_the_vf_locks(tmp_path, regime, has):
    assert (EDGE in run(tmp_path, regime).lock_graph.class_edges()) == has
    if has:
        res = run(tmp_path, regime, {"igbvf_io_prepare": _no_op, "igbvf_io_reset_done": _no_op})
        assert EDGE not in res.lock_graph.class_edges()
