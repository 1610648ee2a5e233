"""Lukas Wunner, 2020-03-31: move pciehp's ``reset_lock`` into ``struct pci_slot`` (never merged).

The inline patch of his reply "Re: Deadlock during PCIe hot remove" to Michael
Haeuptle (linux-pci, Tue 31 Mar 2020 15:01:39 +0200,
Message-ID 20200331130139.46oxbade6rcbaicb@wunner.de; seed 003), "compile-tested
only", written against the pci/next branch of the time.  Haeuptle reported the
same day that it fixed his case (hot removal of up to 20 vfio-owned NVMe
drives in parallel).  The July 2020 "[PATCH] PCI: pciehp: Fix AB-BA deadlock
between reset_lock and device_lock" (v1, Message-ID
908047f7699d9de9ec2efd6b79aa752d73dab4b6.1595329748.git.lukas@wunner.de) kept its
lock structure; v2 took another approach and was merged as f5eff5591b8f.

What it does (modelled below, one function per changed kernel function):

* ``struct pci_slot`` gains ``struct rw_semaphore reset_lock``, initialised
  in ``pci_create_slot`` for every slot; pciehp's ``ctrl->reset_lock`` is
  deleted.
* pciehp takes ``ctrl->hotplug_slot.pci_slot->reset_lock`` for reading where
  it took its own lock: ``pciehp_ist``, ``pciehp_check_presence`` and (not in
  the 2020 patch, which predates them, but needed on these trees or they
  would not compile) ``pciehp_ignore_dpc_link_change`` (v6.1/v6.12) and
  ``pciehp_ignore_link_change`` (v7.2).  The lockdep subclass ``ctrl->depth``
  (085a9f43433f, 2022) is kept.
* ``pciehp_reset_slot`` no longer takes any lock: its callers hold the slot's
  lock for writing.
* The PCI core takes the slot's lock before the device lock:
  ``pci_reset_function`` (``down_write``), ``pci_try_reset_function``
  (``down_write_trylock``, -EAGAIN), ``pci_slot_lock``/``pci_slot_unlock``/
  ``pci_slot_trylock``; each only ``if (dev->slot)``, reading ``dev->slot``
  again after the reset for the ``up_write``.  vfio-pci's close-time reset
  first does ``down_write_trylock`` and skips the reset when it fails.
* xen-pciback's ``__xen_pcibk_release_pci_dev`` and
  ``__xen_pcibk_release_devices`` (passthrough.c and vpci.c) take the lock
  around ``device_lock``.  Not modelled: the model's pciback has no xenbus
  frontend (no device is assigned to a guest), so those paths never run.
  ``pcistub_device_release``/``pcistub_init_device`` are unchanged by the
  patch (they run with the device lock held, as the mail says), so they reset
  without the slot lock.

Porting choices for these trees:

* v6.12/v7.2 ``pci_reset_function`` lock the upstream bridge before the device
  (7e89efc6e9e4, 2024).  The slot lock is taken first, before the bridge: the
  patch's intent is "taken by the PCI core before taking the device lock", and
  placing it between bridge and device would order it after the bridge's
  device lock, against ``pci_slot_lock`` (slot lock, then the bridge).
* v6.12/v7.2 vfio-pci trylocks the upstream bridge (962ae6892d8b): the slot
  trylock comes first, around it.
* v7.2's ``pci_slot_lock``/``unlock``/``trylock`` are wrappers of
  ``__pci_bus_lock(bus, slot)``: the slot lock goes in the wrappers.

Kept as posted: ``pci_try_reset_function`` returns -EAGAIN without
``up_write`` when ``pci_dev_trylock`` fails after the slot trylock succeeded
(the write lock leaks); every ``dev->slot`` is read without a lock, once for
the lock and again (after the calls in between) for the unlock.  That is the
review's point in the same mail: ``pci_dev->slot`` becomes NULL, and the slot
is freed, when the hotplug driver unbinds (``pci_hp_destroy`` →
``pci_destroy_slot`` → ``pci_slot_release``); "We've never done this
correctly."

What it applies to: only a regime where f5eff5591b8f is absent
(``v6.12-f5eff5591b8f+wunner-2020``).  Both are fixes of the same AB-BA (the
2020 patch is the v1 of the series whose v2 became f5eff5591b8f), and with
f5eff5591b8f present the 2020 patch does not apply: the four statements
f5eff5591b8f adds to pciehp_pci.c use ``ctrl->reset_lock``, which the 2020
patch deletes.  Applying it where f5eff5591b8f is in is an input error.
"""

from __future__ import annotations

from pcilock._engine_imports import (
    RWSem,
    check,
    down_read,
    down_write,
    down_write_trylock,
    lock,
    read,
    rmw,
    unlock,
    up_read,
    up_write,
    write,
)
from pcilock.kernel._model import K, W
from pcilock.kernel.drivers.pci.hotplug.pciehp import (
    ATTN_BUTTN,
    BLINKINGOFF_STATE,
    BLINKINGON_STATE,
    DISABLE_SLOT,
    OFF_STATE,
    ON_STATE,
    SLTCTL_DLLSCE,
    SLTCTL_PDCE,
    SLTSTA_ABP,
    SLTSTA_DLLSC,
    SLTSTA_PDC,
)
from pcilock.kernel.drivers.pci.hotplug.pciehp_hpc import _ist_head, _ist_tail
from pcilock.kernel.drivers.pci.pci import EAGAIN, ENOTTY, _in_slot, _unlock_reverse
from pcilock.kernel.include.linux.pci import PciSlot

from ._patch import Patch
from .regime import register

MSGID = "20200331130139.46oxbade6rcbaicb@wunner.de"

PATCH = register(Patch(
    id="wunner-2020",
    title="PCI: move pciehp's reset_lock into struct pci_slot (Re: Deadlock during PCIe hot remove)",
    links=[f"https://lore.kernel.org/linux-pci/{MSGID}/",
           "https://lore.kernel.org/linux-pci/CS1PR8401MB0728FC6FDAB8A35C22BD90EC95F10@CS1PR8401MB0728."
           "NAMPRD84.PROD.OUTLOOK.COM/",
           "https://lore.kernel.org/linux-pci/908047f7699d9de9ec2efd6b79aa752d73dab4b6.1595329748.git."
           "lukas@wunner.de/"],
    kind="posted",
    conflicts=("f5eff5591b8f",),
    note="the 2020 patch deletes ctrl->reset_lock, which f5eff5591b8f's four statements in "
         "pciehp_pci.c use; both fix the same AB-BA",
))

def _init_rwsem(slot):
    """init_rwsem(&slot->reset_lock): one lock class for every slot (one call site)."""
    slot.reset_lock = RWSem(f"&slot->reset_lock {slot.name}", "&slot->reset_lock")


def _world_init(attrs):
    # the slots that exist at boot were made by pci_create_slot, which now initialises the lock
    for name in sorted(attrs["slots"]):
        _init_rwsem(attrs["slots"][name])


PATCH.world_init = _world_init


# -- drivers/pci/slot.c --------------------------------------------------------------------------

@PATCH.after_fn("drivers/pci/slot.c", note="init_rwsem(&slot->reset_lock) after list_add",
                v61=244, v612=265, v72=275)
def pci_create_slot(parent, slot_nr, name, hotplug):
    yield lock(W.pci_slot_mutex)
    slot = PciSlot(parent, int(name) if str(name).isdigit() else 0, hotplug=None)
    slot.name = str(name)
    slot.devnr = slot_nr
    W.slots[slot.name] = slot  # list_add(&slot->list, &parent->slots); kobject_init_and_add
    _init_rwsem(slot)
    yield down_read(W.pci_bus_sem)
    for dev in (yield read(parent, "devices")):
        if (yield from K.pci_dev_matches_slot(dev, slot)):
            yield write(dev, "slot", slot)
    yield up_read(W.pci_bus_sem)
    yield unlock(W.pci_slot_mutex)
    return slot


# -- pciehp: readers of the slot's lock ------------------------------------------------------------

def _slot_rwsem(ctrl):
    """&ctrl->hotplug_slot.pci_slot->reset_lock (pci_slot is read without a lock)."""
    pci_slot = yield read(ctrl.hotplug_slot, "pci_slot")
    yield check(pci_slot is not None, "NULL pointer dereference: ctrl->hotplug_slot.pci_slot", kind="uaf",
                fatal=True)
    return pci_slot.reset_lock


@PATCH.after_fn("drivers/pci/hotplug/pciehp_core.c", note="the slot's reset_lock", v61=165, v612=166,
                v72=167)
def pciehp_check_presence(ctrl):
    yield down_read((yield from _slot_rwsem(ctrl)), ctrl.depth)
    yield lock(ctrl.state_lock)
    occupied = yield from K.pciehp_card_present_or_link_active(ctrl)
    state = yield read(ctrl, "state")
    if (occupied > 0 and state in (OFF_STATE, BLINKINGON_STATE)) or \
            (not occupied and state in (ON_STATE, BLINKINGOFF_STATE)):
        yield from K.pciehp_request(ctrl, SLTSTA_PDC)
    yield unlock(ctrl.state_lock)
    yield up_read((yield from _slot_rwsem(ctrl)))


@PATCH.after_fn("drivers/pci/hotplug/pciehp_hpc.c", note="the slot's reset_lock (not in the 2020 patch: "
                "the function came later)", v61=562, v612=565)
def pciehp_ignore_dpc_link_change(ctrl, pdev, irq):
    yield rmw(ctrl, "pending_events", lambda v: v & ~SLTSTA_DLLSC)
    yield down_read((yield from _slot_rwsem(ctrl)), ctrl.depth)
    if not (yield from K.pciehp_check_link_active(ctrl)):
        yield from K.pciehp_request(ctrl, SLTSTA_DLLSC)
    yield up_read((yield from _slot_rwsem(ctrl)))


@PATCH.after_fn("drivers/pci/hotplug/pciehp_hpc.c", note="the slot's reset_lock (not in the 2020 patch: "
                "the function came later)", v72=596)
def pciehp_ignore_link_change(ctrl, pdev, irq, ignored_events):
    yield rmw(ctrl, "pending_events", lambda v: v & ~ignored_events)
    yield down_read((yield from _slot_rwsem(ctrl)), ctrl.depth)
    if not (yield from K.pciehp_check_link_active(ctrl)) or (yield from K.pciehp_device_replaced(ctrl)):
        yield from K.pciehp_request(ctrl, ignored_events)
    yield up_read((yield from _slot_rwsem(ctrl)))


def _ist_locked(ctrl, events):
    yield down_read((yield from _slot_rwsem(ctrl)), ctrl.depth)
    if events & DISABLE_SLOT:
        yield from K.pciehp_handle_disable_request(ctrl)
    elif events & (SLTSTA_PDC | SLTSTA_DLLSC):
        yield from K.pciehp_handle_presence_or_link_change(ctrl, events)
    yield up_read((yield from _slot_rwsem(ctrl)))


@PATCH.after_fn("drivers/pci/hotplug/pciehp_hpc.c", note="the slot's reset_lock around the disable / "
                "presence handling", v61=693, v612=696)
def pciehp_ist(ctrl):
    pdev = ctrl.port
    events = yield from _ist_head(ctrl)
    if events:
        if events & SLTSTA_ABP:
            yield from K.pciehp_handle_button_press(ctrl)
        if events & SLTSTA_DLLSC and (yield from K.pci_dpc_recovered(pdev)) and \
                (yield read(ctrl, "state")) == ON_STATE:
            events &= ~SLTSTA_DLLSC
            yield from K.pciehp_ignore_dpc_link_change(ctrl, pdev, ctrl.hw.irq)
        yield from _ist_locked(ctrl, events)
    yield from _ist_tail(ctrl)


@PATCH.after_fn("drivers/pci/hotplug/pciehp_hpc.c", note="the slot's reset_lock around the disable / "
                "presence handling", v72=728)
def pciehp_ist(ctrl):  # noqa: F811
    pdev = ctrl.port
    events = yield from _ist_head(ctrl)
    if events:
        if events & SLTSTA_ABP:
            yield from K.pciehp_handle_button_press(ctrl)
        if events & (SLTSTA_PDC | SLTSTA_DLLSC) and \
                ((yield from K.pci_dpc_recovered(pdev)) or (yield from K.pci_hp_spurious_link_change(pdev))) \
                and (yield read(ctrl, "state")) == ON_STATE:
            ignored = SLTSTA_DLLSC
            if not ctrl.inband_presence_disabled:
                ignored |= SLTSTA_PDC
            events &= ~ignored
            yield from K.pciehp_ignore_link_change(ctrl, pdev, ctrl.hw.irq, ignored)
        yield from _ist_locked(ctrl, events)
    yield from _ist_tail(ctrl)


# -- pciehp: the reset itself no longer locks --------------------------------------------------------

@PATCH.after_fn("drivers/pci/hotplug/pciehp_hpc.c", note="no down_write/up_write: the caller holds the "
                "slot's reset_lock", v61=898, v612=900)
def pciehp_reset_slot(hotplug_slot, probe):
    ctrl = hotplug_slot.ctrl
    if probe:
        return 0
    ctrl_mask = stat_mask = 0
    if not ATTN_BUTTN(ctrl):
        ctrl_mask |= SLTCTL_PDCE
        stat_mask |= SLTSTA_PDC
    ctrl_mask |= SLTCTL_DLLSCE
    stat_mask |= SLTSTA_DLLSC
    yield from K.pcie_write_cmd(ctrl, 0, ctrl_mask)
    rc = yield from K.pci_bridge_secondary_bus_reset(ctrl.port)
    yield rmw(ctrl.hw, "sltsta", lambda v: v & ~stat_mask)
    yield from K.pcie_write_cmd_nowait(ctrl, ctrl_mask, ctrl_mask)
    return rc


@PATCH.after_fn("drivers/pci/hotplug/pciehp_hpc.c", note="no down_write/up_write: the caller holds the "
                "slot's reset_lock", v72=939)
def pciehp_reset_slot(hotplug_slot, probe):  # noqa: F811
    ctrl = hotplug_slot.ctrl
    pdev = ctrl.port
    if probe:
        return 0
    yield from K.pci_hp_ignore_link_change(pdev)
    rc = yield from K.pci_bridge_secondary_bus_reset(ctrl.port)
    yield from K.pci_hp_unignore_link_change(pdev)
    return rc


# -- the PCI core: writers of the slot's lock ---------------------------------------------------------

def _slot_up_write(dev):
    """``if (dev->slot) up_write(&dev->slot->reset_lock)``: dev->slot read again after the reset."""
    slot = yield read(dev, "slot")
    if slot is not None:
        yield up_write(slot.reset_lock)


@PATCH.after_fn("drivers/pci/pci.c", note="down_write(&dev->slot->reset_lock) before the device lock",
                v61=5460)
def pci_reset_function(dev):
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    slot = yield read(dev, "slot")
    if slot is not None:
        yield down_write(slot.reset_lock)
    yield from K.pci_dev_lock(dev)
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    yield from K.pci_dev_unlock(dev)
    yield from _slot_up_write(dev)
    return rc


@PATCH.after_fn("drivers/pci/pci.c", note="down_write(&dev->slot->reset_lock) before the bridge and the "
                "device locks (port of the 2020 patch to 7e89efc6e9e4)", v612=5373, v72=5229)
def pci_reset_function(dev):  # noqa: F811
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    slot = yield read(dev, "slot")
    if slot is not None:
        yield down_write(slot.reset_lock)
    bridge = yield from K.pci_upstream_bridge(dev)
    if bridge is not None:
        yield from K.pci_dev_lock(bridge)
    yield from K.pci_dev_lock(dev)
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    yield from K.pci_dev_unlock(dev)
    if bridge is not None:
        yield from K.pci_dev_unlock(bridge)
    yield from _slot_up_write(dev)
    return rc


@PATCH.after_fn("drivers/pci/pci.c", note="down_write_trylock(&dev->slot->reset_lock) first; as posted, "
                "the -EAGAIN of a failed pci_dev_trylock leaves it held", v61=5519, v612=5444, v72=5304)
def pci_try_reset_function(dev):
    if not (yield from K.pci_reset_supported(dev)):
        return ENOTTY
    slot = yield read(dev, "slot")
    if slot is not None:
        if not (yield down_write_trylock(slot.reset_lock)):
            return EAGAIN
    if not (yield from K.pci_dev_trylock(dev)):
        return EAGAIN
    yield from K.pci_dev_save_and_disable(dev)
    rc = yield from K.__pci_reset_function_locked(dev)
    yield from K.pci_dev_restore(dev)
    yield from K.pci_dev_unlock(dev)
    yield from _slot_up_write(dev)
    return rc


@PATCH.after_fn("drivers/pci/pci.c", note="down_write(&slot->reset_lock) first", v61=5632, v612=5557)
def pci_slot_lock(slot):
    yield down_write(slot.reset_lock)
    bridge = slot.bus.self
    if bridge is not None:
        yield from K.pci_dev_lock(bridge)
    for dev in (yield read(slot.bus, "devices")):
        if not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_lock(sub)
        else:
            yield from K.pci_dev_lock(dev)


@PATCH.after_fn("drivers/pci/pci.c", note="up_write(&slot->reset_lock) last", v61=5650, v612=5575)
def pci_slot_unlock(slot):
    bridge = slot.bus.self
    for dev in (yield read(slot.bus, "devices")):
        if not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        if sub is not None:
            yield from K.pci_bus_unlock(sub)
        else:
            yield from K.pci_dev_unlock(dev)
    if bridge is not None:
        yield from K.pci_dev_unlock(bridge)
    yield up_write(slot.reset_lock)


@PATCH.after_fn("drivers/pci/pci.c", note="down_write_trylock(&slot->reset_lock) first, released on "
                "every failure", v61=5668, v612=5593)
def pci_slot_trylock(slot):
    if not (yield down_write_trylock(slot.reset_lock)):
        return False
    bridge = slot.bus.self
    if bridge is not None and not (yield from K.pci_dev_trylock(bridge)):
        yield up_write(slot.reset_lock)
        return False
    devices = yield read(slot.bus, "devices")
    for i, dev in enumerate(devices):
        if not (yield from _in_slot(dev, slot)):
            continue
        sub = yield read(dev, "subordinate")
        ok = (yield from K.pci_bus_trylock(sub)) if sub is not None else (yield from K.pci_dev_trylock(dev))
        if not ok:
            yield from _unlock_reverse(devices, i, slot)
            if bridge is not None:
                yield from K.pci_dev_unlock(bridge)
            yield up_write(slot.reset_lock)
            return False
    return True


@PATCH.after_fn("drivers/pci/pci.c", note="down_write(&slot->reset_lock), then __pci_bus_lock", v72=5453)
def pci_slot_lock(slot):  # noqa: F811
    yield down_write(slot.reset_lock)
    yield from K.__pci_bus_lock(slot.bus, slot)


@PATCH.after_fn("drivers/pci/pci.c", note="__pci_bus_unlock, then up_write(&slot->reset_lock)", v72=5459)
def pci_slot_unlock(slot):  # noqa: F811
    yield from K.__pci_bus_unlock(slot.bus, slot)
    yield up_write(slot.reset_lock)


@PATCH.after_fn("drivers/pci/pci.c", note="down_write_trylock(&slot->reset_lock), then __pci_bus_trylock",
                v72=5465)
def pci_slot_trylock(slot):  # noqa: F811
    if not (yield down_write_trylock(slot.reset_lock)):
        return False
    if (yield from K.__pci_bus_trylock(slot.bus, slot)):
        return True
    yield up_write(slot.reset_lock)
    return False


# -- vfio-pci: the close-time reset -------------------------------------------------------------------

def _vfio_slot_trylock(pdev):
    """``!pdev->slot || down_write_trylock(&pdev->slot->reset_lock)``: one load of pdev->slot."""
    slot = yield read(pdev, "slot")
    if slot is None:
        return True
    return (yield down_write_trylock(slot.reset_lock))


@PATCH.after_fn("drivers/vfio/pci/vfio_pci_core.c", note="down_write_trylock(&pdev->slot->reset_lock) "
                "before the device trylock; no reset without it", v61=556)
def vfio_pci_core_disable(vdev):
    from pcilock.kernel.drivers.vfio.pci.vfio_pci_core import _disable_head, _disable_tail

    pdev = vdev.pdev
    yield from _disable_head(vdev)
    if (yield read(vdev, "reset_works")):
        if (yield from _vfio_slot_trylock(pdev)):
            if (yield from K.pci_dev_trylock(pdev)):
                if not (yield from K.__pci_reset_function_locked(pdev)):
                    yield write(vdev, "needs_reset", False)
                yield from K.pci_dev_unlock(pdev)
            yield from _slot_up_write(pdev)
    # pci_restore_state
    yield from _disable_tail(vdev)


@PATCH.after_fn("drivers/vfio/pci/vfio_pci_core.c", note="down_write_trylock(&pdev->slot->reset_lock) "
                "around the bridge and device trylocks (port to 962ae6892d8b)", v612=594, v72=682)
def vfio_pci_core_disable(vdev):  # noqa: F811
    from pcilock.kernel.drivers.vfio.pci.vfio_pci_core import _disable_head, _disable_tail

    pdev = vdev.pdev
    yield from _disable_head(vdev)
    if (yield read(vdev, "reset_works")):
        if (yield from _vfio_slot_trylock(pdev)):
            bridge = yield from K.pci_upstream_bridge(pdev)
            if bridge is None or (yield from K.pci_dev_trylock(bridge)):
                if (yield from K.pci_dev_trylock(pdev)):
                    if not (yield from K.__pci_reset_function_locked(pdev)):
                        yield write(vdev, "needs_reset", False)
                    yield from K.pci_dev_unlock(pdev)
                if bridge is not None:
                    yield from K.pci_dev_unlock(bridge)
            yield from _slot_up_write(pdev)
    # out_restore_state: pci_restore_state
    yield from _disable_tail(vdev)
