"""Model driver nvme (drivers/nvme/host/pci.c).

``nvme_probe`` sets up the controller and queues ``reset_work`` (controller
bring-up runs asynchronously on ``nvme_reset_wq``); ``nvme_remove`` flushes
that work (``flush_work(&dev->ctrl.reset_work)``), then disables the device
under its ``shutdown_lock``.  Namespaces, queues and the block layer are not
modelled: they take no PCI-core lock.

Error handlers (``nvme_err_handler``): ``nvme_error_detected`` (normal:
CAN_RECOVER; frozen: ``nvme_dev_disable`` under ``shutdown_lock``, NEED_RESET;
perm_failure: DISCONNECT; v6.12/v7.2 first move the controller to RESETTING
and, if that fails, disable with shutdown and vote DISCONNECT: the controller
state machine is not modelled, the move always succeeds), ``nvme_slot_reset``
(v6.1 ``nvme_reset_ctrl``, v6.12/v7.2 ``nvme_try_sched_reset``: queue
``reset_work`` on ``nvme_reset_wq``; RECOVERED) and ``nvme_error_resume``
(``flush_work(reset_work)``: waits for the controller reset).  Its
``reset_prepare``/``reset_done`` (function resets) are not modelled: the
model's ``pci_dev_save_and_disable``/``pci_dev_restore`` call no driver.
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


def _dev_disable(pdev):
    yield lock(pdev.nvme_shutdown_lock)  # nvme_dev_disable
    yield unlock(pdev.nvme_shutdown_lock)


@mirrors("drivers/nvme/host/pci.c", note="frozen: nvme_dev_disable (shutdown_lock)", v61=3477, v612=3543,
         v72=4044)
def nvme_error_detected(pdev, state):
    _state(pdev)
    if state == "normal":
        return 2  # PCI_ERS_RESULT_CAN_RECOVER
    if state == "frozen":
        yield from _dev_disable(pdev)
        return 3  # PCI_ERS_RESULT_NEED_RESET
    return 4  # PCI_ERS_RESULT_DISCONNECT


@mirrors("drivers/nvme/host/pci.c", note="queue the controller reset (reset_work on nvme_reset_wq)",
         v61=3503, v612=3573, v72=4074)
def nvme_slot_reset(pdev):
    _state(pdev)
    pdev.nvme_reset_work = yield from K.queue_work_on(K.nvme_reset_work, (pdev,), f"nvme-reset {pdev.bdf}")
    return 5  # PCI_ERS_RESULT_RECOVERED


@mirrors("drivers/nvme/host/pci.c", note="flush_work(&dev->ctrl.reset_work)", v61=3513, v612=3584, v72=4085)
def nvme_error_resume(pdev):
    _state(pdev)
    if pdev.nvme_reset_work is not None:
        yield from K.flush_work(pdev.nvme_reset_work)


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.nvme_probe(d), remove=lambda d: K.nvme_remove(d),
                    ids=lambda d: d.spec.driver == NAME, boot=_state)
    drv.err_handler = {"error_detected": lambda d, s: K.nvme_error_detected(d, s),
                       "slot_reset": lambda d: K.nvme_slot_reset(d),
                       "resume": lambda d: K.nvme_error_resume(d)}
    return drv
