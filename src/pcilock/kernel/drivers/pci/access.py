"""drivers/pci/access.c: the config-access "lock" (block_cfg_access bit)."""

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
