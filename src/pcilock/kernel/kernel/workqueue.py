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


@mirrors("kernel/workqueue.c", note="work_on_cpu_key: INIT_WORK_ONSTACK + schedule_work_on + flush_work",
         v61=5203, v612=6799, v72=6961)
def work_on_cpu(fn, args, name):
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
