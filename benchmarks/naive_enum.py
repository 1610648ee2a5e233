"""A naive enumerator: every interleaving, no reduction (the benchmark baseline).

A copy of ``tests/engine/naive.py`` (kept here so that the benchmarks run from a
clean clone without the test tree).  It runs every schedule of a program
(depth-first, re-executing from the start), and for every complete execution
computes its Mazurkiewicz trace (the events with their happens-before
clocks) and its outcome (final shared state and violations).
"""

from __future__ import annotations

from pcilock.engine import ops as O
from pcilock.engine.dpor import DporTracker
from pcilock.engine.execution import Execution, describe_op


class _Stub:
    def _add_backtrack(self, *a):
        return True


class _Log:
    def __init__(self):
        self.ops = []

    def on_start(self, ex):
        pass

    def on_event(self, ex, t, op, value):
        self.ops.append((t.tid, describe_op(op, value)))


def _run(program, prefix, max_steps):
    tracker = DporTracker(_Stub())
    tracker.analyzing = False
    log = _Log()
    ex = Execution(program, tracker=tracker, observers=[log], max_steps=max_steps,
                   stop_on_violation=False)
    for tid, ch in prefix:
        ex.step(tid, ch)
    return ex, tracker, log


def trace_signature(tracker, log, ex):
    """Events with their happens-before clocks, threads named (ids depend on spawn order)."""
    names = {t.tid: t.name for t in ex.order}

    def clock(c):
        return tuple(sorted((names[u], v) for u, v in enumerate(c) if v))

    return tuple(sorted((names[e.tid], e.seq, log.ops[i][1], clock(e.clock))
                        for i, e in enumerate(tracker.events)))


def outcome(ex, final_state=None):
    # violation kinds, not signatures: which cycle is reported first when two
    # overlap depends on which thread blocks first, within one trace
    viol = tuple(sorted({v.kind for v in ex.violations}))
    st = final_state(ex.world) if final_state else None
    return (viol, st)


def enumerate_all(program, final_state=None, max_steps=10_000, limit=2_000_000):
    """Return (number of executions, set of trace signatures, set of outcomes)."""
    traces = set()
    outcomes = set()
    count = 0
    stack = [[]]  # prefixes to extend
    while stack:
        prefix = stack.pop()
        ex, tracker, log = _run(program, prefix, max_steps)
        # extend greedily, pushing siblings
        while True:
            en = ex.enabled()
            if not en:
                break
            alts = []
            for tid in en:
                op = ex.threads[tid].pending
                if op[0] == O.CHOOSE:
                    alts.extend((tid, c) for c in range(op[1]))
                else:
                    alts.append((tid, None))
            for a in reversed(alts[1:]):
                stack.append(prefix + [a])
            prefix = prefix + [alts[0]]
            ex.step(*alts[0])
        ex.check_end()
        if program.final_checks is not None:
            for kind, message, tids in program.final_checks(ex.world, ex):
                ex.add_violation(kind, message, tids, signature=(kind, message))
        count += 1
        if count > limit:
            raise RuntimeError("naive enumeration limit exceeded")
        traces.add(trace_signature(tracker, log, ex))
        outcomes.add(outcome(ex, final_state))
    return count, traces, outcomes
