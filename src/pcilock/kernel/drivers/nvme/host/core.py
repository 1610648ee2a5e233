"""drivers/nvme/host/core.c: the controller state machine and the reset work, as the PCI driver uses them.

``struct nvme_ctrl`` (embedded in the PCI driver's ``struct nvme_dev``) is
:class:`NvmeCtrl`.  Its shared fields:

* ``state``: the pair (``ctrl->state``, ``ctrl->state_wq``), the wait queue
  being a completion that every state change completes and replaces.
  ``nvme_change_ctrl_state`` moves the state under the ``ctrl->lock``
  spinlock (one atomic step here, with the kernel's table of allowed moves)
  and wakes the waiters; a waiter's failed attempt returns the wait queue
  current at that step, so it cannot miss a later wake-up.
* ``reset_work``: the kworker running (or about to run) ``ctrl->reset_work``,
  or None when the work is idle.  ``queue_work`` starts a kworker thread
  (:func:`queue_reset_work`), ``flush_work`` joins it.
* ``enabled``: ``ctrl->ctrl_config & NVME_CC_ENABLE`` (the controller enable
  bit the PCI driver sets in ``nvme_pci_enable`` and clears in
  ``nvme_dev_disable``).

These are nvme-internal bookkeeping, not PCI-core state, and every access to
them is marked: the race detector is pointed at PCI-core fields.  (6.1 reads
``ctrl->state`` with plain loads where 6.12/7.2 use ``nvme_ctrl_state()``,
``READ_ONCE``; the model does not report those 6.1 races.)

Waits.  ``nvme_wait_reset`` sleeps on ``state_wq`` until the controller can
move to RESETTING (or reaches a terminal state).  In the model the only task
that moves a controller out of RESETTING/CONNECTING is its reset work, so the
wait joins the reset kworker when there is one (a wait-for edge to that task,
so a cycle through it is a deadlock).  When the state is RESETTING with no work
queued (6.12/7.2 ``nvme_error_detected`` set it and ``nvme_slot_reset`` has not
queued the work yet) it sleeps on ``state_wq``, whose provider is the task that
moved the controller to RESETTING: in every path of the model that task is the
one that queues the reset work next (``nvme_reset_ctrl``; the error recovery's
``nvme_slot_reset``; ``nvme_reset_done`` after its own ``nvme_wait_reset``), so
the waiter waits for it (a deadlock if that task is blocked on the waiter, a
hang if it ends without queueing the work, e.g. a failed recovery).

Workqueue semantics kept: one kworker per ``queue_work``; the kworker starts
only after the queueing step recorded it (so a ``flush_work`` after the queue
always sees it).  Not kept: "already pending" (``queue_work`` returning
false): every queueing in the model happens with the controller moved to
RESETTING by the queuer itself, so no work is pending then.
"""

from __future__ import annotations

from pcilock._engine_imports import (
    Completion,
    Mutex,
    Shared,
    complete,
    complete_all,
    current,
    join,
    read,
    rmw,
    spawn,
    wait_for_completion,
    write,
)
from pcilock.kernel._model import K, mirrors

EBUSY = -16

# enum nvme_ctrl_state (drivers/nvme/host/nvme.h)
NVME_CTRL_NEW, NVME_CTRL_LIVE = "new", "live"
NVME_CTRL_RESETTING, NVME_CTRL_CONNECTING = "resetting", "connecting"
NVME_CTRL_DELETING, NVME_CTRL_DELETING_NOIO, NVME_CTRL_DEAD = "deleting", "deleting-noio", "dead"

# nvme_change_ctrl_state: new state -> the old states it may be entered from
_ALLOWED = {
    NVME_CTRL_LIVE: (NVME_CTRL_CONNECTING,),
    NVME_CTRL_RESETTING: (NVME_CTRL_NEW, NVME_CTRL_LIVE),
    NVME_CTRL_CONNECTING: (NVME_CTRL_NEW, NVME_CTRL_RESETTING),
    NVME_CTRL_DELETING: (NVME_CTRL_LIVE, NVME_CTRL_RESETTING, NVME_CTRL_CONNECTING),
    NVME_CTRL_DELETING_NOIO: (NVME_CTRL_DELETING, NVME_CTRL_DEAD),
    NVME_CTRL_DEAD: (NVME_CTRL_DELETING,),
}
_TERMINAL = (NVME_CTRL_DELETING, NVME_CTRL_DELETING_NOIO, NVME_CTRL_DEAD)
_TO_RESETTING = _ALLOWED[NVME_CTRL_RESETTING]


def _state_wq(pdev, mover=None):
    # mover: the task that moved the controller to RESETTING; it is the one that queues the reset work
    # (nvme_reset_ctrl, nvme_error_detected -> nvme_slot_reset, nvme_wait_reset -> nvme_reset_done), so a
    # waiter on this wait queue waits for it (see module docstring)
    return Completion(f"&ctrl->state_wq {pdev.bdf}", providers=[mover] if mover is not None else None)


def nvme_ctrl_state(ctrl):
    """``nvme_ctrl_state()`` (6.12/7.2 ``READ_ONCE``; 6.1 reads ``ctrl->state``)."""
    return (yield read(ctrl, "state", marked=True))[0]


class NvmeCtrl(Shared):
    """``struct nvme_dev`` with its ``struct nvme_ctrl`` (see module docstring)."""

    _shared_ = {"state": None, "reset_work": None, "enabled": False}

    def __init__(self, pdev, state=NVME_CTRL_NEW, **kw):
        super().__init__(**kw)
        self.pdev = pdev
        self.shutdown_lock = Mutex(f"&dev->shutdown_lock {pdev.bdf}", "&dev->shutdown_lock")
        self.poke("state", (state, _state_wq(pdev)))

    def describe(self):
        return f"nvme ctrl {self.pdev.bdf}"


@mirrors("drivers/nvme/host/core.c", note="under ctrl->lock (a spinlock): one atomic step; wake_up_all("
         "state_wq) on a change; the failfast and requeue side effects take no lock", v61=491, v612=549,
         v72=572)
def nvme_change_ctrl_state(ctrl, new_state):
    allowed = _ALLOWED[new_state]
    fresh = _state_wq(ctrl.pdev, (yield current()) if new_state == NVME_CTRL_RESETTING else None)
    old = yield rmw(ctrl, "state", lambda s: (new_state, fresh) if s[0] in allowed else s)
    if old[0] not in allowed:
        return False
    yield complete_all(old[1])  # wake_up_all(&ctrl->state_wq)
    return True


@mirrors("drivers/nvme/host/core.c", note="6.1: static in core.c, plain ctrl->state", v61=589)
def nvme_state_terminal(ctrl):
    return (yield from nvme_ctrl_state(ctrl)) in _TERMINAL


@mirrors("drivers/nvme/host/nvme.h", note="6.12/7.2: inline, nvme_ctrl_state()", v612=756, v72=856)
def nvme_state_terminal(ctrl):  # noqa: F811
    return (yield from nvme_ctrl_state(ctrl)) in _TERMINAL


@mirrors("drivers/nvme/host/core.c", note="wait_event(state_wq, change to RESETTING || terminal): joins "
         "the reset kworker (see module docstring)", v61=611, v612=648, v72=672)
def nvme_wait_reset(ctrl):
    while True:
        # the condition, evaluated as nvme_change_ctrl_state does; on failure the wait queue of that step
        old = yield rmw(ctrl, "state", _to_resetting(_state_wq(ctrl.pdev, (yield current()))))
        if old[0] in _TO_RESETTING:
            yield complete_all(old[1])
            break
        if old[0] in _TERMINAL:  # nvme_state_terminal
            break
        worker = yield read(ctrl, "reset_work", marked=True)
        if worker is not None:
            yield join(worker)
        else:
            yield wait_for_completion(old[1])
    return (yield from nvme_ctrl_state(ctrl)) == NVME_CTRL_RESETTING


def _to_resetting(fresh):
    return lambda s: (NVME_CTRL_RESETTING, fresh) if s[0] in _TO_RESETTING else s


def _reset_kworker(ctrl, go):
    """Model-only: the kworker of one queueing of ``ctrl->reset_work`` (nvme_reset_wq)."""
    yield wait_for_completion(go)
    me = yield current()
    yield from K.nvme_reset_work(ctrl)
    yield rmw(ctrl, "reset_work", lambda w: None if w is me else w)


def queue_reset_work(ctrl):
    """``queue_work(nvme_reset_wq, &ctrl->reset_work)`` (model-only helper; see module docstring)."""
    me = yield current()
    go = Completion(f"queue_work reset_work {ctrl.pdev.bdf}", providers=[me])
    t = yield spawn(_reset_kworker, ctrl, go, name=f"kworker nvme-reset {ctrl.pdev.bdf}")
    yield write(ctrl, "reset_work", t, marked=True)
    yield complete(go)
    return True


def flush_reset_work(ctrl):
    """``flush_work(&ctrl->reset_work)``: sleep until the queued or running reset work finished."""
    worker = yield read(ctrl, "reset_work", marked=True)
    if worker is not None:
        yield join(worker)


@mirrors("drivers/nvme/host/core.c", v61=144, v612=165, v72=171)
def nvme_try_sched_reset(ctrl):
    if (yield from nvme_ctrl_state(ctrl)) != NVME_CTRL_RESETTING:
        return EBUSY
    if not (yield from queue_reset_work(ctrl)):
        return EBUSY
    return 0


@mirrors("drivers/nvme/host/core.c", v61=186, v612=207, v72=213)
def nvme_reset_ctrl(ctrl):
    if not (yield from K.nvme_change_ctrl_state(ctrl, NVME_CTRL_RESETTING)):
        return EBUSY
    if not (yield from queue_reset_work(ctrl)):
        return EBUSY
    return 0
