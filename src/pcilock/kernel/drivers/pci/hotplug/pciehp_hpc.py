"""drivers/pci/hotplug/pciehp_hpc.c: the pciehp interrupt handlers, slot reset, controller setup.

Per version (lines in the module's ``@mirrors``):

* ``pciehp_ist``: v6.1/v6.12 ignore DLLSC only when DPC recovered
  (``pciehp_ignore_dpc_link_change``); v7.2 also when a Secondary Bus Reset
  ran or runs concurrently (``pci_hp_spurious_link_change``, which waits for a
  reset in progress without holding a pciehp lock) and ignores PDC as well
  (``pciehp_ignore_link_change``, which also checks
  ``pciehp_device_replaced``).  All three then take
  ``down_read_nested(&ctrl->reset_lock, ctrl->depth)`` around the
  disable/presence handling.
* ``pciehp_reset_slot``: ``down_write_nested(&ctrl->reset_lock, depth)``
  in all three; v6.x masks PDCE/DLLSCE around the SBR and clears the latched
  events afterwards; v7.2 brackets the SBR with
  ``pci_hp_ignore_link_change``/``pci_hp_unignore_link_change`` and masks
  nothing, so the SBR's link flap wakes the IRQ thread.

Not modelled: Command Completed waits (``pcie_wait_cmd``: bounded by a
timeout, no lock), power-fault handling, indicators (they take only the
leaf mutex ``ctrl_lock`` and wait for nothing), the poll mode, runtime PM of
the port (RERUN_ISR).  ``pci_dpc_recovered`` (the wait for a DPC recovery of
a port with ``dpc = true``) is in :mod:`pcilock.kernel.drivers.pci.pcie.dpc`.
``pciehp_device_replaced`` (v7.2): a card in the slot is never a different
card (the model inserts the card that was pulled).
"""

from __future__ import annotations

from pcilock._engine_imports import (
    complete_all,
    current,
    down_read,
    down_write,
    lock,
    read,
    rmw,
    unlock,
    up_read,
    up_write,
    write,
)
from pcilock.kernel._model import K, mirrors
from pcilock.kernel.kernel.irq.manage import IRQ_HANDLED, IRQ_NONE, IRQ_WAKE_THREAD, IRQF_SHARED

from .pciehp import (
    ATTN_BUTTN,
    DISABLE_SLOT,
    ON_STATE,
    SLTCTL_ABPE,
    SLTCTL_CCIE,
    SLTCTL_DLLSCE,
    SLTCTL_HPIE,
    SLTCTL_MRLSCE,
    SLTCTL_PDCE,
    SLTCTL_PFDE,
    SLTSTA_ABP,
    SLTSTA_CC,
    SLTSTA_DLLSC,
    SLTSTA_MRLSC,
    SLTSTA_PDC,
    SLTSTA_PFD,
    hw_control_written,
    requester_generation,
)

ENODEV = -19
_EVENT_BITS = SLTSTA_ABP | SLTSTA_PFD | SLTSTA_PDC | SLTSTA_CC | SLTSTA_DLLSC


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="MSI mode (no poll thread): IRQF_SHARED on the "
         "service's vector (ctrl->pcie->irq), shared with the port's other services", v61=57, v612=58, v72=58)
def pciehp_request_irq(ctrl):
    return (yield from K.request_threaded_irq(ctrl.pcie.irq, "pciehp_isr", "pciehp_ist", IRQF_SHARED,
                                              f"pciehp {ctrl.name}", ctrl))


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=77, v612=78, v72=78)
def pciehp_free_irq(ctrl):
    yield from K.free_irq(ctrl.pcie.irq, ctrl)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="the Command Completed wait is not modelled",
         v61=156, v612=157, v72=157)
def pcie_do_write_cmd(ctrl, cmd, mask, wait):
    yield lock(ctrl.ctrl_lock)
    if not (yield read(ctrl.hw, "gone", marked=True)):  # PCI_POSSIBLE_ERROR(slot_ctrl): no response
        old = yield rmw(ctrl.hw, "sltctl", lambda v: (v & ~mask) | (cmd & mask))
        yield from hw_control_written(ctrl.hw, old, (old & ~mask) | (cmd & mask))  # the port (hardware)
    yield unlock(ctrl.ctrl_lock)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=212, v612=213, v72=213)
def pcie_write_cmd(ctrl, cmd, mask):
    yield from K.pcie_do_write_cmd(ctrl, cmd, mask, True)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=218, v612=219, v72=219)
def pcie_write_cmd_nowait(ctrl, cmd, mask):
    yield from K.pcie_do_write_cmd(ctrl, cmd, mask, False)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=234, v612=235, v72=235)
def pciehp_check_link_active(ctrl):
    if (yield read(ctrl.hw, "gone", marked=True)):
        return ENODEV
    return int((yield read(ctrl.hw, "link_active", marked=True)))


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="polls the vendor ID for up to 1 s: one config read",
         v61=250, v612=251, v72=251)
def pci_bus_check_dev(bus, devfn):
    from pcilock.kernel._model import W

    return devfn in (yield from W.read_hw_devfns(bus))  # pci_bus_read_dev_vendor_id


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="pcie_wait_for_link: Link Active read once (the 1 s wait "
         "and the failed-link retrain quirk, bwctrl's locks in 7.2, not modelled); the events latched so far "
         "are dropped only when the device answered; LNKSTA training check: a link that is up is trained",
         v61=290, v612=291, v72=291)
def pciehp_check_link_status(ctrl):
    if (yield read(ctrl.hw, "gone", marked=True)) or not (yield read(ctrl.hw, "link_active", marked=True)):
        return -1  # "No link"
    # inband_presence_disabled: pcie_wait_for_presence (never in the model)
    sub = yield read(ctrl.port, "subordinate")
    found = yield from K.pci_bus_check_dev(sub, 0)
    if found:
        yield rmw(ctrl, "pending_events", lambda v: v & ~(SLTSTA_DLLSC | SLTSTA_PDC))
    if not found:
        return -1  # "No device found"
    return 0


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=435, v612=436, v72=438)
def pciehp_card_present(ctrl):
    if (yield read(ctrl.hw, "gone", marked=True)):
        return ENODEV
    return int((yield read(ctrl.hw, "presence", marked=True)))


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=460, v612=461, v72=463)
def pciehp_card_present_or_link_active(ctrl):
    ret = yield from K.pciehp_card_present(ctrl)
    if ret:
        return ret
    return (yield from K.pciehp_check_link_active(ctrl))


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="a card in the slot is the card that was there",
         v72=567)
def pciehp_device_replaced(ctrl):
    if (yield from K.pci_dev_is_disconnected(ctrl.port)):  # READ_ONCE(error_state) in 7.2
        return False
    sub = yield read(ctrl.port, "subordinate")
    pdev = yield from K.pci_get_slot(sub, 0)
    if pdev is None:
        return True
    replaced = not (yield read(ctrl.hw, "presence", marked=True))  # config reads fail: not the same card
    yield from K.put_device(pdev)
    return replaced


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=562, v612=565)
def pciehp_ignore_dpc_link_change(ctrl, pdev, irq):
    yield from K.synchronize_hardirq(irq)
    yield rmw(ctrl, "pending_events", lambda v: v & ~SLTSTA_DLLSC)
    yield down_read(ctrl.reset_lock, ctrl.depth)
    if not (yield from K.pciehp_check_link_active(ctrl)):
        yield from K.pciehp_request(ctrl, SLTSTA_DLLSC)
    yield up_read(ctrl.reset_lock)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v72=596)
def pciehp_ignore_link_change(ctrl, pdev, irq, ignored_events):
    yield from K.synchronize_hardirq(irq)
    yield rmw(ctrl, "pending_events", lambda v: v & ~ignored_events)
    yield down_read(ctrl.reset_lock, ctrl.depth)
    if not (yield from K.pciehp_check_link_active(ctrl)) or (yield from K.pciehp_device_replaced(ctrl)):
        yield from K.pciehp_request(ctrl, ignored_events)
    yield up_read(ctrl.reset_lock)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="hard IRQ: reads and acks Slot Status (RW1C, one atomic "
         "step per read), re-reads in MSI mode, hands the events to the IRQ thread; CC/PFD/RERUN_ISR not "
         "modelled", v61=588, v612=591, v72=623)
def pciehp_isr(irq, ctrl):
    hw = ctrl.hw
    if not (yield read(hw, "sltctl", marked=True)) & SLTCTL_HPIE:
        return IRQ_NONE
    events = 0
    while True:  # read_status:
        if (yield read(hw, "gone", marked=True)):  # PCI_POSSIBLE_ERROR(status): the port is gone
            return IRQ_NONE
        old = yield rmw(hw, "sltsta", lambda v: v & ~_EVENT_BITS)  # read + write-1-to-clear
        status = old & _EVENT_BITS
        events |= status
        if not events:
            return IRQ_NONE
        if not status:
            break
    events &= ~SLTSTA_CC
    if not events:
        return IRQ_HANDLED
    yield rmw(ctrl, "pending_events", lambda v: v | events)
    return IRQ_WAKE_THREAD


def _ist_head(ctrl):
    yield write(ctrl, "ist_running", True)
    # model-only: this run ends the current generation of ctrl->requester (see pciehp.Controller)
    gen = yield read(ctrl, "requester", marked=True)
    me = yield current()
    if me not in gen.providers:
        gen.providers.append(me)
    # pci_config_pm_runtime_get(pdev); RERUN_ISR (ports are never runtime suspended)
    yield from K.synchronize_hardirq(ctrl.hw.irq)
    events = yield rmw(ctrl, "pending_events", lambda v: 0)
    return events


def _ist_tail(ctrl):
    # pci_config_pm_runtime_put(pdev)
    yield write(ctrl, "ist_running", False)
    # wake_up(&ctrl->requester): a new generation, the waiters of the old one woken
    gen = yield rmw(ctrl, "requester", lambda _: requester_generation(ctrl.name))
    yield complete_all(gen)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="6.x: DLLSC ignored only after DPC recovery",
         v61=693, v612=696)
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
        yield down_read(ctrl.reset_lock, ctrl.depth)
        if events & DISABLE_SLOT:
            yield from K.pciehp_handle_disable_request(ctrl)
        elif events & (SLTSTA_PDC | SLTSTA_DLLSC):
            yield from K.pciehp_handle_presence_or_link_change(ctrl, events)
        yield up_read(ctrl.reset_lock)
    yield from _ist_tail(ctrl)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="7.2: link changes during/after an SBR ignored too "
         "(pci_hp_spurious_link_change waits for a reset in progress)", v72=728)
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
        yield down_read(ctrl.reset_lock, ctrl.depth)
        if events & DISABLE_SLOT:
            yield from K.pciehp_handle_disable_request(ctrl)
        elif events & (SLTSTA_PDC | SLTSTA_DLLSC):
            yield from K.pciehp_handle_presence_or_link_change(ctrl, events)
        yield up_read(ctrl.reset_lock)
    yield from _ist_tail(ctrl)


_NOTIFY_MASK = SLTCTL_PDCE | SLTCTL_ABPE | SLTCTL_PFDE | SLTCTL_HPIE | SLTCTL_CCIE | SLTCTL_DLLSCE


def notification_cmd(ctrl):
    cmd = SLTCTL_DLLSCE
    cmd |= SLTCTL_ABPE if ATTN_BUTTN(ctrl) else SLTCTL_PDCE
    return cmd | SLTCTL_HPIE | SLTCTL_CCIE


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=782, v612=782, v72=821)
def pcie_enable_notification(ctrl):
    yield from K.pcie_write_cmd_nowait(ctrl, notification_cmd(ctrl), _NOTIFY_MASK)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=820, v612=822, v72=861)
def pcie_disable_notification(ctrl):
    yield from K.pcie_write_cmd(ctrl, 0, _NOTIFY_MASK | SLTCTL_MRLSCE)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="6.x: mask PDCE (no attention button) and DLLSCE, "
         "SBR, clear the latched PDC/DLLSC, unmask", v61=898, v612=900)
def pciehp_reset_slot(hotplug_slot, probe):
    ctrl = hotplug_slot.ctrl
    if probe:
        return 0
    yield down_write(ctrl.reset_lock, ctrl.depth)
    ctrl_mask = stat_mask = 0
    if not ATTN_BUTTN(ctrl):
        ctrl_mask |= SLTCTL_PDCE
        stat_mask |= SLTSTA_PDC
    ctrl_mask |= SLTCTL_DLLSCE
    stat_mask |= SLTSTA_DLLSC
    yield from K.pcie_write_cmd(ctrl, 0, ctrl_mask)
    rc = yield from K.pci_bridge_secondary_bus_reset(ctrl.port)
    yield rmw(ctrl.hw, "sltsta", lambda v: v & ~stat_mask)  # pcie_capability_write_word(SLTSTA, mask)
    yield from K.pcie_write_cmd_nowait(ctrl, ctrl_mask, ctrl_mask)
    yield up_write(ctrl.reset_lock)
    return rc


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="7.2: pci_hp_ignore/unignore_link_change around the SBR",
         v72=939)
def pciehp_reset_slot(hotplug_slot, probe):  # noqa: F811
    ctrl = hotplug_slot.ctrl
    pdev = ctrl.port
    if probe:
        return 0
    yield down_write(ctrl.reset_lock, ctrl.depth)
    yield from K.pci_hp_ignore_link_change(pdev)
    rc = yield from K.pci_bridge_secondary_bus_reset(ctrl.port)
    yield from K.pci_hp_unignore_link_change(pdev)
    yield up_write(ctrl.reset_lock)
    return rc


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="the pciehp service's slot_reset (pcieport's "
         "error recovery): ignore the link change of the error-induced reset; ctrl->state read without "
         "state_lock", v61=874, v612=876, v72=915)
def pciehp_slot_reset(dev):
    ctrl = dev.service_data
    if (yield read(ctrl, "state")) != ON_STATE:
        return 0
    yield rmw(ctrl.hw, "sltsta", lambda v: v & ~SLTSTA_DLLSC)  # write 1 to clear DLLSC
    if not (yield from K.pciehp_check_link_active(ctrl)):
        yield from K.pciehp_request(ctrl, SLTSTA_DLLSC)
    return 0


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=932, v612=934, v72=960)
def pcie_init_notification(ctrl):
    if (yield from K.pciehp_request_irq(ctrl)):
        return -1
    yield from K.pcie_enable_notification(ctrl)
    yield write(ctrl, "notification_enabled", True)
    return 0


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", v61=941, v612=943, v72=969)
def pcie_shutdown_notification(ctrl):
    if (yield read(ctrl, "notification_enabled")):
        yield from K.pcie_disable_notification(ctrl)
        yield from K.pciehp_free_irq(ctrl)
        yield write(ctrl, "notification_enabled", False)


def hotplug_depth_at_setup(version, dev):
    """pcie_hotplug_depth(): hotplug-capable bridges above dev->bus's bridge."""
    depth = 0
    bus = dev.bus
    while bus.parent is not None:
        bus = bus.parent
        if bus.self is not None and bus.self.spec is not None and bus.self.spec.hotplug:
            depth += 1
    return depth


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="6.x: is_hotplug_bridge ancestors; 7.2: is_pciehp "
         "(the same ports in the model)", v61=964, v612=966, v72=992)
def pcie_hotplug_depth(dev):
    return hotplug_depth_at_setup(None, dev)
    yield


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="kzalloc + lock init; state from the bus's devices; "
         "stale events cleared", v61=978, v612=980, v72=1006)
def pcie_init(dev):
    from pcilock.kernel._model import W

    from .pciehp import OFF_STATE, Controller
    from .pciehp_core import new_slot_hw

    new_slot_hw(dev.port, W.__dict__)  # the port's registers and its MSI vector
    depth = yield from K.pcie_hotplug_depth(dev.port)
    ctrl = Controller(dev, depth)
    sub = yield read(dev.port, "subordinate")
    yield down_read(W.pci_bus_sem)
    empty = not (yield read(sub, "devices"))
    yield up_read(W.pci_bus_sem)
    yield write(ctrl, "state", OFF_STATE if empty else ON_STATE)
    yield rmw(ctrl.hw, "sltsta", lambda v: v & ~(_EVENT_BITS | SLTSTA_MRLSC))
    if W.version != "v6.1":  # 6.12/7.2: ctrl->dsn of 00.0
        yield from _dsn(ctrl, sub)
    return ctrl


def _dsn(ctrl, sub):
    pdev = yield from K.pci_get_slot(sub, 0)
    if pdev is not None:
        yield write(ctrl, "dsn", pdev.bdf)
    yield from K.put_device(pdev)


@mirrors("drivers/pci/hotplug/pciehp_hpc.c", note="cancel_delayed_work_sync(button_work); kfree(ctrl)",
         v61=1066, v612=1070, v72=1096)
def pciehp_release_ctrl(ctrl):
    yield from K.cancel_delayed_work_sync(ctrl.button_work)
    yield from kfree(ctrl.hotplug_slot)  # embedded in struct controller
    yield from kfree(ctrl)


def kfree(obj):
    """kfree: later accesses to *obj* are a use after free (when the engine supports it)."""
    try:
        from pcilock.engine.ops import free
    except ImportError:  # pragma: no cover - older engine
        return
    if obj is not None:
        yield free(obj)
