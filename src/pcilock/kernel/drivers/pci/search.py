"""drivers/pci/search.c: device lookups."""

from __future__ import annotations

from pcilock._engine_imports import down_read, read, up_read
from pcilock.kernel._model import K, W, mirrors


@mirrors("drivers/pci/search.c", v61=194, v612=194, v72=196)
def pci_get_slot(bus, devfn):
    found = None
    yield down_read(W.pci_bus_sem)
    for dev in (yield read(bus, "devices")):
        if dev.devfn == devfn:
            found = dev
            yield from K.get_device(dev)
            break
    yield up_read(W.pci_bus_sem)
    return found


@mirrors("drivers/pci/search.c", note="for_each_pci_dev: driver-core klist walk, no pci_bus_sem",
         v61=228, v612=228, v72=230)
def pci_get_domain_bus_and_slot(domain, busnr, devfn):
    for dev in (yield read(W.pci_bus_type, "klist", marked=True)):
        if dev.bus.domain == domain and dev.bus.number == busnr and dev.devfn == devfn:
            yield from K.get_device(dev)
            return dev
    return None
