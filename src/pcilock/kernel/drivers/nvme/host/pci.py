"""Model driver nvme (drivers/nvme/host/pci.c).

The controller state machine, ``reset_work`` and its waits are in
:mod:`pcilock.kernel.drivers.nvme.host.core`; ``struct nvme_dev`` is
:class:`~pcilock.kernel.drivers.nvme.host.core.NvmeCtrl`, allocated by
``nvme_probe`` and stored with ``pci_set_drvdata`` (the drvdata holder of
:func:`drvdata`).  Namespaces, queues and the block layer are not modelled:
they take no PCI-core lock (``nvme_start_ctrl``, ``nvme_stop_ctrl``,
``nvme_remove_namespaces``, ``scan_work`` are elided).

Per version:

* ``nvme_probe``: v6.1 only prepares the controller and queues
  ``reset_work`` (``nvme_reset_ctrl``), then ``async_schedule``s
  ``nvme_async_probe`` (which flushes that work; ``async_synchronize_full``
  of a module load or unload waits for it); the bring-up runs in the work.
  v6.12/v7.2 bring the controller up synchronously in probe
  (``nvme_pci_enable``, CONNECTING, ``nvme_setup_io_queues`` with its
  ``shutdown_lock`` trylock, LIVE) and queue no work.
* ``nvme_reset_work`` on failure: v6.1 ``nvme_remove_dead_ctrl`` queues
  ``remove_work``, which unbinds the driver (``device_release_driver``:
  ``device_lock(pdev)``) if the device still has drvdata; v6.12/v7.2 mark
  the controller DELETING, disable it and mark it DEAD.
* ``nvme_error_detected`` (frozen): v6.12/v7.2 move the controller to
  RESETTING first (failing that: disable with shutdown, DISCONNECT); v6.1
  only disables.  ``nvme_slot_reset``: v6.1 ``nvme_reset_ctrl``, v6.12/v7.2
  ``nvme_try_sched_reset``.

Function resets (``pci_dev_save_and_disable``/``pci_dev_restore``, under the
device lock): ``nvme_reset_prepare`` waits until the controller can move to
RESETTING (``nvme_wait_reset``: a reset work in progress is waited for) and
disables it under ``shutdown_lock``; ``nvme_reset_done`` queues
``reset_work`` and flushes it.  The AER/EEH ``error_resume`` flushes the same
work.

Not modelled: ``pci_device_is_present`` (a removed device is treated as
present: ``nvme_remove`` then flushes the work before disabling instead of
marking the controller DEAD and disabling first; ``shutdown_lock`` is a leaf
in the model, so only the order of two leaf sections differs); the failure
of ``nvme_pci_enable`` on a device that no longer answers; the controller's
reference count (``nvme_get_ctrl``/``nvme_put_ctrl``).
``nvme_dev_disable`` frees the IRQ vectors and disables the PCI device
(``pci_free_irq_vectors``, ``pci_disable_device``: MSI and PCI
per-device state, no lock of the model).
"""

from __future__ import annotations

from pcilock._engine_imports import Shared, check, lock, read, spawn, trylock, unlock, write
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

from .core import (
    NVME_CTRL_CONNECTING,
    NVME_CTRL_DEAD,
    NVME_CTRL_DELETING,
    NVME_CTRL_LIVE,
    NVME_CTRL_RESETTING,
    NvmeCtrl,
    flush_reset_work,
    nvme_ctrl_state,
)

NAME = "nvme"
ENODEV, EBUSY = -19, -16
# enum pci_ers_result (include/linux/pci.h)
PCI_ERS_RESULT_CAN_RECOVER, PCI_ERS_RESULT_NEED_RESET = 2, 3
PCI_ERS_RESULT_DISCONNECT, PCI_ERS_RESULT_RECOVERED = 4, 5


class DrvData(Shared):
    """``pdev->dev.driver_data`` as the nvme driver uses it (``pci_set/get_drvdata``); model-only holder."""

    _shared_ = {"data": None}

    def __init__(self, pdev, **kw):
        super().__init__(**kw)
        self.pdev = pdev

    def describe(self):
        return f"{self.pdev.bdf} driver_data"


def drvdata(pdev):
    """The holder of *pdev*'s drvdata (created on first use: an empty holder is the NULL pointer)."""
    h = getattr(pdev, "nvme_drvdata", None)
    if h is None:
        h = pdev.nvme_drvdata = DrvData(pdev)
    return h


def pci_get_drvdata(pdev):
    return (yield read(drvdata(pdev), "data", marked=True))


def pci_set_drvdata(pdev, dev):
    yield write(drvdata(pdev), "data", dev, marked=True)


def _ctrl_of(pdev, where):
    """``pci_get_drvdata()`` in a callback that dereferences it (``&dev->ctrl``): NULL there (a
    v6.12/v7.2 ``nvme_probe`` sets it only at its end; ``nvme_remove`` clears it) is the kernel's
    NULL pointer dereference, reported as such; the task stops."""
    dev = yield from pci_get_drvdata(pdev)
    if dev is None:
        yield from _null_drvdata(pdev, where)
    return dev


def _null_drvdata(pdev, where):
    yield check(False, f"BUG: NULL pointer dereference: {pdev.bdf} drvdata in {where} "
                "(nvme_probe has not set it, or nvme_remove cleared it)", kind="uaf", fatal=True)


def _boot(pdev):
    """A controller bound at boot: probed, LIVE, enabled, no work in flight (no model events)."""
    dev = NvmeCtrl(pdev, NVME_CTRL_LIVE)
    dev.poke("enabled", True)
    drvdata(pdev).poke("data", dev)


# -- controller disable/enable ------------------------------------------------------------------------

@mirrors("drivers/nvme/host/pci.c", note="shutdown_lock around freeze, queue teardown, nvme_disable_ctrl "
         "(clears CC.EN), pci_free_irq_vectors, pci_disable_device", v61=2742, v612=2785, v72=3299)
def nvme_dev_disable(dev, shutdown):
    # state = nvme_ctrl_state(): only selects the freeze steps (no lock)
    yield lock(dev.shutdown_lock)
    yield write(dev, "enabled", False, marked=True)  # nvme_disable_ctrl (the device answers in the model)
    yield unlock(dev.shutdown_lock)


@mirrors("drivers/nvme/host/pci.c", v61=2799, v612=2834, v72=3348)
def nvme_disable_prepare_reset(dev, shutdown):
    if not (yield from K.nvme_wait_reset(dev)):
        return EBUSY
    yield from K.nvme_dev_disable(dev, shutdown)
    return 0


@mirrors("drivers/nvme/host/pci.c", note="give up if nvme_dev_disable holds shutdown_lock or the controller "
         "is not CONNECTING", v61=1685, v612=1745, v72=2202)
def nvme_setup_io_queues_trylock(dev):
    if not (yield trylock(dev.shutdown_lock)):
        return ENODEV
    if (yield from nvme_ctrl_state(dev)) != NVME_CTRL_CONNECTING:
        yield unlock(dev.shutdown_lock)
        return ENODEV
    return 0


def _setup_io_queues(dev):
    # nvme_setup_io_queues: the queue setup runs under the trylocked shutdown_lock
    if (yield from K.nvme_setup_io_queues_trylock(dev)):
        return ENODEV
    yield unlock(dev.shutdown_lock)
    return 0


def _pci_enable_locked(dev):
    # mutex_lock(&dev->shutdown_lock); nvme_pci_enable() (sets CC.EN); ...; mutex_unlock
    yield lock(dev.shutdown_lock)
    yield write(dev, "enabled", True, marked=True)
    yield unlock(dev.shutdown_lock)


# -- reset work ------------------------------------------------------------------------------------------

@mirrors("drivers/nvme/host/pci.c", note="6.1: a failed reset removes the controller (remove_work)", v61=2868)
def nvme_remove_dead_ctrl(dev):
    yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_DELETING)
    # nvme_get_ctrl(&dev->ctrl)
    yield from K.nvme_dev_disable(dev, False)
    # nvme_kill_queues(&dev->ctrl)
    yield from K.queue_work_on(K.nvme_remove_dead_ctrl_work, (dev,), f"kworker nvme-remove {dev.pdev.bdf}")


@mirrors("drivers/nvme/host/pci.c", note="6.1: unbind the driver if the device still has drvdata",
         v61=3030)
def nvme_remove_dead_ctrl_work(dev):
    pdev = dev.pdev
    if (yield from pci_get_drvdata(pdev)) is not None:
        yield from K.device_release_driver(pdev)
    # nvme_put_ctrl(&dev->ctrl)


def _reset_work_body(dev):
    if (yield from nvme_ctrl_state(dev)) != NVME_CTRL_RESETTING:
        return ENODEV
    if (yield read(dev, "enabled", marked=True)):  # ctrl_config & NVME_CC_ENABLE: reset of a live controller
        yield from K.nvme_dev_disable(dev, False)
    # nvme_sync_queues(&dev->ctrl)
    yield from _pci_enable_locked(dev)
    if not (yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_CONNECTING)):
        return EBUSY
    # nvme_init_ctrl_finish, nvme_setup_host_mem: admin commands, no lock
    if (yield from _setup_io_queues(dev)):
        return ENODEV
    # nvme_wait_freeze / nvme_pci_update_nr_queues (a second shutdown_lock trylock): not modelled
    if not (yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_LIVE)):
        return ENODEV
    # nvme_start_ctrl(&dev->ctrl): queues scan/async-event works (no PCI-core lock)
    return 0


@mirrors("drivers/nvme/host/pci.c", note="6.1: bring-up of a RESETTING controller; on failure "
         "nvme_remove_dead_ctrl", v61=2882)
def nvme_reset_work(dev):
    result = yield from _reset_work_body(dev)
    if result:
        yield from K.nvme_remove_dead_ctrl(dev)


@mirrors("drivers/nvme/host/pci.c", note="6.12/7.2: on failure DELETING, nvme_dev_disable, DEAD",
         v612=2914, v72=3387)
def nvme_reset_work(dev):  # noqa: F811
    result = yield from _reset_work_body(dev)
    if result:
        yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_DELETING)
        yield from K.nvme_dev_disable(dev, True)
        # nvme_sync_queues, nvme_mark_namespaces_dead, nvme_unquiesce_io_queues
        yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_DEAD)


# -- probe / remove ----------------------------------------------------------------------------------------

@mirrors("drivers/nvme/host/pci.c", note="6.1: flush reset_work and scan_work, put the controller",
         v61=3195)
def nvme_async_probe(dev):
    yield from flush_reset_work(dev)
    # flush_work(&dev->ctrl.scan_work): the namespace scan takes no PCI-core lock; nvme_put_ctrl



@mirrors("drivers/nvme/host/pci.c", note="6.1: nvme_reset_ctrl + async_schedule(nvme_async_probe)",
         v61=3255)
def nvme_probe(pdev):
    dev = NvmeCtrl(pdev)  # nvme_pci_alloc_dev; nvme_dev_map, pools, mempool: no lock
    yield from pci_set_drvdata(pdev, dev)
    yield from K.nvme_reset_ctrl(dev)
    t = yield spawn(K.nvme_async_probe, dev, name=f"async nvme_async_probe {pdev.bdf}")  # async_schedule
    W.async_threads.append(t)  # async_synchronize_full (module load/unload) waits for it
    return 0


@mirrors("drivers/nvme/host/pci.c", note="6.12/7.2: synchronous bring-up, no reset work", v612=3245,
         v72=3749)
def nvme_probe(pdev):  # noqa: F811
    dev = NvmeCtrl(pdev)  # nvme_pci_alloc_dev, nvme_add_ctrl, map, pools, mempool: no lock
    yield write(dev, "enabled", True, marked=True)  # nvme_pci_enable (no shutdown_lock here)
    result = 0
    if not (yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_CONNECTING)):
        result = EBUSY
    elif (yield from _setup_io_queues(dev)):  # after nvme_init_ctrl_finish, nvme_setup_host_mem
        result = ENODEV
    elif not (yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_LIVE)):
        result = ENODEV
    if result:  # out_disable
        yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_DELETING)
        yield from K.nvme_dev_disable(dev, True)
        return result
    yield from pci_set_drvdata(pdev, dev)
    # nvme_start_ctrl; nvme_put_ctrl; flush_work(&dev->ctrl.scan_work): no PCI-core lock
    return 0


@mirrors("drivers/nvme/host/pci.c", note="flush reset_work, then nvme_dev_disable(shutdown)", v61=3325,
         v612=3388, v72=3889)
def nvme_remove(pdev):
    dev = yield from _ctrl_of(pdev, "nvme_remove")
    yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_DELETING)
    yield from pci_set_drvdata(pdev, None)
    # if (!pci_device_is_present(pdev)) { DEAD; nvme_dev_disable(dev, true); }: not modelled (docstring)
    yield from flush_reset_work(dev)
    # nvme_stop_ctrl, nvme_remove_namespaces: no PCI-core lock
    yield from K.nvme_dev_disable(dev, True)


# -- function reset callbacks ----------------------------------------------------------------------------

@mirrors("drivers/nvme/host/pci.c", note="nvme_disable_prepare_reset: wait for a reset in progress, disable",
         v61=3292, v612=3355, v72=3856)
def nvme_reset_prepare(pdev):
    dev = yield from _ctrl_of(pdev, "nvme_reset_prepare")
    yield from K.nvme_disable_prepare_reset(dev, False)
    # nvme_sync_queues(&dev->ctrl)


@mirrors("drivers/nvme/host/pci.c", note="queue reset_work; flush it if queued", v61=3305, v612=3368,
         v72=3869)
def nvme_reset_done(pdev):
    dev = yield from _ctrl_of(pdev, "nvme_reset_done")
    if not (yield from K.nvme_try_sched_reset(dev)):
        yield from flush_reset_work(dev)


# -- error handlers ---------------------------------------------------------------------------------------

@mirrors("drivers/nvme/host/pci.c", note="6.1: frozen: nvme_dev_disable (no state change)", v61=3477)
def nvme_error_detected(pdev, state):
    dev = yield from pci_get_drvdata(pdev)
    if state == "normal":
        return PCI_ERS_RESULT_CAN_RECOVER
    if dev is None:  # the frozen and perm_failure cases dev_warn(dev->ctrl.device, ...)
        yield from _null_drvdata(pdev, "nvme_error_detected")
    if state == "frozen":
        yield from K.nvme_dev_disable(dev, False)
        return PCI_ERS_RESULT_NEED_RESET
    return PCI_ERS_RESULT_DISCONNECT


@mirrors("drivers/nvme/host/pci.c", note="6.12/7.2: frozen: move to RESETTING, else disable and disconnect",
         v612=3543, v72=4044)
def nvme_error_detected(pdev, state):  # noqa: F811
    dev = yield from pci_get_drvdata(pdev)
    if state == "normal":
        return PCI_ERS_RESULT_CAN_RECOVER
    if dev is None:  # the frozen and perm_failure cases dev_warn(dev->ctrl.device, ...)
        yield from _null_drvdata(pdev, "nvme_error_detected")
    if state == "frozen":
        if not (yield from K.nvme_change_ctrl_state(dev, NVME_CTRL_RESETTING)):
            yield from K.nvme_dev_disable(dev, True)
            return PCI_ERS_RESULT_DISCONNECT
        yield from K.nvme_dev_disable(dev, False)
        return PCI_ERS_RESULT_NEED_RESET
    return PCI_ERS_RESULT_DISCONNECT


@mirrors("drivers/nvme/host/pci.c", note="6.1: nvme_reset_ctrl (queues reset_work)", v61=3503)
def nvme_slot_reset(pdev):
    dev = yield from _ctrl_of(pdev, "nvme_slot_reset")
    # pci_restore_state(pdev)
    yield from K.nvme_reset_ctrl(dev)
    return PCI_ERS_RESULT_RECOVERED


@mirrors("drivers/nvme/host/pci.c", note="6.12/7.2: nvme_try_sched_reset (queues reset_work if RESETTING)",
         v612=3573, v72=4074)
def nvme_slot_reset(pdev):  # noqa: F811
    dev = yield from _ctrl_of(pdev, "nvme_slot_reset")
    # pci_restore_state(pdev)
    yield from K.nvme_try_sched_reset(dev)
    # on failure: nvme_unquiesce_io_queues (no lock)
    return PCI_ERS_RESULT_RECOVERED


@mirrors("drivers/nvme/host/pci.c", note="flush_work(&dev->ctrl.reset_work)", v61=3513, v612=3584, v72=4085)
def nvme_error_resume(pdev):
    dev = yield from _ctrl_of(pdev, "nvme_error_resume")
    yield from flush_reset_work(dev)


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.nvme_probe(d), remove=lambda d: K.nvme_remove(d),
                    ids=lambda d: d.spec.driver == NAME, boot=_boot)
    drv.err_handler = {"error_detected": lambda d, s: K.nvme_error_detected(d, s),
                       "slot_reset": lambda d: K.nvme_slot_reset(d),
                       "resume": lambda d: K.nvme_error_resume(d),
                       "reset_prepare": lambda d: K.nvme_reset_prepare(d),
                       "reset_done": lambda d: K.nvme_reset_done(d)}
    return drv
