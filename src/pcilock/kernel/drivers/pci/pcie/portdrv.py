"""Model driver pcieport (drivers/pci/pcie/portdrv.c).

Bound to PCIe ports.  On a hotplug-capable port its pciehp service is set up
(see :mod:`pcilock.kernel.drivers.pci.hotplug`).  This minimal version binds
ports and has no services; the hotplug model extends it.
"""

from __future__ import annotations

from pcilock.kernel.include.linux.pci import PciDriver

NAME = "pcieport"


def _probe(pdev):
    return 0
    yield


def _remove(pdev):
    return
    yield


def make_driver():
    return PciDriver(NAME, probe=_probe, remove=_remove,
                     ids=lambda d: d.spec.type in ("root-port", "upstream-port", "downstream-port"))
