"""drivers/pci/slot.c: ``struct pci_slot`` creation, lookup by device, destruction.

``pci_dev->slot`` is set when the slot is created (for the devices already
on the bus) and when a device is set up (``pci_dev_assign_slot``); it is
cleared only when the slot's last kobject reference goes (``pci_slot_release``,
under ``pci_slot_mutex`` + ``pci_bus_sem`` read).  The reset paths read it
without any lock.

Slot numbers: :class:`PciSlot` ``.number`` is the slot's name (the physical
slot number shown in /sys/bus/pci/slots); the device number the kernel
matches (``slot->number`` in the kernel) is ``.devnr``: pciehp registers
device 0 in v6.1/v6.12 and ``PCI_SLOT_ALL_DEVICES`` in v7.2 (pciehp_core.c
init_slot).  Slots declared without hotplug in a scenario match device 0.
The kobject reference count is ``refcount`` (one reference: the creator's);
the release frees the slot (any later access is a use after free).
"""

from __future__ import annotations

from pcilock._engine_imports import down_read, free, lock, read, rmw, unlock, up_read, write
from pcilock.kernel._model import V61, K, W, mirrors
from pcilock.kernel.include.linux.pci import PciSlot

PCI_SLOT_ALL_DEVICES = 0xfeff


def _devnr(slot):
    return getattr(slot, "devnr", 0)


@mirrors("drivers/pci/slot.c", note="6.1: PCI_SLOT(devfn) == slot->number (per_func_slot: s390 only)", v61=67)
def pci_dev_matches_slot(dev, slot):
    return (dev.devfn >> 3) == _devnr(slot)
    yield


@mirrors("drivers/pci/slot.c", note="6.12/7.2: PCI_SLOT_ALL_DEVICES matches every device", v612=76, v72=75)
def pci_dev_matches_slot(dev, slot):  # noqa: F811
    return _devnr(slot) == PCI_SLOT_ALL_DEVICES or (dev.devfn >> 3) == _devnr(slot)
    yield


def matches_at_setup(version, dev, slot):
    """pci_dev_matches_slot evaluated while building the booted world (no model events)."""
    if version != V61 and _devnr(slot) == PCI_SLOT_ALL_DEVICES:
        return True
    return (dev.devfn >> 3) == _devnr(slot)


@mirrors("drivers/pci/slot.c", note="the kobject release of the last reference", v61=83, v612=93, v72=92)
def pci_slot_release(slot):
    yield down_read(W.pci_bus_sem)
    for dev in (yield read(slot.bus, "devices")):
        if (yield from K.pci_dev_matches_slot(dev, slot)):
            yield write(dev, "slot", None)
    yield up_read(W.pci_bus_sem)
    # list_del(&slot->list); pci_bus_put(slot->bus)
    W.slots.pop(slot.name, None)
    yield free(slot)  # kfree(slot)


@mirrors("drivers/pci/slot.c", v61=335, v612=356, v72=368)
def pci_destroy_slot(slot):
    yield lock(W.pci_slot_mutex)
    old = yield rmw(slot, "refcount", lambda v: v - 1)  # kobject_put
    if old == 1:
        yield from K.pci_slot_release(slot)
    yield unlock(W.pci_slot_mutex)


@mirrors("drivers/pci/slot.c", note="a new slot (an existing one with the same number is not modelled: "
         "each hotplug port creates its own)", v61=244, v612=265, v72=275)
def pci_create_slot(parent, slot_nr, name, hotplug):
    yield lock(W.pci_slot_mutex)
    slot = PciSlot(parent, int(name) if str(name).isdigit() else 0, hotplug=None)
    slot.name = str(name)
    slot.devnr = slot_nr
    W.slots[slot.name] = slot  # list_add(&slot->list, &parent->slots); kobject_init_and_add
    yield down_read(W.pci_bus_sem)
    for dev in (yield read(parent, "devices")):
        if (yield from K.pci_dev_matches_slot(dev, slot)):
            yield write(dev, "slot", slot)
    yield up_read(W.pci_bus_sem)
    yield unlock(W.pci_slot_mutex)
    return slot


@mirrors("drivers/pci/slot.c", note="from pci_setup_device: the last matching slot of the bus wins",
         v61=180, v612=190, v72=200)
def pci_dev_assign_slot(dev):
    yield lock(W.pci_slot_mutex)
    for slot in list(W.slots.values()):
        if slot.bus is dev.bus and (yield from K.pci_dev_matches_slot(dev, slot)):
            yield write(dev, "slot", slot)
    yield unlock(W.pci_slot_mutex)
