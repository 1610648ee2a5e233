"""Run one execution with a scheduling policy: the building block of replay,
random walk, PCT, bounded search and counterexample minimisation."""

from __future__ import annotations

from . import ops as O
from .errors import NondeterminismError
from .execution import Execution


class Run:
    """The outcome of one execution driven by :func:`run_one`."""

    __slots__ = ("ex", "schedule", "how", "enabled_after", "error", "preemptions")

    def __init__(self, ex, schedule, how, enabled_after, error=None):
        self.ex = ex
        self.schedule = schedule
        self.how = how  # "complete" | "violation" | "stopped" | "budget"
        self.enabled_after = enabled_after  # per step: thread still enabled after it?
        self.error = error
        self.preemptions = None


def run_one(program, policy, *, record=False, observers=(), max_steps=None, stop_on_violation=True,
            final_checks=True, step_hook=None, races=True, stop_signature=None):
    """Run one execution.

    :param policy: ``policy(ex, enabled, last, step_index)`` returns the thread
        to run, or None to stop the execution here; for a thread about to
        ``choose``, ``policy.choice(ex, tid, n)`` gives the value (default 0).
    :param races: run the data-race detector.
    :param stop_signature: with ``stop_on_violation``, stop only at a violation
        with this signature (counterexample minimisation looks for one).
    :return: a :class:`Run`.  Model errors propagate as :class:`ModelError`.
    """
    kw = {} if max_steps is None else {"max_steps": max_steps}
    ex = Execution(program, record=record, observers=observers, stop_on_violation=stop_on_violation,
                   races=races, **kw)
    schedule = []
    enabled_after = []
    last = None
    nviol = 0
    how = "complete"
    threads = ex.threads
    chooser = getattr(policy, "choice", None)
    while True:
        en = ex.enabled()
        if not en:
            break
        tid = policy(ex, en, last, len(schedule))
        if tid is None:
            how = "stopped"
            break
        t = threads[tid]
        choice = None
        if t.pending[0] == O.CHOOSE:
            choice = chooser(ex, tid, t.pending[1]) if chooser is not None else 0
        ex.step(tid, choice)
        schedule.append((tid, choice))
        enabled_after.append(t.pending is not None and ex.is_enabled(t))
        last = tid
        if step_hook is not None:
            step_hook(ex)
        if len(ex.violations) > nviol:
            new = ex.violations[nviol:]
            nviol = len(ex.violations)
            if stop_on_violation and (stop_signature is None
                                      or any(v.signature == stop_signature for v in new)):
                return Run(ex, schedule, "violation", enabled_after)
    if how == "complete":
        ex.check_end()
        if final_checks and program.final_checks is not None:
            for kind, message, tids in program.final_checks(ex.world, ex):
                ex.add_violation(kind, message, tids, signature=(kind, message))
        if len(ex.violations) > nviol and stop_on_violation:
            how = "violation"
    return Run(ex, schedule, how, enabled_after)


def replay(program, schedule, *, record=True, observers=(), max_steps=None, stop_on_violation=False,
           final_checks=True, races=True, mismatch=NondeterminismError):
    """Re-run exactly *schedule* (a list of ``(tid, choice)``).

    :param mismatch: the exception raised when a step names a thread that is not
        enabled or a choice out of range.  The default suits a schedule this
        program produced (it diverging means the model is not deterministic);
        pass :class:`~pcilock.engine.errors.ReplayError` for a schedule a user
        gave, which may simply not fit the program.
    """
    own = mismatch is NondeterminismError
    why = "; the schedule does not fit this program, or the model is not deterministic" if own else ""

    class _P:
        def __call__(self, ex, enabled, last, i):
            if i >= len(schedule):
                return None
            tid = schedule[i][0]
            if tid not in enabled:
                names = ", ".join(f"{t} ({ex.threads[t].name})" for t in enabled)
                raise mismatch(f"{'replay ' if own else ''}step {i} wants thread {tid}, enabled are "
                               f"{names}{why}")
            self.i = i
            return tid

        def choice(self, ex, tid, n):
            c = schedule[self.i][1]
            if c is None or not (0 <= c < n):
                raise mismatch(f"{'replay ' if own else ''}step {self.i}: thread {tid} chooses among {n} "
                               f"values, the schedule gives {'none' if c is None else c}{why}")
            return c

    run = run_one(program, _P(), record=record, observers=observers, max_steps=max_steps,
                  stop_on_violation=stop_on_violation, final_checks=final_checks, races=races)
    return run
