"""Ionut Nechita, "[PATCH v14 0/2] PCI/IOV: Fix SR-IOV locking races and AB-BA deadlock" (2026-04-22).

Posted, not merged (not in 7.2.13).  Seed 000 is the review of this series.

* ``nechita-v14.1`` "PCI/IOV: Make pci_lock_rescan_remove() reentrant and
  protect sriov_add_vfs/sriov_del_vfs": the lock records its owner task and a
  depth (plain variables, the owner read without holding the mutex);
  ``sriov_numvfs_store`` loses a5338e365c45's lock pairs; ``sriov_add_vfs`` /
  ``sriov_del_vfs`` take the (reentrant) lock.
  Message-ID 2ff52853da5f36c2d695d090c839bac87a35edcb.1776839248.git.ionut.nechita@windriver.com
* ``nechita-v14.2`` "PCI: Fix AB-BA deadlock between device_lock and
  pci_rescan_remove_lock in remove_store": kill and unbind the device before
  taking the lock.
  Message-ID 87f609ef2eb1308daff16fa943ee204f5bdc40ea.1776839248.git.ionut.nechita@windriver.com
"""

from __future__ import annotations

from pcilock._engine_imports import Shared, check, current, lock, read, unlock, write
from pcilock.kernel._model import BASES, K, W
from pcilock.kernel.drivers.pci.iov import EBUSY, EINVAL, ENOENT, ERANGE, _u16
from pcilock.kernel.drivers.pci.pci_sysfs import EINVAL as _EINVAL
from pcilock.kernel.drivers.pci.pci_sysfs import _ulong

from ._patch import Patch, Series
from .regime import register, register_series

COVER = "https://lore.kernel.org/all/cover.1776839248.git.ionut.nechita@windriver.com/"


class RescanRemoveOwner(Shared):
    """The two file-static variables v14 adds next to the mutex in probe.c."""

    _shared_ = {"pci_rescan_remove_owner": None, "pci_rescan_remove_depth": 0}

    def describe(self):
        return "probe.c"


def _world_init(attrs):
    attrs["rrl_owner"] = RescanRemoveOwner()


P1 = register(Patch(
    id="nechita-v14.1",
    title="PCI/IOV: Make pci_lock_rescan_remove() reentrant and protect sriov_add_vfs/sriov_del_vfs",
    links=["https://lore.kernel.org/all/2ff52853da5f36c2d695d090c839bac87a35edcb.1776839248.git."
           "ionut.nechita@windriver.com/", COVER],
    kind="posted",
))
P1.world_init = _world_init

P2 = register(Patch(
    id="nechita-v14.2",
    title="PCI: Fix AB-BA deadlock between device_lock and pci_rescan_remove_lock in remove_store",
    links=["https://lore.kernel.org/all/87f609ef2eb1308daff16fa943ee204f5bdc40ea.1776839248.git."
           "ionut.nechita@windriver.com/", COVER],
    kind="posted",
))

SERIES = register_series(Series(
    id="nechita-v14", title="PCI/IOV: Fix SR-IOV locking races and AB-BA deadlock (v14)",
    links=[COVER], members=("nechita-v14.1", "nechita-v14.2")))

_ALL = {"v61": None, "v612": None, "v72": None}
assert len(_ALL) == len(BASES)


@P1.after_fn("drivers/pci/probe.c", **_ALL)
def pci_lock_rescan_remove():
    me = yield current()
    o = W.rrl_owner
    if (yield read(o, "pci_rescan_remove_owner")) is me:  # plain read, mutex not held
        d = yield read(o, "pci_rescan_remove_depth")
        yield write(o, "pci_rescan_remove_depth", d + 1)
    else:
        yield lock(W.pci_rescan_remove_lock)
        yield write(o, "pci_rescan_remove_owner", me)
        yield write(o, "pci_rescan_remove_depth", 1)


@P1.after_fn("drivers/pci/probe.c", **_ALL)
def pci_unlock_rescan_remove():
    me = yield current()
    o = W.rrl_owner
    owner = yield read(o, "pci_rescan_remove_owner")
    yield check(owner is me, "WARN_ON(pci_rescan_remove_owner != current)", kind="warn")
    if owner is not me:
        return
    d = (yield read(o, "pci_rescan_remove_depth")) - 1
    yield write(o, "pci_rescan_remove_depth", d)
    if d == 0:
        yield write(o, "pci_rescan_remove_owner", None)
        yield unlock(W.pci_rescan_remove_lock)


@P1.after_fn("drivers/pci/iov.c", note="a5338e365c45's lock pairs removed", **_ALL)
def sriov_numvfs_store(dev, buf):
    num_vfs = _u16(buf)
    if num_vfs is None:
        return EINVAL
    if num_vfs > dev.sriov.total_VFs:
        return ERANGE
    yield from K.device_lock(dev)
    ret = 0
    if num_vfs == (yield read(dev.sriov, "num_VFs")):
        pass
    elif (drv := (yield read(dev, "pci_driver"))) is None:
        ret = ENOENT
    elif drv.sriov_configure is None:
        ret = ENOENT
    elif num_vfs == 0:
        ret = yield from drv.sriov_configure(dev, 0)
    elif (yield read(dev.sriov, "num_VFs")):
        ret = EBUSY
    else:
        ret = yield from drv.sriov_configure(dev, num_vfs)
    yield from K.device_unlock(dev)
    return ret if ret < 0 else len(buf)


@P1.after_fn("drivers/pci/iov.c", note="reentrant lock; cleanup still under it", **_ALL)
def sriov_add_vfs(dev, num_vfs):
    yield from K.pci_lock_rescan_remove()
    for i in range(num_vfs):
        rc = yield from K.pci_iov_add_virtfn(dev, i)
        if rc:
            for j in reversed(range(i)):
                yield from K.pci_iov_remove_virtfn(dev, j)
            yield from K.pci_unlock_rescan_remove()
            return rc
    yield from K.pci_unlock_rescan_remove()
    return 0


@P1.after_fn("drivers/pci/iov.c", **_ALL)
def sriov_del_vfs(dev):
    yield from K.pci_lock_rescan_remove()
    for i in range((yield read(dev.sriov, "num_VFs"))):
        yield from K.pci_iov_remove_virtfn(dev, i)
    yield from K.pci_unlock_rescan_remove()


@P2.after_fn("drivers/pci/pci-sysfs.c", note="kill and unbind before pci_rescan_remove_lock", **_ALL)
def remove_store(dev, buf):
    val = _ulong(buf)
    if val is None:
        return _EINVAL
    if val and (yield from K.device_remove_file_self(dev, "remove")):
        yield from K.device_lock(dev)
        yield from K.kill_device(dev)
        yield from K.device_unlock(dev)
        yield from K.device_release_driver(dev)
        yield from K.pci_stop_and_remove_bus_device_locked(dev)
    return len(buf)
