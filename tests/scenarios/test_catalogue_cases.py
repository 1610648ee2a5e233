"""The case scenarios (``scenarios/case-*.toml``): each verdict depends on the step its notes name.

For a deadlock, hang or use after free, removing (or changing back) the one step
the scenario's notes blame makes the violation disappear; for an ``ok`` that
rests on a trylock, giving the path a blocking lock instead makes it deadlock.
The replacement functions are written here, in the shape of the kernel code the
notes cite, and passed through ``make_program(..., overrides)``.  The last tests
check the catalogue's data: provenance on every case and, for every violation
kind, a scenario where it fires under one regime and not under another.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pcilock._engine_imports import down_read, read, up_read
from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.kernel._model import K, base_table
from pcilock.patches import build_table, parse_regime
from pcilock.scenarios.catalogue import list_catalogue
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

CAT = Path(__file__).resolve().parents[2] / "scenarios"
EAGAIN = -11
KINDS = ("deadlock", "hang", "race", "uaf", "warn")


def run(name, regime, overrides=None, **kw):
    load_all()
    sc = load_scenario(CAT / f"{name}.toml")
    res = explore(make_program(sc, parse_regime(regime), overrides), "dpor", budget=Budget(seconds=120), **kw)
    assert res.error is None, res.error
    return res


def kinds(res):
    return {f.kind for f in res.found}


def table(regime):
    load_all()
    return build_table(parse_regime(regime))[0]


def counting(fn, calls):
    """*fn* wrapped to append each call's return value to *calls*."""

    def wrapper(*args):
        ret = yield from fn(*args)
        calls.append(ret)
        return ret

    return wrapper


# -- deadlocks: the acquisition that closes the cycle -------------------------------------------------

def _unconfigure_without_rescan_lock(ctrl, presence):
    """pciehp_unconfigure_device (pciehp_pci.c, with f5eff5591b8f) without pci_lock_rescan_remove()."""
    from pcilock.kernel.drivers.pci.hotplug.pciehp_pci import walk_reverse_safe

    parent = yield read(ctrl.port, "subordinate")
    if not presence:
        yield from K.pci_walk_bus(parent, K.pci_dev_set_disconnected, None)

    def one(dev):
        yield from K.get_device(dev)
        yield up_read(ctrl.reset_lock)
        yield from K.pci_stop_and_remove_bus_device(dev)
        yield down_read(ctrl.reset_lock, ctrl.depth)
        yield from K.put_device(dev)

    yield from walk_reverse_safe(parent, one)


@pytest.mark.parametrize("name", ["case-07-port-remove-vs-surprise-removal",
                                  "case-09-nested-ports-cascaded-removal"])
def test_irq_thread_deadlock_needs_the_rescan_lock_in_unconfigure(name):
    assert run(name, "v6.12").verdict == "deadlock"
    without = {"pciehp_unconfigure_device": _unconfigure_without_rescan_lock}
    res = run(name, "v6.12", without, stop_on_first=False)
    assert "deadlock" not in kinds(res)


def _sriov_numvfs_show_unlocked(dev):
    """sriov_numvfs_show as the 2024 revert proposed it: num_VFs read without device_lock."""
    return (yield read(dev.sriov, "num_VFs"))


def test_numvfs_show_deadlock_needs_device_lock_in_show():
    name = "case-11-sriov-numvfs-show-vs-vfio-remove"
    assert run(name, "v7.2").verdict == "deadlock"
    res = run(name, "v7.2", {"sriov_numvfs_show": _sriov_numvfs_show_unlocked})
    assert res.verdict == "ok" and res.exhaustive


# -- ok verdicts that rest on "try" semantics -----------------------------------------------------------

def _reset_function_blocking(dev):
    """pci_try_reset_function with a blocking device lock: v3.13's vfio reset (pci_reset_function)."""
    if not (yield from K.pci_reset_supported(dev)):
        return -25
    yield from K.pci_dev_lock(dev)
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    yield from K.pci_dev_unlock(dev)
    return rc


def test_vfio_reset_vs_unbind_is_ok_because_the_reset_only_trylocks():
    name = "case-01-vfio-unbind-vs-user-reset"
    calls = []
    t = table("v6.12")
    res = run(name, "v6.12", {"pci_try_reset_function": counting(t["pci_try_reset_function"], calls)})
    assert res.verdict == "ok" and res.exhaustive
    assert EAGAIN in calls and 0 in calls  # both the contended and the uncontended reset happen
    assert run(name, "v6.12", {"pci_try_reset_function": _reset_function_blocking}).verdict == "deadlock"


def _reset_bus_save_before_trylock(bus):
    """__pci_reset_bus between b014e96d1abb and ddefc033eecf: save/restore under blocking device locks."""
    rc = yield from K.pci_bus_reset(bus, True)
    if rc:
        return rc
    devs = yield read(bus, "devices")
    for dev in devs:  # pci_bus_save_and_disable
        yield from K.pci_dev_lock(dev)
        yield from K.pci_dev_save_and_disable(dev)
        yield from K.pci_dev_unlock(dev)
    if (yield from K.pci_bus_trylock(bus)):
        rc = yield from K.pci_bridge_secondary_bus_reset(bus.self)
        yield from K.pci_bus_unlock(bus)
    else:
        rc = EAGAIN
    for dev in devs:  # pci_bus_restore
        yield from K.pci_dev_lock(dev)
        yield from K.pci_dev_restore(dev)
        yield from K.pci_dev_unlock(dev)
    return rc


def test_hot_reset_vs_held_device_lock_needs_trylock_before_save():
    name = "case-04-hot-reset-vs-held-device-lock"
    calls = []
    t = table("v6.12")
    res = run(name, "v6.12", {"__pci_reset_bus": counting(t["__pci_reset_bus"], calls)})
    assert res.verdict == "ok" and res.exhaustive and EAGAIN in calls
    assert run(name, "v6.12", {"__pci_reset_bus": _reset_bus_save_before_trylock}).verdict == "deadlock"


# -- use after free: the upstream bridge lock -------------------------------------------------------

def test_reset_function_uaf_disappears_with_the_bridge_lock_of_7e89efc6e9e4():
    name = "case-19-reset-function-vs-pcieport-unbind"
    assert "uaf" in kinds(run(name, "v6.1", stop_on_first=False))
    res = run(name, "v6.1", {"pci_reset_function": base_table("v6.12")["pci_reset_function"]})
    assert res.verdict == "ok" and res.exhaustive


def _try_reset_function_bridge_first(dev):
    """pci_try_reset_function trylocking the upstream bridge first (as 962ae6892d8b does for vfio's close)."""
    if not (yield from K.pci_reset_supported(dev)):
        return -25
    bridge = yield from K.pci_upstream_bridge(dev)
    if bridge is not None and not (yield from K.pci_dev_trylock(bridge)):
        return EAGAIN
    rc = EAGAIN
    if (yield from K.pci_dev_trylock(dev)):
        yield from K.pci_dev_save_and_disable(dev)
        rc = yield from K.__pci_reset_function_locked(dev)
        yield from K.pci_dev_restore(dev)
        yield from K.pci_dev_unlock(dev)
    if bridge is not None:
        yield from K.pci_dev_unlock(bridge)
    return rc


@pytest.mark.parametrize("regime", ["v6.12", "v7.2"])
def test_vfio_reset_uaf_disappears_when_the_try_reset_trylocks_the_bridge(regime):
    name = "case-19-vfio-reset-vs-pcieport-unbind"
    assert "uaf" in kinds(run(name, regime, stop_on_first=False))
    res = run(name, regime, {"pci_try_reset_function": _try_reset_function_bridge_first})
    assert res.verdict == "ok" and res.exhaustive


# -- #20: the Secondary Bus Reset runs with the slot's bridge locked -----------------------------------

def _sbr_recorder(fn, unlocked, total):
    def wrapper(dev):
        total.append(dev.bdf)
        if dev.cfg_access.owner is None:  # !dev->block_cfg_access: 920f6468924f's warning condition
            unlocked.append(dev.bdf)
        return (yield from fn(dev))

    return wrapper


def _slot_trylock_without_bridge(slot):
    """pci_slot_trylock between 9368d1ee6282 and 1f5e57c622b4: the slot's bridge is not locked."""
    done = []
    for dev in (yield read(slot.bus, "devices")):
        s = yield read(dev, "slot")
        if s is not slot:
            continue
        sub = yield read(dev, "subordinate")
        ok = (yield from K.pci_bus_trylock(sub)) if sub is not None else (yield from K.pci_dev_trylock(dev))
        if not ok:
            for d, sb in reversed(done):
                if sb is not None:
                    yield from K.pci_bus_unlock(sb)
                else:
                    yield from K.pci_dev_unlock(d)
            return False
        done.append((dev, sub))
    return True


def _slot_unlock_without_bridge(slot):
    for dev in (yield read(slot.bus, "devices")):
        s = yield read(dev, "slot")
        if s is not slot:
            continue
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_unlock(sub)
        else:
            yield from K.pci_dev_unlock(dev)


@pytest.mark.parametrize("regime", ["v6.1", "v6.12"])
def test_slot_reset_sbr_runs_with_the_bridge_locked(regime):
    name = "case-20-slot-trylock-vs-bridge-reset"
    sbr = table(regime)["pci_bridge_secondary_bus_reset"]
    unlocked, total = [], []
    res = run(name, regime, {"pci_bridge_secondary_bus_reset": _sbr_recorder(sbr, unlocked, total)})
    assert res.verdict == "ok" and res.exhaustive
    assert total and not unlocked
    unlocked, total = [], []
    run(name, regime, {"pci_bridge_secondary_bus_reset": _sbr_recorder(sbr, unlocked, total),
                       "pci_slot_trylock": _slot_trylock_without_bridge,
                       "pci_slot_unlock": _slot_unlock_without_bridge})
    assert unlocked  # before 1f5e57c622b4 the SBR of a slot reset ran with the bridge unlocked


# -- #30 analogue: the hang needs an SBR pciehp does not know about -------------------------------------

def _reset_subordinate_through_the_slot(pdev, buf):
    """reset_subordinate_store resetting a hotplug slot through pciehp, as 7.2's pci_try_reset_bridge does."""
    from pcilock.kernel.drivers.pci.pci import _slots_of

    bus = yield read(pdev, "subordinate")
    slots = _slots_of(bus)
    if slots and not (yield from K.pci_probe_reset_slot(slots[0])):
        ret = yield from K.__pci_reset_slot(slots[0])
    else:
        ret = yield from K.__pci_reset_bus(bus)
    return ret if ret else len(buf)


def test_reset_subordinate_hang_needs_the_unmasked_bus_reset():
    name = "case-30-reset-subordinate-vs-pciehp"
    assert run(name, "v6.12").verdict == "hang"
    res = run(name, "v6.12", {"reset_subordinate_store": _reset_subordinate_through_the_slot})
    assert res.verdict == "ok" and res.exhaustive


# -- #10: nested reset_lock, a lockdep false positive ------------------------------------------------

RST = "&ctrl->reset_lock"


def _check_presence_without_subclass(ctrl):
    """pciehp_check_presence before 085a9f43433f: down_read(&ctrl->reset_lock), no lockdep subclass."""
    from pcilock._engine_imports import lock, unlock
    from pcilock.kernel.drivers.pci.hotplug.pciehp import (
        BLINKINGOFF_STATE,
        BLINKINGON_STATE,
        OFF_STATE,
        ON_STATE,
        SLTSTA_PDC,
    )

    yield down_read(ctrl.reset_lock)
    yield lock(ctrl.state_lock)
    occupied = yield from K.pciehp_card_present_or_link_active(ctrl)
    state = yield read(ctrl, "state")
    if (occupied > 0 and state in (OFF_STATE, BLINKINGON_STATE)) or \
            (not occupied and state in (ON_STATE, BLINKINGOFF_STATE)):
        yield from K.pciehp_request(ctrl, SLTSTA_PDC)
    yield unlock(ctrl.state_lock)
    yield up_read(ctrl.reset_lock)


def _reset_lock_edges(res):
    return [e for e in res.lock_graph.class_edges() if e[0][0] == RST and e[1][0] == RST]


def test_nested_reset_lock_is_a_subclass_edge_only_without_f5eff5591b8f():
    name = "case-10-nested-reset-lock-dock-insertion"
    res = run(name, "v6.12")
    assert res.verdict == "ok" and _reset_lock_edges(res) == [] and res.lock_graph.cycles() == []
    res = run(name, "v6.12-f5eff5591b8f")
    assert res.verdict == "ok" and res.lock_graph.cycles() == []
    assert _reset_lock_edges(res) == [((RST, 0), (RST, 1))]  # 085a9f43433f: depth as subclass
    # before 085a9f43433f: the same class and subclass nested, lockdep's "possible recursive locking";
    # still no cycle between lock instances and no deadlock (the false positive of case #10)
    res = run(name, "v6.12-f5eff5591b8f", {"pciehp_check_presence": _check_presence_without_subclass})
    assert res.verdict == "ok" and res.lock_graph.cycles() == []
    assert _reset_lock_edges(res) == [((RST, 0), (RST, 0))]


# -- catalogue data ----------------------------------------------------------------------------------

def test_case_scenarios_have_provenance_and_expectations():
    cases = [sc for sc in list_catalogue(CAT) if sc.id.startswith("case-")]
    assert cases
    for sc in cases:
        assert Path(sc.path).name == f"{sc.id}.toml"
        assert sc.links and sc.notes.strip() and sc.expect, sc.id
        assert sc.id[5:7].isdigit(), sc.id  # case-NN-...


@pytest.mark.parametrize("kind", KINDS)
def test_catalogue_has_each_violation_kind_firing_and_not_firing(kind):
    pairs = []
    for sc in list_catalogue(CAT):
        fires = [r for r, v in sc.expect.items() if v == (kind,)]
        quiet = [r for r, v in sc.expect.items() if kind not in v and "inconclusive" not in v]
        if fires and quiet:
            pairs.append((sc.id, fires[0], quiet[0]))
    assert pairs, f"no scenario where {kind} fires under one regime and not under another"
