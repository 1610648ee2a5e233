"""Shared driver for strategies that sample executions (random walk, PCT).

Sampling never proves anything: when no violation is found the verdict is
``inconclusive``, whatever the budget.
"""

from __future__ import annotations

from .errors import ModelError
from .result import Budget, Found, Result, Stats, StopReason, verdict_for
from .runner import run_one


class SamplingExplorer:
    name = "sampling"

    def __init__(self, program, seed=0, runs=None, stop_on_first=True, budget=None, max_steps=None,
                 observers=None, progress=None, races=True):
        self.program = program
        self.races = races
        self.seed = seed
        self.runs = runs
        self.stop_on_first = stop_on_first
        self.budget = budget or Budget()
        self.max_steps = max_steps
        self.observers = observers
        self.progress = progress
        self.stats = Stats()
        self.found = []
        self._sigs = []

    def policy(self, run_index):  # pragma: no cover - abstract
        raise NotImplementedError

    def after_run(self, run):
        """Hook for strategies that learn from a run (PCT estimates its length)."""

    def run(self):
        stats = self.stats
        clock = self.budget.start()
        stop = StopReason.SAMPLED
        last_progress = 0.0
        k = 0
        while True:
            if self.runs is not None and k >= self.runs:
                stop = StopReason.SAMPLED
                break
            if clock.exhausted(stats.executions):
                stop = StopReason.BUDGET
                break
            stats.executions += 1
            pol = self.policy(k)
            k += 1
            try:
                r = run_one(self.program, pol, observers=self.observers() if self.observers else (),
                            max_steps=self.max_steps, stop_on_violation=self.stop_on_first,
                            races=self.races)
            except ModelError as e:
                stats.seconds = clock.elapsed()
                stats.stop_reason = StopReason.ERROR
                sched = list(getattr(pol, "taken", []))
                return Result("model-error", False, stats, self.found, e, sched, self.name, self.seed)
            stats.events += r.ex.nsteps
            stats.complete += 1
            stats.max_depth = max(stats.max_depth, r.ex.nsteps)
            self.after_run(r)
            for v in r.ex.violations:
                if v.signature in self._sigs:
                    continue
                self._sigs.append(v.signature)
                sched = r.schedule[: v.step + 1] if v.kind != "hang" else r.schedule
                self.found.append(Found(v.kind, v.message, v.signature, sched, v.tids, dict(v.detail),
                                        stats.executions))
            if self.found and self.stop_on_first:
                stop = StopReason.VIOLATION
                break
            if self.progress is not None and clock.elapsed() - last_progress >= 1.0:
                last_progress = clock.elapsed()
                stats.seconds = last_progress
                self.progress(stats)
        stats.seconds = clock.elapsed()
        stats.stop_reason = stop
        verdict = verdict_for(self.found, stop, False)
        return Result(verdict, False, stats, self.found, None, None, self.name, self.seed)
