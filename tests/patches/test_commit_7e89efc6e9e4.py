"""7e89efc6e9e4 (the upstream bridge locked in pci_reset_function): its Fixes pair on the
reset-vs-pcieport-unbind race, and the regime rules for a commit in v6.12/v7.2 only."""

from __future__ import annotations

import pytest

from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.kernel._model import base_table
from pcilock.patches import RegimeError, build_table, parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

SCENARIO = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"
hotplug = true
slot = 1

[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
reset_methods = ["bus"]

[[thread]]
name = "reset"
run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/reset"]

[[thread]]
name = "unbind"
run = ["echo 0000:00:1c.0 > /sys/bus/pci/drivers/pcieport/unbind"]
"""


def verdict(tmp_path, regime):
    load_all()
    path = tmp_path / "t.toml"
    path.write_text(SCENARIO)
    res = explore(make_program(load_scenario(path), parse_regime(regime)), "dpor", budget=Budget(seconds=120),
                  stop_on_first=False)
    assert res.error is None, res.error
    return res


@pytest.mark.parametrize("regime,expected", [
    ("v6.1", "uaf"), ("v6.1+7e89efc6e9e4", "ok"),
    ("v6.12", "ok"), ("v6.12-7e89efc6e9e4", "uaf"),
    ("v7.2", "ok"), ("v7.2-7e89efc6e9e4", "uaf"),
])
def test_bridge_lock_closes_the_reset_vs_unbind_window(tmp_path, regime, expected):
    res = verdict(tmp_path, regime)
    kinds = {f.kind for f in res.found}
    if expected == "ok":
        assert not kinds and res.exhaustive
    else:  # the reset takes the freed controller's reset_lock (and races on dev->slot on the way)
        assert expected in kinds


def test_override_is_the_other_base_form():
    load_all()
    before = build_table(parse_regime("v6.12-7e89efc6e9e4"))[0]["pci_reset_function"]
    after = build_table(parse_regime("v6.1+7e89efc6e9e4"))[0]["pci_reset_function"]
    assert before is not base_table("v6.12")["pci_reset_function"]
    assert after is not base_table("v6.1")["pci_reset_function"]


@pytest.mark.parametrize("regime", ["v6.1-7e89efc6e9e4", "v6.12+7e89efc6e9e4", "v7.2+7e89efc6e9e4"])
def test_applying_a_present_or_reverting_an_absent_commit_is_an_input_error(regime):
    load_all()
    with pytest.raises(RegimeError):
        build_table(parse_regime(regime))
