"""kernel/workqueue.c: the parts the PCI paths use.

A work item runs in a kworker, a different task from the one that queued it;
``flush_work`` waits until it finished.  Each queued item is modelled as a new
model thread (the pool's concurrency is not a constraint in these paths), and
``flush_work``/``work_on_cpu``'s wait as a join on that thread, so a flush that
waits for a work item blocked on a lock the flusher holds is a wait-for cycle.
"""

from __future__ import annotations

from pcilock._engine_imports import join, spawn
from pcilock.kernel._model import mirrors


@mirrors("kernel/workqueue.c", note="what the work_on_cpu() macro calls: INIT_WORK_ONSTACK + "
         "schedule_work_on + flush_work", v61=5203, v612=6799, v72=6961)
def work_on_cpu_key(fn, args, name):
    t = yield spawn(fn, *args, name=name)
    yield join(t)
    return t


@mirrors("kernel/workqueue.c", note="queue_work_on: the work runs in a kworker", v61=1539, v612=2417,
         v72=2442)
def queue_work_on(fn, args, name):
    return (yield spawn(fn, *args, name=name))


@mirrors("kernel/workqueue.c", note="flush_work: sleep until the work item finished", v61=3099,
         v612=4298, v72=4401)
def flush_work(work):
    yield join(work)


# -- delayed work (pciehp's button_work) -------------------------------------------------------
# Added for the hotplug model.  A ``struct delayed_work`` is a :class:`DelayedWork`
# whose one shared field ``st`` = (PENDING bit, model thread running the callback)
# changes atomically, as WORK_STRUCT_PENDING and the pool's "current work" do.
# The timer is not modelled: a queued delayed work runs at any later time.

from pcilock._engine_imports import Shared, rmw  # noqa: E402


class DelayedWork(Shared):
    _shared_ = {"st": (False, None)}  # (pending, running thread)

    def __init__(self, fn, args, name, **kw):
        super().__init__(**kw)
        self.fn = fn  # name of the callback in K
        self.args = tuple(args)
        self.name = name

    def describe(self):
        return f"delayed_work {self.name}"


def _delayed_work_fn(work):
    from pcilock._engine_imports import current
    from pcilock.kernel._model import K

    me = yield current()
    old = yield rmw(work, "st", lambda s: (False, me) if s[0] else s)
    if not old[0]:
        return  # cancelled while pending
    yield from getattr(K, work.fn)(*work.args)
    yield rmw(work, "st", lambda s: (s[0], None) if s[1] is me else s)


@mirrors("include/linux/workqueue.h", note="schedule_delayed_work -> queue_delayed_work_on(system_wq): "
         "no-op if already pending", v61=679, v612=817, v72=853)
def schedule_delayed_work(work):
    old = yield rmw(work, "st", lambda s: (True, s[1]))
    if old[0]:
        return False
    yield spawn(_delayed_work_fn, work, name=f"kworker {work.name}")
    return True


@mirrors("kernel/workqueue.c", note="grab PENDING; never waits for a running callback", v61=3291, v612=4457,
         v72=4560)
def cancel_delayed_work(work):
    old = yield rmw(work, "st", lambda s: (False, s[1]))
    return old[0]


@mirrors("kernel/workqueue.c", note="grab PENDING, then wait for a running callback (__flush_work)",
         v61=3306, v612=4472, v72=4575)
def cancel_delayed_work_sync(work):
    old = yield rmw(work, "st", lambda s: (False, s[1]))
    if old[1] is not None:
        yield join(old[1])
    return old[0]
