"""drivers/pci/pci-sysfs.c: the store methods of the PCI sysfs files."""

from __future__ import annotations

from pcilock._engine_imports import read
from pcilock.kernel._model import K, mirrors

EINVAL = -22


def _ulong(buf):
    try:
        return int(buf.strip(), 0)
    except ValueError:
        return None


@mirrors("drivers/pci/pci-sysfs.c", note="DEVICE_ATTR_IGNORE_LOCKDEP(remove)", v61=506, v612=504, v72=514)
def remove_store(dev, buf):
    val = _ulong(buf)
    if val is None:
        return EINVAL
    if val and (yield from K.device_remove_file_self(dev, "remove")):
        yield from K.pci_stop_and_remove_bus_device_locked(dev)
    return len(buf)


@mirrors("drivers/pci/pci-sysfs.c", note="rescans the bus the device sits on", v61=486, v612=484, v72=494)
def dev_rescan_store(dev, buf):
    val = _ulong(buf)
    if val is None:
        return EINVAL
    if val:
        yield from K.pci_lock_rescan_remove()
        yield from K.pci_rescan_bus(dev.bus)
        yield from K.pci_unlock_rescan_remove()
    return len(buf)


@mirrors("drivers/pci/pci-sysfs.c", note="/sys/bus/pci/rescan: each root bus from pci_find_next_bus",
         v61=454, v612=452, v72=462)
def rescan_store(buf):
    val = _ulong(buf)
    if val is None:
        return EINVAL
    if val:
        yield from K.pci_lock_rescan_remove()
        b = None
        while (b := (yield from K.pci_find_next_bus(b))) is not None:  # pci_bus_sem read per step
            yield from K.pci_rescan_bus(b)
        yield from K.pci_unlock_rescan_remove()
    return len(buf)


@mirrors("drivers/pci/pci-sysfs.c", note="/sys/class/pci_bus/B/rescan", v61=521, v612=519, v72=529)
def bus_rescan_store(bus, buf):
    val = _ulong(buf)
    if val is None:
        return EINVAL
    if val:
        yield from K.pci_lock_rescan_remove()
        # !pci_is_root_bus(bus) && list_empty(&bus->devices) (READ_ONCE of the head)
        if bus.parent is not None and not (yield read(bus, "devices", marked=True)):
            yield from K.pci_rescan_bus_bridge_resize(bus.self)  # NULL for a virtual VF bus
        else:
            yield from K.pci_rescan_bus(bus)
        yield from K.pci_unlock_rescan_remove()
    return len(buf)


@mirrors("drivers/pci/pci-sysfs.c", v61=1392, v612=1367, v72=1564)
def reset_store(dev, buf):
    val = _ulong(buf)
    if val != 1:
        return EINVAL
    result = yield from K.pci_reset_function(dev)
    return result if result < 0 else len(buf)
