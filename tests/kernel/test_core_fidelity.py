"""Fidelity fixes of the driver-core / kernfs / PCI enumeration model, each checked by
exploration of a small scenario (written here, not in the catalogue): the verdict, or
the end state of every execution, is what the kernel source says it must be."""

from __future__ import annotations

from pathlib import Path

from scenario_files import scenario

from pcilock.engine import Budget, explore
from pcilock.kernel import load_all
from pcilock.kernel._model import K
from pcilock.patches import parse_regime
from pcilock.scenarios.parse import load_scenario
from pcilock.scenarios.program import make_program

ROOT_PORT = """
[[device]]
bdf = "0000:00:1c.0"
type = "root-port"
"""


def check(sc, regime, observe=None, **kw):
    """Explore *sc* under *regime*; ``observe(world)`` is called at the end of every execution."""
    load_all()
    prog = make_program(sc, parse_regime(regime))
    if observe is not None:
        inner = prog.final_checks

        def final(world, ex):
            observe(world)
            return inner(world, ex)

        prog.final_checks = final
    res = explore(prog, "dpor", budget=Budget(seconds=120), **kw)
    assert res.error is None, res.error
    return res


# -- F1: bus_remove_driver drains the driver's bind/unbind files -----------------------------------

NVME_BOUND = ROOT_PORT + """
[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
driver = "nvme"
"""


def test_rmmod_vs_unbind_bind_is_not_a_race(tmp_path):
    # remove_bind_files() drains unbind_store before driver_detach() runs: the unbind's plain
    # read of dev->driver happens before the detach's store (and a later bind finds no file)
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "rmmod"
    run = ["modprobe -r nvme"]

    [[thread]]
    name = "bind"
    run = ["echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/unbind",
           "echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/bind"]
    """)
    for regime in ("v6.1", "v6.12", "v7.2"):
        res = check(sc, regime)
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)


def test_bind_to_an_unloaded_driver_finds_no_file(tmp_path):
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "t"
    run = ["modprobe -r nvme", "echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/bind"]
    """)
    bound = []
    check(sc, "v7.2", observe=lambda w: bound.append(w.attrs["devices"]["0000:01:00.0"].peek("driver")))
    assert bound == [None]


def test_modprobe_creates_the_bind_files_again(tmp_path):
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "t"
    run = ["modprobe -r nvme", "modprobe nvme",
           "echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/unbind",
           "echo 0000:01:00.0 > /sys/bus/pci/drivers/nvme/bind"]
    """)
    bound = []
    check(sc, "v6.12", observe=lambda w: bound.append(w.attrs["devices"]["0000:01:00.0"].peek("driver")))
    assert [d.name for d in bound] == ["nvme"]


# -- F2: the pci_bus class device has no dev->bus: bus_add/probe/remove_device return early -------

def test_vfs_on_a_new_bus(tmp_path):
    # VF routing IDs past the PF's bus: virtfn_add_bus -> pci_add_new_bus registers a pci_bus class
    # device, which the driver core must neither put on the PCI klist nor probe
    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 1, num_vfs = 0, offset = 256 }

    [[thread]]
    name = "numvfs"
    run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]
    """)
    seen = []

    def observe(w):
        vf = w.attrs["devices"]["0000:02:00.0"]
        klist = w.attrs["pci_bus_type"].peek("klist")
        seen.append((vf.peek("registered"), "0000:02" in w.attrs["buses"],
                     [d.name for d in klist if d.bus_type is None]))

    for regime in ("v6.1", "v6.12", "v7.2"):
        seen.clear()
        res = check(sc, regime, observe=observe)
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)
        assert seen == [(True, True, [])], (regime, seen)


def test_vfs_on_a_new_bus_removed_again(tmp_path):
    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 1, num_vfs = 1, offset = 256 }

    [[thread]]
    name = "numvfs"
    run = ["echo 0 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]

    [[thread]]
    name = "rescan"
    run = ["echo 1 > /sys/bus/pci/rescan"]
    """)
    for regime in ("v6.1", "v7.2"):
        res = check(sc, regime)
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)


def test_hot_add_of_a_switch(tmp_path):
    # pciehp finds a switch below the port: pci_hp_add_bridge -> pci_add_new_bus for each bridge
    sc = scenario(tmp_path, """
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
    present = false

    [[device]]
    bdf = "0000:03:00.0"
    parent = "0000:02:00.0"
    driver = "nvme"
    present = false

    [[thread]]
    name = "ins"
    run = ["hotplug insertion 0000:00:1c.0"]
    """)
    bound = []
    for regime in ("v6.1", "v6.12", "v7.2"):
        bound.clear()
        res = check(sc, regime, observe=lambda w: bound.append(
            getattr(w.attrs["devices"]["0000:03:00.0"].peek("driver"), "name", None)))
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)
        assert set(bound) == {"nvme"}, (regime, bound)


# -- F3: delete_module refuses a module in use (vfio holds a reference on its driver's module) -----

VFIO_OPEN = ROOT_PORT + """
[[device]]
bdf = "0000:01:00.0"
parent = "0000:00:1c.0"
driver = "vfio-pci"
driver_options = { open_by = "user" }
"""


def _vfio_state(seen):
    def observe(w):
        mod = w.attrs["pci_drivers"]["vfio-pci"].owner
        drv = w.attrs["devices"]["0000:01:00.0"].peek("driver")
        seen.add((mod.peek("state"), getattr(drv, "name", None)))
    return observe


def test_rmmod_of_vfio_pci_with_an_open_device_is_refused(tmp_path):
    # vfio took a reference on vfio-pci's module at the first open: try_stop_module fails
    # (-EWOULDBLOCK), the exit never runs, nothing waits for the user (was: hang)
    sc = scenario(tmp_path, VFIO_OPEN + """
    [[thread]]
    name = "user"
    run = ["echo 1 > /sys/bus/pci/devices/0000:00:1c.0/rescan"]

    [[thread]]
    name = "rmmod"
    run = ["modprobe -r vfio-pci"]
    """)
    for regime in ("v6.1", "v6.12", "v7.2"):
        seen = set()
        res = check(sc, regime, observe=_vfio_state(seen))
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)
        assert seen == {("live", "vfio-pci")}, (regime, seen)


def test_rmmod_of_vfio_pci_racing_the_last_close(tmp_path):
    # refused while the file is open, done after the last close's module_put
    sc = scenario(tmp_path, VFIO_OPEN + """
    [[thread]]
    name = "user"
    run = ["vfio close 0000:01:00.0"]

    [[thread]]
    name = "rmmod"
    run = ["modprobe -r vfio-pci"]
    """)
    for regime in ("v6.1", "v6.12", "v7.2"):
        seen = set()
        res = check(sc, regime, observe=_vfio_state(seen))
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)
        assert seen == {("live", "vfio-pci"), (None, None)}, (regime, seen)


def test_modprobe_racing_modprobe_r(tmp_path):
    # a load while the module is going fails (EBUSY), a removal while it is coming fails (EBUSY);
    # whichever order: the device ends bound exactly when the module is live
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "rmmod"
    run = ["modprobe -r nvme"]

    [[thread]]
    name = "load"
    run = ["modprobe nvme"]
    """)
    seen = set()

    def observe(w):
        drv = w.attrs["devices"]["0000:01:00.0"].peek("driver")
        seen.add((w.attrs["pci_drivers"]["nvme"].owner.peek("state"), getattr(drv, "name", None)))

    res = check(sc, "v7.2", observe=observe)
    assert res.verdict == "ok" and res.exhaustive, res.verdict
    assert seen == {("live", "nvme"), (None, None)}, seen


# -- audit-iov F1: devices set up at run time get dev->slot under pci_slot_mutex ------------------

def test_reset_subordinate_vs_hot_add_closes_through_pci_slot_mutex(tmp_path):
    # 7.2: reset_subordinate -> pci_reset_bridge holds pci_slot_mutex and waits in pciehp_reset_slot
    # for reset_lock (write); the pciehp IRQ thread holds reset_lock (read) during the hot-add and
    # waits for pci_slot_mutex in pci_setup_device -> pci_dev_assign_slot
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"
    hotplug = true
    slot = 1

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "nvme"
    present = false

    [[thread]]
    name = "ins"
    run = ["hotplug insertion 0000:00:1c.0"]

    [[thread]]
    name = "admin"
    run = ["echo 1 > /sys/bus/pci/devices/0000:00:1c.0/reset_subordinate"]
    """)
    res = check(sc, "v7.2")
    assert res.verdict == "deadlock"
    f = res.found[0]
    assert sorted(f.signature[1]) == sorted(["pci_slot_mutex", "&ctrl->reset_lock 0000:00:1c.0"])


def test_vf_gets_its_slot_at_setup(tmp_path):
    # a VF enabled at run time below a slot of the PF's bus (7.2: PCI_SLOT_ALL_DEVICES) gets dev->slot
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"
    hotplug = true
    slot = 1

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 2, num_vfs = 0, drivers_autoprobe = false }

    [[thread]]
    name = "numvfs"
    run = ["echo 2 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]
    """)
    slots = []
    vfs = ("0000:01:00.1", "0000:01:00.2")
    res = check(sc, "v7.2", observe=lambda w: slots.append(
        [getattr(w.attrs["devices"][b].peek("slot"), "name", None) for b in vfs]))
    assert res.verdict == "ok"
    assert slots == [["1", "1"]]


# -- audit-core F4: sriov_vf_msix_count (VF) and sriov_vf_total_msix (PF) ---------------------------

CAT = Path(__file__).resolve().parents[2] / "scenarios"


def _msix_store_without_pf_lock(vf_dev, buf):
    from pcilock._engine_imports import read

    drv = yield read(vf_dev.physfn, "pci_driver")
    yield from K.device_lock(vf_dev)
    if (yield read(vf_dev, "pci_driver")) is None:
        yield from drv.sriov_set_msix_vec_count(vf_dev, int(buf))
    yield from K.device_unlock(vf_dev)
    return len(buf)


def test_vf_msix_count_vs_numvfs_needs_the_pf_lock_in_the_store():
    load_all()
    sc = load_scenario(CAT / "vf-msix-count-vs-numvfs.toml")
    for regime in ("v6.1", "v7.2", "v7.2+nechita-v14"):
        res = explore(make_program(sc, parse_regime(regime)), "dpor", budget=Budget(seconds=120))
        assert res.verdict == "deadlock", (regime, res.verdict)
        assert sorted(res.found[0].signature[1]) == ["&dev->mutex 0000:01:00.0",
                                                     "kn->active 0000:01:00.1/sriov_vf_msix_count"]
        res = explore(make_program(sc, parse_regime(regime), {"sriov_vf_msix_count_store":
                                                              _msix_store_without_pf_lock}),
                      "dpor", budget=Budget(seconds=120))
        assert res.verdict == "ok" and res.exhaustive, (regime, res.verdict)


def test_vf_total_msix_show_and_vf_msix_count_vs_pf_unbind(tmp_path):
    # the PF file's show takes device_lock(PF) only, and device_del drains the PF's files without it:
    # no cycle with an unbind of the PF driver.  The VF file's store does close one: mlx5 remove_one
    # removes the VFs under the PF's device lock, held by the driver core during the unbind.
    body = ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 2, num_vfs = 1, drivers_autoprobe = false }

    [[thread]]
    name = "unbind"
    run = ["echo 0000:01:00.0 > /sys/bus/pci/drivers/mlx5_core/unbind"]

    [[thread]]
    name = "user"
    run = ["%s"]
    """
    show = scenario(tmp_path, body % "cat /sys/bus/pci/devices/0000:01:00.0/sriov_vf_total_msix", "show")
    store = scenario(tmp_path, body % "echo 3 > /sys/bus/pci/devices/0000:01:00.1/sriov_vf_msix_count",
                     "store")
    for regime in ("v6.12", "v7.2"):
        res = check(show, regime, stop_on_first=False)
        assert "deadlock" not in {f.kind for f in res.found} and res.exhaustive, (regime, res.found)
        res = check(store, regime, stop_on_first=False)
        assert "deadlock" in {f.kind for f in res.found}, (regime, res.found)


# -- audit-core F7: device_add sets ready_to_probe under the device lock ------------------------------

def test_modprobe_racing_the_scan_that_adds_the_device(tmp_path):
    # the device is on the klist (bus_add_device) before device_add marks it ready to probe: a
    # driver_attach from modprobe in that window defers (-EPROBE_DEFER), device_add's own
    # bus_probe_device binds it; either way it ends bound once
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"
    hotplug = true
    slot = 1

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "nvme"
    present = false

    [[device]]
    bdf = "0000:01:00.1"
    parent = "0000:00:1c.0"
    driver = "nvme"
    present = false

    [[thread]]
    name = "load"
    run = ["modprobe -r nvme", "modprobe nvme"]

    [[thread]]
    name = "scan"
    run = ["hotplug insertion 0000:00:1c.0"]
    """)
    seen = set()

    def observe(w):
        devs = w.attrs["devices"]
        seen.add(tuple(getattr(devs[b].peek("driver"), "name", None) if b in devs else None
                       for b in ("0000:01:00.0", "0000:01:00.1")))

    res = check(sc, "v7.2", observe=observe)
    assert res.verdict == "ok" and res.exhaustive, res.verdict
    assert seen == {("nvme", "nvme")}, seen


# -- audit-iov F14: pci_find_bus (pci_bus_sem read) in virtfn_add_bus -------------------------------

def _trace(sc, regime):
    from pcilock.engine.runner import run_one

    load_all()
    run = run_one(make_program(sc, parse_regime(regime)), lambda ex, en, last, i: en[0], record=True)
    assert run.how == "complete", run.how
    return run.ex.trace


def test_a_second_vf_on_the_new_bus_finds_it_under_pci_bus_sem(tmp_path):
    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 2, num_vfs = 0, offset = 256 }

    [[thread]]
    name = "numvfs"
    run = ["echo 2 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]
    """)
    for regime in ("v6.1", "v7.2"):
        trace = _trace(sc, regime)
        finds = [e for e in trace if e.text.startswith("down_read(pci_bus_sem)")
                 and any(f[0] == "pci_find_next_bus" for f in e.stack)]
        # VF 0: no bus 02 yet (the one root bus, then the end of the list), VF 1: found below the root
        assert len(finds) == 3, (regime, [e.text for e in finds])


# -- audit-core F11: pci_bus_sem readers (rescan_store, resources, pci_find_bus, ASPM link state) ----

def test_pci_bus_sem_readers_of_rescan_and_vf_removal(tmp_path):
    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 2, num_vfs = 2, drivers_autoprobe = false }

    [[thread]]
    name = "t"
    run = ["echo 0 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs", "echo 1 > /sys/bus/pci/rescan"]
    """)
    for regime in ("v6.1", "v7.2"):
        trace = _trace(sc, regime)
        readers = [next(f[0] for f in reversed(e.stack) if not f[0].startswith("_"))
                   for e in trace if e.text.startswith("down_read(pci_bus_sem)")]
        # each VF removal: pcie_aspm_exit_link_state (the port above has a link state; the VFs are not its
        # function 0, so nothing is freed); the rescan: the root bus list, bridge sizing, pci_find_bus
        assert readers.count("pcie_aspm_exit_link_state") == 2, (regime, readers)
        assert readers.count("pci_find_next_bus") >= 2, (regime, readers)
        assert "pci_assign_unassigned_bus_resources" in readers, (regime, readers)
        aspm = [e for e in trace if e.text.startswith("lock(aspm_lock)")]
        assert len(aspm) == 2, (regime, len(aspm))


def test_link_state_freed_with_function_0_and_recreated_on_insertion(tmp_path):
    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"
    hotplug = true
    slot = 1

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "nvme"

    [[thread]]
    name = "t"
    run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/remove",
           "echo 1 > /sys/bus/pci/devices/0000:00:1c.0/rescan", "echo 1 > /sys/bus/pci/rescan"]
    """)
    states = []
    # the new pci_dev of 01:00.0 (the removed one freed the link state; the rescan made a new one)
    check(sc, "v7.2", observe=lambda w: states.append(
        (w.attrs["devices"]["0000:00:1c.0"].link_state,
         w.attrs["devices"]["0000:00:1c.0"].link_downstream is w.attrs["devices"]["0000:01:00.0"])))
    assert set(states) == {(True, True)}, states


# -- audit-iov F6: mlx5_core's devlink sections are not empty ------------------------------------------

def _held_at(trace, prefix):
    return [[name for name, _ in e.held] for e in trace if e.text.startswith(prefix)]


def test_mlx5_probe_remove_and_switchdev_sriov_take_rtnl_under_devlink(tmp_path):
    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    driver_options = { switchdev = 1 }
    sriov = { total_vfs = 2, num_vfs = 0 }
    vf_driver = "mlx5_core"

    [[thread]]
    name = "t"
    run = ["echo 0000:01:00.0 > /sys/bus/pci/drivers/mlx5_core/unbind",
           "echo 0000:01:00.0 > /sys/bus/pci/drivers/mlx5_core/bind",
           "echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]
    """)
    pf = "0000:01:00.0"
    for regime, intf in (("v6.1", "mlx5_intf_mutex"), ("v7.2", f"&comp->sem {pf}")):
        held = _held_at(_trace(sc, regime), "lock(rtnl_mutex)")
        core = [f"&dev->mutex {pf}", f"&devlink->lock {pf}", f"&dev->intf_state_mutex {pf}", intf]
        # remove_one (unbind), probe_one (bind): the mlx5e auxiliary driver's netdev
        assert sum(all(x in h for x in core) for h in held) == 2, (regime, held)
        # the VF representor of the switchdev e-switch, under the PF's devlink lock (7.2: reps_lock too)
        esw = [f"&dev->mutex {pf}", "pci_rescan_remove_lock", f"&devlink->lock {pf}"]
        if regime == "v7.2":
            esw.append(f"&esw->offloads.reps_lock {pf}")
        assert any(all(x in h for x in esw) for h in held), (regime, held)
        # the VF itself is an mlx5 device too: its probe registers its netdev under its own devlink lock
        vf = "0000:01:00.1"
        assert any(f"&devlink->lock {vf}" in h for h in held), (regime, held)


# -- audit-iov F18: reset methods of a VF in a hotplug slot ---------------------------------------------

def test_vf_reset_methods_in_a_pciehp_slot(tmp_path):
    # pci_device_add -> pci_init_reset_methods: "bus" through pciehp's slot reset when the VF's dev->slot
    # is the port's hotplug slot (6.x: slot 0 matches the VFs of device 0, 7.2: every device), not
    # through a parent-bus reset (the PF shares the bus)
    body = """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"
    %s

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 1, num_vfs = 0, drivers_autoprobe = false }

    [[thread]]
    name = "numvfs"
    run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]
    """
    from pcilock.kernel.drivers.pci.pci import reset_methods_of

    for hp, want in (("hotplug = true\n    slot = 1", ("flr", "bus")), ("", ("flr",))):
        sc = scenario(tmp_path, body % hp, "hp" if hp else "plain")
        for regime in ("v6.1", "v7.2"):
            seen = []

            def observe(w, seen=seen):
                seen.append(reset_methods_of(w.attrs["devices"]["0000:01:00.1"]).peek("methods"))

            check(sc, regime, observe=observe)
            assert seen == [want], (regime, hp, seen)


# -- audit-iov F19: sriov_drivers_autoprobe uses kstrtobool ---------------------------------------------

def test_sriov_drivers_autoprobe_store_parses_like_kstrtobool():
    from pcilock.kernel._model import activate, base_table
    from pcilock.kernel.drivers.pci.iov import EINVAL
    from pcilock.kernel.include.linux.pci import PciSriov

    load_all()

    def store(version, text):
        activate(base_table(version))

        class Pf:
            sriov = PciSriov(2, 1, 1)

        gen = K.sriov_drivers_autoprobe_store(Pf, text)
        try:
            gen.send(None)  # the write of drivers_autoprobe, if any
        except StopIteration as stop:
            return stop.value
        return "write"

    assert store("v7.2", "maybe\n") == EINVAL
    assert store("v6.1", "enable\n") == EINVAL  # 'e'/'d' only since the 7.2 kstrtobool
    assert store("v7.2", "enable\n") == "write"
    for text in ("0", "off", "N", "1", "on", "yes"):
        assert store("v6.12", text) == "write"


# -- audit-core F5: kernfs_remove_self losers wait for the winner's whole store -----------------------

class _RemoveSelfOrder:
    """One execution: the loser of two remove_self calls must restore its active reference only after
    the winner put its own at the end of its store (the kernel: SUICIDED && drained)."""

    def __init__(self):
        self.events = []

    def on_start(self, ex):
        pass

    def on_event(self, ex, t, op, value):
        from pcilock.engine import ops as O

        name = getattr(op[1], "name", "") if len(op) > 1 else ""
        if op[0] in (O.GATE_REENTER, O.GATE_LEAVE) and name.endswith("/remove") or (
                op[0] == O.WAIT_COMPLETION and name.startswith("kernfs_remove_self")):
            self.events.append((t.name, op[0]))

    def early_loser(self):
        from pcilock.engine import ops as O

        evs = self.events
        for loser in {n for n, c in evs if c == O.WAIT_COMPLETION}:
            winner_leave = [i for i, (n, c) in enumerate(evs) if n != loser and c == O.GATE_LEAVE]
            loser_back = [i for i, (n, c) in enumerate(evs) if n == loser and c == O.GATE_REENTER]
            if winner_leave and loser_back and loser_back[-1] < winner_leave[-1]:
                return True
        return False


def test_kernfs_remove_self_loser_waits_for_the_winners_store(tmp_path):
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "A"
    run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/remove"]

    [[thread]]
    name = "B"
    run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/remove", "echo 1 > /sys/bus/pci/rescan"]
    """)
    load_all()
    runs = []

    def observers():
        runs.append(_RemoveSelfOrder())
        return [runs[-1]]

    res = explore(make_program(sc, parse_regime("v7.2")), "dpor", budget=Budget(seconds=120),
                  observers=observers)
    assert res.verdict == "ok" and res.exhaustive
    assert any(len({n for n, _ in r.events}) == 2 for r in runs)  # both writers got to the file
    assert not any(r.early_loser() for r in runs)


# -- audit-core F12: __pci_device_probe matches with pci_match_device (driver_override) ------------

def _with_override(prog, bdf, driver):
    """Set *bdf*'s driver_override at the start of every execution (no operation line writes it)."""
    orig = prog.setup_fn

    def setup():
        s = orig()
        s.world.attrs["devices"][bdf].poke("driver_override", driver)
        return s

    prog.setup_fn = setup
    return prog


def _bound_to(prog, bdf):
    bound = []
    inner = prog.final_checks

    def final(world, ex):
        bound.append(getattr(world.attrs["devices"][bdf].peek("driver"), "name", None))
        return inner(world, ex)

    prog.final_checks = final
    return bound


def test_bind_through_driver_override(tmp_path):
    # an unbound device with driver_override = mlx5_core: bind_store matches it (pci_bus_match) and the
    # probe must match it the same way (pci_match_device), not by the driver's ID table
    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"

    [[device]]
    bdf = "0000:00:02.0"
    driver = "mlx5_core"

    [[thread]]
    name = "bind"
    run = ["echo 0000:01:00.0 > /sys/bus/pci/drivers/mlx5_core/bind"]
    """)
    load_all()
    for regime in ("v6.1", "v7.2"):
        prog = _with_override(make_program(sc, parse_regime(regime)), "0000:01:00.0", "mlx5_core")
        bound = _bound_to(prog, "0000:01:00.0")
        res = explore(prog, "dpor", budget=Budget(seconds=120))
        assert res.error is None and res.verdict == "ok", (regime, res.verdict, res.error)
        assert bound == ["mlx5_core"], (regime, bound)


# -- audit-core F6: probe errors are positive inside the driver core, so the next driver is tried -----

def test_a_failed_probe_lets_the_next_matching_driver_try(tmp_path):
    # a hot-added device that both nvme and mlx5_core match (driver_override-like match forced by an
    # override of pci_match_device); nvme's probe fails with -ENODEV: really_probe returns +ENODEV,
    # __device_attach_driver returns 0 and bus_for_each_drv goes on to mlx5_core
    from pcilock.kernel._model import base_table

    sc = scenario(tmp_path, """
    [[device]]
    bdf = "0000:00:1c.0"
    type = "root-port"
    hotplug = true
    slot = 1

    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "nvme"
    present = false

    [[device]]
    bdf = "0000:00:02.0"
    driver = "mlx5_core"

    [[thread]]
    name = "ins"
    run = ["hotplug insertion 0000:00:1c.0"]
    """)
    load_all()
    for regime in ("v6.1", "v7.2"):
        base = base_table(regime)

        def match(drv, dev, base=base):
            if dev.bdf == "0000:01:00.0" and drv.name in ("nvme", "mlx5_core"):
                return True
            return (yield from base["pci_match_device"](drv, dev))

        def nvme_probe_fails(pdev):
            return -19
            yield

        def probe(drv, dev, base=base):
            if drv.name == "nvme":
                return (yield from nvme_probe_fails(dev))
            return (yield from base["__pci_device_probe"](drv, dev))

        prog = make_program(sc, parse_regime(regime),
                            {"pci_match_device": match, "__pci_device_probe": probe})
        bound = _bound_to(prog, "0000:01:00.0")
        res = explore(prog, "dpor", budget=Budget(seconds=120))
        assert res.error is None and res.verdict == "ok", (regime, res.verdict, res.error)
        assert set(bound) == {"mlx5_core"}, (regime, bound)


# -- audit-core F14: the pci_bus class rescan and a device's rescan are two lockdep classes ----------

def test_bus_rescan_and_device_rescan_have_their_own_lock_classes(tmp_path):
    sc = scenario(tmp_path, NVME_BOUND + """
    [[thread]]
    name = "t"
    run = ["echo 1 > /sys/class/pci_bus/0000:01/rescan", "echo 1 > /sys/bus/pci/devices/0000:01:00.0/rescan"]
    """)
    from pcilock.engine import ops as O

    trace = _trace(sc, "v7.2")
    classes = {e.obj.name: e.obj.lock_class for e in trace if e.op[0] == O.GATE_ENTER}
    assert classes["kn->active 0000:01/rescan"] == "kn->active#pci_bus:rescan"
    assert classes["kn->active 0000:01:00.0/rescan"] == "kn->active#rescan"


# -- audit-core F15: one async attach helper per device -----------------------------------------------

def test_two_async_drivers_schedule_one_attach_helper(tmp_path):
    # nvme and mlx5_core, both made PROBE_PREFER_ASYNCHRONOUS and both matching the device, loaded at
    # the same time: the second __driver_attach sees dev->p->async_driver set and schedules nothing
    from pcilock.kernel._model import base_table

    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"

    [[thread]]
    name = "a"
    run = ["modprobe nvme"]

    [[thread]]
    name = "b"
    run = ["modprobe mlx5_core"]
    """)
    load_all()
    base = base_table("v7.2")

    def match(drv, dev):
        if dev.bdf == "0000:01:00.0" and drv.name in ("nvme", "mlx5_core"):
            return True
        return (yield from base["pci_match_device"](drv, dev))

    prog = make_program(sc, parse_regime("v7.2"), {"pci_match_device": match})
    orig = prog.setup_fn

    def setup():
        s = orig()
        for n in ("nvme", "mlx5_core"):
            s.world.attrs["pci_drivers"][n].async_probe = True
        return s

    prog.setup_fn = setup
    helpers = []
    inner = prog.final_checks

    def final(world, ex):
        helpers.append(len(world.attrs["async_threads"]))
        return inner(world, ex)

    prog.final_checks = final
    res = explore(prog, "dpor", budget=Budget(seconds=120))
    assert res.error is None and res.verdict == "ok" and res.exhaustive, (res.verdict, res.error)
    assert set(helpers) == {1}, sorted(set(helpers))


# -- audit-core F16: bus_rescan_store tests !pci_is_root_bus (bus->parent), not bus->self -------------

def test_rescan_of_an_emptied_vf_bus_dereferences_a_null_bridge(tmp_path):
    # the PF driver's unbind removes its VF (no pci_rescan_remove_lock on that path, the seed-002 family);
    # between the VF's list_del and the removal of its virtual bus, the bus's class rescan file still
    # works, the bus is empty and not a root bus: pci_rescan_bus_bridge_resize(bus->self == NULL)
    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    sriov = { total_vfs = 1, num_vfs = 1, offset = 256, drivers_autoprobe = false }

    [[thread]]
    name = "unbind"
    run = ["echo 0000:01:00.0 > /sys/bus/pci/drivers/mlx5_core/unbind"]

    [[thread]]
    name = "rescan"
    run = ["echo 1 > /sys/class/pci_bus/0000:02/rescan"]
    """)
    for regime in ("v6.1", "v6.12", "v7.2"):
        res = check(sc, regime, stop_on_first=False)
        msgs = [f.message for f in res.found if f.kind == "uaf"]
        assert any("NULL pointer dereference: bridge->subordinate" in m for m in msgs), (regime, msgs)


# -- audit-core F17: reset files only with a reset method; type groups in pci_dev_attr_groups order ----

def test_reset_files_hidden_without_a_reset_method(tmp_path):
    sc = scenario(tmp_path, ROOT_PORT + """
    [[device]]
    bdf = "0000:01:00.0"
    parent = "0000:00:1c.0"
    driver = "mlx5_core"
    reset_methods = []
    sriov = { total_vfs = 1, num_vfs = 0, drivers_autoprobe = false }

    [[thread]]
    name = "t"
    run = ["echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"]
    """)
    files = []
    check(sc, "v7.2", observe=lambda w: files.append(
        {b: sorted(set(w.attrs["devices"][b].kn) & {"reset", "reset_method"})
         for b in ("0000:01:00.0", "0000:01:00.1")}))
    # the PF booted without a reset method: no files; its VF (FLR), added at run time: both files
    assert files == [{"0000:01:00.0": [], "0000:01:00.1": ["reset", "reset_method"]}]


def test_type_groups_in_kernel_order():
    from pcilock.kernel.world import DeviceSpec, Topology, World

    w = World(Topology([DeviceSpec(bdf="0000:00:1c.0", type="root-port", total_vfs=2)]), "v7.2", {})
    dev = w.new_dev(w.topo.devices[0], w.new_bus(0, 0, None, None))
    # hotplug group, sriov_pf group, bridge group (pci_dev_attr_groups)
    assert dev.type_attrs == ("remove", "rescan", "sriov_numvfs", "sriov_drivers_autoprobe",
                              "sriov_vf_total_msix", "reset_subordinate")
