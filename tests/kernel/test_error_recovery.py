"""AER, DPC and EEH: the operation lines parse and run in the kernel context that handles them, take
the locks the kernel takes in that order, and the catalogue's deadlocks depend on the step they blame."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcilock._engine_imports import read
from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.kernel._model import K
from pcilock.patches import parse_regime
from pcilock.scenarios.parse import load_scenario, parse_scenario_text
from pcilock.scenarios.program import make_program

CAT = Path(__file__).resolve().parents[2] / "scenarios"
BASES = ("v6.1", "v6.12", "v7.2")

TOPO = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"
hotplug = true
dpc = true
slot = 1

[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
driver = "nvme"
"""


def scenario(*lines, topo=TOPO):
    load_all()
    run = ", ".join(f'"{x}"' for x in lines)
    return parse_scenario_text(f'{topo}\n[[thread]]\nname = "t"\nrun = [{run}]\n', "t.toml")


def explore_all(sc, regime, overrides=None):
    res = explore(make_program(sc, parse_regime(regime), overrides), "dpor", budget=Budget(seconds=120),
                  lock_graph=True, stop_on_first=False)
    assert res.error is None, res.error
    return res


def edges(res):
    """{(held, acquired): (held mode, acquired mode, threads)} of the lock graph."""
    out = {}
    for (a, b), vs in res.lock_graph.edges.items():
        out[(a, b)] = (vs[0].held_mode, vs[0].acq_mode, {v.thread for v in vs})
    return out


def test_ops_parse_without_monkeypatching():
    sc = scenario("aer fatal 0000:01:00.0", "aer nonfatal 0000:01:00.0", "dpc 0000:00:1c.0",
                  "eeh 0000:01:00.0")
    assert [(o.kind, o.args) for o in sc.threads[0].ops] == [
        ("aer", ("fatal", "0000:01:00.0")), ("aer", ("nonfatal", "0000:01:00.0")),
        ("dpc", ("0000:00:1c.0",)), ("eeh", ("0000:01:00.0",))]


@pytest.mark.parametrize("regime", BASES)
def test_aer_fatal_recovery_runs_in_the_aer_irq_thread_with_its_lock_order(regime):
    res = explore_all(scenario("aer fatal 0000:01:00.0"), regime)
    assert res.verdict == "ok" and res.exhaustive
    e = edges(res)
    aer = "aerdrv 0000:00:1c.0"
    # error_detected: pci_walk_bus holds pci_bus_sem (read) while device_lock(dev) is taken
    held, acq, threads = e[("pci_bus_sem", "&dev->mutex 0000:01:00.0")]
    assert (held, acq) == ("r", "w") and all(aer in t for t in threads)
    # ... and nvme_error_detected's shutdown_lock under the device lock
    assert ("&dev->mutex 0000:01:00.0", "&dev->shutdown_lock 0000:01:00.0") in e
    # aer_root_reset -> pci_bus_error_reset: pci_slot_mutex -> slot lock -> pciehp reset_lock (write)
    assert e[("pci_slot_mutex", "&dev->mutex 0000:00:1c.0")][:2] == ("w", "w")
    assert e[("&dev->mutex 0000:01:00.0", "&ctrl->reset_lock 0000:00:1c.0")][1] == "w"
    # no rescan/remove lock anywhere in AER recovery
    assert not any("pci_rescan_remove_lock" in k for pair in e for k in pair)


@pytest.mark.parametrize("regime", BASES)
def test_dpc_recovery_takes_no_device_lock_in_its_reset(regime):
    res = explore_all(scenario("dpc 0000:00:1c.0", topo=TOPO.replace("hotplug = true\n", "")), regime)
    assert res.verdict == "ok" and res.exhaustive
    e = edges(res)
    held, acq, threads = e[("pci_bus_sem", "&dev->mutex 0000:01:00.0")]
    assert (held, acq) == ("r", "w") and all("pcie-dpc 0000:00:1c.0" in t for t in threads)
    assert not any(a == "pci_slot_mutex" for a, _ in e)  # dpc_reset_link: no slot or bus lock


@pytest.mark.parametrize("regime", BASES)
def test_eeh_recovery_holds_rrl_in_eehd(regime):
    res = explore_all(scenario("eeh 0000:01:00.0"), regime)
    assert res.verdict == "ok" and res.exhaustive
    held, acq, threads = edges(res)[("pci_rescan_remove_lock", "&dev->mutex 0000:01:00.0")]
    assert threads == {"eehd"}


def test_eeh_of_a_device_without_an_eeh_aware_driver_removes_and_rescans_it():
    topo = TOPO.replace('driver = "nvme"\n', "")  # unbound: result NONE -> pci_hp_remove_devices + add
    res = explore_all(scenario("eeh 0000:01:00.0", topo=topo), "v7.2")
    assert res.verdict == "ok"
    # removal (pci_destroy_dev) under the rescan/remove lock: pci_bus_sem taken for writing
    held, acq, threads = edges(res)[("pci_rescan_remove_lock", "pci_bus_sem")]
    assert acq == "w" and threads == {"eehd"}


def test_per_version_variants_of_err_c():
    from pcilock.kernel._model import base_table

    load_all()
    # report_perm_failure_detected: 6.x the uevent only; 7.2 device_lock + error_detected(perm_failure)
    assert base_table("v6.12")["report_perm_failure_detected"] is not base_table("v7.2")[
        "report_perm_failure_detected"]
    assert base_table("v6.1")["pcie_do_recovery"] is base_table("v6.12")["pcie_do_recovery"]
    assert base_table("v6.12")["pcie_do_recovery"] is not base_table("v7.2")["pcie_do_recovery"]


def _walk_without_bus_sem(top, cb, userdata):
    yield read(top, "devices")
    yield from K.__pci_walk_bus(top, cb, userdata)


@pytest.mark.parametrize("name", ["aer-nonfatal-vs-sriov-numvfs", "dpc-vs-sriov-numvfs"])
def test_sriov_deadlock_needs_pci_bus_sem_across_the_walk(name):
    load_all()
    sc = load_scenario(CAT / f"{name}.toml")
    assert explore_all(sc, "v7.2").verdict == "deadlock"
    res = explore_all(sc, "v7.2", {"pci_walk_bus": _walk_without_bus_sem})
    assert "deadlock" not in {f.kind for f in res.found}


def test_dpc_on_a_port_whose_dpc_service_is_unbound_does_nothing():
    sc = scenario("echo 0000:00:1c.0 > /sys/bus/pci/drivers/pcieport/unbind", "dpc 0000:00:1c.0",
                  topo=TOPO.replace("hotplug = true\n", ""))
    res = explore_all(sc, "v7.2")
    assert res.verdict == "ok"
    assert ("pci_bus_sem", "&dev->mutex 0000:01:00.0") not in edges(res)  # no recovery ran


@pytest.mark.parametrize("regime", BASES)
def test_aer_error_after_pcieport_rebind_is_reported_despite_status_latched_while_unbound(regime):
    # The first ERR_FATAL arrives while pcieport is unbound (AER disabled): Root Error Status latches
    # it and nobody clears it.  aer_probe -> aer_enable_rootport clears that stale status before it
    # enables the interrupt (aer.c 6.1:1292, 6.12:1439, 7.2:1563), so the next error interrupts
    # and runs recovery in the AER IRQ thread (without the clear the port never interrupts again).
    topo = TOPO.replace("hotplug = true\n", "").replace("dpc = true\n", "")
    sc = scenario("echo 0000:00:1c.0 > /sys/bus/pci/drivers/pcieport/unbind", "aer fatal 0000:01:00.0",
                  "echo 0000:00:1c.0 > /sys/bus/pci/drivers/pcieport/bind", "aer nonfatal 0000:01:00.0",
                  topo=topo)
    res = explore_all(sc, regime)
    assert res.verdict == "ok" and res.exhaustive
    held, acq, threads = edges(res)[("pci_bus_sem", "&dev->mutex 0000:01:00.0")]  # error_detected
    assert any("aerdrv 0000:00:1c.0" in t for t in threads), threads
