"""The port services' shared interrupt vector (kernel/irq/manage.c, drivers/pci/pcie/portdrv.c).

A Root Port's PME, AER (and pciehp, DPC) services request IRQF_SHARED actions on one
vector.  From v6.12 on ``__free_irq`` waits through ``__synchronize_irq`` for every IRQ
thread of the vector; v6.1 stops only the freed action's own thread.  Each test explores a
small scenario and checks what the kernel source says: where the unbinding task waits, and
that the cycle needs the acquisition the catalogue's notes blame.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_files import scenario

from pcilock._engine_imports import read
from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.kernel._model import K
from pcilock.patches import parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

BASES = ("v6.1", "v6.12", "v7.2")
CAT = Path(__file__).resolve().parents[2] / "scenarios"

UNBIND = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"

[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
driver = "nvme"

[[thread]]
name = "nvme"
run = ["aer fatal 0000:01:00.0"]

[[thread]]
name = "unbind"
run = ["echo 0000:00:1c.0 > /sys/bus/pci/drivers/pcieport/unbind"]
"""


def explore_sc(sc, regime, overrides=None, **kw):
    load_all()
    res = explore(make_program(sc, parse_regime(regime), overrides), "dpor", budget=Budget(seconds=120), **kw)
    assert res.error is None, res.error
    return res


def waiting_in(res, name):
    """The model functions on the stack of task *name*, blocked in the first violation's trace."""
    ex = res.found[0].trace.ex
    t = next(t for t in ex.threads if t is not None and t.name == name)
    assert t.pending is not None and not ex.is_enabled(t), name
    return [f[0] for f in t.stack]


@pytest.mark.parametrize("base", BASES)
def test_pcieport_unbind_waits_for_the_aer_thread(tmp_path, base):
    res = explore_sc(scenario(tmp_path, UNBIND), base)
    assert res.verdict == "deadlock", res.verdict
    stack = waiting_in(res, "unbind")
    assert "free_irq" in stack, stack
    if base == "v6.1":
        # kthread_stop of the AER action's own thread, in AER's devres release; PME's free_irq did
        # not wait for it
        assert "pcie_pme_remove" not in stack and "_kthread_stop" in stack, stack
    else:
        # __synchronize_irq in the first service's free_irq: PME's action has no thread at all
        assert "pcie_pme_remove" in stack and "__synchronize_irq" in stack, stack


def _pci_bus_lock_without_bridge(bus):
    """pci_bus_lock (drivers/pci/pci.c) before a4e772898f8b: only the devices on the bus."""
    for dev in (yield read(bus, "devices")):
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_lock(sub)
        else:
            yield from K.pci_dev_lock(dev)


def _pci_bus_unlock_without_bridge(bus):
    for dev in (yield read(bus, "devices")):
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_unlock(sub)
        else:
            yield from K.pci_dev_unlock(dev)


@pytest.mark.parametrize("base", ["v6.1", "v6.12"])
def test_root_port_remove_cycle_needs_the_bridge_lock_of_the_bus_reset(base):
    sc = load_scenario(CAT / "aer-fatal-vs-root-port-remove.toml")
    assert explore_sc(sc, base).verdict == "deadlock"
    res = explore_sc(sc, base, {"pci_bus_lock": _pci_bus_lock_without_bridge,
                                "pci_bus_unlock": _pci_bus_unlock_without_bridge}, stop_on_first=False)
    assert "deadlock" not in {f.kind for f in res.found}, [f.message for f in res.found]
    assert res.exhaustive
