"""Counterexample minimisation: fewest preemptions, then fewest steps.

1. *Causal core.*  Replay the violating schedule with happens-before clocks
   and keep only the steps that happen before the violation (for a deadlock:
   before the blocking operations of the threads in the cycle; for a failed
   check: before the failing step).  Any linearisation of that downward-closed
   set is a valid execution reaching the same violation, and unrelated threads
   and steps disappear from the report.  A hang keeps every thread, because a
   hang needs every thread stuck.
2. *Fewest preemptions.*  Search the schedules of the core's threads, each
   limited to the number of steps it has in the core, with preemption bound
   0, 1, 2 ... (:class:`~pcilock.engine.bounded.BoundedSearch`); the first
   bound that reaches a violation with the same signature wins, and among its
   schedules the shortest.  The search has a budget of executions; when it
   runs out the causal core is kept as it is.

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
    sched = found.schedule
    if found.kind == "hang":
        return list(sched)
    ex, events = _clocked_replay(program, sched, max_steps)
    if ex is None or not events:
        return list(sched)
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
    core = []
    for i, ev in enumerate(events):
        for k in keys:
            if len(k) > ev.tid and k[ev.tid] >= ev.seq:
                core.append(sched[i])
                break
    return core


def _reproduces(run, signature):
    return any(v.signature == signature for v in run.ex.violations)


def minimize(program, found, max_runs=1500, max_bound=3, max_steps=None, races=True):
    """Return ``(schedule, preemptions)`` of a minimal counterexample for *found*.

    Candidate runs stop at the violation sought (other violations met on the way
    do not end them).  The race detector runs only when it is enabled and
    *found* is a race (the other detectors do not depend on it).
    """
    races = races and found.kind == "race"
    try:
        core = causal_core(program, found, max_steps)
        r = replay(program, core, record=False, max_steps=max_steps, stop_on_violation=False,
                   races=races)
        if not _reproduces(r, found.signature):
            core = list(found.schedule)
    except ModelError:
        core = list(found.schedule)
    budgets = {}
    for tid, _c in core:
        budgets[tid] = budgets.get(tid, 0) + 1
    allowed = sorted(budgets)
    best = None
    runs = 0
    for bound in range(max_bound + 1):
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
    if best is None:
        return core, count_preemptions(program, core, max_steps)
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
