"""drivers/pci/bus.c: adding devices to the driver core (binding drivers)."""

from __future__ import annotations

from pcilock._engine_imports import down_read, read, rmw, up_read, write
from pcilock.kernel._model import K, W, mirrors

PCI_DEV_ADDED = 0
PCI_DEV_ALLOW_BINDING = 7


@mirrors("drivers/pci/bus.c", note="6.x: match_driver = true; device_attach (sync, ignores autoprobe); "
         "ADDED set after the attach", v61=330, v612=330)
def pci_bus_add_device(dev):
    yield write(dev, "match_driver", True)
    yield from K.device_attach(dev)
    yield rmw(dev, "priv_flags", lambda f: f | {PCI_DEV_ADDED})


@mirrors("drivers/pci/bus.c", note="7.2: pci_dev_allow_binding; device_initial_probe (honours "
         "drivers_autoprobe, may probe asynchronously); ADDED set after", v72=345)
def pci_bus_add_device(dev):  # noqa: F811
    yield rmw(dev, "priv_flags", lambda f: f | {PCI_DEV_ALLOW_BINDING})
    yield from K.device_initial_probe(dev)
    yield rmw(dev, "priv_flags", lambda f: f | {PCI_DEV_ADDED})


@mirrors("drivers/pci/bus.c", v61=359, v612=385, v72=385)
def pci_bus_add_devices(bus):
    for dev in (yield read(bus, "devices")):
        if PCI_DEV_ADDED not in (yield read(dev, "priv_flags", marked=True)):
            yield from K.pci_bus_add_device(dev)
    for dev in (yield read(bus, "devices")):
        if PCI_DEV_ADDED in (yield read(dev, "priv_flags", marked=True)):
            child = yield read(dev, "subordinate")
            if child is not None:
                yield from K.pci_bus_add_devices(child)


# -- added for the pciehp / vfio models ----------------------------------------------------------

@mirrors("drivers/pci/bus.c", note="pre-order; stops at the first nonzero callback result (6.x: iterative, "
         "7.2: recursive, same order)", v61=382, v612=408, v72=408)
def __pci_walk_bus(top, cb, userdata):
    for dev in (yield read(top, "devices")):
        ret = yield from cb(dev, userdata)
        if ret:
            return ret
        sub = yield read(dev, "subordinate")
        if sub is not None:
            ret = yield from K.__pci_walk_bus(sub, cb, userdata)
            if ret:
                return ret
    return 0


@mirrors("drivers/pci/bus.c", note="pci_bus_sem read-held across the walk and every callback",
         v61=432, v612=458, v72=461)
def pci_walk_bus(top, cb, userdata):
    yield down_read(W.pci_bus_sem)
    yield from K.__pci_walk_bus(top, cb, userdata)
    yield up_read(W.pci_bus_sem)
