"""f5eff5591b8f "PCI: pciehp: Fix AB-BA deadlock between reset_lock and device_lock".

Lukas Wunner, authored 2023-04-11 ("[PATCH v2]"), first released in v6.4 and
backported to the stable series (4.19.283, 5.4.243, ...); in all three bases.
Verified in the trees: ``drivers/pci/hotplug/pciehp_pci.c`` has
``up_read(&ctrl->reset_lock)`` right before ``pci_bus_add_devices()`` and
``down_read_nested(&ctrl->reset_lock, ctrl->depth)`` right after it (lines
71/73 in 6.1.192, 6.12.117 and 7.2.13), and the same pair around
``pci_stop_and_remove_bus_device()`` (119/121 in 6.1.192, 123/125 in 6.12.117
and 7.2.13).  The commit changed that file only (15 insertions: the four
statements and two comments); ``pciehp_reset_slot`` still takes
``down_write_nested(&ctrl->reset_lock)``.

Its effect: the pciehp IRQ thread no longer holds ``ctrl->reset_lock``
(read) while drivers are bound or unbound below the port.  Before it, the IRQ
thread held the read side across ``device_lock()`` of each device (driver
``.remove``/``.probe``), while a reset of such a device took
``device_lock()`` first and then, through ``pciehp_reset_slot``, the write
side: the AB-BA of Michael Haeuptle's report (vfio-pci close of hot-removed
NVMe drives, 2020) and Ian May's (AER slot reset during hot removal).

The ``before`` functions below are the two functions without those four
statements (what ``-f5eff5591b8f`` restores).  The re-acquisition used
``down_read_nested`` from the start because 085a9f43433f ("PCI: pciehp: Use
down_read/write_nested(reset_lock) to fix lockdep errors", v5.17) predates it;
v6.12/v7.2 also cache the Device Serial Number after enumeration (a later
commit, kept on both sides).

Posted as Message-ID fef2b2e9edf245c049a8c5b94743c0f74ff5008a.1681191902.git.lukas@wunner.de
(Fixes: 5b3f7b7d062b "PCI: pciehp: Avoid slot access during reset").
"""

from __future__ import annotations

from pcilock._engine_imports import read
from pcilock.kernel._model import BASES, K
from pcilock.kernel.drivers.pci.hotplug.pciehp_pci import _cache_dsn, _enum_head, walk_reverse_safe

from ._patch import Patch
from .regime import register

PATCH = register(Patch(
    id="f5eff5591b8f",
    title="PCI: pciehp: Fix AB-BA deadlock between reset_lock and device_lock",
    links=["https://lore.kernel.org/linux-pci/fef2b2e9edf245c049a8c5b94743c0f74ff5008a.1681191902.git."
           "lukas@wunner.de/",
           "https://lore.kernel.org/linux-pci/CS1PR8401MB0728FC6FDAB8A35C22BD90EC95F10@CS1PR8401MB0728."
           "NAMPRD84.PROD.OUTLOOK.COM/",
           "https://bugzilla.kernel.org/show_bug.cgi?id=215590"],
    in_bases=BASES,
))


@PATCH.before_fn("drivers/pci/hotplug/pciehp_pci.c", note="reset_lock (read, from the IRQ thread) held "
                 "across pci_bus_add_devices", v61=32)
def pciehp_configure_device(ctrl):
    parent, ret = yield from _enum_head(ctrl)
    if ret == 0:
        yield from K.pci_bus_add_devices(parent)
    yield from K.pci_unlock_rescan_remove()
    return ret


@PATCH.before_fn("drivers/pci/hotplug/pciehp_pci.c", note="reset_lock (read) held across "
                 "pci_bus_add_devices; the DSN of 00.0 cached", v612=32, v72=32)
def pciehp_configure_device(ctrl):  # noqa: F811
    parent, ret = yield from _enum_head(ctrl)
    if ret == 0:
        yield from K.pci_bus_add_devices(parent)
        yield from _cache_dsn(ctrl, parent)
    yield from K.pci_unlock_rescan_remove()
    return ret


@PATCH.before_fn("drivers/pci/hotplug/pciehp_pci.c", note="reset_lock (read) held across each "
                 "pci_stop_and_remove_bus_device", v61=91, v612=95, v72=95)
def pciehp_unconfigure_device(ctrl, presence):
    parent = yield read(ctrl.port, "subordinate")
    if not presence:
        yield from K.pci_walk_bus(parent, K.pci_dev_set_disconnected, None)
    yield from K.pci_lock_rescan_remove()

    def one(dev):
        yield from K.get_device(dev)  # pci_dev_get
        yield from K.pci_stop_and_remove_bus_device(dev)
        # if (presence): quiesce the Command register (config accesses, no lock)
        yield from K.put_device(dev)

    yield from walk_reverse_safe(parent, one)
    yield from K.pci_unlock_rescan_remove()

