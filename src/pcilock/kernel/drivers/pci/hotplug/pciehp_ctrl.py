"""drivers/pci/hotplug/pciehp_ctrl.c: the slot state machine.

The lock structure is the same in v6.1, v6.12 and v7.2 (v6.12/v7.2 differ
only in log messages, v7.2 adds trace events and ``pcie_reset_lbms`` in
``remove_board``, neither takes a lock).  ``ctrl->state`` is read and written
under ``state_lock`` except in ``pciehp_ist``'s link-change filter.

Model slots have no power controller or MRL sensor, so ``board_added`` goes
straight to ``pciehp_check_link_status`` (:mod:`.pciehp_hpc`) and
``pciehp_configure_device``; ``remove_board`` is
``pciehp_unconfigure_device``.  A slot may have an attention button
(``attention_button = true``): a press reaches ``pciehp_handle_button_press``
in the IRQ thread, the delayed ``button_work`` (a kworker, any time later;
the 5 s timer is not modelled) runs ``pciehp_queue_pushbutton_work``, which
requests the disable (DISABLE_SLOT) or enable (PDC) from the IRQ thread; a
second press while blinking cancels it (``cancel_delayed_work``, which does
not wait for a work already running).  The indicator writes are not modelled
(``ctrl_lock``, a leaf).
"""

from __future__ import annotations

from pcilock._engine_imports import lock, read, rmw, unlock, wait_for_completion, write
from pcilock.kernel._model import K, mirrors

from .pciehp import (
    BLINKINGOFF_STATE,
    BLINKINGON_STATE,
    DISABLE_SLOT,
    MRL_SENS,
    OFF_STATE,
    ON_STATE,
    POWER_CTRL,
    POWEROFF_STATE,
    POWERON_STATE,
    SAFE_REMOVAL,
    SLTSTA_PDC,
    SURPRISE_REMOVAL,
)

ENODEV, EEXIST, EINVAL = -19, -17, -22


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", note="power off + indicators: no power controller",
         v61=31, v612=31, v72=34)
def set_slot_off(ctrl):
    return
    yield


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", note="no power controller: link check, configure",
         v61=59, v612=59, v72=62)
def board_added(ctrl):
    # pciehp_set_indicators(ctrl, PWR_IND_BLINK, INDICATOR_NOOP)
    retval = yield from K.pciehp_check_link_status(ctrl)
    if retval:
        yield from K.set_slot_off(ctrl)
        return retval
    # power fault: ctrl->power_fault_detected || pciehp_query_power_fault (not modelled: none)
    retval = yield from K.pciehp_configure_device(ctrl)
    if retval and retval != EEXIST:
        yield from K.set_slot_off(ctrl)
        return retval
    return 0


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=109, v612=109, v72=112)
def remove_board(ctrl, safe_removal):
    yield from K.pciehp_unconfigure_device(ctrl, safe_removal)
    # POWER_CTRL: power off, msleep(1000), ignore own link/presence events; indicators; [7.2 pcie_reset_lbms]


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=135, v612=135, v72=141)
def pciehp_request(ctrl, action):
    yield rmw(ctrl, "pending_events", lambda v: v | action)
    yield from K.irq_wake_thread(ctrl.hw.irq, ctrl)


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=142, v612=142, v72=148)
def pciehp_queue_pushbutton_work(ctrl):
    yield lock(ctrl.state_lock)
    state = yield read(ctrl, "state")
    if state == BLINKINGOFF_STATE:
        yield from K.pciehp_request(ctrl, DISABLE_SLOT)
    elif state == BLINKINGON_STATE:
        yield from K.pciehp_request(ctrl, SLTSTA_PDC)
    yield unlock(ctrl.state_lock)


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=161, v612=161, v72=167)
def pciehp_handle_button_press(ctrl):
    yield lock(ctrl.state_lock)
    state = yield read(ctrl, "state")
    if state in (OFF_STATE, ON_STATE):
        yield write(ctrl, "state", BLINKINGOFF_STATE if state == ON_STATE else BLINKINGON_STATE)
        yield from K.schedule_delayed_work(ctrl.button_work)
    elif state in (BLINKINGOFF_STATE, BLINKINGON_STATE):
        yield from K.cancel_delayed_work(ctrl.button_work)
        yield write(ctrl, "state", ON_STATE if state == BLINKINGOFF_STATE else OFF_STATE)
    yield unlock(ctrl.state_lock)


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=210, v612=211, v72=217)
def pciehp_handle_disable_request(ctrl):
    yield lock(ctrl.state_lock)
    if (yield read(ctrl, "state")) in (BLINKINGON_STATE, BLINKINGOFF_STATE):
        yield from K.cancel_delayed_work(ctrl.button_work)
    yield write(ctrl, "state", POWEROFF_STATE)
    yield unlock(ctrl.state_lock)
    ret = yield from K.pciehp_disable_slot(ctrl, SAFE_REMOVAL)
    yield write(ctrl, "request_result", ret)


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=225, v612=226, v72=232)
def pciehp_handle_presence_or_link_change(ctrl, events):
    yield lock(ctrl.state_lock)
    state = yield read(ctrl, "state")
    if state in (BLINKINGOFF_STATE, ON_STATE):
        if state == BLINKINGOFF_STATE:
            yield from K.cancel_delayed_work(ctrl.button_work)
        yield write(ctrl, "state", POWEROFF_STATE)
        yield unlock(ctrl.state_lock)
        yield from K.pciehp_disable_slot(ctrl, SURPRISE_REMOVAL)
    else:
        yield unlock(ctrl.state_lock)

    yield lock(ctrl.state_lock)
    present = yield from K.pciehp_card_present(ctrl)
    link_active = yield from K.pciehp_check_link_active(ctrl)
    if present <= 0 and link_active <= 0:
        if (yield read(ctrl, "state")) == BLINKINGON_STATE:
            yield write(ctrl, "state", OFF_STATE)
            yield from K.cancel_delayed_work(ctrl.button_work)
        yield unlock(ctrl.state_lock)
        return
    state = yield read(ctrl, "state")
    if state in (BLINKINGON_STATE, OFF_STATE):
        if state == BLINKINGON_STATE:
            yield from K.cancel_delayed_work(ctrl.button_work)
        yield write(ctrl, "state", POWERON_STATE)
        yield unlock(ctrl.state_lock)
        ret = yield from K.pciehp_enable_slot(ctrl)
        yield write(ctrl, "request_result", ret)
    else:
        yield unlock(ctrl.state_lock)


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=292, v612=293, v72=317)
def __pciehp_enable_slot(ctrl):
    if MRL_SENS(ctrl) or POWER_CTRL(ctrl):
        pass  # not modelled: no MRL sensor, no power controller
    return (yield from K.board_added(ctrl))


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=317, v612=318, v72=342)
def pciehp_enable_slot(ctrl):
    # pm_runtime_get_sync(&ctrl->pcie->port->dev)
    ret = yield from K.__pciehp_enable_slot(ctrl)
    yield lock(ctrl.state_lock)
    yield write(ctrl, "state", OFF_STATE if ret else ON_STATE)
    yield unlock(ctrl.state_lock)
    return ret


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=336, v612=337, v72=361)
def __pciehp_disable_slot(ctrl, safe_removal):
    yield from K.remove_board(ctrl, safe_removal)
    return 0


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=353, v612=354, v72=378)
def pciehp_disable_slot(ctrl, safe_removal):
    ret = yield from K.__pciehp_disable_slot(ctrl, safe_removal)
    yield lock(ctrl.state_lock)
    yield write(ctrl, "state", OFF_STATE)
    yield unlock(ctrl.state_lock)
    return ret


def _wait_requester(ctrl):
    """wait_event(ctrl->requester, !atomic_read(&ctrl->pending_events) && !ctrl->ist_running).

    ``prepare_to_wait_event``, the condition, ``schedule``: the writer takes
    the current generation of ``requester`` before it checks the condition,
    so the end of any IRQ thread run after the check wakes it (no lost
    wake-up).  ``pending_events`` is read with ``atomic_read`` (marked),
    ``ist_running`` with a plain read, as in the kernel; ``&&`` short-circuits.
    Only a writer that slept is ordered after the IRQ thread (the wake-up);
    one that finds the condition true at once is not, in the kernel either.
    While the action is linked, pending events mean a run of the IRQ thread
    is coming (every setter wakes the thread), which wakes the writer; once
    the action is freed nothing will: the writer blocks for ever (a hang).
    An IRQ thread run names itself a provider of the generation it will end
    before it can block, so a writer and an IRQ thread waiting for each other
    are a wait-for cycle.
    """
    while True:
        gen = yield read(ctrl, "requester", marked=True)  # prepare_to_wait_event
        if not (yield read(ctrl, "pending_events", marked=True)) and not (yield read(ctrl, "ist_running")):
            return
        yield wait_for_completion(gen)  # its providers: the IRQ thread run under way (_ist_head)


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=368, v612=369, v72=393)
def pciehp_sysfs_enable_slot(hotplug_slot):
    ctrl = hotplug_slot.ctrl
    yield lock(ctrl.state_lock)
    state = yield read(ctrl, "state")
    if state in (BLINKINGON_STATE, OFF_STATE):
        yield unlock(ctrl.state_lock)
        yield write(ctrl, "request_result", ENODEV)
        yield from K.pciehp_request(ctrl, SLTSTA_PDC)
        yield from _wait_requester(ctrl)
        return (yield read(ctrl, "request_result"))
    yield unlock(ctrl.state_lock)
    return ENODEV


@mirrors("drivers/pci/hotplug/pciehp_ctrl.c", v61=407, v612=408, v72=432)
def pciehp_sysfs_disable_slot(hotplug_slot):
    ctrl = hotplug_slot.ctrl
    yield lock(ctrl.state_lock)
    state = yield read(ctrl, "state")
    if state in (BLINKINGOFF_STATE, ON_STATE):
        yield unlock(ctrl.state_lock)
        yield from K.pciehp_request(ctrl, DISABLE_SLOT)
        yield from _wait_requester(ctrl)
        return (yield read(ctrl, "request_result"))
    yield unlock(ctrl.state_lock)
    return ENODEV


__all__ = ["EINVAL"]
