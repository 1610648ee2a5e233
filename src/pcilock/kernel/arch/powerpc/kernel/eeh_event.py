"""arch/powerpc/kernel/eeh_event.c: the EEH event queue and the ``eehd`` kernel thread.

Mirrors eeh_event.c of v6.1, v6.12 and v7.2 (same lines in the three).

``eeh BDF`` (the scenario line) is the platform detecting a frozen PE: a
driver's MMIO read returns all ones and ``eeh_dev_check_failure`` confirms the
freeze with firmware, or the PHB interrupt reports it; either way
``__eeh_send_failure_event`` marks the PE recovering, queues the event and
completes ``eeh_eventlist_event``.  The scenario thread plays that detection
and returns; the recovery runs in ``eehd``, the one EEH kernel thread
(``eeh_event_handler``: one event at a time → ``eeh_handle_normal_event``).
The model starts one model thread per event, each first waiting for the
previous one to finish (a join: the single kthread's program order), so
events are handled one at a time and in order, as by eehd.  Which PE an
event freezes is explained in :mod:`.eeh_driver`.  The special (PHB-wide)
event path (``eeh_handle_special_event``) is not modelled.
"""

from __future__ import annotations

from pcilock._engine_imports import Shared, current, join, note, rmw, spawn
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.userspace import op

from .eeh_driver import EEH_PE_BUS, EEH_PE_VF, EehPe

ENODEV = -19


class EehEventList(Shared):
    """``eeh_eventlist`` (model-only form): the model thread of the last event taken, which the next one
    waits for."""

    _shared_ = {"last": None}

    def describe(self):
        return "eeh_eventlist"


def _eventlist():
    q = W.__dict__.get("eeh_eventlist")
    if q is None:
        q = W.__dict__["eeh_eventlist"] = EehEventList()
    return q


def _eehd(pe):
    """Model thread: eehd handling one event (after the previous one, as the one kthread does)."""
    me = yield current()
    previous = yield rmw(_eventlist(), "last", lambda _: me)
    if previous is not None:
        yield join(previous)
    yield from K.eeh_event_handler(pe)


@mirrors("arch/powerpc/kernel/eeh_event.c", note="one iteration of the eehd loop: dequeue, handle, kfree",
         v61=39, v612=39, v72=39)
def eeh_event_handler(pe):
    if pe is not None:
        yield from K.eeh_handle_normal_event(pe)


@mirrors("arch/powerpc/kernel/eeh_event.c", note="mark the PE recovering, queue the event, wake eehd",
         v61=102, v612=102, v72=102)
def __eeh_send_failure_event(pe):
    pe.state.add("recovering")  # eeh_pe_state_mark(pe, EEH_PE_RECOVERING)
    yield spawn(_eehd, pe, name="eehd")  # list_add + complete(&eeh_eventlist_event)
    return 0


def _pe_of(dev):
    if dev.is_virtfn:
        return EehPe(EEH_PE_VF, dev.bus, vf=dev)
    return EehPe(EEH_PE_BUS, dev.bus)


@op("eeh")
def eeh_event(bdf):
    """``eeh BDF``: the PE of BDF is frozen and the freeze detected (see module docstring)."""
    dev = W.devices.get(bdf)
    if dev is None:  # a VF that was never enabled: no eeh_dev, no PE
        yield note(f"{bdf}: no such function")
        return ENODEV
    return (yield from K.__eeh_send_failure_event(_pe_of(dev)))
