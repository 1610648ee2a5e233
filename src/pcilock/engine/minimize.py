"""Counterexample minimisation: fewest preemptions, then fewest steps.

1. *Causal core.*  Replay the violating schedule with happens-before clocks
   and keep only the steps that happen before the violation (for a deadlock:
   before the blocking operations of the threads in the cycle; for a failed
   check: before the failing step).  Any linearisation of that downward-closed
   set is a valid execution reaching the same violation, and unrelated threads
   and steps disappear from the report.  A hang keeps every thread, because a
   hang needs every thread stuck.  Threads are renumbered, since replay strings
   number them in creation order and a dropped spawn shifts the later ones.
2. *Few switches.*  The same steps reordered greedily, keeping happens-before:
   the thread that ran last goes on while it can (:func:`fewest_switches`).  It
   needs no search, so it also shrinks counterexamples of large topologies that
   the search below cannot handle (a random walk's 1,257 steps with 1,202
   preemptions became 68 steps with one).
3. *Fewest preemptions.*  Search the schedules of the core's threads, each
   limited to the number of steps it has in the core, with preemption bound
   0, 1, 2 ... up to the preemptions of the best schedule so far
   (:class:`~pcilock.engine.bounded.BoundedSearch`); the first bound that
   reaches a violation with the same signature wins, and among its schedules
   the shortest.  The search has a budget of executions.  The answer is the best
   (fewest preemptions, then fewest steps) of what the search found, the core,
   its reordering and the explorer's own schedule: dropping steps can add a
   preemption (a switch away from a thread whose later steps were dropped), so
   the core is not assumed to be better than the schedule it came from.

The result is always re-checked by replay; minimisation never changes a
verdict, only the counterexample shown.
"""

from __future__ import annotations

from . import ops as O
from .bounded import BoundedSearch
from .dpor import DporTracker
from .errors import ModelError
from .runner import replay, run_one


class _NoBacktrack:
    nodes = None

    def _add_backtrack(self, *a):
        return True


def _clocked_replay(program, schedule, max_steps):
    """Replay *schedule* recording each step's thread and vector clock."""
    tracker = DporTracker(_NoBacktrack())
    tracker.analyzing = False
    from .execution import Execution

    kw = {} if max_steps is None else {"max_steps": max_steps}
    ex = Execution(program, tracker=tracker, races=False, **kw)
    for tid, choice in schedule:
        if ex.thread(tid) is None or not ex.is_enabled(ex.threads[tid]):
            return None, None
        ex.step(tid, choice)
    return ex, tracker.events


def causal_core(program, found, max_steps=None):
    """Return the sub-schedule of *found* that happens before its violation."""
    return _causal_core(program, found, max_steps)[0]


def _causal_core(program, found, max_steps=None):
    """The causal core of *found* and, when it was computed, the clocked events of the
    replayed schedule, the indices of the core's steps among them and the number of initial
    threads (else None, None, 0)."""
    sched = found.schedule
    if found.kind == "hang":
        return list(sched), None, None, 0
    ex, events = _clocked_replay(program, sched, max_steps)
    if ex is None or not events:
        return list(sched), None, None, 0
    keys = []
    if found.kind == "deadlock":
        for tid in found.tids:
            keys.append(ex.threads[tid].clock)
    else:
        keys.append(events[-1].clock)
        for tid in found.tids:
            keys.append(ex.threads[tid].clock)
        extra = found.detail.get("steps")
        if extra:
            for s in extra:
                if 0 <= s < len(events):
                    keys.append(events[s].clock)
    where = []
    for i, ev in enumerate(events):
        for k in keys:
            if len(k) > ev.tid and k[ev.tid] >= ev.seq:
                where.append(i)
                break
    ninit = ex._ninit
    return renumbered(sched, events, where, ninit), events, where, ninit


def renumbered(schedule, events, order, ninit):
    """The steps ``order`` (indices into *schedule*) as a schedule of their own.

    Replay strings number threads in creation order: the initial threads first, then each
    spawned thread when its parent's spawn step runs.  Dropping or moving a spawn step
    changes the numbers of the threads spawned after it, so they are given again.
    """
    number = list(range(ninit))  # the initial threads keep their numbers
    new = {}  # spawned thread's old number -> new one
    nxt = ninit
    out = []
    for i in order:
        ev = events[i]
        tid = ev.tid
        n = new.get(tid) if tid >= ninit else number[tid]
        out.append((n, schedule[i][1]))
        if ev.spawned is not None:
            new[ev.spawned] = nxt
            nxt += 1
    return out


def fewest_switches(schedule, events, where):
    """Reorder the causal core (steps ``where`` of *schedule*) to switch threads rarely.

    The core is closed under happens-before, so every order of its steps that keeps
    happens-before reaches the same state (the same Mazurkiewicz trace).  Greedily: the
    thread that ran last goes on while its next step has all its predecessors done;
    otherwise the thread whose next ready step comes first in *schedule* runs.  No
    execution is needed; the caller replays the result to check it.

    :return: the indices of the steps in their new order, or None.
    """
    queues = {}  # tid -> indices of its core steps, in program order
    order = []  # tids in order of first appearance (a deterministic order, not a set's)
    for i in where:
        tid = events[i].tid
        if tid not in queues:
            queues[tid] = []
            order.append(tid)
        queues[tid].append(i)
    done = {}  # tid -> core steps of it already placed (a prefix of its steps: seq 1..n)
    heads = {tid: 0 for tid in order}

    def ready(i):
        ev = events[i]
        c = ev.clock
        me = ev.tid
        for u in range(len(c)):
            need = c[u] - 1 if u == me else c[u]
            if need > 0 and done.get(u, 0) < need:
                return False
        return True

    out = []
    cur = None
    for _ in range(len(where)):
        pick = None
        if cur is not None and heads[cur] < len(queues[cur]) and ready(queues[cur][heads[cur]]):
            pick = cur
        else:
            best = None
            for tid in order:
                h = heads[tid]
                if h < len(queues[tid]):
                    i = queues[tid][h]
                    if (best is None or i < best) and ready(i):
                        best, pick = i, tid
        if pick is None:  # (cannot happen for a core closed under happens-before)
            return None
        i = queues[pick][heads[pick]]
        heads[pick] += 1
        done[pick] = done.get(pick, 0) + 1
        out.append(i)
        cur = pick
    return out


def _reproduces(run, signature):
    return any(v.signature == signature for v in run.ex.violations)


def minimize(program, found, max_runs=1500, max_bound=3, max_steps=None, races=True):
    """Return ``(schedule, preemptions)`` of a minimal counterexample for *found*.

    Candidate runs stop at the violation sought (other violations met on the way
    do not end them).  The race detector runs only when it is enabled and
    *found* is a race (the other detectors do not depend on it).
    """
    races = races and found.kind == "race"
    # candidates, each reproducing the violation: the explorer's schedule, its causal core,
    # and the core reordered for few switches.  Dropping steps can add preemptions (a switch
    # away from a thread whose later steps were dropped), so none is assumed better.
    cands = [list(found.schedule)]
    core = cands[0]
    try:
        core, events, where, ninit = _causal_core(program, found, max_steps)
        r = replay(program, core, record=False, max_steps=max_steps, stop_on_violation=False,
                   races=races)
        if not _reproduces(r, found.signature):
            core = cands[0]
        else:
            cands.append(core)
            if events is not None:
                order = fewest_switches(found.schedule, events, where)
                calm = None if order is None else renumbered(found.schedule, events, order, ninit)
                if calm is not None and calm != core:
                    r = replay(program, calm, record=False, max_steps=max_steps,
                               stop_on_violation=False, races=races)
                    if _reproduces(r, found.signature):
                        cands.append(calm)
    except ModelError:
        core = cands[0]
    fallback = None
    for c in cands:  # fewest preemptions, then fewest steps; the first of equals
        p = count_preemptions(program, c, max_steps)
        if p is not None and (fallback is None or (p, len(c)) < (fallback[1], len(fallback[0]))):
            fallback = (c, p)
    if fallback is None:
        fallback = (cands[0], None)
    # the search runs the core's threads, each for as many steps as it has in the core; bounds
    # above the preemptions of the best candidate can only find worse counterexamples
    top = max_bound if fallback[1] is None else min(max_bound, fallback[1])
    budgets = {}
    for tid, _c in core:
        budgets[tid] = budgets.get(tid, 0) + 1
    allowed = sorted(budgets)
    best = None
    runs = 0
    for bound in range(top + 1):
        search = BoundedSearch(program, bound, allowed=allowed, budgets=budgets,
                               max_len=len(core), max_steps=max_steps, stop_on_violation=True,
                               final_checks=True, races=races, stop_signature=found.signature)
        for r in search.runs():
            runs += 1
            if _reproduces(r, found.signature):
                if best is None or len(r.schedule) < len(best[0]):
                    best = (list(r.schedule), r.preemptions)
                    search.max_len = len(r.schedule) - 1
            if runs >= max_runs:
                break
        if best is not None or runs >= max_runs:
            break
    if best is None or (fallback[1] is not None
                        and (fallback[1], len(fallback[0])) <= (best[1], len(best[0]))):
        return fallback
    return best


def count_preemptions(program, schedule, max_steps=None):
    """Preemptions of *schedule*: switches away from a thread still enabled."""
    try:
        r = replay(program, schedule, record=False, max_steps=max_steps, stop_on_violation=False,
                   races=False)
    except ModelError:
        return None
    n = 0
    for i in range(1, len(r.schedule)):
        if r.schedule[i][0] != r.schedule[i - 1][0] and r.enabled_after[i - 1]:
            n += 1
    return n


__all__ = ["minimize", "causal_core", "count_preemptions", "run_one", "O"]
