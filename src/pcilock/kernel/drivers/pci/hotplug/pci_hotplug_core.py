"""drivers/pci/hotplug/pci_hotplug_core.c: the slot's ``power`` file, slot (un)registration,
and (v7.2) the "spurious link change" bits of a port.

* ``power_write_file``: ``echo 0|1 > /sys/bus/pci/slots/N/power`` →
  ``ops->disable_slot`` / ``ops->enable_slot`` (pciehp: request to the IRQ
  thread and wait for it).  6.1/6.12 wrap the call in
  ``try_module_get/module_put(slot->owner)`` (owner NULL for built-in
  pciehp: always succeeds, no lock); 7.2 has neither.
* ``pci_hp_del``: 6.x takes ``pci_hp_mutex`` around the slot-list removal;
  ``fs_remove_slot`` removes the ``power`` file, which drains writers in
  progress (a writer waits for the IRQ thread).
* ``pci_hp_destroy``: ``slot->pci_slot = NULL; pci_slot->hotplug = NULL``
  without a lock, then ``pci_destroy_slot``.
* v7.2 ``pci_hp_ignore_link_change`` / ``unignore`` / ``spurious_link_change``:
  bits PCI_LINK_CHANGING (5) / PCI_LINK_CHANGED (4) in ``port->priv_flags``
  and the global wait queue ``pci_hp_link_change_wq``.  The wait
  (``wait_event(wq, !CHANGING)``) is modelled by a completion per
  ignore/unignore section, created by ``pci_hp_ignore_link_change`` with the
  ignoring task as provider, completed (complete_all) by the unignore, so a
  waiter waits *for that task* in the wait-for graph.
"""

from __future__ import annotations

from pcilock._engine_imports import (
    Completion,
    Shared,
    complete_all,
    current,
    lock,
    read,
    rmw,
    unlock,
    wait_for_completion,
    write,
)
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.include.linux.kernfs import KernfsNode

EINVAL, ENODEV = -22, -19
PCI_LINK_CHANGED, PCI_LINK_CHANGING = 4, 5


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", note="6.x: try_module_get(owner) (NULL: no-op)",
         v61=79, v612=79)
def power_write_file(pci_slot, buf):
    slot = yield read(pci_slot, "hotplug")
    try:
        power = int(buf.strip(), 10) & 0xFF
    except ValueError:
        power = 0
    retval = 0
    if power == 0:
        if slot.ops.get("disable_slot"):
            retval = yield from getattr(K, slot.ops["disable_slot"])(slot)
    elif power == 1:
        if slot.ops.get("enable_slot"):
            retval = yield from getattr(K, slot.ops["enable_slot"])(slot)
    else:
        retval = EINVAL
    return retval if retval else len(buf)


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", note="7.2: no module reference", v72=67)
def power_write_file(pci_slot, buf):  # noqa: F811
    slot = yield read(pci_slot, "hotplug")
    try:
        power = int(buf.strip(), 10) & 0xFF
    except ValueError:
        power = 0
    retval = 0
    if power == 0:
        if slot.ops.get("disable_slot"):
            retval = yield from getattr(K, slot.ops["disable_slot"])(slot)
    elif power == 1:
        if slot.ops.get("enable_slot"):
            retval = yield from getattr(K, slot.ops["enable_slot"])(slot)
    else:
        retval = EINVAL
    return retval if retval else len(buf)


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", note="the power file only", v61=292, v612=292, v72=242)
def fs_add_slot(slot, pci_slot):
    slot.kn["power"] = KernfsNode(f"slots/{pci_slot.name}", "power")
    return 0
    yield


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", note="sysfs_remove_file(power): drains writers",
         v61=356, v612=356, v72=314)
def fs_remove_slot(slot, pci_slot):
    kn = slot.kn.get("power")
    if kn is not None:
        yield from K.kernfs_remove(kn)


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", v61=438, v612=438, v72=385)
def __pci_hp_initialize(slot, bus, devnr, name):
    pci_slot = yield from K.pci_create_slot(bus, devnr, name, slot)
    yield write(slot, "pci_slot", pci_slot)
    yield write(pci_slot, "hotplug", slot)
    return 0


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", note="6.x: L(pci_hp_mutex){list_add}", v61=477, v612=477)
def pci_hp_add(slot):
    pci_slot = yield read(slot, "pci_slot")
    yield from K.fs_add_slot(slot, pci_slot)
    yield lock(W.pci_hp_mutex)
    yield unlock(W.pci_hp_mutex)
    return 0


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", v72=424)
def pci_hp_add(slot):  # noqa: F811
    pci_slot = yield read(slot, "pci_slot")
    yield from K.fs_add_slot(slot, pci_slot)
    return 0


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", note="6.x: L(pci_hp_mutex){lookup, list_del}",
         v61=519, v612=519)
def pci_hp_del(slot):
    yield lock(W.pci_hp_mutex)
    yield unlock(W.pci_hp_mutex)
    pci_slot = yield read(slot, "pci_slot")
    yield from K.fs_remove_slot(slot, pci_slot)


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", v72=463)
def pci_hp_del(slot):  # noqa: F811
    pci_slot = yield read(slot, "pci_slot")
    yield from K.fs_remove_slot(slot, pci_slot)


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", v61=551, v612=551, v72=481)
def pci_hp_destroy(slot):
    pci_slot = yield read(slot, "pci_slot")
    yield write(slot, "pci_slot", None)
    yield write(pci_slot, "hotplug", None)
    yield from K.pci_destroy_slot(pci_slot)


class LinkChangeWait(Shared):
    """The completion of the port's current ignore/unignore section (see module docstring)."""

    _shared_ = {"section": None}

    def describe(self):
        return "pci_hp_link_change_wq"


def _wq(pdev):
    wq = getattr(pdev, "hp_link_change_wq", None)
    if wq is None:
        wq = pdev.hp_link_change_wq = LinkChangeWait()
    return wq


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", v72=510)
def pci_hp_ignore_link_change(pdev):
    me = yield current()
    c = Completion(f"pci_hp_link_change_wq {pdev.bdf}", providers=[me])
    yield write(_wq(pdev), "section", c, marked=True)
    yield rmw(pdev, "priv_flags", lambda f: f | {PCI_LINK_CHANGING})


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", v72=523)
def pci_hp_unignore_link_change(pdev):
    yield rmw(pdev, "priv_flags", lambda f: f | {PCI_LINK_CHANGED})
    yield rmw(pdev, "priv_flags", lambda f: f - {PCI_LINK_CHANGING})
    c = yield read(_wq(pdev), "section", marked=True)
    yield complete_all(c)


@mirrors("drivers/pci/hotplug/pci_hotplug_core.c", note="wait_event(wq, !CHANGING) (unbounded), then "
         "test_and_clear_bit(CHANGED)", v72=552)
def pci_hp_spurious_link_change(pdev):
    while True:
        flags = yield read(pdev, "priv_flags", marked=True)
        if PCI_LINK_CHANGING not in flags:
            break
        c = yield read(_wq(pdev), "section", marked=True)
        yield wait_for_completion(c)
    old = yield rmw(pdev, "priv_flags", lambda f: f - {PCI_LINK_CHANGED})
    return PCI_LINK_CHANGED in old
