"""drivers/pci/pcie/aspm.c: the link state of a PCIe link, created when devices appear below a
downstream port and freed when its function 0 is removed (v6.1, v6.12, v7.2: same locking).

Both take ``pci_bus_sem`` for read, then the global ``aspm_lock``.  The model keeps only that
locking and whether the link state exists: ``port.link_state`` (the port's ``struct
pcie_link_state``; a plain attribute, changed only under ``aspm_lock``) and
``port.link_downstream`` (``link->downstream``, the link's function 0).  ASPM register
programming, policies, latencies, Clock PM and sysfs visibility are not modelled.  The kernel
is assumed built with CONFIG_PCIEASPM (as Debian's is) and booted without ``pcie_aspm=off``.
"""

from __future__ import annotations

from pcilock._engine_imports import down_read, lock, read, unlock, up_read
from pcilock.kernel._model import W, mirrors

DOWNSTREAM_PORT_TYPES = ("root-port", "downstream-port")


def pcie_downstream_port(dev):
    """include/linux/pci.h pcie_downstream_port (root port, downstream port, PCIe-to-PCI bridge;
    the model's bridges of type pci-bridge are conventional PCI)."""
    return dev.type in DOWNSTREAM_PORT_TYPES


def pci_function_0(devices):
    """aspm.c pci_function_0 (static): the first function 0 on the link's bus."""
    for child in devices:
        if (child.devfn & 7) == 0:
            return child
    return None


@mirrors("drivers/pci/pcie/aspm.c", note="a link state for a downstream port with devices below it; "
         "pci_bus_sem read, then aspm_lock", v61=929, v612=1106, v72=1170)
def pcie_aspm_init_link_state(pdev):
    if pdev.link_state:
        return
    if not pcie_downstream_port(pdev):
        return
    if pdev.type == "root-port" and pdev.bus.self is not None:
        return  # a root port below a bridge
    yield down_read(W.pci_bus_sem)
    devs = yield from _sub_devices(pdev)  # list_empty(&pdev->subordinate->devices)
    if devs:
        yield lock(W.aspm_lock)
        pdev.link_state = True  # alloc_pcie_link_state
        pdev.link_downstream = pci_function_0(devs)
        yield unlock(W.aspm_lock)
    yield up_read(W.pci_bus_sem)


def _sub_devices(pdev):
    sub = yield read(pdev, "subordinate")
    return () if sub is None else (yield read(sub, "devices"))


@mirrors("drivers/pci/pcie/aspm.c", note="pci_bus_sem read, then aspm_lock, even when the device is not "
         "the link's function 0 (then nothing is freed)", v61=1018, v612=1267, v72=1331)
def pcie_aspm_exit_link_state(pdev):
    parent = pdev.bus.self
    if parent is None or not parent.link_state:
        return
    yield down_read(W.pci_bus_sem)
    yield lock(W.aspm_lock)
    if pdev is parent.link_downstream:
        # pcie_config_aspm_link, list_del, free_link_state: parent->link_state = NULL
        parent.link_state = False
        parent.link_downstream = None
    yield unlock(W.aspm_lock)
    yield up_read(W.pci_bus_sem)
