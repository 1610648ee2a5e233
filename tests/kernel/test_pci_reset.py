"""pci.c reset paths: what a function reset of a device below a pciehp slot may see while
pcieport is unbound from the port (F9), and the other reset-path details of the audit."""

from __future__ import annotations

import pytest

from pcilock._engine_imports import read
from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.kernel._model import K
from pcilock.patches import parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

PORT, DEV = "0000:00:1c.0", "0000:01:00.0"

HOTPLUG_TOPOLOGY = f"""
[[device]]
bdf = "{PORT}"
type = "root-port"
hotplug = true
slot = 1

[[device]]
bdf = "{DEV}"
parent = "{PORT}"
reset_methods = ["bus"]
"""


def explore_text(tmp_path, topology, threads, regime, overrides=None, **kw):
    load_all()
    body = topology
    for name, ops in threads.items():
        lines = ", ".join(f'"{o}"' for o in ops)
        body += f'\n[[thread]]\nname = "{name}"\nrun = [{lines}]\n'
    path = tmp_path / "t.toml"
    path.write_text(body)
    res = explore(make_program(load_scenario(path), parse_regime(regime), overrides), "dpor",
                  budget=Budget(seconds=120), **kw)
    assert res.error is None, res.error
    return res


RESET_VS_UNBIND = {"reset": [f"echo 1 > /sys/bus/pci/devices/{DEV}/reset"],
                   "unbind": [f"echo {PORT} > /sys/bus/pci/drivers/pcieport/unbind"]}


def _one_slot_load(dev, probe):
    # pci_dev_reset_slot_function with the two loads of dev->slot merged into one
    if (yield read(dev, "subordinate")) is not None:
        return -25
    slot = yield read(dev, "slot")
    if slot is None:
        return -25
    return (yield from K.pci_reset_hotplug_slot((yield read(slot, "hotplug")), probe))


def _null_derefs(res):
    return [f for f in res.found if "NULL pointer" in f.message]


def test_reset_vs_pcieport_unbind_6_1_can_dereference_a_null_slot(tmp_path):
    # 6.1 pci_reset_function locks only the device; pcieport's unbind (device_lock(port)) frees
    # the slot and clears dev->slot between pci_dev_reset_slot_function's two loads
    res = explore_text(tmp_path, HOTPLUG_TOPOLOGY, RESET_VS_UNBIND, "v6.1", stop_on_first=False)
    assert res.verdict == "uaf"
    assert _null_derefs(res)
    res = explore_text(tmp_path, HOTPLUG_TOPOLOGY, RESET_VS_UNBIND, "v6.1",
                       {"pci_dev_reset_slot_function": _one_slot_load}, stop_on_first=False)
    assert res.verdict == "uaf" and not _null_derefs(res)


@pytest.mark.parametrize("regime", ["v6.12", "v7.2"])
def test_reset_vs_pcieport_unbind_serialised_by_the_bridge_lock(tmp_path, regime):
    # 6.12/7.2 pci_reset_function holds device_lock(port) across the slot reset (7e89efc6e9e4);
    # the unbind holds it across pciehp_remove
    res = explore_text(tmp_path, HOTPLUG_TOPOLOGY, RESET_VS_UNBIND, regime)
    assert res.verdict == "ok" and res.exhaustive


BRIDGE_TOPOLOGY = f"""
[[device]]
bdf = "{PORT}"
type = "root-port"

[[device]]
bdf = "{DEV}"
parent = "{PORT}"
"""


@pytest.mark.parametrize("regime", ["v6.1", "v6.12", "v7.2"])
def test_secondary_bus_wait_holds_a_reference_on_the_first_child(tmp_path, regime):
    # pci_bridge_wait_for_secondary_bus: child = pci_dev_get(first device), put at scope exit
    seen = []

    def get_device(dev):
        seen.append(("get", getattr(dev, "bdf", None)))
        if dev is not None:
            yield from K.__dict__["_orig_get"](dev)
        return dev

    def put_device(dev):
        seen.append(("put", getattr(dev, "bdf", None)))
        yield from K.__dict__["_orig_put"](dev)

    from pcilock.patches import build_table

    table = build_table(parse_regime(regime))[0]
    over = {"get_device": get_device, "put_device": put_device,
            "_orig_get": table["get_device"], "_orig_put": table["put_device"]}
    res = explore_text(tmp_path, BRIDGE_TOPOLOGY,
                       {"admin": [f"echo 1 > /sys/bus/pci/devices/{PORT}/reset_subordinate"]}, regime, over)
    assert res.verdict == "ok" and res.exhaustive
    assert ("get", DEV) in seen and ("put", DEV) in seen
    assert seen.index(("get", DEV)) < seen.index(("put", DEV))


@pytest.mark.parametrize("regime", ["v6.1", "v6.12", "v7.2"])
def test_default_reset_methods_stop_at_the_first_probe_error(tmp_path, regime):
    # pci_init_reset_methods: a probe failing with an error other than -ENOTTY ends the list
    from pcilock._engine_imports import check

    def acpi_probe_fails(dev, probe):
        return -5  # -EIO
        yield

    def flr_must_not_run(dev, probe):
        if not probe:
            yield check(False, "FLR after a failed _RST probe")
        return 0

    ops = [f"echo default > /sys/bus/pci/devices/{DEV}/reset_method",
           f"echo 1 > /sys/bus/pci/devices/{DEV}/reset"]
    res = explore_text(tmp_path, BRIDGE_TOPOLOGY, {"admin": ops}, regime,
                       {"pci_dev_acpi_reset": acpi_probe_fails, "pcie_reset_flr": flr_must_not_run})
    assert res.verdict == "ok" and res.exhaustive
