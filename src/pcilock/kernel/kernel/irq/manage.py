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
the CPU taking the interrupt: ``handle_irq_event`` → the primary handler (for
pciehp: ``pciehp_isr``, which takes no sleeping lock) → on IRQ_WAKE_THREAD
``__irq_wake_thread``; if that claims the thread slot the same model thread
goes on as the IRQ thread.  An interrupt raised after ``__free_irq`` unlinked
the action runs no handler.

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
forced threading, secondary threads, affinity.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pcilock._engine_imports import (
    Completion,
    Shared,
    complete,
    complete_all,
    current,
    join,
    note,
    read,
    rmw,
    spawn,
    try_wait_for_completion,
    wait_for_completion,
)
from pcilock.kernel._model import K, mirrors

IRQ_NONE, IRQ_HANDLED, IRQ_WAKE_THREAD = 0, 1, 2


@dataclass(frozen=True)
class IrqState:
    linked: bool = True  # the action is on desc->action (between request_threaded_irq and __free_irq)
    runthread: bool = False  # IRQTF_RUNTHREAD
    thread: object = None  # the model thread currently being the IRQ thread, or None
    inprogress: tuple = ()  # model threads running the primary handler (IRQD_IRQ_INPROGRESS)


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
    """``struct irq_desc`` of one (MSI) vector: its number and its action."""

    def __init__(self, irq, name):
        self.irq = irq
        self.name = name
        self.action = None


def new_irq_desc(attrs, name):
    """Allocate an interrupt vector (pci_alloc_irq_vectors) for one execution's world."""
    descs = attrs.setdefault("irq_descs", [])
    desc = IrqDesc(len(descs) + 24, name)
    descs.append(desc)
    return desc


def _claim(me):
    """The decision of __irq_wake_thread, atomically; *me* may become the IRQ thread."""

    def f(s):
        inprog = tuple(t for t in s.inprogress if t is not me)
        if not s.linked and me not in s.inprogress:
            return s
        if s.runthread:
            return replace(s, inprogress=inprog)
        if s.thread is None:
            return replace(s, inprogress=inprog, runthread=True, thread=me)
        return replace(s, inprogress=inprog, runthread=True)

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
         "handler of the (single) action, wake its thread on IRQ_WAKE_THREAD",
         v61=202, v612=202, v72=255)
def handle_irq_event(desc):
    action = desc.action
    me = yield current()
    old = yield rmw(action, "st", lambda s: replace(s, inprogress=s.inprogress + (me,)) if s.linked else s)
    if not old.linked:
        yield note(f"irq {desc.irq}: no action (freed)")
        return False
    res = yield from getattr(K, action.handler)(desc.irq, action.dev_id)
    if res == IRQ_WAKE_THREAD:
        return (yield from K.__irq_wake_thread(desc, action))
    yield rmw(action, "st", lambda s: replace(s, inprogress=tuple(t for t in s.inprogress if t is not me)))
    return False


def _hardirq(desc):
    """Model thread: a CPU taking the interrupt, then possibly being the IRQ thread."""
    became = yield from K.handle_irq_event(desc)
    if became:
        yield from K.irq_thread(desc.action)


def raise_irq(desc):
    """The device signals its interrupt (not a kernel function): start the hard-IRQ model thread."""
    return spawn(_hardirq, desc, name=f"hardirq/{desc.name}")


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
    # __setup_irq: allocate the action, create the kthread (lazily in the model), link it
    desc.action = IrqAction(name, handler, thread_fn, dev_id)
    return 0
    yield


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
