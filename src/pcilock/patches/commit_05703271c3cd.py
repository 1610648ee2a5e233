"""05703271c3cd "PCI/IOV: Add PCI rescan-remove locking when enabling/disabling SR-IOV".

Niklas Schnelle, 2025-08; first in v6.18; reverted by 2fa119c0e5e5, so none of
the three bases has its effect.  ``in_bases=()`` encodes the effect, not the
history: the commit is in v7.2's history with its revert; whether 6.1.y and
6.12.y took both cannot be told from their code.  ``+05703271c3cd`` is an input
error while 2fa119c0e5e5 is present; ``-2fa119c0e5e5`` re-applies it.
It takes ``pci_rescan_remove_lock`` inside
``sriov_add_vfs``/``sriov_del_vfs``; any path already holding the lock that
reaches ``sriov_disable`` (remove_store → PF driver ``.remove``) then locks it
again: the 2025 recursive-locking hang.
https://patch.msgid.link/20250826-pci_fix_sriov_disable-v1-1-2d0bc938f2a3@linux.ibm.com
"""

from __future__ import annotations

from pcilock._engine_imports import read
from pcilock.kernel._model import K

from ._patch import Patch
from .regime import register

PATCH = register(Patch(
    id="05703271c3cd",
    title="PCI/IOV: Add PCI rescan-remove locking when enabling/disabling SR-IOV",
    links=["https://patch.msgid.link/20250826-pci_fix_sriov_disable-v1-1-2d0bc938f2a3@linux.ibm.com"],
    in_bases=(),
    note="reverted by 2fa119c0e5e5 in every base",
))


@PATCH.after_fn("drivers/pci/iov.c", v61=581, v612=580, v72=628)
def sriov_add_vfs(dev, num_vfs):
    yield from K.pci_lock_rescan_remove()
    for i in range(num_vfs):
        rc = yield from K.pci_iov_add_virtfn(dev, i)
        if rc:
            for j in reversed(range(i)):
                yield from K.pci_iov_remove_virtfn(dev, j)
            yield from K.pci_unlock_rescan_remove()
            return rc
    yield from K.pci_unlock_rescan_remove()
    return 0


@PATCH.after_fn("drivers/pci/iov.c", v61=712, v612=711, v72=764)
def sriov_del_vfs(dev):
    yield from K.pci_lock_rescan_remove()
    for i in range((yield read(dev.sriov, "num_VFs"))):
        yield from K.pci_iov_remove_virtfn(dev, i)
    yield from K.pci_unlock_rescan_remove()
