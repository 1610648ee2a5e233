"""Exhaustive exploration: source-DPOR with sleep sets.

Algorithm
---------
This is Algorithm 1 of Abdulla, Aronis, Jonsson and Sagonas, "Source Sets: A
Foundation for Optimal Dynamic Partial Order Reduction" (JACM 64(4), 2017;
POPL 2014), run statelessly: every execution re-runs the program from its
setup, replaying a prefix of the previous one and then taking a new branch.

* The exploration tree is the list of *nodes* of the current execution; node i
  is the state before step i and holds the thread taken there, its
  ``backtrack`` set, the threads already ``explored`` there and the ``sleep``
  set it was entered with.
* After every step the new event is compared with the earlier events on the
  same object (the object's history).  Each *immediate race* (e', e) — e' and
  e dependent and reversible, from different threads, with no third event
  ordered between them — adds one thread of the initials of
  ``notdep(e', E).e`` to ``backtrack`` at the node of e', unless one is there
  already.  Happens-before is tracked with vector clocks.
* Sleep sets: when a node's next thread is explored, the threads explored
  before it (and its own sleep set) stay asleep in the child while their next
  operation is independent of what ran; an execution in which every enabled
  thread sleeps is redundant and abandoned ("sleep-set blocked").
* Blocking operations: the race that matters for a blocking acquisition is the
  one with the previous acquisition of the same object (see
  :mod:`pcilock.engine.deps`).  Threads still blocked when an execution ends
  (a deadlock or hang) have their pending operation analysed as if it were
  performed, so the interleavings in which they win the race are explored too.
* Nondeterministic choices are scheduling points independent of every other
  event; a node whose thread chooses is explored once per value.

Every complete execution is a distinct Mazurkiewicz trace (sleep sets exclude
duplicates), so ``stats.complete`` counts traces; ``stats.sleep_blocked``
counts the redundant executions source sets cannot avoid.
"""

from __future__ import annotations

from . import deps
from . import ops as O
from .errors import ModelError, NondeterminismError
from .execution import Execution
from .result import Budget, Found, Result, Stats, StopReason, verdict_for

_REL = deps.REL
_N = deps.NMODES
_TOTAL = deps.TOTAL
_DEPMASK = deps.DEPMASK
_JOIN, _SPAWN, _CHOOSE = O.JOIN, O.SPAWN, O.CHOOSE
_RACE = deps.RACE
_MultiHist = deps.MultiHist
_MultiKey = deps.MultiKey


class Node:
    __slots__ = ("tid", "choice", "nchoices", "backtrack", "explored", "sleep", "enabled")

    def __init__(self, tid, sleep, enabled):
        self.tid = tid
        self.choice = None
        self.nchoices = 0
        self.backtrack = [tid]
        self.explored = []
        self.sleep = sleep
        self.enabled = enabled  # threads enabled in this state


class _Ev:
    __slots__ = ("tid", "seq", "clock", "key", "mode", "spawner", "spawned", "joined", "choice")

    def __init__(self, tid, seq, clock, key, mode):
        self.tid = tid
        self.seq = seq
        self.clock = clock
        self.key = key  # stable name of the object touched (None: no footprint)
        self.mode = mode
        self.spawner = None  # first event of a spawned thread: (parent tid, spawn seq)
        self.spawned = None  # SPAWN: the child's tid
        self.joined = None  # JOIN: the joined thread's tid
        self.choice = None  # CHOOSE: the value chosen


def initials(w):
    """Threads whose first event in sequence *w* has no predecessor in *w*.

    Ordering inside *w* comes only from dependencies between *w*'s own events
    (and spawn/join edges): a path through events outside *w* does not exist
    once *w* is run on its own.  An event with a predecessor has one it depends
    on directly, so no transitive closure is needed.
    """
    seen = set()  # membership only
    masks = {}  # key -> bitmask of the modes of the events on it so far
    out = []
    depmask = _DEPMASK
    for x in w:
        xt = x.tid
        key = x.key
        if xt not in seen:
            seen.add(xt)
            sp = x.spawner
            if sp is not None and _performs(w, x, sp):
                pass
            elif x.joined is not None and x.joined in seen:
                pass
            elif key is None:
                out.append(xt)
            elif type(key) is _MultiKey:
                dm = depmask[x.mode]
                for k in key:
                    if masks.get(k, 0) & dm:
                        break
                else:
                    out.append(xt)
            elif not masks.get(key, 0) & depmask[x.mode]:
                out.append(xt)
        if key is not None:
            bit = 1 << x.mode
            if type(key) is _MultiKey:
                for k in key:
                    masks[k] = masks.get(k, 0) | bit
            else:
                masks[key] = masks.get(key, 0) | bit
    return out


def _performs(w, upto, ev):
    """Does an event of *w* before the event *upto* have ``(tid, seq) == ev``?"""
    tid, seq = ev
    for x in w:
        if x is upto:
            return False
        if x.tid == tid and x.seq == seq:
            return True
    return False


def _merged(mh):
    """The entries of the histories of a :class:`~pcilock.engine.deps.MultiHist`, by event."""
    seen = {}
    for h in mh.hists:
        for ent in h:
            if ent[0] not in seen:
                seen[ent[0]] = ent
    return [seen[k] for k in sorted(seen)]


def _join(into, other):
    n = len(other)
    if len(into) < n:
        into.extend([0] * (n - len(into)))
    for i in range(n):
        v = other[i]
        if v > into[i]:
            into[i] = v


class DporTracker:
    """Happens-before clocks and race detection for one execution.

    :param prev: the events of the previous execution of the exploration.
        While not ``analyzing`` (the replayed prefix), an event identical to
        the previous execution's at the same index (same thread, sequence
        number, object key, mode, spawn/join/choice) is that event again, so it
        is reused with its clock instead of recomputed: the model is
        deterministic, so the replayed prefix touches the same objects in the
        same order.  The first difference ends the reuse for the execution.
    """

    def __init__(self, explorer, prev=None):
        self.x = explorer
        self.events = []
        self.analyzing = True
        self.prev = prev

    def on_event(self, ex, t, op, hist, mode, value):
        if self.prev is not None and not self.analyzing:
            # the previous execution's event at this index, if it is this one (see the class doc)
            events = self.events
            idx = len(events)
            prev = self.prev
            if idx < len(prev):
                pe = prev[idx]
                seq = t.seq + 1
                code = op[0]
                if (pe.tid == t.tid and pe.seq == seq and pe.mode == mode
                        and pe.key == (None if hist is None else hist.key)
                        and pe.spawned == (value.tid if code == _SPAWN else None)
                        and pe.joined == (op[1].tid if code == _JOIN else None)
                        and pe.choice == (value if code == _CHOOSE else None)
                        and pe.spawner == ((t.parent.tid, t.spawn_seq) if seq == 1 and t.parent is not None
                                           else None)):
                    t.seq = seq
                    t.clock = pe.clock
                    if hist is not None:
                        if type(hist) is _MultiHist:
                            for h in hist.hists:
                                h.append((idx, mode))
                        else:
                            hist.append((idx, mode))
                    events.append(pe)
                    if code == _SPAWN:
                        value.spawn_seq = seq
                        value.clock = pe.clock[:]
                        if value.done:
                            value.final_clock = value.clock
                    return
            self.prev = None
        events = self.events
        idx = len(events)
        tid = t.tid
        C = t.clock
        seq = t.seq + 1
        t.seq = seq
        newc = C[:]
        if len(newc) <= tid:
            newc.extend([0] * (tid + 1 - len(newc)))
        # happens-before: join every dependent earlier event (a total one covers the rest)
        row = mode * _N  # REL is symmetric: REL[row + m] == REL[m * _N + mode]
        if hist is None:
            key = None
        elif type(hist) is _MultiHist:
            key = hist.key
            for h in hist.hists:
                for eidx, emode in reversed(h):
                    if _REL[row + emode]:
                        ev = events[eidx]
                        if ev.tid != tid:
                            _join(newc, ev.clock)
                        if _TOTAL[emode]:
                            break
        else:
            key = hist.key
            rel = _REL
            for eidx, emode in reversed(hist):
                if rel[row + emode]:
                    ev = events[eidx]
                    if ev.tid != tid:  # _join(newc, ev.clock), inline
                        oc = ev.clock
                        n = len(oc)
                        if len(newc) < n:
                            newc.extend([0] * (n - len(newc)))
                        for k in range(n):
                            v = oc[k]
                            if v > newc[k]:
                                newc[k] = v
                    if _TOTAL[emode]:
                        break
        code = op[0]
        if code == _JOIN:
            fc = op[1].final_clock
            if fc:
                _join(newc, fc)
        newc[tid] = seq
        e = _Ev(tid, seq, newc, key, mode)
        if seq == 1 and t.parent is not None:
            e.spawner = (t.parent.tid, t.spawn_seq)
        if code == _SPAWN:
            e.spawned = value.tid
            value.spawn_seq = seq
        elif code == _JOIN:
            e.joined = op[1].tid
        elif code == _CHOOSE:
            e.choice = value
        if hist is None:
            pass
        elif type(hist) is _MultiHist:
            if self.analyzing:
                merged = _merged(hist)
                self._races(merged, len(merged), e, C, idx, False, False)
            for h in hist.hists:
                h.append((idx, mode))
        else:
            if self.analyzing:
                self._races(hist, len(hist), e, C, idx, False)
            hist.append((idx, mode))
        t.clock = newc
        events.append(e)
        if code == _SPAWN:
            value.clock = newc[:]
            if value.done:
                value.final_clock = value.clock

    def _races(self, hist, n, e, C, e_idx, virtual, total_break=True):
        """Find the races of event e (thread *tid*, clock before it *C*) and reverse them.

        Scanning the object's history backwards, an earlier event d races with e
        when they are reversibly dependent and d is not already ordered before e
        by the thread's own past or by a later race.  A race whose reversal is
        infeasible (no initial enabled at d's node) does not cover the events
        before it: the race that matters may be further back.

        *hist* may be the merged histories of a multi-object event (a free);
        a total event of one object then says nothing about the others, so the
        scan does not stop there (``total_break`` False).
        """
        events = self.events
        mode = e.mode
        tid = e.tid
        imm = C
        copied = False
        for j in range(n - 1, -1, -1):
            eidx, emode = hist[j]
            r = _REL[emode * _N + mode]
            if not r:
                continue
            ev = events[eidx]
            etid = ev.tid
            covered = etid == tid or (len(imm) > etid and imm[etid] >= ev.seq)
            if virtual and etid != tid and r == _RACE and not (len(C) > etid and C[etid] >= ev.seq):
                # a blocked operation: its first-event-feasible nearest race may still
                # leave it blocked (the holder acquired before), so every dependent
                # event not in the thread's own past is a candidate
                self.x._add_backtrack(self, eidx, e_idx, e, virtual)
                continue
            if not covered and r == _RACE:
                if self.x._add_backtrack(self, eidx, e_idx, e, virtual):
                    if not copied:
                        imm = list(imm)
                        copied = True
                    _join(imm, ev.clock)
                    covered = True
            if covered and total_break and _TOTAL[emode]:
                break

    def pending_races(self, ex, t):
        """Analyse the pending operation of a thread blocked at the end.

        It may be blocked for reasons unrelated to any race (a thread waiting
        on its own read hold), and a reversal whose first step can run may still
        leave it blocked; so every dependent event not in the thread's past is
        a candidate, and reversals with no enabled initial are dropped.
        """
        hist, mode = deps.pending_mode(t.pending)
        if hist is None or type(hist) is _MultiHist:  # a free never blocks
            return
        events = self.events
        tid = t.tid
        newc = list(t.clock)
        if len(newc) <= tid:
            newc.extend([0] * (tid + 1 - len(newc)))
        for eidx, emode in hist:
            if _REL[emode * _N + mode] and events[eidx].tid != tid:
                _join(newc, events[eidx].clock)
        newc[tid] = t.seq + 1
        e = _Ev(tid, t.seq + 1, newc, hist.key, mode)
        if t.seq == 0 and t.parent is not None:
            e.spawner = (t.parent.tid, t.spawn_seq)
        self._races(hist, len(hist), e, t.clock, len(events), True)


class DporExplorer:
    """Exhaustive exploration with source-DPOR and sleep sets.

    :param program: the :class:`~pcilock.engine.program.Program`.
    :param stop_on_first: stop at the first violation (else report all distinct ones).
    :param budget: a :class:`~pcilock.engine.result.Budget`.
    :param observers: factory returning fresh detectors for each execution.
    :param progress: optional callable ``(stats)`` called about once a second.
    :param races: run the data-race detector in every execution.
    """

    name = "source-dpor"

    def __init__(self, program, stop_on_first=True, budget=None, max_steps=None,
                 observers=None, progress=None, on_complete=None, races=True):
        self.program = program
        self.races = races
        self.on_complete = on_complete  # hook (execution, tracker) for tests and statistics
        # Races already reported need not be reported again: not in a replayed prefix (the
        # execution that ran it reported them), nor when their signature was collected before.
        # The explorer's findings are the same either way; only an execution's own list of
        # violations is shorter, so a hook that looks at it gets every one.
        self.skip_known_races = on_complete is None
        self._race_memo = {}  # see races.RaceDetector._report
        self._race_known_pk = set()  # membership only
        self.stop_on_first = stop_on_first
        self.budget = budget or Budget()
        self.max_steps = max_steps
        self.observers = observers
        self.progress = progress
        self.nodes = []
        self.stats = Stats()
        self.found = []
        self._sigs = []  # signatures of the violations found, in order
        self._sigset = set()  # membership only: the hashable ones of them
        self.registry = {}  # spawn path -> thread id, shared by all executions
        self._tracker = None  # the tracker of the last execution

    def _share_known_races(self, ex):
        """Give execution *ex* what the exploration knows of races (see ``skip_known_races``)."""
        if self.skip_known_races:
            ex.known_races = self._sigset
            ex.race_memo = self._race_memo
            ex.race_known_pk = self._race_known_pk

    # -- race bookkeeping -----------------------------------------------------------
    def _add_backtrack(self, tracker, d_idx, e_idx, e, virtual=False):
        """Reverse the race (d, e): add an initial of notdep(d).e at d's node.

        :return: False when the race is not reversible (no initial enabled there).

        Only threads enabled at d's node are candidates; a race without one is
        not reversible (a wait can not move before the only complete() that
        enables it).  ``virtual`` races involve the pending operation of a thread
        still blocked when the execution ended, which may be disabled for
        reasons unrelated to d (a thread waiting on its own read hold).
        """
        node = self.nodes[d_idx]
        events = tracker.events
        d = events[d_idx]
        dt, ds = d.tid, d.seq
        w = []
        for k in range(d_idx + 1, e_idx):
            x = events[k]
            xc = x.clock
            if len(xc) > dt and xc[dt] >= ds:
                continue  # happens after d: not in notdep(d, E)
            w.append(x)
        w.append(e)
        initials_ = initials(w)
        feasible = [q for q in initials_ if q in node.enabled]
        if not feasible:
            if not virtual:
                self.stats.filtered += 1
            return False
        bt = node.backtrack
        for q in feasible:
            if q in bt:
                return True
        bt.append(e.tid if e.tid in feasible else feasible[0])
        return True

    # -- one execution ----------------------------------------------------------------
    def _execute(self, branch):
        tracker = self._tracker = DporTracker(self, self._tracker.events if self._tracker else None)
        kw = {} if self.max_steps is None else {"max_steps": self.max_steps}
        obs = self.observers() if self.observers else ()
        self.ex = None
        ex = Execution(self.program, tracker=tracker, observers=obs,
                       stop_on_violation=self.stop_on_first, registry=self.registry,
                       races=self.races, **kw)
        self._share_known_races(ex)
        self.ex = ex
        nodes = self.nodes
        threads = ex.threads
        sleep = []
        last = None
        i = 0
        nviol = 0
        sleep_blocked = False
        while True:
            if i < len(nodes):
                node = nodes[i]
                tracker.analyzing = i >= branch
                ex.race_quiet = i < branch and self.skip_known_races
                tid = node.tid
                if ex.thread(tid) is None or not ex.is_enabled(threads[tid]):
                    if i < branch:
                        raise NondeterminismError(
                            f"replaying step {i}: thread {tid} is not enabled as it was before; the model "
                            f"is not deterministic (set or dict ordering of objects, id(), time, or "
                            f"unseeded randomness)")
                    # a backtrack entry that is not enabled here: skip it
                    self.stats.infeasible += 1
                    node.explored.append(tid)
                    nxt = self._pick(node, ex)
                    if nxt is None:
                        del nodes[i:]
                        return ex, "infeasible"
                    node.tid = nxt
                    node.choice = None
                    node.nchoices = 0
                    tid = nxt
                pre_sleep = node.sleep + node.explored
            else:
                tracker.analyzing = True
                ex.race_quiet = False
                en = ex.enabled()
                if not en:
                    break
                cands = [x for x in en if x not in sleep]
                if not cands:
                    sleep_blocked = True
                    break
                tid = last if last in cands else cands[0]
                node = Node(tid, sleep, en)
                nodes.append(node)
                pre_sleep = sleep
            t = threads[tid]
            if node.choice is None and t.pending[0] == O.CHOOSE:
                node.choice = 0
                node.nchoices = t.pending[1]
            # the next events of sleeping threads, as determined by this state
            if pre_sleep:
                sleepers = [(q, deps.pending_mode(threads[q].pending)) for q in pre_sleep
                            if q != tid and threads[q].pending is not None]
            hist, mode = ex.step(tid, node.choice)
            # sleep set of the next state: sleepers independent of what ran stay asleep
            sleep = []
            if pre_sleep:
                for q, (qh, qm) in sleepers:
                    if qh is not None and qh is hist and _REL[qm * _N + mode]:
                        continue
                    if (type(qh) is _MultiHist or type(hist) is _MultiHist) and \
                            deps.fp_dependent(qh, qm, hist, mode):
                        continue
                    sleep.append(q)
            last = tid
            i += 1
            if len(ex.violations) > nviol:
                nviol = self._collect(ex, nviol, i)
                if self.stop_on_first and self.found:
                    return ex, "violation"
            if (ex.nsteps & 4095) == 0 and self._clock.exhausted(self.stats.executions):
                return ex, "budget"
        if sleep_blocked:
            # the threads blocked here may be blocked by a race that no complete
            # execution will show (the sleeping thread that would run next was
            # explored before, in an execution where nothing blocked them)
            self._blocked_races(ex, tracker)
            return ex, "sleep-blocked"
        for t in ex.order:
            if t.pending is not None and not ex.is_enabled(t):
                tracker.pending_races(ex, t)
        ex.check_end()
        if self.program.final_checks is not None:
            for kind, message, tids in self.program.final_checks(ex.world, ex):
                ex.add_violation(kind, message, tids, signature=(kind, message))
        if len(ex.violations) > nviol:
            self._collect(ex, nviol, i)
        if self.on_complete is not None:
            self.on_complete(ex, tracker)
        return ex, "complete"

    @staticmethod
    def _blocked_races(ex, tracker):
        for t in ex.order:
            if t.pending is not None and not ex.is_enabled(t):
                tracker.pending_races(ex, t)

    def _pick(self, node, ex):
        for b in node.backtrack:
            if b not in node.explored and b not in node.sleep:
                if ex.thread(b) is not None and ex.is_enabled(ex.threads[b]):
                    return b
                node.explored.append(b)
                self.stats.infeasible += 1
        return None

    def _collect(self, ex, start, upto):
        # schedules and thread ids in Found use creation order, the numbering of replay strings
        # (the registry's ids differ when threads were spawned in another order than in the
        # execution that first met them)
        viols = ex.violations
        schedule = idx = None
        for k in range(start, len(viols)):
            v = viols[k]
            if self._known(v.signature):
                continue
            if schedule is None:
                idx = ex.creation_index()
                schedule = [(idx[n.tid], n.choice) for n in self.nodes[:upto]]
            self.found.append(Found(v.kind, v.message, v.signature, schedule[: v.step + 1] if v.kind
                                    not in ("hang",) and v.step + 1 <= len(schedule) else schedule,
                                    [idx[t] for t in v.tids], dict(v.detail), self.stats.executions))
        return len(viols)

    def _known(self, sig):
        """Was a violation with signature *sig* met before?  Records it if not."""
        try:
            if sig in self._sigset:
                return True
            self._sigset.add(sig)
        except TypeError:  # an unhashable signature: compare with every recorded one
            if sig in self._sigs:
                return True
        self._sigs.append(sig)
        return False

    def _next_branch(self):
        nodes = self.nodes
        i = len(nodes) - 1
        while i >= 0:
            node = nodes[i]
            if node.nchoices and node.choice + 1 < node.nchoices:
                node.choice += 1
                del nodes[i + 1:]
                return i
            if node.tid not in node.explored:
                node.explored.append(node.tid)
            for b in node.backtrack:
                if b not in node.explored and b not in node.sleep:
                    node.tid = b
                    node.choice = None
                    node.nchoices = 0
                    del nodes[i + 1:]
                    return i
            nodes.pop()
            i -= 1
        return None

    # -- driver ------------------------------------------------------------------------
    def run(self):
        stats = self.stats
        self._clock = self.budget.start()
        branch = 0
        stop = StopReason.COVERED
        error = None
        error_schedule = None
        last_progress = 0.0
        while True:
            if self._clock.exhausted(stats.executions):
                stop = StopReason.BUDGET
                break
            stats.executions += 1
            try:
                ex, how = self._execute(branch)
            except ModelError as e:
                error = e
                nsteps = self.ex.nsteps if self.ex is not None else 0
                idx = self.ex.creation_index() if self.ex is not None else {}
                error_schedule = [(idx.get(n.tid, n.tid), n.choice) for n in self.nodes[:nsteps]]
                stop = StopReason.ERROR
                stats.events += nsteps
                break
            stats.events += ex.nsteps
            stats.max_depth = max(stats.max_depth, ex.nsteps)
            if how == "complete":
                stats.complete += 1
            elif how == "sleep-blocked":
                stats.sleep_blocked += 1
            elif how == "violation":
                stats.complete += 1
                stop = StopReason.VIOLATION
                break
            elif how == "budget":
                stop = StopReason.BUDGET
                break
            if self.progress is not None:
                el = self._clock.elapsed()
                if el - last_progress >= 1.0:
                    last_progress = el
                    stats.seconds = el
                    self.progress(stats)
            nb = self._next_branch()
            if nb is None:
                stop = StopReason.COVERED
                break
            branch = nb
        stats.seconds = self._clock.elapsed()
        stats.stop_reason = stop
        if stop is StopReason.COVERED:
            stats.traces = stats.complete
        if error is not None:
            return Result("model-error", False, stats, self.found, error, error_schedule, self.name)
        verdict = verdict_for(self.found, stop, True)
        exhaustive = stop is StopReason.COVERED
        return Result(verdict, exhaustive, stats, self.found, None, None, self.name)
