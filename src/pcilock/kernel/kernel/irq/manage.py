"""kernel/irq/manage.c, handle.c and chip.c: threaded interrupts on a possibly shared vector.

What is modelled
----------------
An :class:`IrqDesc` (``struct irq_desc``) is one interrupt vector.  Several
actions (:class:`IrqAction`, ``struct irqaction``) may sit on it: a PCIe
port's services request their interrupts with ``IRQF_SHARED`` on the vector
``pcie_port_device_register`` gave them, and for a port with one MSI vector
(the configuration :mod:`pcilock.kernel.drivers.pci.pcie.portdrv` assumes)
PME, AER, pciehp and DPC share it.  Each threaded action has its own IRQ
thread, as each ``struct irqaction`` has its own kthread in the kernel.

State.  The descriptor's shared field ``actions`` is ``desc->action`` (the
linked actions, in request order); its field ``flow`` (:class:`FlowState`)
holds ``IRQD_IRQ_INPROGRESS`` (the hard-IRQ run in progress) and
``IRQS_PENDING``.  Each action's field ``st`` (:class:`IrqState`) holds
``IRQTF_RUNTHREAD``, the model thread being its IRQ thread, whether it is
still linked, and its share of ``desc->threads_active`` (``active``: one per
RUNTHREAD set by ``__irq_wake_thread``, in the same step, and dropped by the
thread's ``wake_threads_waitq`` after the handler run it stood for).
``threads_active`` is the sum of the shares.  Every change is one atomic
``rmw``, as it is one critical section under ``desc->lock`` or one atomic
operation in the kernel.  ``desc->lock`` itself is taken where it orders the
publication of an action (``request_threaded_irq``) before a hard IRQ that
runs it (``handle_edge_irq``); elsewhere its critical sections are the
``rmw`` steps.

Threads.  The real IRQ thread is a kthread sleeping between interrupts.  A
model thread that sleeps forever would be reported as a hang, so the model
creates the thread lazily: whoever wakes an action whose thread slot is free
(``__irq_wake_thread`` from a hard IRQ, ``irq_wake_thread`` from a task)
starts a new model thread ``irq/<action name>`` that runs :func:`irq_thread`
until no wake-up is pending, then gives the slot back.  A wake-up while the
thread runs sets RUNTHREAD and the running thread runs the handler once more
(``irq_wait_for_interrupt``), so the handlers of one action never run
concurrently, exactly as with the single kthread.  Its program order is kept
across the model threads that play it (``IrqAction.thread_handoff``).
Threads woken by a hard IRQ start when its edge loop is over (the model
thread waits for the completion that ends the run): the primary handlers run
with interrupts off and take microseconds, and without that order the model,
which has no notion of time, explores each remaining primary handler of the
vector (``pciehp_isr`` reading Slot Status, ...) delayed past a whole IRQ
thread's error recovery.  What is left out is a woken thread running during
the last register accesses of the hard IRQ that woke it; another interrupt
of the vector at any later point is explored.  One shortcut: a hard-IRQ model
thread that wakes an action whose thread function begins with
``synchronize_hardirq`` (pciehp's ``pciehp_ist``: see ``_BECOME``) goes on as
that action's IRQ thread itself instead of starting a new thread (the kthread
would wait for that loop anyway; the only earlier step, pciehp's
``ist_running = true``, is read by a waiter only after the events this loop
hands over are consumed).

Hardware interrupts.  :func:`raise_irq` (not a kernel function: the device
sends the MSI of the vector) starts a model thread ``hardirq/<vector name>``,
the CPU taking it: ``handle_edge_irq`` under ``desc->lock`` (a mutex whose
holder never sleeps: it orders the handlers after ``request_threaded_irq``,
which links the action under the same lock); if a hard IRQ of the vector is
already in progress it only sets IRQS_PENDING and that CPU runs
``handle_irq_event`` again, so the primary handlers of a vector never run
twice at once.  ``handle_irq_event`` runs the primary handler of *every*
linked action (``__handle_irq_event_percpu``) and ``__irq_wake_thread`` for
each that returns IRQ_WAKE_THREAD.  The first round reads the action list
inside the ``desc->lock`` section that marks the run in progress (the kernel
reads it just after dropping the lock: a ``free_irq`` unlinking in between
then waits for this run either way); each further round (IRQS_PENDING) reads it
again.  An interrupt with no action linked runs nothing (the kernel sets
IRQS_PENDING and masks; a replay of it when an action is requested again is
not modelled).

Waiting for handlers.  ``__synchronize_hardirq`` waits for the end of the
hard-IRQ run in progress (a completion whose provider is the hard-IRQ model
thread, completed when its edge loop ends: an edge of the wait-for graph).
``synchronize_irq`` (all bases) and ``__synchronize_irq`` (v6.12, v7.2)
then wait until ``threads_active`` is 0 (``wait_event(wait_for_threads)``):
the model joins the IRQ thread of an action with a share, until a pass over
the vector's actions finds none, so the wait is for every IRQ thread of the
vector, of every action.  (The pass reads the actions one at a time where the
kernel reads one counter: an interleaving in which one thread is woken behind
the pass while another ends ahead of it lets the model's waiter go on where
the kernel's would still sleep.)

``free_irq`` (``__free_irq``) unlinks the action and then, per base:

* v6.1 (manage.c 1866): ``__synchronize_hardirq`` and ``kthread_stop`` of the
  freed action's own thread only (which runs a pending handler once more);
* v6.12 (1892), v7.2 (1859): ``__synchronize_irq(desc)`` (manage.c 6.12:1967,
  7.2:1935), i.e. also ``threads_active == 0`` for the whole vector, then
  ``kthread_stop`` of its own thread.  So on a shared vector ``free_irq`` of
  one action waits for the running IRQ threads of the *other* actions too.

On a vector with a single action both wait for the same thing.

Not modelled: ``IRQF_ONESHOT`` masking (no port service requests it, MSI
chips are ONESHOT-safe), ``disable_irq``/``enable_irq`` and pciehp's
RERUN_ISR path (ports are never runtime suspended in the model), forced
threading, secondary threads, affinity, v7.2's ``synchronize_irqwork``
(interrupt redirection: never used here), ``desc->request_mutex`` (held by
``request_threaded_irq`` and across all of ``__free_irq``; the port services
of one vector are requested and freed by one task at a time, the port's
probe or remove under its ``device_lock``, so it never blocks in the model),
and CONFIG_DEBUG_SHIRQ's extra handler call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pcilock._engine_imports import (
    Completion,
    Mutex,
    Shared,
    complete,
    complete_all,
    current,
    join,
    lock,
    note,
    read,
    rmw,
    spawn,
    try_wait_for_completion,
    unlock,
    wait_for_completion,
)
from pcilock.kernel._model import K, mirrors

IRQ_NONE, IRQ_HANDLED, IRQ_WAKE_THREAD = 0, 1, 2
IRQF_SHARED = 0x80  # include/linux/interrupt.h
EBUSY = -16

# model-only: thread functions whose first step that matters is synchronize_hardirq() of their own
# vector (pciehp_ist: pciehp_hpc.c 6.1:711, 6.12:714, 7.2:746), so the hard-IRQ model thread that
# woke them may go on as their IRQ thread (see the module docstring)
_BECOME = ("pciehp_ist",)


@dataclass(frozen=True)
class FlowState:
    inprogress: object = None  # IRQD_IRQ_INPROGRESS: the Completion ending the hard-IRQ run in progress
    pending: bool = False  # IRQS_PENDING: an interrupt came while the hard IRQ was in progress


@dataclass(frozen=True)
class IrqState:
    linked: bool = True  # on desc->action (between request_threaded_irq and __free_irq)
    runthread: bool = False  # IRQTF_RUNTHREAD
    thread: object = None  # the model thread currently being the IRQ thread, or None
    active: int = 0  # this action's share of desc->threads_active (RUNTHREAD sets not yet handled)


class IrqAction(Shared):
    """``struct irqaction``: a handler pair on a vector and the state of its IRQ thread."""

    _shared_ = {"st": IrqState}

    def __init__(self, name, handler, thread_fn, dev_id, flags=IRQF_SHARED, **kw):
        super().__init__(**kw)
        self.name = name  # "pciehp 0000:00:1c.0" (the kthread is irq/N-pciehp)
        self.handler = handler  # name of the primary handler in K
        self.thread_fn = thread_fn  # name of the thread function in K, or None (request_irq)
        self.dev_id = dev_id
        self.flags = flags
        self.desc = None  # the vector it was requested on
        self.stopped = False  # model-only: its thread was stopped by __free_irq (no share any more)
        # model-only: the program order of the one real kthread, carried from one model thread being
        # the IRQ thread to the next (completed before the slot is given back, consumed on claiming it)
        self.thread_handoff = Completion(f"irq thread {name}")

    def describe(self):
        return f"irqaction {self.name}"


class IrqDesc(Shared):
    """``struct irq_desc`` of one vector: its number, ``desc->lock``, the actions and the flow state.

    ``all_actions`` (model-only, append-only) lists every action ever requested on the vector;
    the shared field ``actions`` (``desc->action``) says which are linked.
    """

    _shared_ = {"actions": (), "flow": FlowState}

    def __init__(self, irq, name, **kw):
        super().__init__(**kw)
        self.irq = irq
        self.name = name
        self.lock = Mutex(f"&desc->lock {name}", "irq_desc_lock_class")
        self.all_actions = []

    def describe(self):
        return f"irq_desc {self.irq} ({self.name})"

    # model-only: the first linked action (for boot code and tests); assigning links an action as
    # request_threaded_irq would have at boot, without model steps
    @property
    def action(self):
        acts = self.peek("actions")
        return acts[0] if acts else None

    @action.setter
    def action(self, action):
        action.desc = self
        self.all_actions.append(action)
        self.poke("actions", self.peek("actions") + (action,))


def new_irq_desc(attrs, name):
    """Allocate an interrupt vector (pci_alloc_irq_vectors) for one execution's world."""
    descs = attrs.setdefault("irq_descs", [])
    desc = IrqDesc(len(descs) + 24, name)
    descs.append(desc)
    return desc


# -- hard IRQ ------------------------------------------------------------------------------------

def _edge_start(run):
    # irq_can_handle: a hard IRQ in progress: IRQS_PENDING, nothing runs here.  (No action linked:
    # the kernel also only sets PENDING; the model runs the empty action list, which does nothing.)
    def f(s):
        if s.inprogress is not None:
            return replace(s, pending=True)
        return FlowState(inprogress=run)

    return f


def _edge_again(s):
    # the loop condition of handle_edge_irq: IRQS_PENDING runs handle_irq_event again (which
    # clears PENDING); otherwise IRQD_IRQ_INPROGRESS is cleared
    if s.pending:
        return replace(s, pending=False)
    return FlowState()


def _claim(runner, fresh, check_linked):
    """The decision of __irq_wake_thread: set RUNTHREAD (and count it in threads_active) for
    *runner*: the running IRQ thread the caller saw, or a new one (*fresh*: the caller itself or a
    thread it just started) that takes the free slot.  If the slot changed since the caller looked,
    nothing changes and the caller tries again.
    """

    def f(s):
        if (check_linked and not s.linked) or s.runthread:
            return s
        if s.thread is None:
            return replace(s, runthread=True, thread=runner, active=s.active + 1) if fresh else s
        if s.thread is runner and not fresh:
            return replace(s, runthread=True, active=s.active + 1)
        return s

    return f


def _wake(action, may_become, check_linked, start=None):
    """test_and_set_bit(RUNTHREAD) + atomic_inc(threads_active) + the wake-up (model threads).

    A new model thread starts when *start* is completed: the end of the calling hard IRQ's run
    (see the module docstring), or at once from task context.  Returns True when the calling
    model thread became the action's IRQ thread.
    """
    me = yield current()
    while True:
        st = yield read(action, "st", marked=True)
        if (check_linked and not st.linked) or st.runthread:
            return False  # freed (task context), or a wake-up is already pending
        go = None
        fresh = st.thread is None
        if not fresh:
            runner = st.thread
        elif may_become:
            runner = me
        else:
            go = start if start is not None else Completion(f"irq thread start {action.name}", providers=[me])
            runner = yield spawn(_woken, action, go, name=f"irq/{action.name}")
        old = yield rmw(action, "st", _claim(runner, fresh, check_linked))
        stopped = (check_linked and not old.linked) or old.runthread
        claimed = not stopped and old.thread is (None if fresh else runner)
        if go is not None and start is None:
            yield complete(go)  # the new thread starts; it ends at once if it did not get the slot
        if claimed:
            return fresh and runner is me
        if stopped:
            return False
        # the thread slot changed between the read and the claim: try again


@mirrors("kernel/irq/handle.c", note="from a hard IRQ: test_and_set RUNTHREAD, threads_active++, wake the "
         "action's thread (a new model thread starts when *run*, the hard IRQ's run, ends); the calling "
         "model thread may become it (see _BECOME)", v61=61, v612=61, v72=61)
def __irq_wake_thread(desc, action, run, may_become=False):
    return (yield from _wake(action, may_become, False, run))


@mirrors("kernel/irq/handle.c", note="handle_irq_event -> __handle_irq_event_percpu: every linked action's "
         "primary handler (the list read once, without desc->lock), its thread woken on IRQ_WAKE_THREAD; "
         "INPROGRESS is set and cleared by handle_edge_irq's steps", v61=202, v612=202, v72=255)
def handle_irq_event(desc, run, may_become, actions=None):
    if actions is None:
        actions = yield read(desc, "actions", marked=True)
    became = None
    for action in actions:
        res = yield from getattr(K, action.handler)(desc.irq, action.dev_id)
        if res == IRQ_WAKE_THREAD and action.thread_fn is not None:
            become = may_become and became is None and action.thread_fn in _BECOME
            if (yield from K.__irq_wake_thread(desc, action, run, become)):
                became = action
    return became


@mirrors("kernel/irq/chip.c", note="MSI flow handler: under desc->lock, a hard IRQ in progress only sets "
         "IRQS_PENDING; else handle_irq_event until no interrupt is pending", v61=775, v612=787, v72=827)
def handle_edge_irq(desc):
    me = yield current()
    run = Completion(f"hardirq {desc.name}", providers=[me])  # the end of this run (INPROGRESS cleared)
    yield lock(desc.lock)
    old = yield rmw(desc, "flow", _edge_start(run))
    actions = yield read(desc, "actions", marked=True)
    yield unlock(desc.lock)
    if old.inprogress is not None:
        return None  # the CPU handling it runs the handlers again
    became = None
    while True:
        b = yield from K.handle_irq_event(desc, run, became is None, actions)
        actions = None
        became = became or b
        old = yield rmw(desc, "flow", _edge_again)
        if not old.pending:
            break
    yield complete_all(run)
    return became


def _hardirq(desc):
    """Model thread: a CPU taking the interrupt, then possibly being one action's IRQ thread."""
    became = yield from K.handle_edge_irq(desc)
    if became is not None:
        yield from K.irq_thread(became)


def raise_irq(desc):
    """The device signals its interrupt (not a kernel function): start the hard-IRQ model thread."""
    return spawn(_hardirq, desc, name=f"hardirq/{desc.name}")


# -- waiting for handlers ----------------------------------------------------------------------------

@mirrors("kernel/irq/manage.c", note="wait until no hard IRQ of the vector is in progress (the end of the "
         "run in progress, re-checked); the in-flight check at the chip is not modelled",
         v61=38, v612=39, v72=50)
def __synchronize_hardirq(desc, sync_chip):
    while True:
        flow = yield read(desc, "flow", marked=True)
        if flow.inprogress is None:
            return
        yield wait_for_completion(flow.inprogress)


@mirrors("kernel/irq/manage.c", note="__synchronize_hardirq(desc, false); the return value "
         "(!threads_active) is used by no caller in the model and not computed", v61=98, v612=99, v72=105)
def synchronize_hardirq(desc):
    yield from K.__synchronize_hardirq(desc, False)
    return True


def _wait_for_threads(desc):
    # wait_event(desc->wait_for_threads, !atomic_read(&desc->threads_active)): threads_active is
    # the sum of the actions' shares; join the thread of an action with a share, until a pass over
    # the actions finds none (a pass reads them one at a time, the kernel reads one counter)
    while True:
        busy = None
        for action in list(desc.all_actions):
            if action.thread_fn is None or action.stopped:
                continue
            st = yield read(action, "st", marked=True)
            if st.active:
                busy = st.thread
                break
        if busy is None:
            return
        yield join(busy)


@mirrors("kernel/irq/manage.c", note="6.12/7.2: hard IRQs, then threads_active == 0 (every IRQ thread of "
         "the vector)", v612=112, v72=118)
def __synchronize_irq(desc):
    # 7.2: synchronize_irqwork(desc) first (interrupt redirection: never used here)
    yield from K.__synchronize_hardirq(desc, True)
    yield from _wait_for_threads(desc)


@mirrors("kernel/irq/manage.c", note="6.1: __synchronize_hardirq, then threads_active == 0", v61=126)
def synchronize_irq(desc):
    yield from K.__synchronize_hardirq(desc, True)
    yield from _wait_for_threads(desc)


@mirrors("kernel/irq/manage.c", note="6.12/7.2: __synchronize_irq", v612=137, v72=145)
def synchronize_irq(desc):  # noqa: F811
    yield from K.__synchronize_irq(desc)


# -- the IRQ thread --------------------------------------------------------------------------------

def _take_or_exit(done):
    # wake_threads_waitq after a handler run (*done*: this action's share of threads_active drops),
    # then irq_wait_for_interrupt's test_and_clear of RUNTHREAD, or the slot is given back; one
    # step: no waiter can tell the two apart (the share counts a pending RUNTHREAD either way)
    def f(s):
        active = s.active - 1 if done else s.active
        if s.runthread:
            return replace(s, runthread=False, active=active)
        return replace(s, thread=None, active=active)

    return f


@mirrors("kernel/irq/manage.c", note="irq_thread + irq_wait_for_interrupt: run the handler while "
         "RUNTHREAD is set (test_and_clear), wake_threads_waitq (manage.c 6.1:1213, 6.12:1228, 7.2:1172) "
         "after each run, then give the thread slot back", v61=1286, v612=1306, v72=1244)
def irq_thread(action):
    yield try_wait_for_completion(action.thread_handoff)  # model-only, see IrqAction
    done = False
    while True:
        yield complete_all(action.thread_handoff)
        old = yield rmw(action, "st", _take_or_exit(done))
        if not old.runthread:
            return
        yield from getattr(K, action.thread_fn)(action.dev_id)
        done = True


def _woken(action, go):
    yield wait_for_completion(go)
    me = yield current()
    st = yield read(action, "st", marked=True)
    if st.thread is me:
        yield from K.irq_thread(action)


@mirrors("kernel/irq/manage.c", note="called from task context (pciehp_request): find the linked action by "
         "dev_id (none once freed: a silent no-op), __irq_wake_thread; a new model thread is started when "
         "no IRQ thread runs", v61=1337, v612=1354, v72=1293)
def irq_wake_thread(desc, dev_id):
    actions = yield read(desc, "actions", marked=True)
    for action in actions:
        if action.dev_id is dev_id:
            if action.thread_fn is not None:
                yield from _wake(action, False, True)
            return


# -- request / free ----------------------------------------------------------------------------------

@mirrors("kernel/irq/manage.c", note="__setup_irq: a shared vector needs IRQF_SHARED on every action "
         "(else -EBUSY); link the action under desc->lock (request_mutex, chip_bus_lock and the kthread "
         "creation not modelled: the thread is made when first woken)", v61=2138, v612=2161, v72=2123)
def request_threaded_irq(desc, handler, thread_fn, irqflags, devname, dev_id):
    action = IrqAction(devname, handler, thread_fn, dev_id, irqflags)
    action.desc = desc

    def link(acts):
        if acts and not all(a.flags & irqflags & IRQF_SHARED for a in acts):
            return acts  # mismatch
        return acts + (action,)

    yield lock(desc.lock)
    old = yield rmw(desc, "actions", link)
    yield unlock(desc.lock)
    if old and not all(a.flags & irqflags & IRQF_SHARED for a in old):
        return EBUSY
    desc.all_actions.append(action)
    return 0


@mirrors("include/linux/interrupt.h", note="request_threaded_irq(irq, handler, NULL, ...)",
         v61=165, v612=171, v72=173)
def request_irq(desc, handler, flags, name, dev):
    return (yield from K.request_threaded_irq(desc, handler, None, flags, name, dev))


def _unlink(desc, dev_id):
    """__free_irq's first part under desc->lock: find the action by dev_id and take it off the list."""

    def take(acts):
        return tuple(a for a in acts if a.dev_id is not dev_id)

    old = yield rmw(desc, "actions", take)
    action = next((a for a in old if a.dev_id is dev_id), None)
    if action is not None:
        yield rmw(action, "st", lambda s: replace(s, linked=False))
    if action is None:
        yield note(f"irq {desc.irq}: trying to free already-free IRQ")  # WARN(1, ...)
    return action


def _kthread_stop(action):
    # kthread_stop (6.1) / irq_stop_thread (6.12) / kthread_stop_put (7.2) of the action's own thread:
    # it runs a pending handler once more, then exits
    if action.thread_fn is None:
        return
    st = yield read(action, "st", marked=True)
    if st.thread is not None:
        yield join(st.thread)
    action.stopped = True
    # whatever the IRQ thread did before it went to sleep happens before (model-only hand-off, see
    # IrqAction: the model thread that last was the IRQ thread may have ended already)
    yield try_wait_for_completion(action.thread_handoff)


@mirrors("kernel/irq/manage.c", note="6.1: unlink, __synchronize_hardirq, kthread_stop of this action's "
         "thread only", v61=1866)
def __free_irq(desc, dev_id):
    action = yield from _unlink(desc, dev_id)
    if action is None:
        return None
    yield from K.__synchronize_hardirq(desc, True)
    yield from _kthread_stop(action)
    return action


@mirrors("kernel/irq/manage.c", note="6.12/7.2: unlink, __synchronize_irq (every IRQ thread of the "
         "vector: 6.12:1967, 7.2:1935), then stop this action's thread", v612=1892, v72=1859)
def __free_irq(desc, dev_id):  # noqa: F811
    action = yield from _unlink(desc, dev_id)
    if action is None:
        return None
    yield from K.__synchronize_irq(desc)
    yield from _kthread_stop(action)
    return action


@mirrors("kernel/irq/manage.c", v61=2018, v612=2041, v72=2006)
def free_irq(desc, dev_id):
    action = yield from K.__free_irq(desc, dev_id)
    return action
