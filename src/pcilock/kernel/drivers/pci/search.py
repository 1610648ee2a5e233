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


@mirrors("drivers/pci/search.c", note="the next root bus, read under pci_bus_sem", v61=166, v612=166, v72=168)
def pci_find_next_bus(from_bus):
    b = None
    yield down_read(W.pci_bus_sem)
    roots = W.root_buses  # pci_root_buses: fixed after boot in the model
    i = 0 if from_bus is None else roots.index(from_bus) + 1
    if i < len(roots):
        b = roots[i]
    yield up_read(W.pci_bus_sem)
    return b


def pci_do_find_bus(bus, busnr):
    """drivers/pci/search.c pci_do_find_bus (static): a depth-first walk of bus->children without
    a lock; the model's children lists are plain (changed under pci_bus_sem write), no events."""
    if bus.number == busnr:
        return bus
    for tmp in bus.children:
        child = pci_do_find_bus(tmp, busnr)
        if child is not None:
            return child
    return None


@mirrors("drivers/pci/search.c", note="each root bus through pci_find_next_bus (pci_bus_sem read)",
         v61=141, v612=141, v72=143)
def pci_find_bus(domain, busnr):
    bus = None
    while (bus := (yield from K.pci_find_next_bus(bus))) is not None:
        if bus.domain != domain:
            continue
        tmp_bus = pci_do_find_bus(bus, busnr)
        if tmp_bus is not None:
            return tmp_bus
    return None
