"""Model driver vfio-pci (drivers/vfio/pci/vfio_pci.c over vfio_pci_core.c and vfio_main.c).

Binds devices whose scenario names ``driver = "vfio-pci"`` and the VFs of a PF
with ``vf_driver = "vfio-pci"`` (no ID table: binding is by
``driver_override``/``new_id`` in real life).  ``.probe``
allocates the vfio device, puts it in a device set (a set of its own for a
device on a root bus or a VF, else its slot if the slot can be reset, else its
bus; ``dev_set->lock``) and registers it with its IOMMU
group (``group->device_lock``).  ``.remove`` (``device_lock(pdev)`` held by
the driver core; inside the pciehp IRQ thread on a surprise removal)
unregisters it and **waits until every userspace task holding a file of the
device has closed it** (``vfio_unregister_group_dev``): a close that never
comes is a ``hang``; a closer that is itself blocked on the remover is a
``deadlock``.

Userspace: ``vfio open BDF`` (VFIO_GROUP_GET_DEVICE_FD; the first open resets
the device with ``pci_try_reset_function``), ``vfio close BDF`` (the last
close resets it in ``vfio_pci_core_disable``), ``vfio reset BDF``
(VFIO_DEVICE_RESET), ``vfio hot-reset BDF`` (VFIO_DEVICE_PCI_HOT_RESET with
the groups of every device the task has open).  The task issuing ``open``
owns the file; ``close``/``reset``/``hot-reset`` act on a file the same task
opened (EBADF otherwise).

Driver option ``open_by = "THREAD"``: the scenario thread THREAD has held a
file of the device open since before the scenario starts (a VM or an SPDK
process that opened it long ago): the open's reset worked (``reset_works``),
``open_count`` is 1 and the file holds a registration reference.  Its
``vfio close`` is then the last close.  This is the steady state a hot-removal
report starts from, without the open's own reset racing with the scenario.

Error handler (``vfio_pci_core_err_handlers``): ``error_detected`` only,
``vfio_pci_core_aer_err_detected`` (signals the user's error eventfd; v6.1
under ``vdev->igate``, v6.12/v7.2 under RCU), voting CAN_RECOVER.
"""

from __future__ import annotations

from pcilock._engine_imports import current
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.drivers.vfio.pci.vfio_pci_core import VfioPciCoreDevice, dev_set_id
from pcilock.kernel.drivers.vfio.vfio_main import (
    VfioDevice,
    VfioDeviceSet,
    note_file,
    register_group_dev_at_setup,
)
from pcilock.kernel.include.linux.pci import PciDriver
from pcilock.kernel.userspace import op, start_hook

NAME = "vfio-pci"
ENODEV, EBADF = -19, -9


@mirrors("drivers/vfio/pci/vfio_pci.c", v61=145, v612=149, v72=176)
def vfio_pci_probe(pdev):
    vdev = VfioPciCoreDevice(pdev, VfioDevice(pdev))  # vfio_alloc_device
    vdev.vdev.owner = W.pci_drivers[NAME].owner
    pdev.vfio = vdev  # dev_set_drvdata
    W.vfio[pdev.bdf] = vdev
    ret = yield from K.vfio_pci_core_register_device(vdev)
    return ret


@mirrors("drivers/vfio/pci/vfio_pci.c", v61=169, v612=173, v72=201)
def vfio_pci_remove(pdev):
    vdev = pdev.vfio
    yield from K.vfio_pci_core_unregister_device(vdev)
    yield from K.vfio_device_release(vdev.vdev)  # vfio_put_device: the last reference


def _boot_world(pdev, attrs, version):
    """vfio_pci_probe for a device bound at boot (no model events)."""
    vdev = VfioPciCoreDevice(pdev, VfioDevice(pdev))
    vdev.vdev.owner = attrs["pci_drivers"][NAME].owner
    pdev.vfio = vdev
    attrs["vfio"][pdev.bdf] = vdev
    slot = pdev.peek("slot")
    slot_ok = slot is not None and slot.peek("hotplug") is not None  # pci_probe_reset_slot
    sets = attrs.setdefault("vfio_device_sets", {})
    set_id = dev_set_id(vdev, slot_ok)
    dev_set = sets.get(set_id)
    if dev_set is None:
        dev_set = sets[set_id] = VfioDeviceSet(set_id)
    vdev.vdev.dev_set = dev_set
    dev_set.poke("device_list", dev_set.peek("device_list") + (vdev.vdev,))
    register_group_dev_at_setup(vdev.vdev)
    owner = pdev.spec.driver_options.get("open_by") if pdev.spec is not None else None
    if owner is not None:  # opened before the scenario starts (see module docstring)
        device = vdev.vdev
        device.poke("refcount", device.peek("refcount") + 1)  # vfio_device_try_get_registration
        device.poke("open_count", 1)
        device.owner.poke("refcnt", device.owner.peek("refcnt") + 1)  # the open's try_module_get
        vdev.poke("reset_works", True)  # vfio_pci_core_enable's reset worked
        attrs.setdefault("vfio_boot_files", {}).setdefault(owner, []).append(device)


@start_hook
def _adopt_boot_files(name):
    """The scenario thread *name* holds the files opened for it before the scenario."""
    devices = W.__dict__.get("vfio_boot_files", {}).get(name)
    if not devices:
        return
    me = yield current()
    for device in devices:
        _files(me).append(device)
        note_file(me, device, True)


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.vfio_pci_probe(d), remove=lambda d: K.vfio_pci_remove(d),
                    ids=lambda d: (d.spec is not None and d.spec.driver == NAME) or
                    (d.is_virtfn and d.physfn.spec.vf_driver == NAME))
    drv.boot_world = _boot_world
    drv.err_handler = {"error_detected": lambda d, s: K.vfio_pci_core_aer_err_detected(d, s)}
    return drv


# -- the userspace owner -----------------------------------------------------------------------------

def _files(task):
    table = W.__dict__.setdefault("vfio_fds", {})
    return table.setdefault(task.tid, [])


@op("vfio")
def vfio_userspace(action, bdf):
    me = yield current()
    files = _files(me)
    if action == "open":
        vdev = W.vfio.get(bdf)
        if vdev is None:
            return ENODEV  # no vfio group for the device
        device, ret = yield from K.vfio_group_ioctl_get_device_fd(vdev.vdev.group, bdf)
        if ret:
            return ret
        files.append(device)
        note_file(me, device, True)
        return 0
    mine = [d for d in files if d.name == bdf]
    if not mine:
        return EBADF
    device = mine[-1]
    if action == "close":
        files.remove(device)
        yield from K.vfio_device_fops_release(device)
        note_file(me, device, False)
        return 0
    if action == "reset":
        return (yield from K.vfio_pci_ioctl_reset(device.core))
    if action == "hot-reset":
        return (yield from K.vfio_pci_ioctl_pci_hot_reset(device.core, list(files)))
    return -22
