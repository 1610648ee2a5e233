"""Lock-order graph across all executions of an exploration (lockdep, offline).

Every execution of an exploration feeds one :class:`LockGraph` (through a
fresh :meth:`LockGraph.observer` per execution).  Whenever a thread holding
lock A acquires lock B, the graph records the dependency A → B, per lock
*instance* (lock name) and with the lockdep *class* view of both ends
(``lock_class``, read or write mode, subclass).  For each new variant of an
edge it keeps the two call chains (where A was acquired, where B is being
acquired) and the thread's name.  A cycle in this graph is a potential
deadlock even if no explored execution deadlocked: the executions that
would need the unlucky interleaving may have been prevented by an outer lock,
cut by a budget, or never sampled.

Acquisitions
------------
==================================  ======  ============================================
operation                           mode    blocking?
==================================  ======  ============================================
``lock``                            write   yes
``trylock`` (success)               write   no (trylock)
``down_read(s, subclass)``          read    yes
``down_write(s, subclass)``         write   yes
``down_read_trylock`` (success)     read    no (trylock)
``down_write_trylock`` (success)    write   no (trylock)
``gate_enter`` (success)            read    no: kernfs takes active references with
                                            ``rwsem_acquire_read(..., trylock=1)``
``gate_reenter``                    read    no (``kernfs_unbreak_active_protection``)
``gate_close`` (the drain)          write   yes; the closer does not hold the gate after
==================================  ======  ============================================

A blocking acquisition is recorded when it is attempted: when the task has to
wait for it (``on_blocked``, also for a wait that never ends, the closing edge of a
deadlock) or when it is granted, whichever comes first; lockdep likewise adds the
dependency before the task sleeps.  Each acquisition records an edge from *every* lock
the thread holds at that moment (lockdep stops at the most recent non-trylock held lock and relies on
transitivity; the set of cycles is the same).  The held locks are tracked
with the subclass they were taken with.

Cycles
------
A cycle L1 → L2 → ... → Lk → L1 of the instance graph is reported as a potential
deadlock when a choice of one recorded variant per edge exists in which

* no acquisition is a trylock (a trylock cannot wait, so it cannot close a
  cycle; lockdep does not add dependencies to a trylocked lock either), and
* every link can block: the link at L(i+1) between edge i (acquiring it) and
  edge i+1 (holding it) cannot block when L(i+1) is acquired *for read* and held
  *for read* on the other side, unless some thread ever acquires L(i+1) for
  writing in this exploration (a queued writer blocks new readers in the
  kernel's rwsem, which is what the model implements).  So a cycle made only
  of readers is dropped exactly when one of its read-read links is on a lock
  nobody ever write-acquires.

Cycles are enumerated with :func:`networkx.simple_cycles` up to
``max_cycle_len`` locks on integer node ids given in first-seen order, each
rotated to start at its first-seen lock and sorted by (length, ids): the same
exploration gives the same report.

deadlock_possible
-----------------
A deadlock on a cycle of k locks needs k tasks at the same time, each holding one lock of
the cycle and waiting for the next.  ``deadlock_possible`` is false when no choice of
recorded variants has k different tasks behind its k edges: every edge was taken by the
same task (or too few tasks), like pciehp's single IRQ thread per port that takes
``reset_lock`` then ``pci_rescan_remove_lock`` and, after f5eff5591b8f, the other way
round.  Lockdep does not look at tasks and reports such a cycle anyway (a false positive,
which is what ``lockdep_visible`` then says).  Tasks are told apart by name: one name is
one task, or instances the kernel serialises (the hard IRQ of one line, one work item);
the ``#2`` the engine appends to a repeated thread name is ignored.

lockdep_visible
---------------
Linux lockdep could report the cycle as a circular locking dependency iff

1. every lock in it has ``validate=True`` (``device_lock`` uses the
   ``novalidate`` class: lockdep records nothing for it), and
2. a choice of one recorded non-trylock variant per edge closes at class
   level: with lockdep keys ``key(L, sub) = (lock_class, subclass)``, edge i is
   ``key(Li, held subclass) → key(Li+1, acquired subclass)`` and the acquired
   subclass of edge i equals the held subclass of edge i+1 (the same key), and
3. no edge of that choice is a self-loop at class level (held and acquired
   key equal: same class and same subclass).  Lockdep reports such nesting as
   "possible recursive locking" instead, and never as this cycle.

Lockdep treats a down_read as a non-recursive read (it can be blocked by a
queued writer), so read links do not hide a cycle from it; rule 2 ignores
modes.  A cycle the model drops as "cannot block" (read-read link, no writer)
may still be reported by lockdep, which assumes a writer could queue.

JSON (:meth:`LockGraph.to_json`)::

    {"cycles": [{"locks": [names...], "classes": [class names...],
                 "lockdep_visible": bool, "deadlock_possible": bool,
                 "chains": [{"held": name, "acquired": name, "thread": thread_name,
                             "threads": [every task seen taking it],
                             "held_stack": [[func, file, line], ...],
                             "acquired_stack": [[func, file, line], ...]}, ...]}],
     "edges": int,
     "locks": [{"name": name, "class": class name, "validate": bool}, ...],
     "edge_list": [{"held": name, "acquired": name, "functions": [func, ...],
                    "threads": [thread names...], "trylock": bool}, ...]}

``chains`` has one entry per edge of the cycle, in cycle order (chain i: held
``locks[i]``, acquired ``locks[i+1]``); ``edges`` counts the distinct instance
edges recorded (trylock ones included) and ``edge_list`` has each of them once,
first-seen order: ``functions`` are the functions that acquired ``acquired``
(the innermost frame of each variant's acquired stack), ``threads`` every task
seen taking it, ``trylock`` is true when every acquisition was a trylock (the
edge cannot close a cycle).  ``locks`` lists the locks of those edges;
``validate`` false is a lock lockdep records nothing for (``novalidate``).
"""

from __future__ import annotations

import networkx as nx

from . import ops as O
from .races import frames_of_snap, snap_thread

# raw cycles enumerated at most (a guard against pathological graphs)
_RAW_LIMIT = 20_000


class LockInfo:
    """What the graph knows about one lock instance (by name)."""

    __slots__ = ("name", "lock_class", "validate", "kind", "index", "written")

    def __init__(self, name, lock_class, validate, kind, index):
        self.name = name
        self.lock_class = lock_class
        self.validate = validate
        self.kind = kind
        self.index = index  # first-seen order
        self.written = False  # acquired for writing at least once (a writer can queue)


class EdgeVariant:
    """One recorded way of taking *acquired* while holding *held*."""

    __slots__ = ("held", "acquired", "held_mode", "held_sub", "acq_mode", "acq_sub", "trylock",
                 "thread", "threads", "held_stack", "acquired_stack")

    def __init__(self, held, acquired, held_mode, held_sub, acq_mode, acq_sub, trylock, thread,
                 held_stack, acquired_stack):
        self.held = held
        self.acquired = acquired
        self.held_mode = held_mode
        self.held_sub = held_sub
        self.acq_mode = acq_mode
        self.acq_sub = acq_sub
        self.trylock = trylock
        self.thread = thread  # the first task seen taking it (its stacks are these)
        self.threads = [thread]  # every task seen taking it, first-seen order
        self.held_stack = held_stack
        self.acquired_stack = acquired_stack

    def chain_json(self):
        return {"held": self.held, "acquired": self.acquired, "thread": self.thread,
                "threads": list(self.threads),
                "held_stack": [[f, p, ln] for f, p, ln in self.held_stack],
                "acquired_stack": [[f, p, ln] for f, p, ln in self.acquired_stack]}


class LockGraph:
    """The lock-order graph of one exploration.

    :param max_cycle_len: longest cycle (in locks) searched for.
    :param max_cycles: at most this many cycles are reported (the shortest first).
    """

    def __init__(self, max_cycle_len=6, max_cycles=100):
        self.max_cycle_len = max_cycle_len
        self.max_cycles = max_cycles
        self.locks = {}  # name -> LockInfo, in first-seen order
        self.edges = {}  # (held name, acquired name) -> [EdgeVariant], in first-seen order
        self._vkeys = {}  # variant key -> EdgeVariant already recorded
        self._cycles = None

    def observer(self):
        """A fresh observer for one execution (pass a factory returning it to an explorer)."""
        return LockGraphObserver(self)

    # -- recording ------------------------------------------------------------------------
    def _lock(self, obj):
        info = self.locks.get(obj.name)
        if info is None:
            info = self.locks[obj.name] = LockInfo(obj.name, obj.lock_class, obj.validate, obj.kind,
                                                   len(self.locks))
        return info

    def _record(self, t, held, obj, mode, sub, trylock, snap):
        info = self._lock(obj)
        if mode == "w":
            info.written = True
        if not held:
            return
        name = obj.name
        vkeys = self._vkeys
        for h in held:
            hobj, hmode, hsub, hsnap = h[0], h[1], h[2], h[3]
            vk = (hobj.name, name, hmode, hsub, mode, sub, trylock)
            old = vkeys.get(vk)
            if old is not None:
                if t.name not in old.threads:
                    old.threads.append(t.name)
                    self._cycles = None
                continue
            self._lock(hobj)
            v = vkeys[vk] = EdgeVariant(hobj.name, name, hmode, hsub, mode, sub, trylock, t.name,
                                        frames_of_snap(hsnap), frames_of_snap(snap))
            lst = self.edges.get((hobj.name, name))
            if lst is None:
                self.edges[(hobj.name, name)] = [v]
            else:
                lst.append(v)
            self._cycles = None

    # -- queries ----------------------------------------------------------------------------
    def class_edges(self):
        """Distinct class-level edges ``((class, subclass), (class, subclass))``, first-seen order."""
        out = {}
        for (a, b), vs in self.edges.items():
            ca, cb = self.locks[a].lock_class, self.locks[b].lock_class
            for v in vs:
                out.setdefault(((ca, v.held_sub), (cb, v.acq_sub)), None)
        return list(out)

    def cycles(self):
        """The potential deadlocks: a list of dicts in the JSON shape (see the module doc)."""
        if self._cycles is None:
            self._cycles = self._find_cycles()
        return self._cycles

    def to_json(self):
        return {"cycles": self.cycles(), "edges": len(self.edges), "locks": self.lock_list(),
                "edge_list": self.edge_list()}

    def edge_list(self):
        """Every instance edge once, in first-seen order (the JSON ``edge_list``, see the module doc)."""
        out = []
        for (a, b), vs in self.edges.items():
            functions, threads = {}, {}
            for v in vs:
                if v.acquired_stack:
                    functions.setdefault(v.acquired_stack[-1][0], None)
                for t in v.threads:
                    threads.setdefault(t, None)
            out.append({"held": a, "acquired": b, "functions": list(functions), "threads": list(threads),
                        "trylock": all(v.trylock for v in vs)})
        return out

    def lock_list(self):
        """The locks on some edge, in first-seen order (the JSON ``locks``)."""
        used = {}
        for a, b in self.edges:
            used[a] = used[b] = None
        return [{"name": i.name, "class": i.lock_class, "validate": bool(i.validate)}
                for i in self.locks.values() if i.name in used]

    def _find_cycles(self):
        names = list(self.locks)
        g = nx.DiGraph()
        g.add_nodes_from(range(len(names)))
        blocking = {}
        for (a, b), vs in self.edges.items():
            bv = _distinct([v for v in vs if not v.trylock])
            if bv:
                ia, ib = self.locks[a].index, self.locks[b].index
                blocking[(ia, ib)] = bv
                g.add_edge(ia, ib)
        raw = []
        for cyc in nx.simple_cycles(g, length_bound=self.max_cycle_len):
            k = cyc.index(min(cyc))
            raw.append(tuple(cyc[k:] + cyc[:k]))
            if len(raw) >= _RAW_LIMIT:
                break
        raw = sorted(set(raw), key=lambda c: (len(c), c))
        out = []
        for cyc in raw:
            rep = self._judge(cyc, names, blocking)
            if rep is not None:
                out.append(rep)
                if len(out) >= self.max_cycles:
                    break
        return out

    def _judge(self, cyc, names, blocking):
        k = len(cyc)
        infos = [self.locks[names[i]] for i in cyc]
        vs = [blocking[(cyc[i], cyc[(i + 1) % k])] for i in range(k)]

        def can_block(i, v, w):  # link at lock i+1: v acquires it (edge i), w holds it (edge i+1)
            nxt = infos[(i + 1) % k]
            return not (v.acq_mode == "r" and w.held_mode == "r" and not nxt.written)

        def class_ok(i, v, w):
            a, b = infos[i], infos[(i + 1) % k]
            if a.lock_class == b.lock_class and v.held_sub == v.acq_sub:
                return False  # recursive locking at class level, not a cycle for lockdep
            return v.acq_sub == w.held_sub

        def lockdep_link(i, v, w):
            return can_block(i, v, w) and class_ok(i, v, w)

        validated = all(x.validate for x in infos)
        both = None
        if validated:
            both = (_select(vs, lockdep_link, _distinct_tasks)
                    or _select(vs, lockdep_link))
        possible = _select(vs, can_block, _distinct_tasks)
        chosen = both if both is not None else (possible or _select(vs, can_block))
        if chosen is None:
            return None
        visible = both is not None or (validated and _select(vs, class_ok) is not None)
        chains = [v.chain_json() for v in chosen]
        return {
            "locks": [x.name for x in infos],
            "classes": [x.lock_class for x in infos],
            "lockdep_visible": visible,
            "deadlock_possible": possible is not None,
            "chains": chains,
        }


def _distinct(vs):
    """First variant of each (modes, subclasses) combination, in recorded order."""
    seen = {}
    for v in vs:
        seen.setdefault((v.held_mode, v.held_sub, v.acq_mode, v.acq_sub), v)
    return list(seen.values())


def _select(vs, link, whole=None):
    """First choice (in recorded order) of one variant per edge with ``link(i, v_i, v_i+1)`` all
    around, and ``whole(choice)`` true if given."""
    k = len(vs)
    choice = [None] * k

    def rec(i):
        for v in vs[i]:
            if i > 0 and not link(i - 1, choice[i - 1], v):
                continue
            if i == k - 1 and not link(k - 1, v, choice[0] if k > 1 else v):
                continue
            choice[i] = v
            if i == k - 1:
                if whole is None or whole(choice):
                    return True
                continue
            if rec(i + 1):
                return True
        return False

    return list(choice) if rec(0) else None


def _task(thread_name):
    """The task a model thread is: the engine names a second thread of the same name
    ``name#2`` (a kernel thread the model starts again for each run, like an IRQ thread
    woken twice), and it is the same task."""
    base, sep, k = thread_name.rpartition("#")
    return base if sep and k.isdigit() else thread_name


def _distinct_tasks(choice):
    """A task per edge of *choice*, all different (first in recorded order), or None.

    A deadlock on a k-lock cycle needs k tasks at once, each holding one lock of the cycle
    and waiting for the next: a cycle whose edges were only ever taken by fewer tasks (e.g.
    pciehp's one IRQ thread per port taking reset_lock and pci_rescan_remove_lock in both
    orders) cannot close, though lockdep, which does not look at tasks, reports it."""
    k = len(choice)
    picked = [None] * k

    def rec(i):
        if i == k:
            return True
        for name in choice[i].threads:
            name = _task(name)
            if name in picked[:i]:
                continue
            picked[i] = name
            if rec(i + 1):
                return True
        return False

    return list(picked) if rec(0) else None


class LockGraphObserver:
    """Feeds one execution's acquisitions into a :class:`LockGraph`."""

    __slots__ = ("g", "held")

    def __init__(self, graph):
        self.g = graph
        self.held = {}  # tid -> [(lock, mode, subclass, snapshot)]

    def on_start(self, ex):
        pass

    def on_event(self, ex, t, op, value):
        code = op[0]
        h = _HANDLERS.get(code)
        if h is not None:
            h(self, t, op, value)

    def on_blocked(self, ex, t, op):
        """*t* waits to acquire: the dependency exists from now on, as in lockdep, even if the
        acquisition never completes (the closing edge of a deadlock)."""
        code = op[0]
        if code == O.LOCK:
            self._acquire(t, op[1], "w", 0, False, hold=False)
        elif code == O.DOWN_READ:
            self._acquire(t, op[1], "r", op[2], False, hold=False)
        elif code == O.DOWN_WRITE_WAIT:
            self._acquire(t, op[1], "w", op[2], False, hold=False)

    def _acquire(self, t, obj, mode, sub, trylock, hold=True):
        held = self.held.get(t.tid)
        if held is None:
            held = self.held[t.tid] = []
        snap = snap_thread(t)
        self.g._record(t, held, obj, mode, sub, trylock, snap)
        if hold:
            held.append((obj, mode, sub, snap))

    def _release(self, t, obj, mode):
        held = self.held.get(t.tid)
        if not held:
            return
        for i in range(len(held) - 1, -1, -1):
            if held[i][0] is obj and held[i][1] == mode:
                del held[i]
                return


def _lock(ob, t, op, value):
    ob._acquire(t, op[1], "w", 0, False)


def _trylock(ob, t, op, value):
    if value:
        ob._acquire(t, op[1], "w", 0, True)


def _unlock(ob, t, op, value):
    ob._release(t, op[1], "w")


def _down_read(ob, t, op, value):
    ob._acquire(t, op[1], "r", op[2], False)


def _down_write(ob, t, op, value):
    if t.pending is op:  # granted at once; a queued writer is recorded when granted
        ob._acquire(t, op[1], "w", op[2], False)


def _down_write_wait(ob, t, op, value):
    ob._acquire(t, op[1], "w", op[2], False)


def _down_read_try(ob, t, op, value):
    if value:
        ob._acquire(t, op[1], "r", 0, True)


def _down_write_try(ob, t, op, value):
    if value:
        ob._acquire(t, op[1], "w", 0, True)


def _up_read(ob, t, op, value):
    ob._release(t, op[1], "r")


def _gate_enter(ob, t, op, value):
    if value:
        ob._acquire(t, op[1], "r", 0, True)


def _gate_reenter(ob, t, op, value):
    ob._acquire(t, op[1], "r", 0, True)


def _gate_close(ob, t, op, value):
    ob._acquire(t, op[1], "w", 0, False, hold=False)


_HANDLERS = {
    O.LOCK: _lock, O.TRYLOCK: _trylock, O.UNLOCK: _unlock,
    O.DOWN_READ: _down_read, O.DOWN_WRITE: _down_write, O.DOWN_WRITE_WAIT: _down_write_wait,
    O.DOWN_READ_TRYLOCK: _down_read_try, O.DOWN_WRITE_TRYLOCK: _down_write_try,
    O.UP_READ: _up_read, O.UP_WRITE: _unlock,
    O.GATE_ENTER: _gate_enter, O.GATE_REENTER: _gate_reenter, O.GATE_LEAVE: _up_read,
    O.GATE_CLOSE: _gate_close,
}
