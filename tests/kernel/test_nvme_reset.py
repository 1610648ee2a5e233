"""nvme model driver: probe per version (F2), function-reset callbacks and their wait for the
reset work (F3).  Each claim is checked by exploring a small scenario, and by showing that
the observation goes away when the model code responsible for it is replaced."""

from __future__ import annotations

import pytest

from pcilock._engine_imports import check
from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.kernel._model import K
from pcilock.patches import parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

BASES = ("v6.1", "v6.12", "v7.2")
NVME = "0000:01:00.0"

TOPOLOGY = f"""
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"

[[device]]
bdf = "{NVME}"
parent = "0000:00:1c.0"
driver = "nvme"
"""


def explore_text(tmp_path, threads, regime, overrides=None, **kw):
    load_all()
    body = TOPOLOGY
    for name, ops in threads.items():
        lines = ", ".join(f'"{o}"' for o in ops)
        body += f'\n[[thread]]\nname = "{name}"\nrun = [{lines}]\n'
    path = tmp_path / "t.toml"
    path.write_text(body)
    sc = load_scenario(path)
    res = explore(make_program(sc, parse_regime(regime), overrides), "dpor", budget=Budget(seconds=120), **kw)
    assert res.error is None, res.error
    return res


RESET = f"echo 1 > /sys/bus/pci/devices/{NVME}/reset"
REBIND = [f"echo {NVME} > /sys/bus/pci/drivers/nvme/unbind", f"echo {NVME} > /sys/bus/pci/drivers/nvme/bind"]


def _reset_work_runs(dev):
    yield check(False, "nvme reset_work ran")


def _reset_work_needs_device_lock(dev):
    yield from K.device_lock(dev.pdev)
    yield from K.device_unlock(dev.pdev)


def _no_op(*args):
    return
    yield


def _reset_done_without_flush(pdev):
    from pcilock.kernel.drivers.nvme.host.pci import pci_get_drvdata

    dev = yield from pci_get_drvdata(pdev)
    yield from K.nvme_try_sched_reset(dev)


@pytest.mark.parametrize("regime,ran", [("v6.1", True), ("v6.12", False), ("v7.2", False)])
def test_probe_queues_reset_work_only_in_6_1(tmp_path, regime, ran):
    # v6.1 nvme_probe ends with nvme_reset_ctrl (the bring-up runs in reset_work); v6.12/v7.2
    # bring the controller up in probe itself (pci.c 6.12:3245, 7.2:3749)
    res = explore_text(tmp_path, {"rebind": REBIND}, regime, {"nvme_reset_work": _reset_work_runs})
    if ran:
        assert res.verdict == "warn"
    else:
        assert res.verdict == "ok" and res.exhaustive


@pytest.mark.parametrize("regime", BASES)
def test_function_reset_is_exhaustively_ok(tmp_path, regime):
    res = explore_text(tmp_path, {"reset": [RESET]}, regime)
    assert res.verdict == "ok" and res.exhaustive


@pytest.mark.parametrize("regime", BASES)
def test_reset_prepare_disables_under_the_device_and_config_locks(tmp_path, regime):
    # nvme_reset_prepare -> nvme_dev_disable takes shutdown_lock with DL(dev) and cfg(dev) held
    edge = (("pci_cfg_access_lock", 0), ("&dev->shutdown_lock", 0))
    res = explore_text(tmp_path, {"reset": [RESET]}, regime)
    assert edge in res.lock_graph.class_edges()
    res = explore_text(tmp_path, {"reset": [RESET]}, regime, {"nvme_reset_prepare": _no_op})
    assert edge not in res.lock_graph.class_edges()


@pytest.mark.parametrize("regime", BASES)
def test_reset_done_waits_for_the_reset_work(tmp_path, regime):
    # a reset work that needed the device lock would deadlock against reset_done's flush_work
    over = {"nvme_reset_work": _reset_work_needs_device_lock}
    res = explore_text(tmp_path, {"reset": [RESET]}, regime, over)
    assert res.verdict == "deadlock"
    res = explore_text(tmp_path, {"reset": [RESET]}, regime,
                       {"nvme_reset_work": _reset_work_needs_device_lock,
                        "nvme_reset_done": _reset_done_without_flush})
    assert res.verdict == "ok" and res.exhaustive


def test_reset_prepare_waits_for_a_reset_work_in_flight(tmp_path):
    # v6.1: the probe of a rebind queues reset_work and returns; a function reset that gets the
    # device lock while the work runs waits for it in nvme_wait_reset (reset_done's own flush is
    # taken out, so only reset_prepare can wait here)
    over = {"nvme_reset_work": _reset_work_needs_device_lock, "nvme_reset_done": _reset_done_without_flush}
    res = explore_text(tmp_path, {"rebind": REBIND, "reset": [RESET]}, "v6.1", over)
    assert res.verdict == "deadlock"
    over["nvme_wait_reset"] = _no_op
    res = explore_text(tmp_path, {"rebind": REBIND, "reset": [RESET]}, "v6.1", over)
    assert "deadlock" not in {f.kind for f in res.found}


def _error_detected_6_1_style(pdev, state):
    # nvme_error_detected as in v6.1: a frozen channel disables the controller, no state change
    from pcilock.kernel.drivers.nvme.host.pci import pci_get_drvdata

    dev = yield from pci_get_drvdata(pdev)
    if state == "normal":
        return 2
    if state == "frozen":
        yield from K.nvme_dev_disable(dev, False)
        return 3
    return 4


@pytest.mark.parametrize("regime,expected", [("v6.1", "ok"), ("v6.12", "deadlock"), ("v7.2", "deadlock")])
def test_aer_fatal_vs_function_reset(tmp_path, regime, expected):
    # 6.12/7.2 nvme_error_detected moves the controller to RESETTING; a function reset that takes
    # the device lock before the AER thread's bus reset waits in nvme_wait_reset for the reset
    # work only that AER thread would queue (nvme_slot_reset), while the AER thread waits for
    # the device lock held by the reset.  With the 6.1 error_detected the cycle is gone.
    threads = {"reset": [RESET], "err": [f"aer fatal {NVME}"]}
    res = explore_text(tmp_path, threads, regime)
    assert res.verdict == expected
    if expected == "ok":
        assert res.exhaustive
    else:
        res = explore_text(tmp_path, threads, regime, {"nvme_error_detected": _error_detected_6_1_style})
        assert res.verdict == "ok" and res.exhaustive


def _reset_work_never_ends(dev):
    from pcilock._engine_imports import Completion, wait_for_completion

    yield wait_for_completion(Completion("never"))


@pytest.mark.parametrize("regime,hangs", [("v6.1", True), ("v6.12", False), ("v7.2", False)])
def test_module_load_waits_for_the_6_1_async_probe(tmp_path, regime, hangs):
    # v6.1 nvme_probe async_schedule()s nvme_async_probe, which flushes reset_work; the module
    # load's async_synchronize_full waits for it
    res = explore_text(tmp_path, {"reload": ["modprobe -r nvme", "modprobe nvme"]}, regime,
                       {"nvme_reset_work": _reset_work_never_ends}, stop_on_first=False)
    hang = [f for f in res.found if f.kind == "hang"]
    assert bool(hang) == hangs
    if hangs:  # the modprobe thread itself is among the blocked tasks
        assert "reload" in hang[0].message


@pytest.mark.parametrize("regime, schedule, callback", [
    ("v6.12", "p1:0x9.1x16.2x110.1x3", "nvme_reset_done"),
    ("v6.12", "p1:0x9.1x6.2x110.1x3", "nvme_reset_prepare"),
])
def test_a_reset_callback_before_probe_set_drvdata_is_a_null_dereference(regime, schedule, callback):
    """reset_subordinate's bus reset calls reset_prepare/reset_done on a device that hotplug
    added after the bus was locked, while nvme_probe (v6.12: drvdata set at its end) runs:
    the kernel dereferences a NULL drvdata.  That is a uaf report, not a model error (the
    model read a field of None, which stopped `check --all` on v6.12 and v7.2)."""
    from pcilock.engine import decode, replay
    from pcilock.scenarios.catalogue import resolve

    load_all()
    sc = load_scenario(resolve("reset-subordinate-vs-hotplug-insertion"))
    run = replay(make_program(sc, parse_regime(regime)), decode(schedule), stop_on_violation=False)
    uafs = [v.message for v in run.ex.violations if v.kind == "uaf"]
    assert uafs == [f"BUG: NULL pointer dereference: {NVME} drvdata in {callback} (nvme_probe has not "
                    "set it, or nvme_remove cleared it)"], [v.message for v in run.ex.violations]
