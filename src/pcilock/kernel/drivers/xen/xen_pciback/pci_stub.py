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
"""

from __future__ import annotations

from pcilock.kernel._model import K, mirrors
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


def make_driver():
    return PciDriver(NAME, probe=lambda d: K.pcistub_probe(d), remove=lambda d: K.pcistub_remove(d),
                     ids=lambda d: d.spec is not None and d.spec.driver == NAME)
