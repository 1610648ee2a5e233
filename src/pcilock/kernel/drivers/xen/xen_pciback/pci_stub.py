"""Model driver pciback (drivers/xen/xen-pciback/pci_stub.c, xen-pciback).

Seizes the devices bound to it; a seized device is not assigned to a guest
in the model (no xenbus frontend), so ``pcistub_remove`` goes straight to the
final ``pcistub_device_put`` whose release resets the device **with the
device lock held by the caller** (unbind / remove), and ``pcistub_probe``
(runtime, ``initialize_devices`` set after boot) resets it in
``pcistub_init_device``, also under the device lock.  The reset is
``__pci_reset_function_locked`` (v6.1) or ``pcistub_reset_device_state`` →
``__pci_reset_function_locked`` (v6.12/v7.2); with the "bus" method below a
pciehp port it blocks on ``down_write_nested(&ctrl->reset_lock)``.  v7.2's
``__pci_reset_function_locked`` asserts the device lock (held here).
Config space, MSI-X hypercalls and the guest-facing side are not modelled.

Error handlers (``xen_pcibk_error_handler``): ``error_detected``,
``mmio_enabled``, ``slot_reset``, ``resume`` each take
``down_write(&pcistub_sem)`` (under the device lock the error recovery
holds), find the ``pcistub_device`` (``pcistub_devices_lock`` spinlock,
reference) and, the device not being assigned to a guest in the model, drop
the reference and ``up_write``.  Votes: CAN_RECOVER (error_detected),
RECOVERED (mmio_enabled, slot_reset).  The guest hand-shake
(``common_process``: wait for pcifront, bounded) is not reached.
"""

from __future__ import annotations

from pcilock._engine_imports import RWSem, down_write, up_write
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "pciback"


@mirrors("drivers/xen/xen-pciback/pci_stub.c", v612=101, v72=101)
def pcistub_reset_device_state(dev):
    yield from K.__pci_reset_function_locked(dev)
    # if (!xen_pv_domain()) xen_reset_device(dev): a hypercall
    return 0


def _reset(dev):
    if "pcistub_reset_device_state" in K.__dict__:
        yield from K.pcistub_reset_device_state(dev)
    else:
        yield from K.__pci_reset_function_locked(dev)


@mirrors("drivers/xen/xen-pciback/pci_stub.c", note="the final put: reset without taking a lock (the "
         "caller, unbind/remove, holds the device lock)", v61=93, v612=112, v72=112)
def pcistub_device_release(dev):
    # xen_unregister_device_domain_owner(dev)
    yield from _reset(dev)
    # restore state, MSI-X release, xen_pcibk_reset_device, free


@mirrors("drivers/xen/xen-pciback/pci_stub.c", note="enable, save state, reset, restore, disable",
         v61=359, v612=397, v72=374)
def pcistub_init_device(dev):
    yield from _reset(dev)
    return 0


@mirrors("drivers/xen/xen-pciback/pci_stub.c", note="initialize_devices: set after boot", v61=518, v612=582,
         v72=559)
def pcistub_seize(dev):
    return (yield from K.pcistub_init_device(dev))


@mirrors("drivers/xen/xen-pciback/pci_stub.c", v61=562, v612=628, v72=605)
def pcistub_probe(dev):
    return (yield from K.pcistub_seize(dev))


@mirrors("drivers/xen/xen-pciback/pci_stub.c", note="not in use by a guest: list_del, final put",
         v61=604, v612=670, v72=647)
def pcistub_remove(dev):
    yield from K.pcistub_device_release(dev)  # pcistub_device_put -> kref release


def _pcistub_sem():
    # static DECLARE_RWSEM(pcistub_sem): one per execution (W is rebuilt for each)
    sem = W.__dict__.get("pcistub_sem")
    if sem is None:
        sem = W.__dict__["pcistub_sem"] = RWSem("pcistub_sem")
    return sem


def _aer_op(dev, result):
    sem = _pcistub_sem()
    yield down_write(sem)
    # psdev = pcistub_device_find(...): not assigned to a guest (psdev->pdev == NULL): "not found/assigned"
    # pcistub_device_put(psdev): not the last reference
    yield up_write(sem)
    return result


@mirrors("drivers/xen/xen-pciback/pci_stub.c", v61=886, v612=952, v72=929)
def xen_pcibk_error_detected(dev, error):
    return (yield from _aer_op(dev, 2))  # PCI_ERS_RESULT_CAN_RECOVER


@mirrors("drivers/xen/xen-pciback/pci_stub.c", v61=830, v612=896, v72=873)
def xen_pcibk_mmio_enabled(dev):
    return (yield from _aer_op(dev, 5))  # PCI_ERS_RESULT_RECOVERED


@mirrors("drivers/xen/xen-pciback/pci_stub.c", v61=773, v612=839, v72=816)
def xen_pcibk_slot_reset(dev):
    return (yield from _aer_op(dev, 5))


@mirrors("drivers/xen/xen-pciback/pci_stub.c", v61=942, v612=1008, v72=985)
def xen_pcibk_error_resume(dev):
    yield from _aer_op(dev, None)


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.pcistub_probe(d), remove=lambda d: K.pcistub_remove(d),
                    ids=lambda d: d.spec is not None and d.spec.driver == NAME)
    drv.err_handler = {"error_detected": lambda d, s: K.xen_pcibk_error_detected(d, s),
                       "mmio_enabled": lambda d: K.xen_pcibk_mmio_enabled(d),
                       "slot_reset": lambda d: K.xen_pcibk_slot_reset(d),
                       "resume": lambda d: K.xen_pcibk_error_resume(d)}
    return drv
