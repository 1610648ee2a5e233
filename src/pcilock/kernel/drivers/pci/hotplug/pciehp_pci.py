"""drivers/pci/hotplug/pciehp_pci.c: enumerate and de-enumerate the devices below a hotplug port.

Both run in the port's IRQ thread with ``ctrl->reset_lock`` read-held
(``pciehp_ist``).  All three bases contain f5eff5591b8f: the reset lock is
dropped around ``pci_bus_add_devices`` (driver binding) and around each
``pci_stop_and_remove_bus_device`` (driver unbinding) and re-taken with
``down_read_nested(..., ctrl->depth)`` while ``pci_rescan_remove_lock`` is
held (v6.1 lines 71/73 and 119/121; v6.12/v7.2 71/73 and 123/125).
:mod:`pcilock.patches.commit_f5eff5591b8f` has the functions without those
four statements.  v6.12/v7.2 cache the DSN of device 00.0 after enumeration
(``pci_get_slot``: ``pci_bus_sem`` read).

The loop over ``parent->devices`` is ``list_for_each_entry_safe_reverse``:
the model takes the last device, and before removing it notes its
predecessor (``temp``), re-reading the list each time.
"""

from __future__ import annotations

from pcilock._engine_imports import down_read, read, up_read
from pcilock.kernel._model import V61, K, W, mirrors

ENODEV, EEXIST = -19, -17


@mirrors("drivers/pci/pci.h", note="pci_dev_set_io_state(dev, pci_channel_io_perm_failure): xchg",
         v61=383, v612=507, v72=778)
def pci_dev_set_disconnected(dev, unused):
    from pcilock.kernel.drivers.pci.pcie.err import pci_channel_io_perm_failure

    yield from K.pci_dev_set_io_state(dev, pci_channel_io_perm_failure)
    # 6.12/7.2: pci_doe_disconnected(dev): no DOE mailbox in the model (cancelling one takes no lock)
    return 0


def _enum_head(ctrl):
    parent = yield read(ctrl.port, "subordinate")
    yield from K.pci_lock_rescan_remove()
    dev = yield from K.pci_get_slot(parent, 0)
    if dev is not None:
        yield from K.put_device(dev)
        return parent, EEXIST
    num = yield from K.pci_scan_slot(parent, 0)
    if num == 0:
        return parent, ENODEV
    for dev in (yield read(parent, "devices")):  # for_each_pci_bridge(dev, parent)
        if dev.child_bus_number is not None:
            yield from K.pci_hp_add_bridge(dev)
    # pci_assign_unassigned_bridge_resources(bridge): resources only, no lock
    yield from K.pcie_bus_configure_settings(parent)  # pci_walk_bus: pci_bus_sem read
    return parent, 0


def _cache_dsn(ctrl, parent):
    from pcilock._engine_imports import write

    dev = yield from K.pci_get_slot(parent, 0)
    yield write(ctrl, "dsn", dev.bdf if dev is not None else None)  # ctrl->dsn = pci_get_dsn(dev)
    yield from K.put_device(dev)


@mirrors("drivers/pci/hotplug/pciehp_pci.c", note="f5eff5591b8f: reset_lock dropped around "
         "pci_bus_add_devices", v61=32)
def pciehp_configure_device(ctrl):
    parent, ret = yield from _enum_head(ctrl)
    if ret == 0:
        yield up_read(ctrl.reset_lock)
        yield from K.pci_bus_add_devices(parent)
        yield down_read(ctrl.reset_lock, ctrl.depth)
    yield from K.pci_unlock_rescan_remove()
    return ret


@mirrors("drivers/pci/hotplug/pciehp_pci.c", note="f5eff5591b8f: reset_lock dropped around "
         "pci_bus_add_devices; the DSN of 00.0 cached", v612=32, v72=32)
def pciehp_configure_device(ctrl):  # noqa: F811
    parent, ret = yield from _enum_head(ctrl)
    if ret == 0:
        yield up_read(ctrl.reset_lock)
        yield from K.pci_bus_add_devices(parent)
        yield down_read(ctrl.reset_lock, ctrl.depth)
        yield from _cache_dsn(ctrl, parent)
    yield from K.pci_unlock_rescan_remove()
    return ret


def walk_reverse_safe(parent, body):
    """list_for_each_entry_safe_reverse(dev, temp, &parent->devices): *body(dev)* for each."""
    devs = yield read(parent, "devices")
    dev = devs[-1] if devs else None
    while dev is not None:
        devs = yield read(parent, "devices")
        temp = None
        if dev in devs:
            i = devs.index(dev)
            temp = devs[i - 1] if i > 0 else None
        yield from body(dev)
        dev = temp


@mirrors("drivers/pci/hotplug/pciehp_pci.c", note="f5eff5591b8f: reset_lock dropped around each "
         "pci_stop_and_remove_bus_device", v61=91, v612=95, v72=95)
def pciehp_unconfigure_device(ctrl, presence):
    parent = yield read(ctrl.port, "subordinate")
    if not presence:
        yield from K.pci_walk_bus(parent, K.pci_dev_set_disconnected, None)
    yield from K.pci_lock_rescan_remove()

    def one(dev):
        yield from K.get_device(dev)  # pci_dev_get
        yield up_read(ctrl.reset_lock)
        yield from K.pci_stop_and_remove_bus_device(dev)
        yield down_read(ctrl.reset_lock, ctrl.depth)
        # if (presence): quiesce the Command register (config accesses, no lock)
        yield from K.put_device(dev)

    yield from walk_reverse_safe(parent, one)
    yield from K.pci_unlock_rescan_remove()


__all__ = ["V61", "W", "down_read"]
