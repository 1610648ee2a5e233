"""Data-race detector: KCSAN's definition, with happens-before vector clocks.

Definition
----------
Two accesses to the same shared field of the same :class:`~pcilock.engine.objects.Shared`
object *race* when

* they come from different threads,
* at least one of them writes (``write``; ``rmw`` is a marked read and write),
* not both are *marked* (``read(..., marked=True)`` / ``write(..., marked=True)``
  model ``READ_ONCE``/``WRITE_ONCE``/atomics; an ``rmw`` is always marked), and
* neither happens before the other.

This is KCSAN's notion of a data race (a plain access concurrent with a
conflicting access; marked accesses only race with plain ones).  It is a
property of the Mazurkiewicz trace, so DPOR's one execution per trace finds
every race of the program: every happens-before edge below joins two events
the partial-order reduction treats as dependent, hence ordered identically in
every execution of a trace, and the conflicting accesses themselves are
dependent, so both are present in the same executions.

Happens-before
--------------
Program order, plus the synchronisation edges (Lamport vector clocks, one
entry per thread id; a thread's own entry is incremented after each release):

* ``unlock(m)`` → the next ``lock(m)`` / successful ``trylock(m)`` (an unlock by a task
  that does not hold *m*, a ``warn``, adds its own past and keeps what the last real
  unlock released);
* ``up_write(s)`` → every later acquisition of *s*; ``up_read(s)`` → every later
  *write* acquisition of *s* (readers do not synchronise with each other);
* ``gate_leave(g)`` → the completion of a drain (``gate_close`` returning);
* ``complete(c)``/``complete_all(c)`` → a later ``wait_for_completion(c)`` return
  or successful ``try_wait_for_completion(c)`` (every earlier ``complete``, not
  only the one consumed: completions are used as one-shot events);
* ``spawn`` → the child's first step; the child's last step → ``join`` returning.

Shared-field accesses never create happens-before, marked or not: a flag
written with ``WRITE_ONCE`` and polled with ``READ_ONCE`` does not order the
plain accesses around it (the LKMM needs release/acquire for that).

Reports
-------
A race is a ``race`` violation reported at the second access, with both
accesses in ``detail["accesses"]``::

    {"thread": name, "op": "read"|"write"|"rmw", "marked": bool,
     "field": "Type.field of objname", "frames": [(func, file, line), ...], "step": int}

Its signature is ``("race", (Type, field, objname), loc_a, loc_b)`` with the two
code locations (innermost frame ``(func, file, line)``) sorted, so the same pair
of accesses found in either order, in any execution, is one report.
"""

from __future__ import annotations

from . import ops as O
from .violation import Violation

_READ, _WRITE, _RMW = O.READ, O.WRITE, O.RMW


def _join(into, other):
    if other is None:
        return
    n = len(other)
    if len(into) < n:
        into.extend([0] * (n - len(into)))
    for i in range(n):
        v = other[i]
        if v > into[i]:
            into[i] = v


# A snapshot records, for each generator of a thread's chain, its code and
# instruction offset (f_lasti); the line is looked up when a report needs it.
# f_lineno would scan the code's line table from its start, at every level of
# every snapshot.  line_at() gives the line f_lineno gives for that offset (both
# take the address range of the code's line table that holds it), computed once
# per offset; every code object met is kept, so its id() stays unique.
#
# A snapshot is a linked cell ``(outer cell or None, code, f_lasti)`` naming the
# innermost generator; the cells of the outer generators are shared with the
# snapshots taken before, so a snapshot costs one cell per level that changed
# (most accesses change one or two of a chain of about a dozen), not a copy of
# the chain.  None is the empty snapshot.
_LINES = {}  # id(code) -> (code, {f_lasti: line})


def line_at(code, lasti):
    """The line ``f_lineno`` reports for a frame of *code* at offset *lasti* (``f_lasti``)."""
    ent = _LINES.get(id(code))
    if ent is None or ent[0] is not code:
        ent = _LINES[id(code)] = (code, {})
    lines = ent[1]
    line = lines.get(lasti, _NOLINE)
    if line is _NOLINE:
        line = lines[lasti] = _addr2line(code, lasti)
    return line


_NOLINE = object()


def _addr2line(code, lasti):
    if lasti < 0:  # not started (PyCode_Addr2Line of a negative address)
        return code.co_firstlineno
    for start, end, line in code.co_lines():
        if start <= lasti < end:
            return line
    return None


def _snap(gen):
    """Snapshot of a suspended generator chain (see above), walked from the outermost."""
    cell = None
    g = gen
    while g is not None:
        f = g.gi_frame
        if f is None:
            break
        cell = (cell, g.gi_code, f.f_lasti)
        g = g.gi_yieldfrom
        if g is not None and not hasattr(g, "gi_frame"):
            break
    return cell


_GEN = type((lambda: (yield))())


def snap_thread(t):
    """``_snap(t.gen)``, reusing the cells of the thread's previous snapshot that cannot have changed.

    A generator of the previous snapshot's chain whose frame is not cleared
    (it has not finished) is still in the chain, and every generator outside it
    is still suspended in the same ``yield from``: a delegation ends only when
    the delegate finishes.  So the snapshot keeps the previous one's cells above
    the deepest such generator, whose offset is read again, and walks the chain
    below it.  Only chains of plain generators are reused.
    """
    c = t.snapc
    if c is not None:
        gens, cells = c
        k = len(gens) - 1
        while k >= 0 and gens[k].gi_frame is None:
            k -= 1
        if k >= 0:
            g = gens[k]
            cell = cells[k - 1] if k else None
            del gens[k:]
            del cells[k:]
        else:
            g = t.gen
            cell = None
            gens.clear()
            cells.clear()
    else:
        gens = []
        cells = []
        g = t.gen
        cell = None
    plain = True
    while g is not None:  # as _snap(), from g down
        f = g.gi_frame
        if f is None:
            break
        cell = (cell, g.gi_code, f.f_lasti)
        gens.append(g)
        cells.append(cell)
        if type(g) is not _GEN:
            plain = False
        g = g.gi_yieldfrom
        if g is not None and not hasattr(g, "gi_frame"):
            break
    t.snapc = (gens, cells) if plain else None
    return cell


def frames_of_snap(snap):
    """Convert a snapshot to ``[(func, file, line), ...]``, outermost first."""
    out = []
    while snap is not None:
        snap, c, lasti = snap
        out.append((c.co_name, c.co_filename, line_at(c, lasti)))
    out.reverse()
    return out


# Code locations key the recent accesses of a field.  Hashing a code object
# hashes its contents on every call, so a location is keyed by a number naming
# the class of equal code objects of one file (code objects compare by value,
# and their value leaves out the file: two copies of a function in two files are
# equal, while a report names the file): the first code object of the class met
# gets one, and every code object seen is kept, so its id() stays unique.  A
# class so determines the function's name and file.  Lookups only, never an order.
_CODE_CLASS = {}  # id(code) -> (code, number of its class)
_CLASS_OF = {}  # (file, code) -> number of its class


def _code_class(code):
    ent = _CODE_CLASS.get(id(code))
    if ent is not None and ent[0] is code:
        return ent[1]
    k = (code.co_filename, code)
    n = _CLASS_OF.get(k)
    if n is None:
        n = _CLASS_OF[k] = len(_CLASS_OF)
    _CODE_CLASS[id(code)] = (code, n)
    return n


# (id(code), f_lasti) -> (code, number of its class, line): the location of an access made
# directly in a generator (lookups only; the code object is kept, so its id() stays unique)
_LOC = {}


def _objname(obj):
    d = getattr(obj, "describe", None)
    return d() if d is not None else getattr(obj, "name", type(obj).__name__)


def _short(loc):
    if loc is None:
        return "?"
    func, path, line = loc
    return f"{path.rsplit('/', 1)[-1]}:{line} in {func}"


# A recorded access is a tuple (tuples are cheaper to make than objects):
# (thread id, its clock entry at the access, write?, marked?, snapshot, step, op name, thread name,
#  code, line and code class of the innermost frame (None, None, None without one))
_TID, _EPOCH, _ISWRITE, _MARKED, _SNAP, _STEP, _OP, _THREAD, _CODE, _LINE, _CLS = range(11)


class RaceDetector:
    """Per-execution race detector, driven by :meth:`Execution.step`.

    Clocks live in the per-execution objects: ``ThreadState.hbclock``,
    ``SyncObject._clock`` (``RWSem._rclock`` for readers' releases); the recent
    accesses of a field live in its history (``Hist.racc``), keyed by thread,
    access kind and code location (the newest access of each key dominates the
    older ones: it is later in program order, so it races with everything they
    race with, and it has the same signature).
    """

    # (it keeps no reference to its execution, which is passed to every call: an
    # execution referring to its detector and back would be a reference cycle,
    # freed only by the cyclic garbage collector, once per execution)
    __slots__ = ()

    # -- clocks ------------------------------------------------------------------------
    @staticmethod
    def _clock(t):
        c = t.hbclock
        if c is None:
            c = [0] * (t.tid + 1)
            c[t.tid] = 1
            t.hbclock = c
        elif len(c) <= t.tid or c[t.tid] == 0:
            if len(c) <= t.tid:
                c.extend([0] * (t.tid + 1 - len(c)))
            c[t.tid] = 1
        return c

    def on_event(self, ex, t, op, value, hist):
        code = op[0]
        if code == _READ:
            self._access(ex, t, op[1], op[2], hist, False, op[3], "read")
        elif code == _WRITE:
            self._access(ex, t, op[1], op[2], hist, True, op[4], "write")
        elif code == _RMW:
            self._access(ex, t, op[1], op[2], hist, True, True, "rmw")
        else:
            f = _SYNC.get(code)
            if f is not None:
                f(self._clock(t), t, op, value)

    # -- accesses ------------------------------------------------------------------------
    def _access(self, ex, t, obj, field, hist, write, marked, opname):
        tid = t.tid
        C = t.hbclock
        if C is None or len(C) <= tid or C[tid] == 0:
            C = self._clock(t)
        g = t.gen
        f = g.gi_frame
        if f is not None and g.gi_yieldfrom is None:  # not inside a ``yield from``
            code = g.gi_code
            lasti = f.f_lasti
            ent = _LOC.get((id(code), lasti))
            if ent is not None and ent[0] is code:
                cls = ent[1]
                line = ent[2]
            else:
                line = f.f_lineno
                cls = _code_class(code)
                _LOC[(id(code), lasti)] = (code, cls, line)
            snap = (None, code, lasti)
        else:
            snap = snap_thread(t)
            if snap is not None:
                code, lasti = snap[1], snap[2]
                line = line_at(code, lasti)
                ent = _CODE_CLASS.get(id(code))
                cls = ent[1] if ent is not None and ent[0] is code else _code_class(code)
            else:
                code = line = cls = None
        acc = hist.racc
        if acc is None:
            acc = hist.racc = {}
        elif acc and not ex.race_quiet:  # (quiet: a replayed prefix, reported before)
            nc = len(C)
            met = None  # innermost (code, line) of the earlier accesses reported here
            for e in acc.values():
                etid = e[0]
                if etid == tid or not (write or e[2]) or (marked and e[3]):
                    continue
                if nc > etid and C[etid] >= e[1]:
                    continue
                # two earlier accesses at the same location give the same signature here
                ec, el = e[_CODE], e[_LINE]
                if met is None:
                    met = [(ec, el)]
                else:
                    dup = False
                    for mc, ml in met:
                        if mc is ec and ml == el:
                            dup = True
                            break
                    if dup:
                        continue
                    met.append((ec, el))
                self._report(ex, t, obj, field, e, marked, snap, opname, code, line, cls)
        acc[(tid, write, marked, cls, line)] = (tid, C[tid], write, marked, snap, ex.nsteps - 1, opname,
                                                t.name, code, line, cls)

    def _report(self, ex, t, obj, field, e, marked, snap, opname, code, line, cls):
        tname = type(obj).__name__
        oname = _objname(obj)
        memo = ex.race_memo
        if memo is not None:
            # an explorer's memo across executions: (type name, field, object name, both
            # locations' code class and line) determine the signature, which is built once;
            # once the explorer has collected a signature it stays collected
            pk = (tname, field, oname, e[_CLS], e[_LINE], cls, line)
            known_pk = ex.race_known_pk
            if pk in known_pk:
                return
            sig = memo.get(pk)
            if sig is None:
                sig = memo[pk] = _signature(tname, field, oname, e[_CODE], e[_LINE], code, line)
            if sig in ex.known_races:
                known_pk.add(pk)
                return
        else:
            sig = _signature(tname, field, oname, e[_CODE], e[_LINE], code, line)
        reported = ex._reported
        if sig in reported:
            return
        reported.add(sig)
        ec = e[_CODE]  # the innermost frames (func, file, line) of both snapshots
        l1 = None if ec is None else (ec.co_name, ec.co_filename, e[_LINE])
        l2 = None if code is None else (code.co_name, code.co_filename, line)
        ex.violations.append(Violation(
            "race", None, [e[_TID], t.tid], ex.nsteps - 1 if ex.nsteps else 0, None, sig,
            (_race_text, (e, t.name, tname, field, oname, marked, snap, opname, ex.nsteps - 1, l1, l2))))


def _signature(tname, field, oname, ec, el, code, line):
    """``("race", (Type, field, objname), loc_a, loc_b)``, the two locations sorted."""
    x = _NOLOC if ec is None else (ec.co_name, ec.co_filename, el)
    y = _NOLOC if code is None else (code.co_name, code.co_filename, line)
    return ("race", (tname, field, oname), y, x) if y < x else ("race", (tname, field, oname), x, y)


def _race_text(e, tn, tname, field, oname, marked, snap, opname, step, l1, l2):
    """Message and detail of a race report (built when first looked at)."""
    f1 = frames_of_snap(e[_SNAP])
    f2 = frames_of_snap(snap)
    ftext = f"{tname}.{field} of {oname}"
    first = {"thread": e[_THREAD], "op": e[_OP], "marked": e[_MARKED], "field": ftext, "frames": f1,
             "step": e[_STEP]}
    second = {"thread": tn, "op": opname, "marked": marked, "field": ftext, "frames": f2,
              "step": step}

    def desc(x, loc):
        m = "marked " if x["marked"] and x["op"] != "rmw" else ""
        return f"{m}{x['op']} by {x['thread']} ({_short(loc)})"

    msg = f"data race on {ftext}: {desc(first, l1)} and {desc(second, l2)}"
    detail = {"field": ftext, "accesses": [first, second], "frames": f2, "steps": [e[_STEP]]}
    return msg, detail


_NOLOC = ("?", "?", 0)


# -- synchronisation -------------------------------------------------------------------------
def _acq(C, t, op, value):
    _join(C, op[1]._clock)


def _acq_try(C, t, op, value):
    if value:
        _join(C, op[1]._clock)


def _release_join(C, t, obj):
    if obj._clock is None:
        obj._clock = list(C)
    else:
        _join(obj._clock, C)
    C[t.tid] += 1


def _unlock(C, t, op, value):
    # A join, not a copy: the owner joined the lock's clock when it took the lock, so for a
    # balanced unlock the two are the same; an unlock by a task that does not hold the lock
    # (a "bad unlock balance" warn) must not erase what the last real unlock released.
    _release_join(C, t, op[1])


def _w_acq(C, t, op, value):
    s = op[1]
    _join(C, s._clock)
    _join(C, s._rclock)


def _down_write(C, t, op, value):
    if t.pending is op:  # taken at once (otherwise queued: DOWN_WRITE_WAIT acquires)
        _w_acq(C, t, op, value)


def _w_try(C, t, op, value):
    if value:
        _w_acq(C, t, op, value)


def _up_read(C, t, op, value):
    s = op[1]
    if s._rclock is None:
        s._rclock = list(C)
    else:
        _join(s._rclock, C)
    C[t.tid] += 1


def _complete(C, t, op, value):
    _release_join(C, t, op[1])


def _gate_leave(C, t, op, value):
    _release_join(C, t, op[1])


def _gate_close(C, t, op, value):
    if t.pending is op:  # drained at once
        _join(C, op[1]._clock)


def _spawn(C, t, op, value):
    child = value
    cc = list(C)
    if len(cc) <= child.tid:
        cc.extend([0] * (child.tid + 1 - len(cc)))
    cc[child.tid] = 1
    child.hbclock = cc
    C[t.tid] += 1


def _join_thread(C, t, op, value):
    _join(C, op[1].hbclock)


_SYNC = {
    O.LOCK: _acq, O.TRYLOCK: _acq_try, O.UNLOCK: _unlock,
    O.DOWN_READ: _acq, O.DOWN_READ_TRYLOCK: _acq_try,
    O.DOWN_WRITE: _down_write, O.DOWN_WRITE_WAIT: _w_acq, O.DOWN_WRITE_TRYLOCK: _w_try,
    O.UP_READ: _up_read, O.UP_WRITE: _unlock,
    O.COMPLETE: _complete, O.COMPLETE_ALL: _complete,
    O.WAIT_COMPLETION: _acq, O.TRY_WAIT_COMPLETION: _acq_try,
    O.GATE_LEAVE: _gate_leave, O.GATE_CLOSE: _gate_close, O.GATE_WAIT: _acq,
    O.SPAWN: _spawn, O.JOIN: _join_thread,
}
