"""Fidelity of the pciehp / threaded-IRQ model (audit-hotplug-vfio H1-H16, catalogue items 2, 4, 5),
each checked by exploring a small scenario written here: the verdict, the violations, or what
every execution ends with, is what the kernel source says it must be."""

from __future__ import annotations

from scenario_files import scenario

from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.patches import parse_regime
from pcilock.scenarios.program import make_program

BASES = ("v6.1", "v6.12", "v7.2")

HP_PORT = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"
hotplug = true
slot = 1

[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
"""


def check(sc, regime, observe=None, seconds=240, on_setup=None, **kw):
    """Explore *sc* under *regime*; ``observe(world)`` is called at the end of every execution,
    ``on_setup()`` at the start of every execution (also of those that do not complete)."""
    load_all()
    prog = make_program(sc, parse_regime(regime))
    if on_setup is not None:
        setup = prog.setup_fn

        def fresh_setup():
            on_setup()
            return setup()

        prog.setup_fn = fresh_setup
    if observe is not None:
        inner = prog.final_checks

        def final(world, ex):
            observe(world)
            return inner(world, ex)

        prog.final_checks = final
    res = explore(prog, "dpor", budget=Budget(seconds=seconds), **kw)
    assert res.error is None, res.error
    return res


# -- H1/H2: the sysfs power writer's wait_event(ctrl->requester, ...) ------------------------------

POWER_VS_PULL = HP_PORT + """
[[thread]]
name = "user"
run = ["echo 0 > /sys/bus/pci/slots/1/power"]

[[thread]]
name = "hw"
run = ["hotplug surprise-removal 0000:00:1c.0"]
"""


def test_power_write_vs_pull_does_not_hang(tmp_path):
    # The writer may check its condition while the pull's hard IRQ has set pending_events but
    # not yet woken the IRQ thread; the end of that thread's run wakes it (pciehp_hpc.c:
    # ist_running = false; wake_up(&ctrl->requester)).  Was a false hang in all three bases.
    sc = scenario(tmp_path, POWER_VS_PULL)
    for regime in ("v6.1", "v7.2"):  # v6.12 in the next test
        res = check(sc, regime, races=False)
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)


def test_power_write_vs_pull_races_are_the_kernels(tmp_path):
    sc = scenario(tmp_path, POWER_VS_PULL)
    res = check(sc, "v6.12", stop_on_first=False, minimize_found=False)
    assert res.exhaustive
    assert {f.kind for f in res.found} == {"race"}  # no hang
    # pending_events is atomic_t (atomic_read in the condition): never a data race
    assert not [f for f in res.found if "pending_events" in f.message]
    # what stays is the kernel's: plain ist_running/request_result, unordered with the IRQ
    # thread when wait_event finds its condition true without sleeping
    for f in res.found:
        assert "ist_running" in f.message or "request_result" in f.message, f.message


# -- catalogue item 2: pci_dev_is_disconnected() is READ_ONCE in pciehp_device_replaced (7.2) -----

DOCK = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"
hotplug = true
slot = 1

[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
type = "upstream-port"

[[device]]
bdf = "0000:02:00.0"
parent = "0000:01:00.0"
type = "downstream-port"
hotplug = true
slot = 2
"""


def test_device_replaced_reads_error_state_marked(tmp_path):
    # The child port's slot reset (SBR) makes its IRQ thread check pciehp_device_replaced()
    # while the parent's IRQ thread marks the child port disconnected (pci_dev_set_io_state:
    # xchg); 7.2's pci_dev_is_disconnected() reads with READ_ONCE: no data race there.
    sc = scenario(tmp_path, DOCK + """
    [[device]]
    bdf = "0000:03:00.0"
    parent = "0000:02:00.0"
    reset_methods = ["bus"]

    [[thread]]
    name = "reset"
    run = ["echo 1 > /sys/bus/pci/devices/0000:03:00.0/reset"]

    [[thread]]
    name = "hw"
    run = ["hotplug surprise-removal 0000:00:1c.0"]
    """)
    res = check(sc, "v7.2", stop_on_first=False, minimize_found=False)
    assert res.exhaustive
    assert not [f for f in res.found if "pciehp_device_replaced" in f.message]


# -- H6: the attention button (pciehp_handle_button_press, button_work, DISABLE_SLOT) --------------

def _slot_end_state(ends, port="0000:00:1c.0"):
    from pcilock.kernel.drivers.pci.hotplug.pciehp import STATE_NAMES

    def observe(world):
        a = world.attrs
        ctrl = a["hotplug_ctrls"][port]
        bus = a["devices"][port].peek("subordinate")
        below = tuple(d.bdf for d in bus.peek("devices"))
        states = tuple(a["devices"][b].peek("error_state") for b in ("0000:01:00.0",))
        ends.add((STATE_NAMES[ctrl.peek("state")], below, states))

    return observe


def test_button_press_powers_the_slot_off(tmp_path):
    # ON -> press: BLINKINGOFF, button_work queued; the work (pciehp_queue_pushbutton_work) asks
    # the IRQ thread to disable the slot (DISABLE_SLOT): a safe removal, the card stays present.
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"
    hotplug = true
    attention_button = true
    slot = 1

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "nvme"

    [[thread]]
    name = "hw"
    run = ["hotplug button 0000:00:1c.0"]
    """)
    for regime in BASES:
        ends = set()
        res = check(sc, regime, observe=_slot_end_state(ends))
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)
        assert ends == {("OFF", (), ("normal",))}, (regime, ends)


def test_button_on_a_slot_without_one_does_nothing(tmp_path):
    sc = scenario(tmp_path, HP_PORT + """
    [[thread]]
    name = "hw"
    run = ["hotplug button 0000:00:1c.0"]
    """)
    ends = set()
    res = check(sc, "v7.2", observe=_slot_end_state(ends))
    assert res.verdict == "ok" and ends == {("ON", ("0000:01:00.0",), ("normal",))}


def test_attention_button_needs_a_hotplug_slot(tmp_path):
    import pytest

    from pcilock.scenarios.parse import ScenarioError

    with pytest.raises(ScenarioError, match="attention_button = true without hotplug = true"):
        scenario(tmp_path, """
        [[device]]
        bdf = "0000:00:1c.0"
        type = "root-port"
        attention_button = true

        [[thread]]
        run = ["echo 1 > /sys/bus/pci/rescan"]
        """)


# -- H4: vfio-pci gives a device on a root bus, and a VF, a device set of its own ------------------

def test_vfio_dev_set_of_its_own_on_root_bus_and_for_vfs(tmp_path):
    # vfio_pci_core_register_device: pci_is_root_bus(pdev->bus) || pdev->is_virtfn ->
    # vfio_assign_device_set(&vdev->vdev, vdev): no dev_set->lock or open count shared
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:02.0"
    driver = "vfio-pci"

    [[device]]
    bdf = "0000:00:03.0"
    driver = "vfio-pci"

    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 2, num_vfs = 0 }
    vf_driver = "vfio-pci"

    [[thread]]
    name = "admin"
    run = ["echo 2 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]
    """)
    sets = []

    def observe(world):
        vfio = world.attrs["vfio"]
        sets.append({bdf: (v.vdev.dev_set.set_id, len(v.vdev.dev_set.peek("device_list")))
                     for bdf, v in sorted(vfio.items())})

    for regime in BASES:
        sets.clear()
        res = check(sc, regime, observe=observe)
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)
        bdfs = ("0000:00:02.0", "0000:00:03.0", "0000:01:00.1", "0000:01:00.2")
        own = {bdf: (f"vdev {bdf}", 1) for bdf in bdfs}
        for s in sets:
            assert s == own, (regime, s)


# -- H7/H9: one hard handler per line at a time (handle_edge_irq); the IRQ thread's
#    synchronize_hardirq waits for it ------------------------------------------------------------

def test_hard_handlers_of_one_line_never_overlap(tmp_path, monkeypatch):
    from pcilock.kernel import _model

    load_all()
    seen = {"isr": 0, "max_isr": 0, "isr_after_sync": 0, "syncs": 0}

    def wrapped(name, before, after):
        variants = []
        for cit, fn in _model.REGISTRY[name]:
            def w(*a, _fn=fn, **k):
                before()
                ret = yield from _fn(*a, **k)
                after()
                return ret
            variants.append((cit, w))
        monkeypatch.setitem(_model.REGISTRY, name, variants)

    def isr_in():
        seen["isr"] += 1
        seen["max_isr"] = max(seen["max_isr"], seen["isr"])

    def isr_out():
        seen["isr"] -= 1

    def sync_out():
        seen["syncs"] += 1
        seen["isr_after_sync"] = max(seen["isr_after_sync"], seen["isr"])

    wrapped("pciehp_isr", isr_in, isr_out)
    wrapped("synchronize_hardirq", lambda: None, sync_out)
    # the pull's MSI, then the insertion's while the first pciehp_isr may still run
    sc = scenario(tmp_path, HP_PORT + """
    [[thread]]
    name = "hw"
    run = ["hotplug surprise-removal 0000:00:1c.0", "hotplug insertion 0000:00:1c.0"]
    """)
    prog = make_program(sc, parse_regime("v6.12"))
    setup = prog.setup_fn

    def fresh_setup():
        seen["isr"] = 0  # a handler cut off at the end of an execution never returns
        return setup()

    prog.setup_fn = fresh_setup
    res = explore(prog, "dpor", budget=Budget(seconds=240), races=False)
    assert res.verdict == "ok" and res.exhaustive
    assert seen["syncs"] and seen["max_isr"] == 1 and seen["isr_after_sync"] == 0, seen


# -- catalogue item 4: the config space is shared state: a scan and a hotplug event are dependent --

DOCK_ABSENT = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"
hotplug = true
slot = 1

[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
type = "upstream-port"
present = false

[[device]]
bdf = "0000:02:00.0"
parent = "0000:01:00.0"
type = "downstream-port"
hotplug = true
slot = 2
present = false
"""


def test_insertion_then_pull_lets_the_irq_thread_see_the_card(tmp_path):
    # The user pulls the dock some time after plugging it: the IRQ thread's pci_scan_slot may
    # read the config space before the pull (it enumerates the switch) or after it (nothing).
    # The pull's config-space change used to be invisible to the exploration: never enumerated.
    sc = scenario(tmp_path, DOCK_ABSENT + """
    [[thread]]
    name = "hw"
    run = ["hotplug insertion 0000:00:1c.0", "hotplug surprise-removal 0000:00:1c.0"]
    """)
    found = set()
    res = check(sc, "v6.12", observe=lambda w: found.add(tuple(sorted(w.attrs["devices"]))))
    assert res.verdict == "ok" and res.exhaustive
    assert ("0000:00:1c.0",) in found  # the pull came before the scan
    assert ("0000:00:1c.0", "0000:01:00.0", "0000:02:00.0") in found  # the scan saw the card


# -- catalogue item 5 and H5: the registers of a hotplug port are hardware, found by address -------

DOCK_WITH_DRIVE = DOCK_ABSENT + """
[[device]]
bdf = "0000:03:00.0"
parent = "0000:02:00.0"
present = false
"""


def _child_slot(ends):
    from pcilock.kernel.drivers.pci.hotplug.pciehp import STATE_NAMES

    def observe(world):
        a = world.attrs
        port = a["devices"].get("0000:02:00.0")
        ctrl = None
        for svc in getattr(port, "pcie_services", ()) if port is not None else ():
            if svc.service_data is not None and hasattr(svc.service_data, "hotplug_slot"):
                ctrl = svc.service_data
        bus = port.peek("subordinate") if port is not None else None
        drive = a["devices"].get("0000:03:00.0")
        ends.add((STATE_NAMES[ctrl.peek("state")] if ctrl is not None else None,
                  tuple(d.bdf for d in bus.peek("devices")) if bus is not None else None,
                  drive.peek("error_state") if drive is not None else None))

    return observe


def test_dock_slot_enumerated_at_run_time_reads_the_slot_as_it_is(tmp_path):
    # The drive arrives with the dock: when the parent's IRQ thread binds pciehp to the dock's
    # downstream port, pcie_init/pciehp_check_presence read an occupied slot (the model read the
    # scenario's start flags, present = false: the child's IRQ thread removed the drive again).
    sc = scenario(tmp_path, DOCK_WITH_DRIVE + """
    [[thread]]
    name = "hw"
    run = ["hotplug insertion 0000:00:1c.0"]
    """)
    for regime in BASES:
        ends = set()
        res = check(sc, regime, observe=_child_slot(ends))
        assert res.verdict == "ok" and res.exhaustive, regime
        assert ends == {("ON", ("0000:03:00.0",), "normal")}, (regime, ends)


def test_pull_on_a_port_enumerated_at_run_time(tmp_path):
    # The drive is pulled from the dock's slot after the dock was plugged: the pull acts on the
    # hardware whether or not the kernel has enumerated the dock yet; the drive never stays.
    sc = scenario(tmp_path, DOCK_WITH_DRIVE + """
    [[thread]]
    name = "hw"
    run = ["hotplug insertion 0000:00:1c.0", "hotplug surprise-removal 0000:02:00.0"]
    """)
    ends = set()
    res = check(sc, "v6.12", observe=_child_slot(ends))
    assert res.verdict == "ok" and res.exhaustive
    assert all(devs == () for _, devs, _ in ends), ends
    assert ("OFF", (), None) in ends  # pulled before the scan of the dock's secondary bus
    assert ("OFF", (), "perm_failure") in ends  # enumerated, then removed by the dock port's pciehp


# -- H16: pcie_port_probe_service / pcie_port_bus_probe take a reference on the service device ----

def test_service_device_reference_of_a_probe(tmp_path):
    sc = scenario(tmp_path, DOCK_ABSENT + """
    [[thread]]
    name = "hw"
    run = ["hotplug insertion 0000:00:1c.0"]
    """)
    refs = set()

    def observe(world):
        port = world.attrs["devices"]["0000:02:00.0"]
        refs.add(tuple(svc.peek("refcount") for svc in port.pcie_services))

    for regime in BASES:
        refs.clear()
        res = check(sc, regime, observe=observe)
        assert res.verdict == "ok" and res.exhaustive, regime
        # device_initialize's reference and the probe's get_device
        assert refs == {(2,)}, (regime, refs)


# -- H12: v6.1 vfio_device_fops_release unassigns the container (group_lock) before the put -------

def _record_calls(monkeypatch, names, calls):
    from pcilock.kernel import _model

    load_all()
    for name in names:
        variants = []
        for cit, fn in _model.REGISTRY[name]:
            def w(*a, _fn=fn, _name=name, **k):
                calls.append(_name)
                return (yield from _fn(*a, **k))
            variants.append((cit, w))
        monkeypatch.setitem(_model.REGISTRY, name, variants)


def test_v61_vfio_release_unassigns_the_container(tmp_path, monkeypatch):
    calls = []
    _record_calls(monkeypatch, ("vfio_device_unassign_container", "vfio_device_put_registration"), calls)
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "vfio-pci"
    driver_options = { open_by = "qemu" }

    [[thread]]
    name = "qemu"
    run = ["vfio close 0000:01:00.0"]
    """)
    res = check(sc, "v6.1")
    assert res.verdict == "ok" and res.exhaustive
    assert calls and calls[:2] == ["vfio_device_unassign_container", "vfio_device_put_registration"], calls


# -- H15: vfio_unregister_group_dev calls ops->request again after a timed wait -------------------

def test_vfio_remove_requests_again_while_the_user_keeps_the_device(tmp_path, monkeypatch):
    calls = []
    _record_calls(monkeypatch, ("vfio_pci_core_request", "vfio_device_fops_release"), calls)
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "vfio-pci"
    driver_options = { open_by = "qemu" }

    [[thread]]
    name = "admin"
    run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/remove"]

    [[thread]]
    name = "qemu"
    run = ["vfio close 0000:01:00.0"]
    """)
    counts = set()

    def observe(world):
        counts.add(calls.count("vfio_pci_core_request"))

    for regime in ("v6.1", "v7.2"):
        counts.clear()
        res = check(sc, regime, observe=observe, on_setup=calls.clear)
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)
        # no request (closed first), one (closed during the first timed wait), two (closed later)
        assert counts == {0, 1, 2}, (regime, counts)


# -- H19: the @mirrors lines of the hotplug / IRQ / pcieport / vfio / xen model files --------------

# -- H8: enabling an event whose status bit is already set may send an MSI (optional in the spec) --

def test_unmask_after_a_reset_may_signal_a_pull_latched_while_masked(tmp_path, monkeypatch):
    # 6.x pciehp_reset_slot masks PDCE/DLLSCE, resets, clears Slot Status, unmasks: a pull between
    # the clear and the unmask latches PDC/DLLSC while masked; the unmask may or may not send the
    # MSI for it.  Both are explored: the pull is handled in some executions, lost in others.
    import inspect

    from pcilock.kernel.kernel.irq import manage

    callers = []
    raise_irq = manage.raise_irq

    def recording(desc):
        callers.append(inspect.stack()[1].function)
        return raise_irq(desc)

    monkeypatch.setattr(manage, "raise_irq", recording)
    sc = scenario(tmp_path, """
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
    name = "hw"
    run = ["hotplug surprise-removal 0000:00:1c.0"]
    """)
    ends = set()
    res = check(sc, "v6.12", races=False,
                observe=lambda w: ends.add(len(w.attrs["devices"]["0000:00:1c.0"].peek("subordinate")
                                               .peek("devices"))))
    assert res.verdict == "ok" and res.exhaustive
    assert "hw_control_written" in callers and "hw_event" in callers
    assert ends == {0, 1}  # removed, or the pull's events lost (cleared by the reset, or never signalled)


# -- H14: the hot reset's walk re-reads walk->pdev->slot for every device --------------------------

def test_hot_reset_walk_rereads_the_slot_pointer(tmp_path):
    # vfio_pci_walk_wrapper -> vfio_pci_dev_below_slot(pdev, walk->pdev->slot) loads pdev->slot for
    # every device of the walk; pcieport's unbind (pciehp_remove -> pci_hp_destroy -> the slot's
    # release) sets it to NULL without a lock the walk holds (both hold pci_bus_sem for reading):
    # slot->bus is then a NULL dereference (the model read the slot once before the walk).
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"
    hotplug = true
    slot = 1

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "vfio-pci"
    driver_options = { open_by = "qemu" }

    [[thread]]
    name = "qemu"
    run = ["vfio hot-reset 0000:01:00.0"]

    [[thread]]
    name = "admin"
    run = ["echo 0000:00:1c.0 > /sys/bus/pci/drivers/pcieport/unbind"]
    """)
    res = check(sc, "v6.12", stop_on_first=False, minimize_found=False)
    assert res.exhaustive
    assert [f for f in res.found if f.kind == "uaf" and "vfio_pci_dev_below_slot" in f.message]
