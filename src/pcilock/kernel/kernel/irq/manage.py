"""kernel/irq/manage.c and kernel/irq/handle.c: threaded interrupts, as pciehp uses them.

What is modelled
----------------
One :class:`IrqDesc` per interrupt line a model driver requests (pciehp asks
for one per hotplug port, MSI/MSI-X: the port's vector is not shared with a
threaded handler of another device), holding one :class:`IrqAction`.  The
action's state that the kernel keeps in ``action->thread_flags`` (RUNTHREAD),
``desc->threads_active``, the ``desc->action`` list (linked or unlinked by
``__free_irq``) and the hard handlers in progress (``IRQD_IRQ_INPROGRESS``) is
one shared field ``st`` changed only by atomic ``rmw`` operations, so each
decision below is one step, as it is one critical section under
``desc->lock`` in the kernel.

Threads.  The real IRQ thread is one kthread per action, created by
``request_threaded_irq`` and sleeping between interrupts.  A model thread that
sleeps forever would be reported as a hang at the end of every execution, so
the model creates the thread lazily: the task that wakes the IRQ thread while
none is running *claims* the thread slot in ``st`` and a new model thread
(named ``irq/<name>``) runs :func:`irq_thread` until no wake-up is pending,
then gives the slot back.  A wake-up while the thread runs sets RUNTHREAD and
the running thread runs the handler once more (``irq_wait_for_interrupt``), so
handlers of one action never run concurrently, exactly as with the single
kthread.  The program order of that one kthread is kept across the model
threads that play it (a completion completed before the slot is given back and
consumed by the next claimer, and by ``free_irq`` as ``kthread_stop`` does), so
the race detector sees what the real thread orders.

Hardware interrupts.  :func:`raise_irq` (not a kernel function: it is the
device asserting its MSI) starts a model thread ``hardirq/<name>`` that plays
the CPU taking the interrupt: ``handle_edge_irq`` (MSI) takes ``desc->lock``
(a raw spinlock, modelled as a mutex whose holder never sleeps: it orders the
handler after ``request_threaded_irq``, which publishes the action under the
same lock), and if a handler of the line is already in progress on another
CPU only marks the interrupt pending (IRQS_PENDING) and returns: the CPU in
progress runs ``handle_irq_event`` again, so the primary handler of a line
never runs twice at once.  ``handle_irq_event`` runs the primary handler (for
pciehp: ``pciehp_isr``, which takes no sleeping lock) and on IRQ_WAKE_THREAD
``__irq_wake_thread``; if that claims the thread slot the same model thread
goes on as the IRQ thread once its edge loop is over (the kernel's kthread
would start on another CPU at once, but every IRQ thread of the model begins
with ``synchronize_hardirq``, waiting for that loop anyway, and does nothing
shared before it except pciehp's ``ist_running = true``, which a waiter only
reads once the events this loop hands over are consumed).  An interrupt
raised after ``__free_irq`` unlinked the action runs no handler.
``synchronize_hardirq`` waits (a ``join``) for the hard handler in progress.

``free_irq`` unlinks the action, then waits (a ``join``, so the wait is an
edge of the wait-for graph) for every hard handler in progress at that moment
and for the IRQ thread, which runs every pending handler before it ends.
v6.1 (``__synchronize_hardirq`` + ``kthread_stop``) and v6.12/v7.2
(``__synchronize_irq``: ``threads_active == 0`` for the whole descriptor,
e2c12739ccf7) wait for the same thing when the line is not shared with
another threaded handler, which is the only configuration modelled (shared
INTx lines are not).

Not modelled: ``IRQF_ONESHOT`` masking, ``disable_irq``/``enable_irq`` and the
pciehp RERUN_ISR path (ports are never runtime suspended in the model),
forced threading, secondary threads, affinity, ``desc->request_mutex`` (taken
by request and free only), ``desc->lock`` in ``irq_wake_thread`` and
``__free_irq`` (the atomic ``st`` steps are their critical sections; no
ordering the model needs comes from them).
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


@dataclass(frozen=True)
class IrqState:
    linked: bool = True  # the action is on desc->action (between request_threaded_irq and __free_irq)
    runthread: bool = False  # IRQTF_RUNTHREAD
    thread: object = None  # the model thread currently being the IRQ thread, or None
    inprogress: tuple = ()  # the model thread running the primary handler (IRQD_IRQ_INPROGRESS): 0 or 1
    pending: bool = False  # IRQS_PENDING: an interrupt came while the handler was in progress


class IrqAction(Shared):
    """``struct irqaction`` plus the per-action part of ``struct irq_desc``."""

    _shared_ = {"st": IrqState}

    def __init__(self, name, handler, thread_fn, dev_id, **kw):
        super().__init__(**kw)
        self.name = name  # "pciehp 0000:00:1c.0" (the kthread is irq/N-pciehp)
        self.handler = handler  # name of the primary handler in K
        self.thread_fn = thread_fn  # name of the thread function in K
        self.dev_id = dev_id
        # model-only: the program order of the one real kthread, carried from one model thread being
        # the IRQ thread to the next (completed before the slot is given back, consumed on claiming it)
        self.thread_handoff = Completion(f"irq thread {name}")

    def describe(self):
        return f"irqaction {self.name}"


class IrqDesc:
    """``struct irq_desc`` of one (MSI) vector: its number, ``desc->lock`` and its action.

    ``action`` is written (``request_threaded_irq``) and read (``handle_edge_irq``) under
    ``lock``; model code outside this module reads it only to test whether a driver set up the
    line (``hw.irq.action is not None``) or at boot.
    """

    def __init__(self, irq, name):
        self.irq = irq
        self.name = name
        self.action = None
        self.lock = Mutex(f"&desc->lock {name}", "irq_desc_lock_class")


def new_irq_desc(attrs, name):
    """Allocate an interrupt vector (pci_alloc_irq_vectors) for one execution's world."""
    descs = attrs.setdefault("irq_descs", [])
    desc = IrqDesc(len(descs) + 24, name)
    descs.append(desc)
    return desc


def _claim(me):
    """The decision of __irq_wake_thread, atomically; *me* may become the IRQ thread."""

    def f(s):
        if not s.linked and me not in s.inprogress:
            return s
        if s.runthread:
            return s
        if s.thread is None:
            return replace(s, runthread=True, thread=me)
        return replace(s, runthread=True)

    return f


def _edge_start(me):
    # irq_can_handle: a handler in progress or no action: IRQS_PENDING, nothing runs here
    def f(s):
        if not s.linked or s.inprogress:
            return replace(s, pending=True)
        return replace(s, inprogress=(me,), pending=False)

    return f


def _edge_again(me):
    # the loop condition of handle_edge_irq: IRQS_PENDING (and the action still there) runs the
    # handler again (handle_irq_event clears PENDING); otherwise IRQD_IRQ_INPROGRESS is cleared
    def f(s):
        if s.pending and s.linked:
            return replace(s, pending=False)
        return replace(s, inprogress=tuple(t for t in s.inprogress if t is not me))

    return f


def _take_or_exit(s):
    if s.runthread:
        return replace(s, runthread=False)
    return replace(s, thread=None)


@mirrors("kernel/irq/handle.c", note="the wake-up of the IRQ thread by a primary handler that returned "
         "IRQ_WAKE_THREAD; the thread slot may be claimed by the calling model thread", v61=61, v612=61,
         v72=61)
def __irq_wake_thread(desc, action):
    me = yield current()
    old = yield rmw(action, "st", _claim(me))
    became = old.thread is None and not old.runthread and (old.linked or me in old.inprogress)
    return became


@mirrors("kernel/irq/handle.c", note="handle_irq_event -> __handle_irq_event_percpu: run the primary "
         "handler of the (single) action, wake its thread on IRQ_WAKE_THREAD; INPROGRESS is set and "
         "cleared by handle_edge_irq's steps", v61=202, v612=202, v72=255)
def handle_irq_event(desc):
    action = desc.action
    res = yield from getattr(K, action.handler)(desc.irq, action.dev_id)
    if res == IRQ_WAKE_THREAD:
        return (yield from K.__irq_wake_thread(desc, action))
    return False


@mirrors("kernel/irq/chip.c", note="MSI flow handler: under desc->lock, a handler in progress (or no "
         "action) only marks the interrupt pending; else handle_irq_event until no interrupt is pending",
         v61=775, v612=787, v72=827)
def handle_edge_irq(desc):
    me = yield current()
    yield lock(desc.lock)
    action = desc.action
    if action is None:
        yield unlock(desc.lock)
        yield note(f"irq {desc.irq}: no action")
        return False
    old = yield rmw(action, "st", _edge_start(me))
    yield unlock(desc.lock)
    if not old.linked:
        yield note(f"irq {desc.irq}: no action (freed)")
        return False
    if old.inprogress:
        return False  # the CPU handling it runs the handler again
    became = False
    while True:
        became = (yield from K.handle_irq_event(desc)) or became
        old = yield rmw(action, "st", _edge_again(me))
        if not (old.pending and old.linked):
            return became


def _hardirq(desc):
    """Model thread: a CPU taking the interrupt, then possibly being the IRQ thread."""
    became = yield from K.handle_edge_irq(desc)
    if became:
        yield from K.irq_thread(desc.action)


def raise_irq(desc):
    """The device signals its interrupt (not a kernel function): start the hard-IRQ model thread."""
    return spawn(_hardirq, desc, name=f"hardirq/{desc.name}")


@mirrors("kernel/irq/manage.c", note="wait while a hard handler of the line is in progress (a join of the "
         "model thread running it); it cannot become the IRQ thread: the caller is that thread",
         v61=98, v612=99, v72=105)
def synchronize_hardirq(desc):
    action = desc.action
    if action is None:
        return True
    st = yield read(action, "st", marked=True)
    for t in st.inprogress:
        yield join(t)
    return True


@mirrors("kernel/irq/manage.c", note="irq_thread + irq_wait_for_interrupt: run the handler while "
         "RUNTHREAD is set (test_and_clear), then give the thread slot back", v61=1286, v612=1306, v72=1244)
def irq_thread(action):
    yield try_wait_for_completion(action.thread_handoff)  # model-only, see IrqAction
    while True:
        yield complete_all(action.thread_handoff)
        old = yield rmw(action, "st", _take_or_exit)
        if not old.runthread:
            return
        yield from getattr(K, action.thread_fn)(action.dev_id)
        # wake_threads_waitq(): threads_active-- (its only waiter, free_irq, joins this thread)


def _woken(action, go):
    yield wait_for_completion(go)
    me = yield current()
    st = yield read(action, "st", marked=True)
    if st.thread is me:
        yield from K.irq_thread(action)


@mirrors("kernel/irq/manage.c", note="called from task context (pciehp_request): find the action "
         "(none once freed: a silent no-op), __irq_wake_thread; a new model thread is started when no "
         "IRQ thread runs", v61=1337, v612=1354, v72=1293)
def irq_wake_thread(desc, dev_id):
    action = desc.action
    if action is None or action.dev_id is not dev_id:
        return
    st = yield read(action, "st", marked=True)
    if not st.linked or st.runthread:
        return  # no action any more, or a wake-up is already pending for the running thread
    me = yield current()
    go = Completion(f"irq thread start {action.name}", providers=[me])
    t = yield spawn(_woken, action, go, name=f"irq/{action.name}")

    def f(s):
        if not s.linked or s.runthread:
            return s
        if s.thread is None:
            return replace(s, runthread=True, thread=t)
        return replace(s, runthread=True)

    yield rmw(action, "st", f)
    yield complete(go)


@mirrors("kernel/irq/manage.c", v61=2138, v612=2161, v72=2123)
def request_threaded_irq(desc, handler, thread_fn, name, dev_id):
    # __setup_irq: allocate the action, create the kthread (lazily in the model), link it under
    # desc->lock (request_mutex and chip_bus_lock: not modelled)
    action = IrqAction(name, handler, thread_fn, dev_id)
    yield lock(desc.lock)
    desc.action = action
    yield unlock(desc.lock)
    return 0


@mirrors("kernel/irq/manage.c", note="unlink, then v6.1 __synchronize_hardirq + kthread_stop / "
         "v6.12,v7.2 __synchronize_irq + kthread_stop: wait for the hard handlers in progress and for "
         "the IRQ thread (see module docstring)", v61=1866, v612=1892, v72=1859)
def __free_irq(desc, dev_id):
    action = desc.action
    if action is None:
        return None
    old = yield rmw(action, "st", lambda s: replace(s, linked=False))
    waits = list(old.inprogress)
    if old.thread is not None and old.thread not in waits:
        waits.append(old.thread)
    for t in waits:
        yield join(t)
    # kthread_stop: whatever the IRQ thread did before it went to sleep happens before (model-only
    # hand-off, see IrqAction: the model thread that last was the IRQ thread may have ended already)
    yield try_wait_for_completion(action.thread_handoff)
    return action


@mirrors("kernel/irq/manage.c", v61=2018, v612=2041, v72=2006)
def free_irq(desc, dev_id):
    action = yield from K.__free_irq(desc, dev_id)
    return action
