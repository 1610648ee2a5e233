"""a5338e365c45 "PCI/IOV: Fix race between SR-IOV enable/disable and hotplug".

Niklas Schnelle, 2025-12; in all three bases.  It takes
``pci_rescan_remove_lock`` in ``sriov_numvfs_store`` around the driver's
``->sriov_configure()`` (device_lock(PF) → pci_rescan_remove_lock).  The
``before`` function below is ``sriov_numvfs_store`` without those two pairs.
It is patch 2/2 of the v3 series whose 1/2 is 2fa119c0e5e5 (the revert of
05703271c3cd), hence ``requires``: ``-2fa119c0e5e5`` alone would keep both
rescan-remove lock placements, a tree that never existed (every
``sriov_numvfs`` write would lock it twice); the pre-series state is
``-a5338e365c45-2fa119c0e5e5``.
https://patch.msgid.link/20251216-revert_sriov_lock-v3-2-dac4925a7621@linux.ibm.com
"""

from __future__ import annotations

from pcilock._engine_imports import read
from pcilock.kernel._model import BASES, K
from pcilock.kernel.drivers.pci.iov import EBUSY, EINVAL, ENOENT, ERANGE, _u16

from ._patch import Patch
from .regime import register

PATCH = register(Patch(
    id="a5338e365c45",
    title="PCI/IOV: Fix race between SR-IOV enable/disable and hotplug",
    links=["https://patch.msgid.link/20251216-revert_sriov_lock-v3-2-dac4925a7621@linux.ibm.com"],
    in_bases=BASES,
    requires=("2fa119c0e5e5",),  # patch 2/2 of the v3 series; 1/2 is the revert 2fa119c0e5e5
))


@PATCH.before_fn("drivers/pci/iov.c", v61=416, v612=415, v72=463)
def sriov_numvfs_store(dev, buf):
    num_vfs = _u16(buf)
    if num_vfs is None:
        return EINVAL
    if num_vfs > dev.sriov.total_VFs:
        return ERANGE
    yield from K.device_lock(dev)
    ret = 0
    if num_vfs == (yield read(dev.sriov, "num_VFs")):
        pass
    elif (drv := (yield read(dev, "pci_driver"))) is None:
        ret = ENOENT
    elif drv.sriov_configure is None:
        ret = ENOENT
    elif num_vfs == 0:
        ret = yield from drv.sriov_configure(dev, 0)
    elif (yield read(dev.sriov, "num_VFs")):
        ret = EBUSY
    else:
        ret = yield from drv.sriov_configure(dev, num_vfs)
    yield from K.device_unlock(dev)
    return ret if ret < 0 else len(buf)
