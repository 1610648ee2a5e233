"""drivers/pci/access.c: the config-access "lock" (block_cfg_access bit).

``pci_cfg_access_lock``/``trylock``/``unlock`` set and clear
``dev->block_cfg_access`` under ``pci_lock`` and sleep on ``pci_cfg_wait``
while it is set: an ownerless, non-recursive sleeping lock whose trylock
fails when the bit is set, modelled as the mutex ``dev->cfg_access``
(include/linux/pci.py).  Lockers in drivers/pci: ``pci_dev_lock``/
``pci_dev_trylock`` and the SR-IOV control writes of iov.c; outside it,
mlx5's firmware-reset link toggle (not modelled).

Not modelled: the *userspace* config accessors ``pci_user_read_config_*`` /
``pci_user_write_config_*`` (6.1:208-270, 6.12/7.2:216-278) also sleep in
``pci_wait_cfg`` while the bit is set.  Their callers are the sysfs
``config`` file, /proc/bus/pci and vfio-pci's config-space read/write (which
may hold vfio's ``memory_lock`` for a Command-register write), so every
thread holding a ``pci_dev_lock`` blocks them.  No model operation reads or
writes config space from userspace, so the model's cfg lock only ever
conflicts with another locker.
"""

from __future__ import annotations

from pcilock._engine_imports import lock, trylock, unlock
from pcilock.kernel._model import mirrors


@mirrors("drivers/pci/access.c", v61=274, v612=288, v72=288)
def pci_cfg_access_lock(dev):
    yield lock(dev.cfg_access)


@mirrors("drivers/pci/access.c", v61=294, v612=308, v72=308)
def pci_cfg_access_trylock(dev):
    return (yield trylock(dev.cfg_access))


@mirrors("drivers/pci/access.c", v61=316, v612=330, v72=330)
def pci_cfg_access_unlock(dev):
    yield unlock(dev.cfg_access)
