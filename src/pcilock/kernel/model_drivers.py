"""The model drivers a scenario can name, and where each is implemented.

Each module has ``make_driver()`` returning a fresh :class:`PciDriver` and a
docstring saying what the model driver does and which real driver it cites.

Model-only: mirrors no kernel file (a registry; each driver module cites its
real driver).
"""

from __future__ import annotations

import importlib

MODEL_DRIVERS = {
    "pcieport": "pcilock.kernel.drivers.pci.pcie.portdrv",
    "nvme": "pcilock.kernel.drivers.nvme.host.pci",
    "mlx5_core": "pcilock.kernel.drivers.net.ethernet.mellanox.mlx5.core.main",
    "igb": "pcilock.kernel.drivers.net.ethernet.intel.igb.igb_main",
    "igbvf": "pcilock.kernel.drivers.net.ethernet.intel.igbvf.netdev",
    "vfio-pci": "pcilock.kernel.drivers.vfio.pci.vfio_pci",
    "pciback": "pcilock.kernel.drivers.xen.xen_pciback.pci_stub",
}


def module_of(name):
    return importlib.import_module(MODEL_DRIVERS[name])


def factory(name):
    return module_of(name).make_driver


def doc(name):
    d = module_of(name).__doc__ or ""
    return d.strip()
