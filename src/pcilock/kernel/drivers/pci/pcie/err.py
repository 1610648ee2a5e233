"""drivers/pci/pcie/err.c: PCIe error recovery (``pcie_do_recovery``), shared by AER, DPC and EDR.

Mirrors drivers/pci/pcie/err.c of v6.1, v6.12 and v7.2, plus the channel-state
helpers of drivers/pci/pci.h and include/linux/pci.h it uses.

Lock skeleton (all three): every broadcast is ``pci_walk_bridge`` →
``pci_walk_bus`` (drivers/pci/bus.c), which holds ``pci_bus_sem`` for reading
across the whole walk, and each ``report_*`` callback takes
``device_lock(dev)`` around the driver's ``err_handler`` callback.  No
``pci_rescan_remove_lock`` anywhere.  The reset (``reset_subordinates``:
``aer_root_reset`` or ``dpc_reset_link``) runs outside any walk.

Per version:

* ``pcie_do_recovery``: v6.1/v6.12 reset right after the frozen
  ``error_detected`` broadcast; v7.2 first broadcasts ``mmio_enabled`` (when
  every driver voted CAN_RECOVER), then resets when the channel is frozen *or*
  a driver asked for NEED_RESET (also on a non-fatal error).
* ``report_slot_reset``: v6.12/v7.2 move the device back to the normal
  channel state first (``pci_dev_set_io_state``), v6.1 does not.
* ``report_perm_failure_detected``: v7.2 takes ``device_lock`` and calls
  ``error_detected(dev, pci_channel_io_perm_failure)``; v6.1/v6.12 only send
  the uevent (no lock, no callback).

Not modelled (no lock of the model): ``pci_uevent_ers`` (a uevent),
``pm_runtime_get_sync``/``pm_runtime_put`` of each device (model devices are
never runtime suspended; the walks themselves, with their ``pci_bus_sem``,
are kept), the AER/device status clearing on success (config writes).

A driver's ``err_handler`` is the dict ``PciDriver.err_handler`` (``None``
when the real driver has none): callback name → function returning the
model generator, as :mod:`pcilock.kernel.model_drivers` modules set it.
"""

from __future__ import annotations

from pcilock._engine_imports import read, rmw, write
from pcilock.kernel._model import K, mirrors

# enum pci_ers_result (include/linux/pci.h)
PCI_ERS_RESULT_NONE = 1
PCI_ERS_RESULT_CAN_RECOVER = 2
PCI_ERS_RESULT_NEED_RESET = 3
PCI_ERS_RESULT_DISCONNECT = 4
PCI_ERS_RESULT_RECOVERED = 5
PCI_ERS_RESULT_NO_AER_DRIVER = 6
ERS_NAMES = {1: "none", 2: "can recover", 3: "need reset", 4: "disconnect", 5: "recovered",
             6: "no AER driver"}

# pci_channel_state_t, as the model stores it in pci_dev->error_state
pci_channel_io_normal = "normal"
pci_channel_io_frozen = "frozen"
pci_channel_io_perm_failure = "perm_failure"


def err_handler(pdrv, name):
    """``pdrv->err_handler->name`` or None (model-only accessor)."""
    if pdrv is None:
        return None
    eh = getattr(pdrv, "err_handler", None)
    if not eh:
        return None
    return eh.get(name)


def pci_pcie_type(dev):
    """pci_pcie_type(): the scenario's device type (VFs are endpoints)."""
    return dev.type


# -- channel state (drivers/pci/pci.h, include/linux/pci.h) -----------------------------------------

def _set_io_state(new):
    # the kernel's xchg / cmpxchg, as one atomic step; the result tells whether it was allowed
    def f(old):
        if new == pci_channel_io_perm_failure:
            return new
        if new == pci_channel_io_frozen:
            return new if old == pci_channel_io_normal else old
        return new if old == pci_channel_io_frozen else old

    return f


@mirrors("drivers/pci/pci.h", note="xchg to perm_failure; cmpxchg normal<->frozen", v61=361, v612=485,
         v72=756)
def pci_dev_set_io_state(dev, new):
    old = yield rmw(dev, "error_state", _set_io_state(new))
    if new == pci_channel_io_perm_failure:
        return True
    return old != pci_channel_io_perm_failure


@mirrors("include/linux/pci.h", note="6.1: plain read", v61=2408)
def pci_dev_is_disconnected(dev):
    return (yield read(dev, "error_state")) == pci_channel_io_perm_failure


@mirrors("include/linux/pci.h", note="6.12, 7.2: READ_ONCE (2541 in the local 6.12.118 tree)",
         v612=2539, v72=2707)
def pci_dev_is_disconnected(dev):  # noqa: F811
    return (yield read(dev, "error_state", marked=True)) == pci_channel_io_perm_failure


# -- err.c ------------------------------------------------------------------------------------------

@mirrors("drivers/pci/pcie/err.c", v61=24, v612=24, v72=24)
def merge_result(orig, new):
    if new == PCI_ERS_RESULT_NO_AER_DRIVER:
        return PCI_ERS_RESULT_NO_AER_DRIVER
    if new == PCI_ERS_RESULT_NONE:
        return orig
    if orig in (PCI_ERS_RESULT_CAN_RECOVER, PCI_ERS_RESULT_RECOVERED):
        return new
    if orig == PCI_ERS_RESULT_DISCONNECT and new == PCI_ERS_RESULT_NEED_RESET:
        return PCI_ERS_RESULT_NEED_RESET
    return orig


class Status:
    """The ``pci_ers_result_t *result`` a walk's callbacks merge into (local to the recovering task)."""

    def __init__(self, value):
        self.value = value


@mirrors("drivers/pci/pcie/err.c", note="device_lock around the driver's error_detected", v61=49, v612=49,
         v72=49)
def report_error_detected(dev, state, result):
    yield from K.device_lock(dev)
    pdrv = yield read(dev, "pci_driver")
    if (yield from K.pci_dev_is_disconnected(dev)):
        vote = PCI_ERS_RESULT_DISCONNECT
    elif not (yield from K.pci_dev_set_io_state(dev, state)):
        vote = PCI_ERS_RESULT_NONE
    elif err_handler(pdrv, "error_detected") is None:
        vote = PCI_ERS_RESULT_NONE if dev.type != "endpoint" else PCI_ERS_RESULT_NO_AER_DRIVER
    else:
        vote = yield from err_handler(pdrv, "error_detected")(dev, state)
    # pci_uevent_ers(dev, vote)
    result.value = merge_result(result.value, vote)
    yield from K.device_unlock(dev)
    return 0


@mirrors("drivers/pci/pcie/err.c", note="pm_runtime_get_sync: devices are never suspended in the model",
         v61=89, v612=89, v72=89)
def pci_pm_runtime_get_sync(pdev, data):
    return 0
    yield


@mirrors("drivers/pci/pcie/err.c", note="pm_runtime_put", v61=95, v612=95, v72=95)
def pci_pm_runtime_put(pdev, data):
    return 0
    yield


@mirrors("drivers/pci/pcie/err.c", v61=101, v612=101, v72=101)
def report_frozen_detected(dev, data):
    return (yield from K.report_error_detected(dev, pci_channel_io_frozen, data))


@mirrors("drivers/pci/pcie/err.c", v61=106, v612=106, v72=106)
def report_normal_detected(dev, data):
    return (yield from K.report_error_detected(dev, pci_channel_io_normal, data))


@mirrors("drivers/pci/pcie/err.c", note="6.x: the uevent only (no lock, no callback)", v61=111, v612=111)
def report_perm_failure_detected(dev, data):
    # pci_uevent_ers(dev, PCI_ERS_RESULT_DISCONNECT)
    return 0
    yield


@mirrors("drivers/pci/pcie/err.c", note="7.2: device_lock; error_detected(perm_failure)", v72=111)
def report_perm_failure_detected(dev, data):  # noqa: F811
    yield from K.device_lock(dev)
    pdrv = yield read(dev, "pci_driver")
    cb = err_handler(pdrv, "error_detected")
    if cb is not None:
        yield from cb(dev, pci_channel_io_perm_failure)
    # pci_uevent_ers(dev, PCI_ERS_RESULT_DISCONNECT)
    yield from K.device_unlock(dev)
    return 0


@mirrors("drivers/pci/pcie/err.c", v61=117, v612=117, v72=129)
def report_mmio_enabled(dev, result):
    yield from K.device_lock(dev)
    pdrv = yield read(dev, "pci_driver")
    cb = err_handler(pdrv, "mmio_enabled")
    if cb is not None:
        vote = yield from cb(dev)
        result.value = merge_result(result.value, vote)
    yield from K.device_unlock(dev)
    return 0


@mirrors("drivers/pci/pcie/err.c", note="6.1: no channel-state change", v61=138)
def report_slot_reset(dev, result):
    yield from K.device_lock(dev)
    pdrv = yield read(dev, "pci_driver")
    cb = err_handler(pdrv, "slot_reset")
    if cb is not None:
        vote = yield from cb(dev)
        result.value = merge_result(result.value, vote)
    yield from K.device_unlock(dev)
    return 0


@mirrors("drivers/pci/pcie/err.c", note="6.12/7.2: pci_dev_set_io_state(normal) first", v612=136, v72=148)
def report_slot_reset(dev, result):  # noqa: F811
    yield from K.device_lock(dev)
    pdrv = yield read(dev, "pci_driver")
    if (yield from K.pci_dev_set_io_state(dev, pci_channel_io_normal)):
        cb = err_handler(pdrv, "slot_reset")
        if cb is not None:
            vote = yield from cb(dev)
            result.value = merge_result(result.value, vote)
    yield from K.device_unlock(dev)
    return 0


@mirrors("drivers/pci/pcie/err.c", v61=159, v612=156, v72=168)
def report_resume(dev, data):
    yield from K.device_lock(dev)
    pdrv = yield read(dev, "pci_driver")
    if (yield from K.pci_dev_set_io_state(dev, pci_channel_io_normal)):
        cb = err_handler(pdrv, "resume")
        if cb is not None:
            yield from cb(dev)
    # pci_uevent_ers(dev, PCI_ERS_RESULT_RECOVERED)
    yield from K.device_unlock(dev)
    return 0


@mirrors("drivers/pci/pcie/err.c", v61=193, v612=188, v72=200)
def pci_walk_bridge(bridge, cb, userdata):
    sub = yield read(bridge, "subordinate")
    if sub is not None:
        yield from K.pci_walk_bus(sub, cb, userdata)
    else:
        yield from cb(bridge, userdata)


def _recovery_bridge(dev):
    if pci_pcie_type(dev) in ("root-port", "downstream-port"):
        return dev
    return (yield from K.pci_upstream_bridge(dev))


def _recovery_tail(bridge, status):
    if status.value != PCI_ERS_RESULT_RECOVERED:
        return (yield from _recovery_failed(bridge, status))
    yield from K.pci_walk_bridge(bridge, K.report_resume, status)
    # native AER: pcie_clear_device_status(dev); pci_aer_clear_nonfatal_status(dev)
    yield from K.pci_walk_bridge(bridge, K.pci_pm_runtime_put, None)
    return status.value


def _recovery_failed(bridge, status):
    yield from K.pci_walk_bridge(bridge, K.pci_pm_runtime_put, None)
    yield from K.pci_walk_bridge(bridge, K.report_perm_failure_detected, None)
    return status.value


@mirrors("drivers/pci/pcie/err.c", note="6.x: a frozen channel is reset right after error_detected",
         v61=203, v612=198)
def pcie_do_recovery(dev, state, reset_subordinates):
    status = Status(PCI_ERS_RESULT_CAN_RECOVER)
    bridge = yield from _recovery_bridge(dev)
    if bridge is None:
        return PCI_ERS_RESULT_DISCONNECT  # model-only: a device on a root bus (RCiEP) is not modelled
    yield from K.pci_walk_bridge(bridge, K.pci_pm_runtime_get_sync, None)
    if state == pci_channel_io_frozen:
        yield from K.pci_walk_bridge(bridge, K.report_frozen_detected, status)
        if (yield from getattr(K, reset_subordinates)(bridge)) != PCI_ERS_RESULT_RECOVERED:
            return (yield from _recovery_failed(bridge, status))
    else:
        yield from K.pci_walk_bridge(bridge, K.report_normal_detected, status)
    if status.value == PCI_ERS_RESULT_CAN_RECOVER:
        status.value = PCI_ERS_RESULT_RECOVERED
        yield from K.pci_walk_bridge(bridge, K.report_mmio_enabled, status)
    if status.value == PCI_ERS_RESULT_NEED_RESET:
        status.value = PCI_ERS_RESULT_RECOVERED
        yield from K.pci_walk_bridge(bridge, K.report_slot_reset, status)
    return (yield from _recovery_tail(bridge, status))


@mirrors("drivers/pci/pcie/err.c", note="7.2: reset after mmio_enabled, when frozen or NEED_RESET", v72=210)
def pcie_do_recovery(dev, state, reset_subordinates):  # noqa: F811
    status = Status(PCI_ERS_RESULT_CAN_RECOVER)
    bridge = yield from _recovery_bridge(dev)
    if bridge is None:
        return PCI_ERS_RESULT_DISCONNECT  # model-only: a device on a root bus (RCiEP) is not modelled
    yield from K.pci_walk_bridge(bridge, K.pci_pm_runtime_get_sync, None)
    if state == pci_channel_io_frozen:
        yield from K.pci_walk_bridge(bridge, K.report_frozen_detected, status)
    else:
        yield from K.pci_walk_bridge(bridge, K.report_normal_detected, status)
    if status.value == PCI_ERS_RESULT_CAN_RECOVER:
        status.value = PCI_ERS_RESULT_RECOVERED
        yield from K.pci_walk_bridge(bridge, K.report_mmio_enabled, status)
    if status.value == PCI_ERS_RESULT_NEED_RESET or state == pci_channel_io_frozen:
        if (yield from getattr(K, reset_subordinates)(bridge)) != PCI_ERS_RESULT_RECOVERED:
            return (yield from _recovery_failed(bridge, status))
    if status.value == PCI_ERS_RESULT_NEED_RESET:
        status.value = PCI_ERS_RESULT_RECOVERED
        yield from K.pci_walk_bridge(bridge, K.report_slot_reset, status)
    return (yield from _recovery_tail(bridge, status))


__all__ = ["write", "ERS_NAMES"]
