"""drivers/vfio/pci/vfio_pci_core.c: enable/disable with their resets, the reset ioctls,
registration, ``.remove``'s unregistration.

Resets (notes §6.3, §6.4):

* open: ``vfio_pci_core_enable`` → ``pci_try_reset_function`` (device
  trylock only; -EAGAIN fails the open); ``reset_works`` = the reset worked.
* last close: ``vfio_pci_core_disable`` (``dev_set->lock`` held, and in v6.1
  and the group path ``group_lock``): v6.1 ``pci_dev_trylock(pdev)`` →
  ``__pci_reset_function_locked``; v6.12/v7.2 (962ae6892d8b) first
  ``pci_dev_trylock(bridge)`` of the upstream bridge (skip the reset if it
  fails), then the device.  Then ``vfio_pci_dev_set_try_reset``: if a device
  of the set still needs a reset and no other is open, ``pci_reset_bus``
  (slot or bus trylocks).  A "bus" method or a slot reset on a device below a
  pciehp port ends in ``pciehp_reset_slot``'s blocking
  ``down_write_nested(&ctrl->reset_lock)``.
* ``VFIO_DEVICE_RESET``: ``memory_lock`` for writing (v6.1 also
  ``vma_lock``, not modelled: a leaf mutex), ``pci_try_reset_function``.
* ``VFIO_DEVICE_PCI_HOT_RESET``: ``dev_set->lock``, ``memory_lock``
  trylocks of every device of the set, ``pci_reset_bus``.  The user passes
  the groups of every device of the set (ownership checks succeed when the
  task holds files of all of them; the model only checks the set is opened
  by the caller).

The last close first leaves low power (``vfio_pci_runtime_pm_exit``:
``memory_lock`` for writing, under ``dev_set->lock``); v7.2 first drains the
exported dma-bufs (``vfio_pci_dma_buf_cleanup``: ``memory_lock``).

Not modelled: BAR zapping and mmap (``vma_lock``, mm locks), IRQ set-up and
``igate`` users other than close/request, runtime PM states, VGA/IGD, SR-IOV
VFs of a vfio-pci PF (``sriov_configure``, ``vfio_pci_vf_init``/``uninit``:
the bus notifier's rwsem), power states, eventfds, exported dma-bufs (v7.2
``vfio_pci_dma_buf_move`` under ``memory_lock`` in the resets and the
cleanup: ``dma_resv_lock`` and unbounded waits for importers; no importer
exists in the model, so the walks are empty).
"""

from __future__ import annotations

from pcilock._engine_imports import (
    Mutex,
    RWSem,
    Shared,
    assert_held,
    check,
    down_write_trylock,
    lock,
    read,
    unlock,
    up_write,
    write,
)
from pcilock._engine_imports import down_write as _down_write
from pcilock.kernel._model import K, mirrors

EAGAIN, EINVAL, EBUSY, ENODEV = -11, -22, -16, -19


class VfioPciCoreDevice(Shared):
    """``struct vfio_pci_core_device``."""

    _shared_ = {"needs_reset": False, "reset_works": False}

    def __init__(self, pdev, vdev, **kw):
        super().__init__(**kw)
        self.pdev = pdev
        self.vdev = vdev
        vdev.core = self
        self.igate = Mutex(f"&vdev->igate {pdev.bdf}", "&vdev->igate")
        self.memory_lock = RWSem(f"&vdev->memory_lock {pdev.bdf}", "&vdev->memory_lock")

    def describe(self):
        return f"vfio_pci_core_device {self.pdev.bdf}"


def core_of(device):
    return device.core


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="pm/enable/INTx/config set-up not modelled; the reset "
         "attempt is", v61=468, v612=503, v72=590)
def vfio_pci_core_enable(vdev):
    ret = yield from K.pci_try_reset_function(vdev.pdev)
    if ret == EAGAIN:
        return ret  # out_disable_device
    yield write(vdev, "reset_works", not ret)
    return 0


@mirrors("drivers/vfio/pci/vfio_pci.c", v61=103, v612=103, v72=103)
def vfio_pci_open_device(core_vdev):
    vdev = core_of(core_vdev)
    ret = yield from K.vfio_pci_core_enable(vdev)
    if ret:
        return ret
    # vfio_pci_core_finish_enable: no lock
    return 0


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="memory_lock for writing around the power flags (7.2: and "
         "vfio_pci_dma_buf_move(vdev, false): no dma-buf exported in the model)", v61=371, v612=406, v72=456)
def vfio_pci_runtime_pm_exit(vdev):
    yield _down_write(vdev.memory_lock)
    # __vfio_pci_runtime_pm_exit: pm_runtime_engaged never set in the model
    yield up_write(vdev.memory_lock)


def _disable_head(vdev):
    yield assert_held(vdev.vdev.dev_set.lock, "lockdep_assert_held(&vdev->vdev.dev_set->lock)")
    yield from K.vfio_pci_runtime_pm_exit(vdev)
    # pm_runtime_resume, D0, bus master off, IRQs off, regions/BARs freed: no PCI lock
    yield write(vdev, "needs_reset", True)


def _disable_tail(vdev):
    # out: pci_disable_device
    yield from K.vfio_pci_dev_set_try_reset(vdev.vdev.dev_set)


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="6.1: trylock the device only", v61=556)
def vfio_pci_core_disable(vdev):
    pdev = vdev.pdev
    yield from _disable_head(vdev)
    if (yield read(vdev, "reset_works")) and (yield from K.pci_dev_trylock(pdev)):
        if not (yield from K.__pci_reset_function_locked(pdev)):
            yield write(vdev, "needs_reset", False)
        yield from K.pci_dev_unlock(pdev)
    # pci_restore_state
    yield from _disable_tail(vdev)


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="6.12/7.2: trylock the upstream bridge first "
         "(962ae6892d8b); skip the reset if it fails", v612=594, v72=682)
def vfio_pci_core_disable(vdev):  # noqa: F811
    pdev = vdev.pdev
    yield from _disable_head(vdev)
    if (yield read(vdev, "reset_works")):
        bridge = yield from K.pci_upstream_bridge(pdev)
        if bridge is None or (yield from K.pci_dev_trylock(bridge)):
            if (yield from K.pci_dev_trylock(pdev)):
                if not (yield from K.__pci_reset_function_locked(pdev)):
                    yield write(vdev, "needs_reset", False)
                yield from K.pci_dev_unlock(pdev)
            if bridge is not None:
                yield from K.pci_dev_unlock(bridge)
    # out_restore_state: pci_restore_state
    yield from _disable_tail(vdev)


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="6.x: disable, then igate to drop the eventfds",
         v61=682, v612=729)
def vfio_pci_core_close_device(core_vdev):
    vdev = core_of(core_vdev)
    # SR-IOV PF vf_token->lock (no vfio-pci PF with VFs in the model); eeh_dev_release (powerpc)
    yield from K.vfio_pci_core_disable(vdev)
    yield lock(vdev.igate)
    yield unlock(vdev.igate)


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="7.2: vfio_pci_dma_buf_cleanup first (memory_lock)",
         v72=817)
def vfio_pci_core_close_device(core_vdev):  # noqa: F811
    vdev = core_of(core_vdev)
    yield from K.vfio_pci_dma_buf_cleanup(vdev)
    yield from K.vfio_pci_core_disable(vdev)
    yield lock(vdev.igate)
    yield unlock(vdev.igate)


@mirrors("drivers/vfio/pci/vfio_pci_dmabuf.c", note="memory_lock for writing; the revoke of every exported "
         "dma-buf (dma_resv_lock, the unbounded importer waits) and their registration puts: none is "
         "exported in the model", v72=380)
def vfio_pci_dma_buf_cleanup(vdev):
    yield _down_write(vdev.memory_lock)
    # vfio_pci_dma_buf_move(vdev, true); list walk: no dma-buf
    yield up_write(vdev.memory_lock)


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="6.1: under igate", v61=1798)
def vfio_pci_core_request(core_vdev, count):
    vdev = core_of(core_vdev)
    yield lock(vdev.igate)
    yield unlock(vdev.igate)


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="6.12/7.2: the request eventfd under RCU (98693e0897f7)",
         v612=1845, v72=1897)
def vfio_pci_core_request(core_vdev, count):  # noqa: F811
    return
    yield


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="6.1: signal err_trigger under igate; CAN_RECOVER",
         v61=2224)
def vfio_pci_core_aer_err_detected(pdev, state):
    vdev = pdev.vfio
    yield lock(vdev.igate)
    yield unlock(vdev.igate)
    return 2  # PCI_ERS_RESULT_CAN_RECOVER


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="6.12/7.2: err_trigger under RCU (no lock); CAN_RECOVER",
         v612=2269, v72=2337)
def vfio_pci_core_aer_err_detected(pdev, state):  # noqa: F811
    return 2  # PCI_ERS_RESULT_CAN_RECOVER
    yield


# -- device set resets -------------------------------------------------------------------------------

def _in_set(dev_set):
    def fn(pdev, data):
        for cur in (yield read(dev_set, "device_list")):
            if cur.pdev is pdev:
                return 0
        return EBUSY
    return fn


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="walk up to the device on slot->bus and compare its "
         "slot; slot->bus and pdev->bus->self are immutable in the model (a kfree'd slot is not caught "
         "here)", v61=795, v612=874, v72=964)
def vfio_pci_dev_below_slot(pdev, slot):
    if slot is None:
        yield check(False, f"BUG: NULL pointer dereference: slot->bus (vfio_pci_dev_below_slot, {pdev.bdf})",
                    kind="uaf", fatal=True)
        return False
    dev = pdev
    while dev is not None:
        if dev.bus is slot.bus:
            return (yield read(dev, "slot")) is slot
        dev = dev.bus.self
    return False


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="pci_walk_bus over pdev's bus and below; with slot, only "
         "the devices below walk->pdev->slot, re-read for every device (vfio_pci_walk_wrapper)",
         v61=821, v612=900, v72=990)
def vfio_pci_for_each_slot_or_bus(pdev, fn, data, slot):
    ret = [0]

    def wrapper(dev, _):  # vfio_pci_walk_wrapper
        if not slot or (yield from K.vfio_pci_dev_below_slot(dev, (yield read(pdev, "slot")))):
            ret[0] = yield from fn(dev, data)
        return ret[0]

    yield from K.pci_walk_bus(pdev.bus, wrapper, None)
    return ret[0]


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="pdev->slot probed twice, as the C loads it twice",
         v61=2347, v612=2391, v72=2459)
def vfio_pci_dev_set_resettable(dev_set):
    yield assert_held(dev_set.lock, "lockdep_assert_held(&dev_set->lock)")
    devs = yield read(dev_set, "device_list")
    if not devs:
        return None
    pdev = devs[0].pdev
    if (yield from K.pci_probe_reset_slot((yield read(pdev, "slot")))) and \
            (yield from K.pci_probe_reset_bus(pdev.bus)):
        return None
    slot_ok = not (yield from K.pci_probe_reset_slot((yield read(pdev, "slot"))))
    if (yield from K.vfio_pci_for_each_slot_or_bus(pdev, _in_set(dev_set), dev_set, slot_ok)):
        return None
    return pdev


@mirrors("drivers/vfio/pci/vfio_pci_core.c", v61=2493, v612=2551, v72=2623)
def vfio_pci_dev_set_needs_reset(dev_set):
    if (yield from K.vfio_device_set_open_count(dev_set)) > 1:
        return False
    needs = False
    for cur in (yield read(dev_set, "device_list")):
        needs |= bool((yield read(cur.core, "needs_reset")))
    return needs


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="runtime PM get/put of the set not modelled",
         v61=2514, v612=2572, v72=2644)
def vfio_pci_dev_set_try_reset(dev_set):
    if not (yield from K.vfio_pci_dev_set_needs_reset(dev_set)):
        return
    pdev = yield from K.vfio_pci_dev_set_resettable(dev_set)
    if pdev is None:
        return
    reset_done = not (yield from K.pci_reset_bus(pdev))
    for cur in (yield read(dev_set, "device_list")):
        if reset_done:
            yield write(cur.core, "needs_reset", False)


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="6.1: the vma_lock of the zap is not modelled",
         v61=1604, v612=1651, v72=1720)
def vfio_pci_zap_and_down_write_memory_lock(vdev):
    yield _down_write(vdev.memory_lock)


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="VFIO_DEVICE_RESET", v61=1144, v612=1254, v72=1318)
def vfio_pci_ioctl_reset(vdev):
    if not (yield read(vdev, "reset_works")):
        return EINVAL
    yield from K.vfio_pci_zap_and_down_write_memory_lock(vdev)
    ret = yield from K.pci_try_reset_function(vdev.pdev)
    yield up_write(vdev.memory_lock)
    return ret


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="memory_lock trylocks of the set (6.1: vma_lock "
         "trylocks first, not modelled), pci_reset_bus", v61=2400, v612=2439, v72=2507)
def vfio_pci_dev_set_hot_reset(dev_set, groups):
    yield lock(dev_set.lock)
    pdev = yield from K.vfio_pci_dev_set_resettable(dev_set)
    if pdev is None:
        yield unlock(dev_set.lock)
        return EINVAL
    locked = []
    ret = 0
    for cur in (yield read(dev_set, "device_list")):
        if cur not in groups:
            ret = EINVAL
            break
        if not (yield down_write_trylock(cur.core.memory_lock)):
            ret = EBUSY
            break
        locked.append(cur)
    if not ret:
        ret = yield from K.pci_reset_bus(pdev)
    for cur in reversed(locked):
        yield up_write(cur.core.memory_lock)
    yield unlock(dev_set.lock)
    return ret


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="VFIO_DEVICE_PCI_HOT_RESET (group path)",
         v61=1246, v612=1436, v72=1503)
def vfio_pci_ioctl_pci_hot_reset(vdev, groups):
    pdev = vdev.pdev
    slot = False
    if not (yield from K.pci_probe_reset_slot((yield read(pdev, "slot")))):
        slot = True
    elif (yield from K.pci_probe_reset_bus(pdev.bus)):
        return ENODEV
    # vfio_pci_ioctl_pci_hot_reset_groups (6.12/7.2; inline in 6.1): how many devices the reset covers
    count = [0]
    ret = yield from K.vfio_pci_for_each_slot_or_bus(pdev, _count_devs(count), None, slot)
    if ret:
        return ret
    # the group files (fdget), the vfio_pci_group_info; hdr.count checks: the model passes the caller's
    return (yield from K.vfio_pci_dev_set_hot_reset(vdev.vdev.dev_set, groups))


def _count_devs(count):
    def fn(pdev, data):  # vfio_pci_count_devs
        count[0] += 1
        return 0
        yield
    return fn


# -- registration ------------------------------------------------------------------------------------

def dev_set_id(vdev, slot_ok):
    """The set id ``vfio_pci_core_register_device`` passes: *vdev* itself (a set of its own) for a
    device on a root bus or a VF, else the slot if it can be reset, else the bus."""
    pdev = vdev.pdev
    if pdev.bus.parent is None or pdev.is_virtfn:  # pci_is_root_bus(pdev->bus) || pdev->is_virtfn
        return vdev
    slot = pdev.peek("slot")
    return f"slot {slot.name}" if slot_ok and slot is not None else f"bus {pdev.bus.name}"


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="set id: the vdev itself on a root bus or for a VF, "
         "else the slot if it can be reset, else the bus; then __vfio_register_dev", v61=2114, v612=2158,
         v72=2219)
def vfio_pci_core_register_device(vdev):
    pdev = vdev.pdev
    if pdev.bus.parent is None or pdev.is_virtfn:
        yield from K.vfio_assign_device_set(vdev.vdev, dev_set_id(vdev, False))
    else:
        slot = yield read(pdev, "slot")
        slot_ok = not (yield from K.pci_probe_reset_slot(slot))
        yield from K.vfio_assign_device_set(vdev.vdev, dev_set_id(vdev, slot_ok))
    return (yield from K.__vfio_register_dev(vdev.vdev))


@mirrors("drivers/vfio/pci/vfio_pci_core.c", note="device_lock_assert(PF); no VFs to disable",
         v61=2240, v612=2285, v72=2353)
def vfio_pci_core_sriov_configure(vdev, nr_virtfn):
    yield from K.device_lock_assert(vdev.pdev)
    return 0


@mirrors("drivers/vfio/pci/vfio_pci_core.c", v61=2208, v612=2253, v72=2321)
def vfio_pci_core_unregister_device(vdev):
    yield from K.vfio_pci_core_sriov_configure(vdev, 0)
    yield from K.vfio_unregister_group_dev(vdev.vdev)
    # vf/vga uninit; pm_runtime_get_noresume; pm_runtime_forbid
