"""One entry point for every strategy: :func:`explore`.

It runs the chosen explorer, then turns each violation found into a report-ready
counterexample: minimised (:mod:`pcilock.engine.minimize`) and replayed with
tracing on.  The replay must reproduce a violation with the same signature;
if it does not, the model is nondeterministic and that is a model error, not a
verdict (Hypothesis's ``FlakyFailure``, stateright's path check).

With ``stop_on_first=False`` (the CLI's ``--all``) exploration goes on after
violations and every distinct one (by signature: kind and code locations) is
minimised and traced; the verdict is the most severe kind.

Detectors: use after free, exit holding a lock and failed checks are always
on; the data-race detector (``races``) runs in exploration, minimisation and
replay alike; the lock-order graph (``lock_graph``) observes every execution
of the exploration and is returned as ``result.lock_graph``.
"""

from __future__ import annotations

from .bounded import BoundedExplorer
from .dpor import DporExplorer
from .errors import ModelError, NondeterminismError
from .lockgraph import LockGraph
from .minimize import count_preemptions, minimize
from .optimal import OptimalDporExplorer
from .pct import PctExplorer
from .random_walk import RandomWalkExplorer
from .result import Budget, StopReason
from .runner import replay
from .watchdog import Watchdog

STRATEGIES = ("dpor", "source-dpor", "random", "pct", "bounded")


def make_explorer(program, strategy="dpor", *, seed=0, budget=None, stop_on_first=True, max_steps=None,
                  observers=None, progress=None, pct_depth=2, max_bound=2, runs=None, races=True):
    common = dict(stop_on_first=stop_on_first, budget=budget or Budget(), max_steps=max_steps,
                  observers=observers, progress=progress, races=races)
    if strategy == "dpor":
        return OptimalDporExplorer(program, **common)
    if strategy == "source-dpor":
        return DporExplorer(program, **common)
    if strategy == "random":
        return RandomWalkExplorer(program, seed=seed, runs=runs, **common)
    if strategy == "pct":
        return PctExplorer(program, depth=pct_depth, seed=seed, runs=runs, **common)
    if strategy == "bounded":
        return BoundedExplorer(program, max_bound=max_bound, **common)
    raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def explore(program, strategy="dpor", *, seed=0, budget=None, stop_on_first=True, minimize_found=True,
            max_steps=None, observers=None, progress=None, pct_depth=2, max_bound=2, runs=None,
            minimize_runs=1500, record=True, step_limit=5.0, races=True, lock_graph=True):
    """Explore *program* and return a :class:`~pcilock.engine.result.Result`.

    Each :class:`~pcilock.engine.result.Found` of the result carries a
    (minimised) schedule and, with ``record``, the traced replay in ``trace``.

    :param races: run the data-race detector (``race`` violations).
    :param lock_graph: record the lock-order graph of every execution; the
        result's ``lock_graph`` is then a :class:`~pcilock.engine.lockgraph.LockGraph`
        (``result.lock_graph.to_json()``), else None.  Pass a ``LockGraph`` to
        choose its limits or to accumulate several explorations in one graph.
    """
    with Watchdog(step_limit):
        return _explore(program, strategy, seed, budget, stop_on_first, minimize_found, max_steps,
                        observers, progress, pct_depth, max_bound, runs, minimize_runs, record, races,
                        lock_graph)


def _explore(program, strategy, seed, budget, stop_on_first, minimize_found, max_steps, observers,
             progress, pct_depth, max_bound, runs, minimize_runs, record, races=True, lock_graph=True):
    graph = None
    obs = observers
    if lock_graph:
        graph = lock_graph if isinstance(lock_graph, LockGraph) else LockGraph()
        obs = _with_graph(observers, graph)
    ex = make_explorer(program, strategy, seed=seed, budget=budget, stop_on_first=stop_on_first,
                       max_steps=max_steps, observers=obs, progress=progress, pct_depth=pct_depth,
                       max_bound=max_bound, runs=runs, races=races)
    result = ex.run()
    _name_the_limit(result.stats, strategy, budget, max_bound)
    result.seed = seed
    result.lock_graph = graph
    if result.error is not None:
        return result
    try:
        for f in result.found:
            if minimize_found:
                sched, pre = minimize(program, f, max_runs=minimize_runs, max_steps=max_steps,
                                      races=races)
                f.minimized = sched != f.schedule
                f.schedule = sched
                f.preemptions = pre
            elif f.preemptions is None:
                f.preemptions = count_preemptions(program, f.schedule, max_steps)
            if record:
                f.trace = trace_of(program, f, observers, max_steps, races=races)
    except ModelError as e:
        result.verdict = "model-error"
        result.error = e
    return result


def _name_the_limit(stats, strategy, budget, max_bound):
    # which limit ended the run: the budget checks executions before seconds
    if stats.stop_reason is StopReason.BUDGET and budget is not None:
        by_count = budget.executions is not None and stats.executions >= budget.executions
        stats.limit = "executions" if by_count else "seconds"
    if strategy == "bounded":
        stats.bound = max_bound


def _with_graph(observers, graph):
    def factory():
        obs = list(observers()) if observers else []
        obs.append(graph.observer())
        return obs
    return factory


def trace_of(program, found, observers=None, max_steps=None, races=True):
    """Replay *found*'s schedule with tracing; check it reproduces the violation."""
    run = replay(program, found.schedule, record=True, observers=observers() if observers else (),
                 max_steps=max_steps, stop_on_violation=False, races=races)
    for v in run.ex.violations:
        if v.signature == found.signature:
            found.tids = v.tids
            found.message = v.message
            found.detail = dict(v.detail)
            return run
    raise NondeterminismError(
        f"replaying the counterexample for {found.kind!r} did not reproduce it; the model is "
        f"nondeterministic (iteration over sets or id()-ordered objects, time, or unseeded randomness)")
