"""Iterative preemption bounding (Musuvathi and Qadeer, PLDI 2007).

A *preemption* is a context switch away from a thread that could have
continued.  Bugs in practice need few of them (CHESS found every one of its
bugs with at most two), so exploring all schedules with 0, then 1, then 2 ...
preemptions finds shallow bugs first and yields counterexamples with the fewest
preemptions.

The search is a plain stateless depth-first enumeration of schedules (no
partial-order reduction: combining the two naively is unsound within a bound,
Coons et al., OOPSLA 2013).  If a bound is completed without ever pruning a
schedule because of the bound, every schedule was covered and the result is
exhaustive.

:class:`BoundedSearch` is also used by counterexample minimisation, restricted
to the threads of a violation and to a number of steps per thread.
"""

from __future__ import annotations

from . import ops as O
from .errors import ModelError
from .result import Budget, Found, Result, Stats, StopReason, verdict_for
from .runner import run_one


class _Point:
    __slots__ = ("alts", "pos", "cost")

    def __init__(self, alts, cost):
        self.alts = alts  # [(tid, choice, added cost)]
        self.pos = 0
        self.cost = cost  # preemptions before this step


class _Policy:
    def __init__(self, search):
        self.s = search
        self.used = {}
        self.cost = 0
        self.pending_choice = None

    def __call__(self, ex, enabled, last, i):
        s = self.s
        if s.max_len is not None and i >= s.max_len:
            return None
        stack = s.stack
        if i < len(stack):
            p = stack[i]
            tid, ch, add = p.alts[p.pos]
            if tid not in enabled:
                raise ModelError(f"bounded search: thread {tid} not enabled when replaying step {i}")
        else:
            budgets = s.budgets
            cands = [t for t in enabled if (s.allowed is None or t in s.allowed)
                     and (budgets is None or self.used.get(t, 0) < budgets.get(t, 0))]
            if not cands:
                return None
            last_enabled = last is not None and last in enabled
            order = ([last] if last in cands else []) + [t for t in cands if t != last]
            alts = []
            for t in order:
                add = 0 if (t == last or not last_enabled) else 1
                if self.cost + add > s.bound:
                    s.pruned = True
                    continue
                op = ex.threads[t].pending
                if op[0] == O.CHOOSE:
                    alts.extend((t, c, add) for c in range(op[1]))
                else:
                    alts.append((t, None, add))
            if not alts:
                return None
            p = _Point(alts, self.cost)
            stack.append(p)
            tid, ch, add = alts[0]
        self.cost += add
        self.used[tid] = self.used.get(tid, 0) + 1
        self.pending_choice = ch
        return tid

    def choice(self, ex, tid, n):
        return self.pending_choice if self.pending_choice is not None else 0


class BoundedSearch:
    """Depth-first enumeration of the schedules with at most *bound* preemptions."""

    def __init__(self, program, bound, allowed=None, budgets=None, max_len=None, max_steps=None,
                 observers=None, stop_on_violation=True, final_checks=True, races=True,
                 stop_signature=None):
        self.program = program
        self.races = races
        self.stop_signature = stop_signature
        self.bound = bound
        self.allowed = allowed
        self.budgets = budgets
        self.max_len = max_len
        self.max_steps = max_steps
        self.observers = observers
        self.stop_on_violation = stop_on_violation
        self.final_checks = final_checks
        self.stack = []
        self.pruned = False

    def runs(self):
        """Yield one :class:`~pcilock.engine.runner.Run` per schedule."""
        while True:
            pol = _Policy(self)
            r = run_one(self.program, pol, observers=self.observers() if self.observers else (),
                        max_steps=self.max_steps, stop_on_violation=self.stop_on_violation,
                        final_checks=self.final_checks, races=self.races,
                        stop_signature=self.stop_signature)
            r.preemptions = pol.cost
            yield r
            # backtrack to the deepest point with an untried alternative
            del self.stack[len(r.schedule):]
            while self.stack:
                p = self.stack[-1]
                p.pos += 1
                if p.pos < len(p.alts):
                    break
                self.stack.pop()
            if not self.stack:
                return


class BoundedExplorer:
    """Iterative preemption bounding, bound 0 up to ``max_bound``."""

    name = "bounded"

    def __init__(self, program, max_bound=2, stop_on_first=True, budget=None, max_steps=None,
                 observers=None, progress=None, races=True):
        self.program = program
        self.races = races
        self.max_bound = max_bound
        self.stop_on_first = stop_on_first
        self.budget = budget or Budget()
        self.max_steps = max_steps
        self.observers = observers
        self.progress = progress
        self.stats = Stats()
        self.found = []
        self._sigs = []

    def run(self):
        stats = self.stats
        clock = self.budget.start()
        stop = StopReason.BUDGET
        complete_space = False
        last_progress = 0.0
        try:
            for bound in range(self.max_bound + 1):
                search = BoundedSearch(self.program, bound, max_steps=self.max_steps,
                                       observers=self.observers, stop_on_violation=self.stop_on_first,
                                       races=self.races)
                for r in search.runs():
                    stats.executions += 1
                    stats.complete += 1
                    stats.events += r.ex.nsteps
                    stats.max_depth = max(stats.max_depth, r.ex.nsteps)
                    for v in r.ex.violations:
                        if v.signature in self._sigs:
                            continue
                        self._sigs.append(v.signature)
                        sched = r.schedule[: v.step + 1] if v.kind != "hang" else r.schedule
                        f = Found(v.kind, v.message, v.signature, sched, v.tids, dict(v.detail),
                                  stats.executions)
                        f.preemptions = r.preemptions
                        self.found.append(f)
                    if self.found and self.stop_on_first:
                        stop = StopReason.VIOLATION
                        raise _Done
                    if clock.exhausted(stats.executions):
                        stop = StopReason.BUDGET
                        raise _Done
                    if self.progress is not None and clock.elapsed() - last_progress >= 1.0:
                        last_progress = clock.elapsed()
                        stats.seconds = last_progress
                        self.progress(stats)
                if not search.pruned:
                    complete_space = True
                    stop = StopReason.COVERED
                    break
            else:
                stop = StopReason.BOUND
        except _Done:
            pass
        except ModelError as e:
            stats.seconds = clock.elapsed()
            stats.stop_reason = StopReason.ERROR
            return Result("model-error", False, stats, self.found, e, [], self.name)
        stats.seconds = clock.elapsed()
        stats.stop_reason = stop
        verdict = verdict_for(self.found, stop, complete_space)
        return Result(verdict, complete_space and stop is StopReason.COVERED, stats, self.found, None,
                      None, self.name)


class _Done(Exception):
    pass
