"""One execution of a model program under a controlled scheduler.

Design note
-----------
A model thread is a generator.  The engine keeps, for every thread, its
*pending* operation: the tuple the generator last yielded.  A *step* performs
the pending operation of one chosen thread, sends the result back into the
generator and runs it (thread-local code, and local operations such as
assertions) until it yields its next visible operation, which becomes the new
pending operation.  So the granularity of interleaving is exactly the set of
visible operations, and everything between two of them is atomic.

Whether a pending operation can be performed now (*enabled*) depends only on
the object it names: a mutex owned by someone else, an rw semaphore with a
writer holding or queued, a completion with no count, a thread not finished.
A thread whose pending operation is disabled is *blocked*.  When the thread
that just stepped becomes blocked, the wait-for graph is searched from it: a
cycle through it is a deadlock, reported at that moment even if unrelated
threads could still run.  When no thread is enabled and some are blocked
without a cycle, the execution is a *hang*.

The execution does not decide what runs next; explorers do (loom's split
between ``rt::Mutex`` and ``execution.rs``).  For the dynamic partial-order
reduction each step reports its *footprint*: the object touched and an access
*mode*; :mod:`pcilock.engine.deps` says which modes depend on each other.

Nothing here iterates over sets or orders by ``id()``: threads are numbered in
creation order and every structure is a list or an insertion-ordered dict, so
the same schedule gives the same execution, byte for byte.

Detectors built into every execution (so that exploration, minimisation and
replay see the same violations):

* *use after free*: after ``free(obj)``, an access to one of *obj*'s shared
  fields, an operation on a lock object it owns, or a second free is a ``uaf``
  violation with the stacks of the use and of the free;
* *exit holding a lock*: a thread that finishes while it still holds a mutex,
  an rw semaphore or a gate reference is a ``warn`` violation (lockdep's "lock
  held when returning to user space"); threads stopped by a fatal check keep
  their locks without a report;
* *data races* (``races=True``, the default): see :mod:`pcilock.engine.races`.
"""

from __future__ import annotations

import traceback

from . import deps
from . import ops as O
from .errors import ModelError, StuckStepError
from .objects import Completion, Hist, Shared
from .races import RaceDetector
from .violation import Violation

DEFAULT_MAX_STEPS = 200_000

# [number of model steps started, True while model code runs]; read by the watchdog
PROGRESS = [0, False]

_ENGINE_DIR = __file__.rsplit("/", 1)[0]


class ThreadState:
    """A model thread: its generator, pending operation and bookkeeping."""

    __slots__ = (
        "tid", "name", "gen", "pending", "done", "held", "clock", "seq",
        "parent", "nspawn", "stack", "dead", "hbclock", "final_clock", "spawn_seq", "result", "snapc",
    )

    def __init__(self, tid, name, gen, parent):
        self.tid = tid
        self.name = name
        self.gen = gen
        self.pending = None  # the visible operation it will perform next
        self.done = False  # generator finished (or stopped by a fatal check)
        self.dead = False  # stopped by BUG_ON-style check (still holds its locks)
        self.held = []  # [(lock object, "w"|"r")] in acquisition order
        self.clock = []  # DPOR vector clock of its last event
        self.seq = 0  # number of events it performed
        self.parent = parent
        self.nspawn = 0
        self.stack = None  # model call stack of the pending op (when recording)
        self.hbclock = None  # happens-before clock for the race detector
        self.final_clock = None
        self.spawn_seq = 0  # the parent's event count at the spawn (for DPOR)
        self.result = None  # the generator's return value once done (read after a join)
        self.snapc = None  # last call-chain snapshot, for races.snap_thread()

    def __repr__(self):
        return f"<thread {self.tid} {self.name}>"


class TraceEvent:
    """One recorded step (only when the execution records a trace)."""

    __slots__ = ("step", "tid", "op", "text", "stack", "held", "result", "notes", "obj")

    def __init__(self, step, tid, op, text, stack, held, result, notes, obj):
        self.step = step
        self.tid = tid
        self.op = op
        self.text = text
        self.stack = stack
        self.held = held
        self.result = result
        self.notes = notes
        self.obj = obj


def frames_of(gen):
    """Return the model call stack of a suspended generator chain, outermost first."""
    frames = []
    g = gen
    while g is not None:
        f = g.gi_frame
        if f is None:
            break
        frames.append((g.gi_code.co_name, g.gi_code.co_filename, f.f_lineno))
        g = g.gi_yieldfrom
        if g is not None and not hasattr(g, "gi_frame"):
            break
    return frames


def _model_frames_from_tb(tb):
    out = []
    for fs in traceback.extract_tb(tb):
        if fs.filename.startswith(_ENGINE_DIR):
            continue
        out.append((fs.name, fs.filename, fs.lineno))
    return out


class Execution:
    """Runs one execution of *program*; explorers call :meth:`step`.

    :param program: a :class:`pcilock.engine.program.Program`.
    :param tracker: optional DPOR tracker receiving every event's footprint.
    :param record: keep a full trace with call stacks (for reports and replay).
    :param observers: detectors receiving every event (lock-order graph, ...).
    :param races: run the data-race detector (:mod:`pcilock.engine.races`).
    """

    def __init__(self, program, tracker=None, record=False, max_steps=DEFAULT_MAX_STEPS,
                 observers=(), stop_on_violation=True, registry=None, races=True):
        self.program = program
        self.tracker = tracker
        self.record = record
        self.max_steps = max_steps
        self.observers = list(observers)
        self.stop_on_violation = stop_on_violation
        self.threads = []  # indexed by thread id (None where an id is unused here)
        self.order = []  # threads in creation order
        # Thread ids come from the spawn path (initial thread i; child k of thread t),
        # through a registry an explorer keeps for a whole exploration, so a logical
        # thread has the same id in every execution whatever the order of spawns.
        # Without a registry ids are the creation order, as in replay strings.
        self.registry = registry if registry is not None else {}
        self._ninit = 0
        self._names = set()  # membership only: names of the threads created so far
        self.nsteps = 0
        self.violations = []
        self.trace = [] if record else None
        self._notes = {}  # tid -> notes the thread made since its last recorded event
        self.deadlocked = []  # tids already reported in a deadlock cycle
        self.world = None
        self.choices = []  # values returned by CHOOSE, in order
        self.nfreed = 0  # objects freed so far (use-after-free checks start with the first)
        self._reported = set()  # membership only: signatures of uaf/race reported here
        self.race = RaceDetector() if races else None
        # True while an explorer replays a prefix it ran before: the race detector keeps its
        # clocks and access records but does not look for races, which were reported then
        self.race_quiet = False
        # signatures of the races an explorer already collected (not reported again), or empty;
        # with the explorer's memo of race signatures (races.RaceDetector._report), or None
        self.known_races = ()
        self.race_memo = None
        self.race_known_pk = None
        setup = program.setup()
        self.world = setup.world
        for spec in setup.threads:
            self._create(spec.name, spec.fn, spec.args, None)
        for ob in self.observers:
            ob.on_start(self)

    # -- threads ---------------------------------------------------------------
    def _create(self, name, fn, args, parent):
        if parent is None:
            key = ("init", self._ninit)
            self._ninit += 1
        else:
            key = (parent.tid, parent.nspawn)
        tid = self.registry.get(key)
        if tid is None:
            tid = self.registry[key] = len(self.registry)
        if name is None:
            name = f"{parent.name}/{parent.nspawn}" if parent is not None else f"t{tid}"
        existing = self._names
        if name in existing:
            k = 2
            while f"{name}#{k}" in existing:
                k += 1
            name = f"{name}#{k}"
        try:
            gen = fn(*args)
        except Exception as ex:  # a plain function raised before being a generator
            raise ModelError(f"thread {name}: could not start {getattr(fn, '__name__', fn)}: {ex!r}",
                             thread=name, frames=_model_frames_from_tb(ex.__traceback__)) from ex
        if not hasattr(gen, "send"):
            raise ModelError(f"thread {name}: {getattr(fn, '__name__', fn)} is not a generator function",
                             thread=name)
        t = ThreadState(tid, name, gen, parent)
        existing.add(name)
        if parent is not None:
            t.clock = list(parent.clock)
            t.hbclock = list(parent.hbclock) if parent.hbclock is not None else None
        if len(self.threads) <= tid:
            self.threads.extend([None] * (tid + 1 - len(self.threads)))
        self.threads[tid] = t
        self.order.append(t)
        self._advance(t, None)
        return t

    def _advance(self, t, value):
        """Run thread *t* until its next visible operation."""
        gen = t.gen
        progress = PROGRESS
        while True:
            progress[0] += 1
            progress[1] = True
            try:
                op = gen.send(value)
            except StopIteration as stop:
                progress[1] = False
                t.result = stop.value
                self._finish(t)
                return
            except ModelError as ex:
                progress[1] = False
                if ex.thread is None:
                    ex.thread = t.name
                if not ex.frames:
                    ex.frames = _model_frames_from_tb(ex.__traceback__)
                raise
            except StuckStepError as ex:
                progress[1] = False
                frames = _model_frames_from_tb(ex.__traceback__)
                where = f" at {frames[-1][1]}:{frames[-1][2]} in {frames[-1][0]}" if frames else ""
                raise ModelError(
                    f"thread {t.name} ran for too long without yielding an operation{where} "
                    f"(probable cause: a loop that never reaches a yield)", thread=t.name,
                    frames=frames) from None
            except Exception as ex:
                progress[1] = False
                frames = _model_frames_from_tb(ex.__traceback__)
                raise ModelError(f"thread {t.name} raised {type(ex).__name__}: {ex}",
                                 thread=t.name, frames=frames) from ex
            progress[1] = False
            if type(op) is not tuple or not op or type(op[0]) is not int:
                raise ModelError(f"thread {t.name} yielded {op!r}, which is not an operation",
                                 thread=t.name, frames=frames_of(gen))
            code = op[0]
            if code < _LOCAL:
                if code not in _HANDLERS:
                    raise ModelError(f"thread {t.name} yielded unknown operation code {code}",
                                     thread=t.name, frames=frames_of(gen))
                t.pending = op
                if self.record:
                    t.stack = frames_of(gen)
                return
            value = self._local(t, op)
            if t.done:
                return

    def _finish(self, t):
        t.pending = None
        t.done = True
        t.final_clock = t.clock
        if t.held:
            self._exited_holding(t)

    def _exited_holding(self, t):
        """lockdep's "lock held when returning to user space": a thread ended holding locks."""
        names = [o.name for o, _m in t.held]
        held = []
        for o, m in t.held:
            held.append({"lock": o.name, "mode": m, "frames": self._acquired_at(t, o)})
        what = ", ".join(f"{n}" for n in names)
        plural = "s" if len(names) > 1 else ""
        msg = f"task {t.name} exited holding lock{plural} {what}"
        func = t.gen.gi_code.co_name if hasattr(t.gen, "gi_code") else None
        sig = ("warn", "exited holding lock", func, tuple(names))
        self.add_violation("warn", msg, [t.tid], detail={"frames": held[0]["frames"], "held": held},
                           signature=sig)

    def _acquired_at(self, t, obj):
        """Stack of *t*'s last acquisition of *obj* (only known when recording a trace)."""
        if not self.trace:
            return []
        for ev in reversed(self.trace):
            if ev.tid == t.tid and ev.obj is obj and ev.op[0] in _ACQUIRES and ev.result is not False:
                return list(ev.stack or [])
        return []

    # -- enabledness and waits ---------------------------------------------------
    def is_enabled(self, t):
        op = t.pending
        if op is None:
            return False
        code = op[0]
        if code not in _MAY_BLOCK:
            return True
        if code == O.LOCK:
            return op[1].owner is None
        if code == O.DOWN_READ:
            s = op[1]
            return s.writer is None and not s.wwait
        if code == O.DOWN_WRITE_WAIT:
            s = op[1]
            return s.writer is None and not s.readers
        if code == O.WAIT_COMPLETION:
            return op[1].done > 0
        if code == O.JOIN:
            return op[1].done
        if code == O.GATE_WAIT:
            return op[1].count == 0
        return True

    def enabled(self):
        """Indices of threads whose pending operation can be performed now."""
        out = []
        for t in self.order:
            op = t.pending
            if op is None:
                continue
            code = op[0]
            if code not in _MAY_BLOCK:
                pass
            elif code == O.LOCK:
                if op[1].owner is not None:
                    continue
            elif code == O.DOWN_READ:
                s = op[1]
                if s.writer is not None or s.wwait:
                    continue
            elif code == O.DOWN_WRITE_WAIT:
                s = op[1]
                if s.writer is not None or s.readers:
                    continue
            elif code == O.WAIT_COMPLETION:
                if op[1].done <= 0:
                    continue
            elif code == O.JOIN:
                if not op[1].done:
                    continue
            elif code == O.GATE_WAIT:
                if op[1].count:
                    continue
            out.append(t.tid)
        return out

    def blocked(self):
        return [t.tid for t in self.order if t.pending is not None and not self.is_enabled(t)]

    def thread(self, tid):
        """The thread with id *tid*, or None if it does not exist (yet) here."""
        return self.threads[tid] if 0 <= tid < len(self.threads) else None

    def creation_index(self):
        """Map thread ids to creation order (the numbering of replay strings)."""
        return {t.tid: i for i, t in enumerate(self.order)}

    def waits_for(self, t):
        """Threads that *t* (blocked) waits for, in a deterministic order."""
        op = t.pending
        code = op[0]
        out = []
        if code == O.LOCK:
            if op[1].owner is not None:
                out.append(op[1].owner)
        elif code == O.DOWN_READ:
            s = op[1]
            if s.writer is not None:
                out.append(s.writer)
            out.extend(s.wwait)
        elif code == O.DOWN_WRITE_WAIT:
            s = op[1]
            if s.writer is not None:
                out.append(s.writer)
            out.extend(s.readers)
        elif code == O.WAIT_COMPLETION:
            for p in op[1].providers:
                if not p.done:
                    out.append(p.tid)
        elif code == O.JOIN:
            out.append(op[1].tid)
        elif code == O.GATE_WAIT:
            out.extend(op[1].holders)
        seen = []
        for x in out:
            if x not in seen:
                seen.append(x)
        return seen

    def find_cycle(self, start):
        """Return a wait-for cycle through thread *start*, as a list of tids, or None."""
        threads = self.threads
        stack = [(start, iter(self.waits_for(threads[start])))]
        path = [start]
        finished = set()  # membership only: threads with no path back to start
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                finished.add(node)
                continue
            if nxt == start:
                return list(path)
            if nxt in path or nxt in finished:
                continue
            u = threads[nxt]
            if u.pending is None or self.is_enabled(u):
                continue
            stack.append((nxt, iter(self.waits_for(u))))
            path.append(nxt)
        return None

    # -- performing operations -------------------------------------------------------
    def step(self, tid, choice=None):
        """Perform the pending operation of thread *tid* and run it to its next one.

        :return: ``(hist, mode)``, the footprint of the event (``hist`` is None
            for operations that touch no shared object).
        """
        t = self.threads[tid]
        op = t.pending
        nsteps = self.nsteps = self.nsteps + 1
        if nsteps > self.max_steps:
            raise ModelError(
                f"execution exceeded {self.max_steps} steps (thread {t.name} at step {nsteps}); "
                f"probable cause: a loop that never terminates, e.g. a retry loop around a trylock",
                thread=t.name, frames=frames_of(t.gen))
        record = self.record
        if record:
            held_before = [(o.name, m) for (o, m) in t.held]
            stack = t.stack
        code = op[0]
        if code == _CHOOSE:
            self._choice = choice  # (read by _h_choose only)
        if self.nfreed:
            self._check_use(t, op)
        try:
            value, hist, mode, advance = _HANDLERS[code](self, t, op)
        except ModelError as ex:  # the operation itself is wrong (e.g. a field of None)
            if ex.thread is None:
                ex.thread = t.name
            if not ex.frames:
                ex.frames = frames_of(t.gen)
            raise
        if code == _CHOOSE:
            self.choices.append(value)
        race = self.race
        if race is not None:  # race.on_event(self, t, op, value, hist), field accesses called directly
            if code == _READ:
                race._access(self, t, op[1], op[2], hist, False, op[3], "read")
            elif code == _WRITE:
                race._access(self, t, op[1], op[2], hist, True, op[4], "write")
            elif code == _RMW:
                race._access(self, t, op[1], op[2], hist, True, True, "rmw")
            else:
                race.on_event(self, t, op, value, hist)
        tracker = self.tracker
        if tracker is not None:
            tracker.on_event(self, t, op, hist, mode, value)
        observers = self.observers
        if observers:
            for ob in observers:
                ob.on_event(self, t, op, value)
        if record:
            self.trace.append(TraceEvent(nsteps - 1, tid, op, describe_op(op, value), stack,
                                         held_before, value, self._notes.pop(tid, []), _op_obj(op)))
        if advance:
            self._advance(t, value)
        p = t.pending
        if p is not None and p[0] in _MAY_BLOCK and not self.is_enabled(t):
            self._blocked_on(t, p)
            self._check_cycle(t)
        return hist, mode

    def _blocked_on(self, t, op):
        """Tell the observers that *t* waits at its blocking operation *op* (lockdep records a
        dependency when the acquisition is attempted, before the task waits)."""
        for ob in self.observers:
            f = getattr(ob, "on_blocked", None)
            if f is not None:
                f(self, t, op)

    def _check_cycle(self, t):
        if t.tid in self.deadlocked:
            return
        cyc = self.find_cycle(t.tid)
        if cyc is None:
            return
        # report the cycle starting from its lowest-numbered thread, for stable output
        k = cyc.index(min(cyc))
        cyc = cyc[k:] + cyc[:k]
        self.deadlocked.extend(x for x in cyc if x not in self.deadlocked)
        names = " -> ".join(self.threads[x].name for x in cyc + [cyc[0]])
        waits = []
        for x in cyc:
            op = self.threads[x].pending
            waits.append(_op_obj(op).name if _op_obj(op) is not None else O.OP_NAMES[op[0]])
        sig = ("deadlock", tuple(sorted(waits)))
        self.add_violation("deadlock", f"wait-for cycle {names}", cyc, detail={"cycle": cyc},
                           signature=sig)

    # -- use after free -------------------------------------------------------------------
    def _check_use(self, t, op):
        code = op[0]
        if code in _NO_OBJECT:
            return
        obj = op[1]
        if code in _FIELD_OPS:
            if not obj._freed:
                return
            owner, lk = obj, None
        else:
            owner = obj._freed
            if owner is None:
                return
            lk = obj
        self._report_uaf(t, op, owner, lk)

    def _report_uaf(self, t, op, owner, lk):
        code = op[0]
        frames = frames_of(t.gen)
        ftid, fname, fframes, fstep = owner._free_info
        oname = _objname(owner)
        tname = type(owner).__name__
        if code == O.FREE:
            what = f"double free of {tname} {oname}"
            target = "free"
        elif lk is None:
            what = f"{O.OP_NAMES[code]} of {tname}.{op[2]} of {oname} after it was freed"
            target = op[2]
        else:
            what = (f"{O.OP_NAMES[code]}({lk.name}) on a lock of {tname} {oname} after it was freed")
            target = lk.name
        use_at = frames[-1] if frames else None
        free_at = fframes[-1] if fframes else None
        sig = ("uaf", tname, oname, target, O.OP_NAMES[code], use_at, free_at)
        if sig in self._reported:
            return
        self._reported.add(sig)
        msg = f"use after free: {t.name}: {what} by {fname}"
        if use_at is not None:
            msg += f" (use at {_short_loc(use_at)}"
            msg += f", free at {_short_loc(free_at)})" if free_at is not None else ")"
        detail = {
            "frames": frames,
            "object": f"{tname} {oname}",
            "use": {"thread": t.name, "op": O.OP_NAMES[code], "target": target, "frames": frames},
            "free": {"thread": fname, "frames": list(fframes), "step": fstep},
            "steps": [fstep],
        }
        tids = [t.tid] if ftid == t.tid else [t.tid, ftid]
        self.add_violation("uaf", msg, tids, detail=detail, signature=sig)

    def add_violation(self, kind, message, tids, detail=None, signature=None, lazy=None):
        v = Violation(kind, message, list(tids), self.nsteps - 1 if self.nsteps else 0, detail, signature,
                      lazy)
        self.violations.append(v)
        return v

    def check_end(self):
        """Classify the final state: a hang when threads are blocked and none can run.

        Threads blocked on a thread already in a reported deadlock (directly or
        through other blocked threads) belong to that deadlock, not to a hang.
        """
        if self.enabled():
            return self.violations
        if self.observers:
            for x in self.blocked():
                self._blocked_on(self.threads[x], self.threads[x].pending)
        blocked = [x for x in self.blocked() if x not in self.deadlocked]
        blocked = [x for x in blocked if not self._reaches_deadlock(x)]
        if blocked:
            names = ", ".join(self.threads[x].name for x in blocked)
            sig = ("hang", tuple(sorted(_op_obj(self.threads[x].pending).name
                                        if _op_obj(self.threads[x].pending) is not None else "?"
                                        for x in blocked)))
            self.add_violation("hang", f"tasks blocked forever: {names}", blocked,
                               detail={"blocked": blocked}, signature=sig)
        return self.violations

    def _reaches_deadlock(self, start):
        if not self.deadlocked:
            return False
        todo = [start]
        seen = [start]
        while todo:
            x = todo.pop()
            for y in self.waits_for(self.threads[x]):
                if y in self.deadlocked:
                    return True
                u = self.threads[y]
                if y not in seen and u.pending is not None and not self.is_enabled(u):
                    seen.append(y)
                    todo.append(y)
        return False

    # -- local operations ------------------------------------------------------------
    def _local(self, t, op):
        code = op[0]
        if code == O.CHECK:
            _, ok, message, kind, fatal = op
            if not ok:
                frames = frames_of(t.gen)
                where = frames[-1] if frames else None
                sig = (kind, message, where[0] if where else None, where[2] if where else None)
                self.add_violation(kind, message, [t.tid], detail={"frames": frames}, signature=sig)
                if fatal:
                    t.dead = True
                    t.done = True
                    t.pending = None
                    t.final_clock = t.clock
            return not ok
        if code == O.ASSERT_HELD:
            lk = op[1]
            if not self._holds(t, lk):
                frames = frames_of(t.gen)
                where = frames[-1] if frames else None
                msg = op[2] or f"lockdep_assert_held({lk.name}) failed: not held by {t.name}"
                sig = ("warn", "assert_held", lk.lock_class, where[0] if where else None,
                       where[2] if where else None)
                self.add_violation("warn", msg, [t.tid], detail={"frames": frames}, signature=sig)
            return None
        if code == O.HOLDS:
            return self._holds(t, op[1])
        if code == O.CURRENT:
            return t
        if code == O.NOTE:
            if self.record:
                self._notes.setdefault(t.tid, []).append(op[1])
            return None
        if code == O.VIOLATION:
            frames = frames_of(t.gen)
            where = frames[-1] if frames else None
            sig = (op[1], op[2], where[0] if where else None, where[2] if where else None)
            self.add_violation(op[1], op[2], [t.tid], detail={"frames": frames}, signature=sig)
            return None
        raise ModelError(f"thread {t.name} yielded unknown operation code {code}", thread=t.name,
                         frames=frames_of(t.gen))

    def _holds(self, t, lk):
        for o, _m in t.held:
            if o is lk:
                return True
        return False


def _op_obj(op):
    if op is None:
        return None
    code = op[0]
    if code in (O.SPAWN, O.CHOOSE, O.YIELD):
        return None
    if code == O.JOIN:
        return None
    if code in (O.READ, O.WRITE, O.RMW, O.FREE):
        return None
    return op[1]


_LOCAL = O.LOCAL
_CHOOSE = O.CHOOSE
_READ, _WRITE, _RMW = O.READ, O.WRITE, O.RMW
_F_R, _F_W = deps.F_R, deps.F_W
# operations that can be disabled (see Execution.is_enabled); every other one is always enabled
_MAY_BLOCK = frozenset((O.LOCK, O.DOWN_READ, O.DOWN_WRITE_WAIT, O.WAIT_COMPLETION, O.JOIN, O.GATE_WAIT))
# operations without an object argument, on fields, and acquiring locks
_NO_OBJECT = frozenset((O.SPAWN, O.JOIN, O.CHOOSE, O.YIELD))
_FIELD_OPS = frozenset((O.READ, O.WRITE, O.RMW, O.FREE))
_ACQUIRES = frozenset((O.LOCK, O.TRYLOCK, O.DOWN_READ, O.DOWN_WRITE, O.DOWN_WRITE_WAIT,
                       O.DOWN_READ_TRYLOCK, O.DOWN_WRITE_TRYLOCK, O.GATE_ENTER, O.GATE_REENTER))


def _short_loc(loc):
    func, path, line = loc
    return f"{path.rsplit('/', 1)[-1]}:{line} in {func}"


def describe_op(op, value=None):
    """Human text of an operation, e.g. ``lock(pci_rescan_remove_lock)``."""
    code = op[0]
    name = O.OP_NAMES.get(code, str(code))
    if code in (O.READ, O.WRITE, O.RMW):
        obj, field = op[1], op[2]
        marked = (code == O.RMW) or op[-1] is True
        base = f"{name}{'_once' if marked and code != O.RMW else ''}({_objname(obj)}.{field})"
        if code == O.WRITE:
            return f"{base} = {_short(op[3])}"
        return f"{base} -> {_short(value)}"
    if code == O.SPAWN:
        return f"spawn {value.name if value is not None else op[3]}"
    if code == O.JOIN:
        return f"wait for {op[1].name} to finish"
    if code == O.CHOOSE:
        label = f" {op[2]}" if op[2] else ""
        return f"choose{label} -> {value}"
    if code == O.YIELD:
        return f"{op[1] or 'schedule'}"
    if code == O.FREE:
        return f"free({_objname(op[1])})"
    obj = op[1]
    text = f"{name}({obj.name})"
    if code in (O.TRYLOCK, O.DOWN_READ_TRYLOCK, O.DOWN_WRITE_TRYLOCK, O.TRY_WAIT_COMPLETION,
                O.GATE_ENTER):
        text += " -> " + ("ok" if value else "failed")
    return text


def _objname(obj):
    if isinstance(obj, Shared):
        return obj.describe()
    return getattr(obj, "name", type(obj).__name__)


_SHORT_WIDTH = 48  # a set or tuple is shown whole when its text fits in this many characters


def _short(v):
    """A value as a trace line shows it: scalars and small sets and tuples in full (a set's
    items sorted, so the text does not depend on iteration order), anything larger counted."""
    if isinstance(v, (int, bool, str)) or v is None:
        return repr(v)
    if isinstance(v, (set, frozenset)):
        text = "{" + ", ".join(sorted((_short(x) for x in v), key=_number_first)) + "}"
        return text if len(text) <= _SHORT_WIDTH else f"{{{len(v)} items}}"
    if isinstance(v, tuple):
        text = "(" + ", ".join(_short(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        if len(text) <= _SHORT_WIDTH:
            return text
    if isinstance(v, (list, tuple)):
        return f"[{len(v)} items]"
    return getattr(v, "name", type(v).__name__)


def _number_first(text):
    # integers in numeric order, then everything else in text order
    digits = text.lstrip("-")
    return (0, int(text), "") if digits.isdigit() else (1, 0, text)


# -- operation handlers -------------------------------------------------------------------
# Each returns (result, history list or None, dependency mode, advance?).

def _h_lock(ex, t, op):
    m = op[1]
    m.owner = t.tid
    t.held.append((m, "w"))
    return None, m._h, deps.M_ACQ, True


def _h_trylock(ex, t, op):
    m = op[1]
    if m.owner is None:
        m.owner = t.tid
        t.held.append((m, "w"))
        return True, m._h, deps.M_TRYS, True
    return False, m._h, deps.M_TRYF, True


def _release(t, obj, how):
    held = t.held
    for i in range(len(held) - 1, -1, -1):
        if held[i][0] is obj and held[i][1] == how:
            del held[i]
            return


def _bad_unlock(ex, t, lock, what):
    """Releasing a lock the task does not hold: the kernel's bug, not the model's.

    Lockdep prints "WARNING: bad unlock balance detected!" (and DEBUG_MUTEXES /
    DEBUG_RWSEMS warn): a ``warn`` violation at the unlock.  The lock's state is left
    as it was (what happens to the real lock word afterwards is undefined enough that the
    model does not guess); the task goes on.  Found in the wild: ``pci_slot_trylock()``
    before 9368d1ee6282 unlocked a bridge it had not locked.
    """
    frames = frames_of(t.gen)
    where = frames[-1] if frames else None
    msg = f"bad unlock balance: task {t.name} does {what}"
    ex.add_violation("warn", msg, [t.tid], detail={"frames": frames},
                     signature=("warn", "bad-unlock", lock.lock_class, where[0] if where else None,
                                where[2] if where else None))


def _h_unlock(ex, t, op):
    m = op[1]
    if m.owner != t.tid:
        owner = "nobody" if m.owner is None else ex.threads[m.owner].name
        _bad_unlock(ex, t, m, f"mutex_unlock({m.name}) held by {owner}")
        return None, m._h, deps.M_REL, True
    m.owner = None
    _release(t, m, "w")
    return None, m._h, deps.M_REL, True


def _h_down_read(ex, t, op):
    s = op[1]
    s.readers.append(t.tid)
    t.held.append((s, "r"))
    return None, s._h, deps.S_RACQ, True


def _h_down_write(ex, t, op):
    s = op[1]
    if s.writer is None and not s.readers:
        s.writer = t.tid
        t.held.append((s, "w"))
        return None, s._h, deps.S_WACQD, True
    s.wwait.append(t.tid)
    t.pending = (O.DOWN_WRITE_WAIT, s, op[2])
    return None, s._h, deps.S_WREG, False


def _h_down_write_wait(ex, t, op):
    s = op[1]
    s.wwait.remove(t.tid)
    s.writer = t.tid
    t.held.append((s, "w"))
    return None, s._h, deps.S_WACQ, True


def _h_down_read_trylock(ex, t, op):
    s = op[1]
    if s.writer is None and not s.wwait:
        s.readers.append(t.tid)
        t.held.append((s, "r"))
        return True, s._h, deps.S_RTRYS, True
    return False, s._h, deps.S_RTRYF, True


def _h_down_write_trylock(ex, t, op):
    s = op[1]
    if s.writer is None and not s.readers and not s.wwait:
        s.writer = t.tid
        t.held.append((s, "w"))
        return True, s._h, deps.S_WTRYS, True
    return False, s._h, deps.S_WTRYF, True


def _h_up_read(ex, t, op):
    s = op[1]
    if t.tid not in s.readers:
        _bad_unlock(ex, t, s, f"up_read({s.name}) without holding it for reading")
        return None, s._h, deps.S_RREL, True
    s.readers.remove(t.tid)
    _release(t, s, "r")
    return None, s._h, deps.S_RREL, True


def _h_up_write(ex, t, op):
    s = op[1]
    if s.writer != t.tid:
        _bad_unlock(ex, t, s, f"up_write({s.name}) without holding it for writing")
        return None, s._h, deps.S_WREL, True
    s.writer = None
    _release(t, s, "w")
    return None, s._h, deps.S_WREL, True


def _h_complete(ex, t, op):
    c = op[1]
    if c.done < Completion.ALL:
        c.done += 1
    return None, c._h, deps.C_COMP, True


def _h_complete_all(ex, t, op):
    c = op[1]
    c.done = Completion.ALL
    return None, c._h, deps.C_COMP, True


def _h_wait_completion(ex, t, op):
    c = op[1]
    if c.done < Completion.ALL:
        c.done -= 1
    return None, c._h, deps.C_WAIT, True


def _h_try_wait_completion(ex, t, op):
    c = op[1]
    if c.done > 0:
        if c.done < Completion.ALL:
            c.done -= 1
        return True, c._h, deps.C_TRYS, True
    return False, c._h, deps.C_TRYF, True


def _h_spawn(ex, t, op):
    _, fn, args, name = op
    t.nspawn += 1
    child = ex._create(name, fn, args, t)
    return child, None, 0, True


def _h_join(ex, t, op):
    return None, None, 0, True


def _field_hist(obj, field):
    try:
        fh = obj._fh
    except AttributeError:
        raise ModelError(f"shared field {field!r} of {obj!r}, which is not a Shared model object") from None
    h = fh.get(field)
    if h is None:
        if field not in obj._v:
            raise ModelError(f"{type(obj).__name__} has no shared field {field!r}")
        h = fh[field] = Hist(("field", obj.describe(), field))
    return h


# the field handlers look the history up inline; _field_hist() makes it, or reports the error

def _h_read(ex, t, op):
    obj, field = op[1], op[2]
    try:
        h = obj._fh.get(field)
    except AttributeError:
        h = None
    if h is None:
        h = _field_hist(obj, field)
    return obj._v[field], h, _F_R, True


def _h_write(ex, t, op):
    obj, field = op[1], op[2]
    try:
        h = obj._fh.get(field)
    except AttributeError:
        h = None
    if h is None:
        h = _field_hist(obj, field)
    obj._v[field] = op[3]
    return None, h, _F_W, True


def _h_rmw(ex, t, op):
    obj, field, fn = op[1], op[2], op[3]
    try:
        h = obj._fh.get(field)
    except AttributeError:
        h = None
    if h is None:
        h = _field_hist(obj, field)
    old = obj._v[field]
    try:
        obj._v[field] = fn(old)
    except Exception as e:
        raise ModelError(f"thread {t.name}: rmw function on {field} raised {e!r}", thread=t.name,
                         frames=frames_of(t.gen)) from e
    return old, h, _F_W, True


def _h_choose(ex, t, op):
    n = op[1]
    c = ex._choice
    if c is None:
        c = 0
    if not (0 <= c < n):
        raise ModelError(f"thread {t.name}: choice {c} out of range({n})", thread=t.name)
    return c, None, 0, True


def _h_gate_enter(ex, t, op):
    g = op[1]
    if g.closed:
        return False, g._h, deps.G_ENTERF, True
    g.count += 1
    g.holders.append(t.tid)
    t.held.append((g, "r"))
    return True, g._h, deps.G_ENTERS, True


def _h_gate_leave(ex, t, op):
    g = op[1]
    if t.tid not in g.holders:
        raise ModelError(f"thread {t.name} leaves gate {g.name} it did not enter", thread=t.name,
                         frames=frames_of(t.gen))
    g.count -= 1
    g.holders.remove(t.tid)
    _release(t, g, "r")
    return None, g._h, deps.G_LEAVE, True


def _h_gate_close(ex, t, op):
    g = op[1]
    g.closed = True
    if g.count == 0:
        return None, g._h, deps.G_CLOSE, True
    t.pending = (O.GATE_WAIT, g)
    return None, g._h, deps.G_CLOSE, False


def _h_gate_wait(ex, t, op):
    g = op[1]
    return None, g._h, deps.G_WAIT, True


def _h_gate_reenter(ex, t, op):
    g = op[1]
    g.count += 1
    g.holders.append(t.tid)
    t.held.append((g, "r"))
    return None, g._h, deps.G_REENTER, True


def _h_yield(ex, t, op):
    return None, None, 0, True


def _h_free(ex, t, op):
    obj = op[1]
    mh = deps.life_hist(obj)
    if not obj._freed:
        object.__setattr__(obj, "_freed", True)
        object.__setattr__(obj, "_free_info", (t.tid, t.name, frames_of(t.gen), ex.nsteps - 1))
        for so in obj.owned_sync_objects():
            so._freed = obj
        ex.nfreed += 1
    return None, mh, deps.FREE, True


_HANDLERS = {
    O.LOCK: _h_lock, O.TRYLOCK: _h_trylock, O.UNLOCK: _h_unlock,
    O.DOWN_READ: _h_down_read, O.DOWN_WRITE: _h_down_write, O.DOWN_WRITE_WAIT: _h_down_write_wait,
    O.DOWN_READ_TRYLOCK: _h_down_read_trylock, O.DOWN_WRITE_TRYLOCK: _h_down_write_trylock,
    O.UP_READ: _h_up_read, O.UP_WRITE: _h_up_write,
    O.COMPLETE: _h_complete, O.COMPLETE_ALL: _h_complete_all,
    O.WAIT_COMPLETION: _h_wait_completion, O.TRY_WAIT_COMPLETION: _h_try_wait_completion,
    O.SPAWN: _h_spawn, O.JOIN: _h_join, O.READ: _h_read, O.WRITE: _h_write, O.RMW: _h_rmw,
    O.CHOOSE: _h_choose, O.GATE_ENTER: _h_gate_enter, O.GATE_LEAVE: _h_gate_leave,
    O.GATE_CLOSE: _h_gate_close, O.GATE_WAIT: _h_gate_wait, O.GATE_REENTER: _h_gate_reenter,
    O.YIELD: _h_yield, O.FREE: _h_free,
}

