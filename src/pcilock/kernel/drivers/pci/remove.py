"""drivers/pci/remove.c: stopping and removing devices and buses."""

from __future__ import annotations

from pcilock._engine_imports import assert_held, down_write, read, rmw, up_write, write
from pcilock.kernel._model import K, W, mirrors

PCI_DEV_ADDED = 0
PCI_DEV_REMOVED = 3


@mirrors("drivers/pci/remove.c", note="6.x: test ADDED, unbind, clear ADDED afterwards", v61=16, v612=32)
def pci_stop_dev(dev):
    if PCI_DEV_ADDED in (yield read(dev, "priv_flags", marked=True)):
        yield from K.device_release_driver(dev)
        # elided: pci_proc_detach_device (proc_remove waits for in-flight /proc/bus/pci users) and
        # pci_remove_sysfs_dev_files (config/resource files): the model has no userspace config
        # accessor, so nothing is in flight there (audit-core F18)
        yield rmw(dev, "priv_flags", lambda f: f - {PCI_DEV_ADDED})


@mirrors("drivers/pci/remove.c", note="7.2: pci_dev_test_and_clear_added (93093ea1f059)", v72=20)
def pci_stop_dev(dev):  # noqa: F811
    flags = yield rmw(dev, "priv_flags", lambda f: f - {PCI_DEV_ADDED})
    if PCI_DEV_ADDED not in flags:
        return
    yield from K.device_release_driver(dev)
    # elided: pci_proc_detach_device (see the 6.x variant)


@mirrors("drivers/pci/remove.c", note="6.x: guarded by dev->dev.kobj.parent (cleared by device_del)",
         v61=30, v612=48)
def pci_destroy_dev(dev):
    if not (yield read(dev, "registered")):
        return
    yield from K.device_del(dev)
    yield down_write(W.pci_bus_sem)
    devs = yield read(dev.bus, "devices")  # list_del(&dev->bus_list): a plain list update
    yield write(dev.bus, "devices", tuple(d for d in devs if d is not dev), marked=True)  # WRITE_ONCE
    yield up_write(W.pci_bus_sem)
    yield from K.pcie_aspm_exit_link_state(dev)
    # elided: pci_bridge_d3_update(dev) - a pci_walk_bus (pci_bus_sem read) only when the platform lets
    # the upstream bridge go to D3 (pci_bridge_d3_possible) and D3 is not allowed yet; not modelled
    yield from K.put_device(dev)


@mirrors("drivers/pci/remove.c", note="7.2: pci_dev_test_and_set_removed (e3f30d563a38)", v72=32)
def pci_destroy_dev(dev):  # noqa: F811
    flags = yield rmw(dev, "priv_flags", lambda f: f | {PCI_DEV_REMOVED})
    if PCI_DEV_REMOVED in flags:
        return
    # elided: pci_doe_sysfs_teardown, pci_npem_remove; pci_tsm_destroy (CONFIG_PCI_TSM: pci_tsm_rwsem
    # write; its reader is pci_device_add's pci_tsm_init) - not modelled
    yield from K.device_del(dev)
    yield down_write(W.pci_bus_sem)
    devs = yield read(dev.bus, "devices")  # list_del(&dev->bus_list): a plain list update
    yield write(dev.bus, "devices", tuple(d for d in devs if d is not dev), marked=True)  # WRITE_ONCE
    yield up_write(W.pci_bus_sem)
    # pci_doe_destroy, pci_ide_destroy: no lock of the model
    yield from K.pcie_aspm_exit_link_state(dev)
    # elided: pci_bridge_d3_update(dev) (see the 6.x variant)
    yield from K.put_device(dev)


@mirrors("drivers/pci/remove.c", v61=47, v612=68, v72=60)
def pci_remove_bus(bus):
    yield down_write(W.pci_bus_sem)
    if bus.parent is not None and bus in bus.parent.children:
        bus.parent.children.remove(bus)  # list_del(&bus->node), under pci_bus_sem
    yield up_write(W.pci_bus_sem)
    yield from K.device_unregister(bus.dev)


@mirrors("drivers/pci/remove.c", v61=65, v612=86, v72=76)
def pci_stop_bus_device(dev):
    bus = yield read(dev, "subordinate")
    if bus is not None:
        for child in reversed((yield read(bus, "devices"))):
            yield from K.pci_stop_bus_device(child)
    yield from K.pci_stop_dev(dev)


@mirrors("drivers/pci/remove.c", v61=85, v612=106, v72=96)
def pci_remove_bus_device(dev):
    bus = yield read(dev, "subordinate")
    if bus is not None:
        for child in (yield read(bus, "devices")):
            yield from K.pci_remove_bus_device(child)
        yield from K.pci_remove_bus(bus)
        yield write(dev, "subordinate", None)
    yield from K.pci_destroy_dev(dev)


@mirrors("drivers/pci/remove.c", v61=114, v612=135)
def pci_stop_and_remove_bus_device(dev):
    yield from K.pci_stop_bus_device(dev)
    yield from K.pci_remove_bus_device(dev)


@mirrors("drivers/pci/remove.c", note="7.2: lockdep_assert_held(&pci_rescan_remove_lock) (60e7b5aa8571)",
         v72=125)
def pci_stop_and_remove_bus_device(dev):  # noqa: F811
    yield assert_held(W.pci_rescan_remove_lock, "lockdep_assert_held(&pci_rescan_remove_lock)")
    yield from K.pci_stop_bus_device(dev)
    yield from K.pci_remove_bus_device(dev)


@mirrors("drivers/pci/remove.c", v61=121, v612=142, v72=133)
def pci_stop_and_remove_bus_device_locked(dev):
    yield from K.pci_lock_rescan_remove()
    yield from K.pci_stop_and_remove_bus_device(dev)
    yield from K.pci_unlock_rescan_remove()
