"""Model driver nvme (drivers/nvme/host/pci.c).

``nvme_probe`` sets up the controller and queues ``reset_work`` (controller
bring-up runs asynchronously on ``nvme_reset_wq``); ``nvme_remove`` flushes
that work (``flush_work(&dev->ctrl.reset_work)``), then disables the device
under its ``shutdown_lock``.  Namespaces, queues and the block layer are not
modelled: they take no PCI-core lock.
"""

from __future__ import annotations

from pcilock._engine_imports import Mutex, lock, unlock
from pcilock.kernel._model import K, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "nvme"


def _state(pdev):
    if getattr(pdev, "nvme_shutdown_lock", None) is None:
        pdev.nvme_shutdown_lock = Mutex(f"&dev->shutdown_lock {pdev.bdf}", "&dev->shutdown_lock")
        pdev.nvme_reset_work = None


@mirrors("drivers/nvme/host/pci.c", v61=None, v612=None, v72=3387)
def nvme_reset_work(pdev):
    yield lock(pdev.nvme_shutdown_lock)  # nvme_dev_disable / setup
    yield unlock(pdev.nvme_shutdown_lock)


@mirrors("drivers/nvme/host/pci.c", v61=3255, v612=3245, v72=3749)
def nvme_probe(pdev):
    _state(pdev)
    pdev.nvme_reset_work = yield from K.queue_work_on(K.nvme_reset_work, (pdev,), f"nvme-reset {pdev.bdf}")
    return 0


@mirrors("drivers/nvme/host/pci.c", v61=3325, v612=3388, v72=3889)
def nvme_remove(pdev):
    _state(pdev)
    if pdev.nvme_reset_work is not None:
        yield from K.flush_work(pdev.nvme_reset_work)
    yield lock(pdev.nvme_shutdown_lock)  # nvme_dev_disable(dev, true)
    yield unlock(pdev.nvme_shutdown_lock)


def make_driver():
    return PciDriver(NAME, probe=lambda d: K.nvme_probe(d), remove=lambda d: K.nvme_remove(d),
                     ids=lambda d: d.spec.driver == NAME, boot=_state)
