"""arch/powerpc/kernel/pci-hotplug.c: the removal and re-scan of a bus that EEH recovery uses.

Mirrors ``pci_hp_remove_devices`` and ``pci_hp_add_devices`` of v6.1, v6.12
and v7.2.  Both are called with ``pci_rescan_remove_lock`` held by their
caller (``eeh_handle_normal_event``) and take no lock themselves.

``pci_hp_add_devices``: the device-tree or legacy probe (``of_rescan_bus`` /
``traverse_siblings_and_scan_slot``, then ``pci_scan_bridge`` twice) is
modelled as ``pci_scan_slot`` of every present function 0 on the bus, then
``pci_scan_bridge_extend`` of each bridge, then
``pcibios_finish_adding_to_bus`` → ``pci_bus_add_devices`` (driver binding
under each new device's lock).  Resource assignment takes no lock of the
model.
"""

from __future__ import annotations

from pcilock._engine_imports import read
from pcilock.kernel._model import K, W, mirrors


@mirrors("arch/powerpc/kernel/pci-hotplug.c", note="child buses first, then the bus's devices in reverse "
         "(list_for_each_entry_safe_reverse)", v61=78, v612=78, v72=78)
def pci_hp_remove_devices(bus):
    from pcilock.kernel.drivers.pci.hotplug.pciehp_pci import walk_reverse_safe

    for child in list(bus.children):
        if child.self is not None:
            yield from K.pci_hp_remove_devices(child)
    yield from walk_reverse_safe(bus, K.pci_stop_and_remove_bus_device)


@mirrors("arch/powerpc/kernel/pci-hotplug.c", note="scan the slots and bridges, then "
         "pcibios_finish_adding_to_bus -> pci_bus_add_devices", v61=107, v612=137, v72=137)
def pci_hp_add_devices(bus):
    for devfn in W.hw_devfns(bus):
        if devfn & 7 == 0:
            yield from K.pci_scan_slot(bus, devfn)
    for dev in (yield read(bus, "devices")):
        if dev.child_bus_number is not None:
            yield from K.pci_scan_bridge_extend(bus, dev)
    yield from K.pci_bus_add_devices(bus)
