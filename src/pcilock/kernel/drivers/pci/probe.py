"""drivers/pci/probe.c: the rescan/remove lock, scanning and adding devices.

Scanning reads the modelled hardware (``W.hw``: which functions answer config
reads on which bus; one marked read per listing and per vendor-ID read, so a
scan and a hotplug event on the bus are dependent), so a rescan finds exactly
the devices that are present and not yet on ``bus->devices``.  Resource
assignment is not modelled (it takes no lock of the model).
"""

from __future__ import annotations

from pcilock._engine_imports import check, down_read, down_write, lock, read, unlock, up_read, up_write, write
from pcilock.kernel._model import K, W, mirrors

PCI_DEV_ADDED = 0


@mirrors("drivers/pci/probe.c", v61=3356, v612=3389, v72=3512)
def pci_lock_rescan_remove():
    yield lock(W.pci_rescan_remove_lock)


@mirrors("drivers/pci/probe.c", v61=3362, v612=3395, v72=3518)
def pci_unlock_rescan_remove():
    yield unlock(W.pci_rescan_remove_lock)


@mirrors("drivers/pci/probe.c", v61=3338, v612=3371, v72=3494)
def pci_rescan_bus(bus):
    n = yield from K.pci_scan_child_bus(bus)
    yield from K.pci_assign_unassigned_bus_resources(bus)
    yield from K.pci_bus_add_devices(bus)
    return n


@mirrors("drivers/pci/setup-bus.c", note="sizes the bridges of the bus under pci_bus_sem read; the "
         "assignment itself takes no lock of the model", v61=2410, v612=2484, v72=2481)
def pci_assign_unassigned_bus_resources(bus):
    yield down_read(W.pci_bus_sem)
    yield read(bus, "devices")  # for_each_pci_bridge: __pci_bus_size_bridges of each subordinate bus
    yield up_read(W.pci_bus_sem)
    # __pci_bus_assign_resources(bus, &add_list, NULL)


@mirrors("drivers/pci/probe.c", v61=3315, v612=3348, v72=3471)
def pci_rescan_bus_bridge_resize(bridge):
    if bridge is None:  # bus_rescan_store of an empty bus that has no bridge (a VF's virtual bus)
        yield check(False, "BUG: NULL pointer dereference: bridge->subordinate "
                    "(pci_rescan_bus_bridge_resize)", kind="uaf", fatal=True)
        return 0
    bus = yield read(bridge, "subordinate")
    n = yield from K.pci_scan_child_bus(bus)
    # pci_assign_unassigned_bridge_resources(bridge): no pci_bus_sem
    yield from K.pci_bus_add_devices(bus)
    return n


@mirrors("drivers/pci/probe.c", note="pci_scan_child_bus -> pci_scan_child_bus_extend: slots, then bridges; "
         "each slot's tail of pci_scan_slot (link state of the bus's port) is kept", v61=3062, v612=3093,
         v72=3205)
def pci_scan_child_bus(bus):
    n = 0
    devfns = yield from W.read_hw_devfns(bus)
    for slot in sorted({d >> 3 for d in devfns}):
        nr = 0
        for devfn in [d for d in devfns if (d >> 3) == slot]:
            dev = yield from K.pci_scan_single_device(bus, devfn)
            if dev is not None:
                n += 1
                if PCI_DEV_ADDED not in (yield read(dev, "priv_flags", marked=True)):
                    nr += 1
        if bus.self is not None and nr:
            yield from K.pcie_aspm_init_link_state(bus.self)
    for dev in (yield read(bus, "devices")):
        if dev.child_bus_number is not None:
            yield from K.pci_scan_bridge_extend(bus, dev)
    return n


@mirrors("drivers/pci/probe.c", note="the secondary bus found with pci_find_bus (a rescan, or a bus already "
         "there) or added; bus-number assignment is the topology's; pm_runtime_get_sync of the bridge not "
         "modelled", v61=1261, v612=1290, v72=1395)
def pci_scan_bridge_extend(bus, dev):
    child = yield from K.pci_find_bus(bus.domain, dev.child_bus_number)
    if child is None:
        child = yield from K.pci_add_new_bus(bus, dev, dev.child_bus_number)
    yield from K.pci_scan_child_bus(child)


@mirrors("drivers/pci/probe.c", v61=2634, v612=2665, v72=2778)
def pci_scan_single_device(bus, devfn):
    dev = yield from K.pci_get_slot(bus, devfn)
    if dev is not None:
        yield from K.put_device(dev)
        return dev
    dev = yield from K.pci_scan_device(bus, devfn)
    if dev is None:
        return None
    yield from K.pci_device_add(dev, bus)
    return dev


@mirrors("drivers/pci/probe.c", note="config reads find the function (or not); pci_alloc_dev; "
         "pci_setup_device", v61=2474, v612=2500, v72=2597)
def pci_scan_device(bus, devfn):
    dev = yield from W.read_scan_device(bus, devfn)  # pci_bus_read_dev_vendor_id, pci_alloc_dev
    if dev is None:
        return None
    yield from K.pci_setup_device(dev)
    return dev


@mirrors("drivers/pci/probe.c", note="only the slot assignment takes a lock (header type, class, "
         "quirks, resources: none)", v61=1849, v612=1934, v72=2016)
def pci_setup_device(dev):
    yield from K.pci_dev_assign_slot(dev)
    return 0


@mirrors("drivers/pci/probe.c", note="6.x: match_driver = false before device_add", v61=2588, v612=2615)
def pci_device_add(dev, bus):
    # pci_init_capabilities -> pci_init_reset_methods: probes each method before the device is on the bus
    yield from K.pci_init_reset_methods(dev)
    yield down_write(W.pci_bus_sem)
    devs = yield read(bus, "devices")  # list_add_tail(&dev->bus_list, &bus->devices)
    yield write(bus, "devices", devs + (dev,), marked=True)  # published with WRITE_ONCE(prev->next)
    yield up_write(W.pci_bus_sem)
    yield write(dev, "match_driver", False)
    yield from K.device_add(dev)


@mirrors("drivers/pci/probe.c", note="7.2: binding stays disallowed until pci_bus_add_device", v72=2726)
def pci_device_add(dev, bus):  # noqa: F811
    yield from K.pci_init_reset_methods(dev)  # pci_init_capabilities
    yield down_write(W.pci_bus_sem)
    devs = yield read(bus, "devices")  # list_add_tail(&dev->bus_list, &bus->devices)
    yield write(bus, "devices", devs + (dev,), marked=True)  # published with WRITE_ONCE(prev->next)
    yield up_write(W.pci_bus_sem)
    yield from K.device_add(dev)


@mirrors("drivers/pci/probe.c", v61=1173, v612=1200, v72=1285)
def pci_add_new_bus(parent, dev, busnr):
    child = W.pci_alloc_child_bus(parent, dev, busnr)
    if dev is not None:
        yield write(dev, "subordinate", child)
    yield from K.device_add(child.dev)  # device_register of the pci_bus class device
    yield down_write(W.pci_bus_sem)
    parent.children.append(child)
    yield up_write(W.pci_bus_sem)
    return child


# -- added for the pciehp model (pciehp_configure_device) -----------------------------------------

@mirrors("drivers/pci/probe.c", note="functions of one device: fn 0 required, then the others present "
         "(next_fn without ARI); counts devices not yet added", v61=2722, v612=2753, v72=2866)
def pci_scan_slot(bus, devfn):
    nr = 0
    for fn_devfn in [d for d in (yield from W.read_hw_devfns(bus)) if (d >> 3) == (devfn >> 3)]:
        dev = yield from K.pci_scan_single_device(bus, fn_devfn)
        if dev is None:
            if fn_devfn == devfn:
                break
            continue
        if PCI_DEV_ADDED not in (yield read(dev, "priv_flags", marked=True)):  # !pci_dev_is_added: test_bit
            nr += 1
    if bus.self is not None and nr:
        yield from K.pcie_aspm_init_link_state(bus.self)
    return nr


@mirrors("drivers/pci/probe.c", note="bus-number allocation not modelled: the bridge's secondary bus is the "
         "topology's", v61=3391, v612=3424, v72=3547)
def pci_hp_add_bridge(dev):
    yield from K.pci_scan_bridge_extend(dev.bus, dev)
    if (yield read(dev, "subordinate")) is None:
        return -1
    return 0


@mirrors("drivers/pci/probe.c", note="pcie_bus_config = PCIE_BUS_DEFAULT (the Kconfig default): the "
         "bridge, then pci_walk_bus (pci_bus_sem read) with pcie_bus_configure_set (config writes)",
         v61=2887, v612=2918, v72=3031)
def pcie_bus_configure_settings(bus):
    if bus.self is None:
        return
    yield from K.pci_walk_bus(bus, _pcie_bus_configure_set, None)


def _pcie_bus_configure_set(dev, data):
    # pcie_bus_configure_set: MPS/MRRS config writes, no lock (model-only stand-in for the callback)
    return 0
    yield
